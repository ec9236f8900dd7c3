import assert from "node:assert/strict";
import type { Reading } from "../../src/core/mod.ts";
import {
  parseCount,
  parseCpuList,
  parseDevfreqLoad,
  parseDeviceTreeStrings,
  parseFrequencyList,
  parseGalcoreLoad,
  parseHertz,
  parseInteger,
  parseKiloHertz,
  parseMeminfo,
  parseMicroJoules,
  parseMicroWatts,
  parseMilliAmps,
  parseMilliCelsius,
  parseMilliVolts,
  parsePermille,
  parseProcStat,
  parseRknpuLoad,
} from "../../src/hal/parse.ts";

const P = "/sys/x/file";

function value<T>(r: Reading<T>): T {
  if (!r.ok) assert.fail(`expected ok, got: ${r.reason}`);
  return r.value;
}

function reason(r: Reading<unknown>): string {
  if (r.ok) assert.fail(`expected a failure, got ${JSON.stringify(r.value)}`);
  return r.reason;
}

Deno.test("parseMilliCelsius() converts m°C to °C exactly, negatives included", () => {
  assert.equal(value(parseMilliCelsius("44384", P)), 44.384);
  assert.equal(value(parseMilliCelsius("41538", P)), 41.538);
  assert.equal(value(parseMilliCelsius("-5250", P)), -5.25);
});

Deno.test("parsers convert kHz, Hz, mV, mA, µW and µJ to SI once", () => {
  assert.equal(value(parseKiloHertz("2400000", P)), 2.4e9);
  assert.equal(value(parseHertz("1000000000", P)), 1e9);
  assert.equal(value(parseMilliVolts("5064", P)), 5.064);
  assert.equal(value(parseMilliAmps("824", P)), 0.824);
  assert.equal(value(parseMilliAmps("-12", P)), -0.012);
  assert.equal(value(parseMicroWatts("4962500", P)), 4.9625);
  assert.equal(value(parseMicroJoules("262143328850", P)), 262143.32885);
  assert.equal(value(parseCount("13", P)), 13);
});

Deno.test("parsers report garbage, fractions and negative frequencies with the file and the text", () => {
  assert.equal(reason(parseMilliCelsius("abc", P)), `${P}: expected an integer (m°C), got "abc"`);
  assert.match(reason(parseMilliCelsius("44.384", P)), /expected an integer \(m°C\), got "44.384"/);
  assert.match(reason(parseKiloHertz("-408000", P)), /negative value -408000 \(kHz\)/);
  assert.match(reason(parseMicroWatts("-1", P)), /negative value -1 \(µW\)/);
  assert.match(reason(parseInteger("99999999999999999999", P, "Hz")), /out of range/);
  assert.match(reason(parseMilliCelsius("\u0000\u0000-EAGAIN", P)), /expected an integer/);
});

Deno.test("parseFrequencyList() sorts, dedupes and converts kHz lists", () => {
  assert.deepEqual(value(parseFrequencyList("816000 408000 600000 600000", P, "kHz")), [408e6, 600e6, 816e6]);
  assert.deepEqual(value(parseFrequencyList("300000000 400000000", P, "Hz")), [3e8, 4e8]);
  assert.match(reason(parseFrequencyList("300000000 fast", P, "Hz")), /expected an integer \(Hz list\), got "fast"/);
  assert.match(reason(parseFrequencyList("0 300", P, "Hz")), /frequency 0 Hz is not positive/);
});

Deno.test("parseCpuList() reads space lists, ranges and mixtures", () => {
  assert.deepEqual(value(parseCpuList("4 5", P)), [4, 5]);
  assert.deepEqual(value(parseCpuList("0-3", P)), [0, 1, 2, 3]);
  assert.deepEqual(value(parseCpuList("0-1,6", P)), [0, 1, 6]);
  assert.match(reason(parseCpuList("3-1", P)), /descending CPU range/);
  assert.match(reason(parseCpuList("cpu4", P)), /expected a CPU list/);
});

Deno.test("parseMeminfo() reads kB as KiB and falls back when MemAvailable is absent", () => {
  const text =
    "MemTotal:        7935432 kB\nMemFree:         6920044 kB\nMemAvailable:    7433100 kB\nHugePages_Total: 0\n";
  assert.deepEqual(value(parseMeminfo(text, P)), { totalBytes: 7935432 * 1024, availableBytes: 7433100 * 1024 });
  const old = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n";
  assert.deepEqual(value(parseMeminfo(old, P)), { totalBytes: 1000 * 1024, availableBytes: 420 * 1024 });
  assert.equal(reason(parseMeminfo("MemFree: 1 kB", P)), `${P}: no MemTotal line`);
  assert.match(reason(parseMeminfo("MemTotal: 1 kB\nMemAvailable: 2 kB", P)), /exceeds MemTotal/);
});

Deno.test("parseDevfreqLoad() reads the Rockchip N@FREQHz format", () => {
  assert.deepEqual(value(parseDevfreqLoad("42@1000000000Hz", P)), { utilization: 0.42, freqHz: 1e9 });
  assert.deepEqual(value(parseDevfreqLoad("0@300000000Hz", P)), { utilization: 0, freqHz: 3e8 });
  assert.match(reason(parseDevfreqLoad("42%", P)), /expected "<percent>@<freq>Hz", got "42%"/);
  assert.match(reason(parseDevfreqLoad("142@1Hz", P)), /above 100%/);
});

Deno.test("parsePermille() reads the Jetson GPU load", () => {
  assert.equal(value(parsePermille("354", P)).utilization, 0.354);
  assert.equal(value(parsePermille("1000", P)).utilization, 1);
  assert.match(reason(parsePermille("1001", P)), /outside 0\.\.1000/);
});

Deno.test("parseRknpuLoad() reads the multi-core and single-core rknpu formats", () => {
  const idle = value(parseRknpuLoad("NPU load:  Core0:  0%, Core1:  0%, Core2:  0%,", P));
  assert.deepEqual(idle, { utilization: 0, coreUtilizations: [0, 0, 0] });
  const busy = value(parseRknpuLoad("NPU load:  Core0: 51%, Core1:  8%, Core2:  3%,", P));
  assert.deepEqual(busy.coreUtilizations, [0.51, 0.08, 0.03]);
  assert.equal(busy.utilization, (0.51 + 0.08 + 0.03) / 3);
  assert.deepEqual(value(parseRknpuLoad("NPU load: 37%", P)), { utilization: 0.37 });
  assert.match(reason(parseRknpuLoad("GPU load: 3%", P)), /expected "NPU load: \.\.\."/);
  assert.match(reason(parseRknpuLoad("NPU load: busy", P)), /no "CoreN: x%" or "x%"/);
});

Deno.test("parseGalcoreLoad() picks the block of the asked core", () => {
  const text = "core      : 0\nload      : 37%\n\ncore      : 1\nload      : 12%\n";
  assert.equal(value(parseGalcoreLoad(text, P, 0)).utilization, 0.37);
  assert.equal(value(parseGalcoreLoad(text, P, 1)).utilization, 0.12);
  assert.match(reason(parseGalcoreLoad(text, P, 2)), /no block for core 2 \(cores present: 0, 1\)/);
  assert.match(
    reason(parseGalcoreLoad("The current HW doesn't support use AHB register to read cycle counter.", P, 0)),
    /cannot report load/,
  );
});

Deno.test("parseProcStat() sums busy and idle jiffies per CPU", () => {
  const text = "cpu  10 0 10 100 0 0 0 0 0 0\ncpu0 5 1 4 50 2 3 1 0 0 0\ncpu1 5 0 6 50 0 0 0 0 0 0\nintr 1\n";
  const cpus = value(parseProcStat(text, P));
  assert.deepEqual(cpus.get(0), { busy: 5 + 1 + 4 + 3 + 1, total: 14 + 50 + 2 });
  assert.deepEqual(cpus.get(1), { busy: 11, total: 61 });
  assert.match(reason(parseProcStat("intr 1\n", P)), /no "cpuN" lines/);
  assert.match(reason(parseProcStat("cpu0 1 2 x 4\n", P)), /malformed line/);
});

Deno.test("parseDeviceTreeStrings() splits NUL-separated lists", () => {
  const bytes = new TextEncoder().encode("radxa,rock-5b\0rockchip,rk3588\0");
  assert.deepEqual(parseDeviceTreeStrings(bytes), ["radxa,rock-5b", "rockchip,rk3588"]);
  assert.deepEqual(parseDeviceTreeStrings(new Uint8Array()), []);
});
