import assert from "node:assert/strict";
import { ManualClock, type Reading } from "../../src/core/mod.ts";
import { discoverBoard, type RailSample, type Sample } from "../../src/hal/mod.ts";
import { fixture, runningAsRoot, tempFixture } from "./helpers.ts";

function value<T>(r: Reading<T>): T {
  if (!r.ok) assert.fail(`expected ok, got: ${r.reason}`);
  return r.value;
}

function temps(sample: Sample): Record<string, number | string> {
  return Object.fromEntries(sample.thermal.map((z) => [z.name, z.ok ? z.tempC : z.reason]));
}

function rail(sample: Sample, name: string): RailSample {
  const r = sample.power.find((x) => x.name === name);
  assert.ok(r, `no rail ${name}`);
  return r;
}

Deno.test("read() returns the RK3588 vendor tree in SI units with exact values", async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const board = await discoverBoard(fixture("rk3588"), { clock });
  await clock.advance(250);
  const s = await board.read();
  assert.equal(s.timestampMs, 1_700_000_000_250);
  assert.equal(s.monotonicMs, 250);
  assert.deepEqual(temps(s), {
    "soc-thermal": 44.384,
    "bigcore0-thermal": 43.46,
    "bigcore1-thermal": 44.307,
    "littlecore-thermal": 43.384,
    "center-thermal": 42.461,
    "gpu-thermal": 41.538,
    "npu-thermal": 42.923,
  });
  assert.deepEqual(s.thermal[0].trips.map((t) => [t.type, t.tempC]), [["passive", 75], ["passive", 85], [
    "critical",
    115,
  ]]);
  assert.deepEqual(s.devfreq.map((d) => d.ok ? [d.name, d.curFreqHz, d.minFreqHz, d.maxFreqHz, d.governor] : d), [
    ["dmc", 528e6, 528e6, 2112e6, "dmc_ondemand"],
    ["fb000000.gpu", 300e6, 300e6, 1000e6, "simple_ondemand"],
    ["fdab0000.npu", 1000e6, 300e6, 1000e6, "rknpu_ondemand"],
    ["fdbd0000.rkvenc-core", 786431991, 297e6, 786431991, "userspace"],
  ]);
  assert.deepEqual(s.cpufreq.map((p) => p.ok ? [p.policy, p.cpus, p.unitId, p.curFreqHz, p.maxFreqHz] : p), [
    ["policy0", [0, 1, 2, 3], "cpu_little", 408e6, 1.8e9],
    ["policy4", [4, 5], "cpu_big", 408e6, 2.4e9],
    ["policy6", [6, 7], "cpu_big", 816e6, 2.4e9],
  ]);
  assert.deepEqual(s.memory, { ok: true, value: { totalBytes: 7935432 * 1024, availableBytes: 7433100 * 1024 } });
  const npu = s.load.find((l) => l.unit === "npu")!;
  assert.ok(npu.ok);
  assert.deepEqual(npu.coreUtilizations, [0.51, 0.08, 0.03]);
  assert.equal(value(s.units.gpu.utilization), 0);
  // The fixture's /proc/stat does not move, so CPU load has no interval to measure.
  assert.match(
    s.units.cpu_big.utilization.ok ? "" : s.units.cpu_big.utilization.reason,
    /proc\/stat: no CPU time elapsed for cpus 4 5 6 7 since the previous read$/,
  );
  // Unit view: hottest of the cluster's zones, slowest policy, lowest cap.
  assert.equal(value(s.units.cpu_big.tempC), 44.307);
  assert.equal(value(s.units.cpu_big.curFreqHz), 408e6);
  assert.equal(value(s.units.cpu_big.maxFreqHz), 2.4e9);
  assert.equal(value(s.units.npu.curFreqHz), 1e9);
  assert.deepEqual(s.units.cpu_big.powerW, { ok: false, reason: "no power rail measures cpu_big alone" });
  assert.deepEqual(s.power, []);
  assert.deepEqual(s.totalPowerW, { ok: false, reason: "no board input rail and no unit rails found" });
  assert.equal(s.throttled, false);
});

Deno.test("read() reports the Orin Nano CV zones as failed channels and computes INA3221 power", async () => {
  const board = await discoverBoard(fixture("jetson-orin-nano"));
  const s = await board.read();
  const zone = (type: string) => s.thermal.find((z) => z.name === type)!;
  assert.equal(temps(s)["cpu-thermal"], 48.343);
  const cv0 = zone("cv0-thermal");
  const cv1 = zone("cv1-thermal");
  const cv2 = zone("cv2-thermal");
  assert.ok(!cv0.ok && !cv1.ok && !cv2.ok);
  assert.equal(cv0.reason, `${board.root}/sys/class/thermal/thermal_zone2/temp: file is empty`);
  assert.match(cv1.reason, /thermal_zone3\/temp: expected an integer \(m°C\), got "\\u0000\\u0000.-EAGAIN"$/);
  assert.equal(cv2.reason, `${board.root}/sys/class/thermal/thermal_zone4/temp: is a directory, not a value file`);
  assert.equal(cv0.trips.length, 2, "a failed zone still reports its trips");
  assert.deepEqual(s.power.map((r) => r.ok ? [r.name, r.role, r.powerW, r.voltageV, r.currentA] : r), [
    ["VDD_IN", "input", 4.172736, 5.064, 0.824],
    ["VDD_CPU_GPU_CV", "aux", 0.566272, 5.056, 0.112],
    ["VDD_SOC", "aux", 1.377408, 5.064, 0.272],
  ]);
  assert.deepEqual(s.totalPowerW, { ok: true, value: 4.172736 });
  assert.deepEqual(s.totalPowerRails, ["VDD_IN"]);
  assert.equal(value(s.units.gpu.utilization), 0.354);
  assert.equal(value(s.units.gpu.maxFreqHz), 918e6);
  assert.equal(value(s.units.cpu.curFreqHz), 729.6e6);
  assert.equal(value(s.units.cpu.maxFreqHz), 1.344e9);
  assert.equal(value(s.units.cpu.tempC), 48.343);
  assert.deepEqual(s.units.gpu.powerW, { ok: false, reason: "no power rail measures gpu alone" });
  // The fan is at state 2, but a fan is active cooling: no throttling.
  assert.equal(s.throttled, false);
});

Deno.test("read() keeps the JetPack 5 quirk visible: GPU min = max = top OPP while the clock is lower", async () => {
  const s = await (await discoverBoard(fixture("jetson-orin-nano-jp5"))).read();
  const gpu = s.devfreq[0];
  assert.ok(gpu.ok);
  assert.deepEqual([gpu.curFreqHz, gpu.minFreqHz, gpu.maxFreqHz], [318.75e6, 624.75e6, 624.75e6]);
  assert.equal(value(s.units.gpu.utilization), 0.12);
  assert.equal(s.thermal.find((z) => z.name === "CV0-therm")?.ok, false);
});

Deno.test("read() sums nothing on AGX Orin, which has no input rail, and reports every rail", async () => {
  const s = await (await discoverBoard(fixture("jetson-agx-orin"))).read();
  assert.deepEqual(s.power.map((r) => r.ok ? [r.name, r.powerW] : r), [
    ["VDD_GPU_SOC", 3.154],
    ["VDD_CPU_CV", 14.307],
    ["VIN_SYS_5V0", 4.97],
    ["VDDQ_VDD2_1V8AO", 1.09],
  ]);
  assert.equal(s.totalPowerW.ok, false);
  assert.equal(temps(s)["Tdiode_tegra"], 62.25);
});

Deno.test("read() flags throttling on the generic board and reads its INA226 power file", async () => {
  const s = await (await discoverBoard(fixture("generic"))).read();
  assert.equal(s.throttled, true, "cpufreq-cpu2 is bound to a passive trip and at state 2");
  const cdev = s.coolingDevices.find((c) => c.type === "cpufreq-cpu2");
  assert.deepEqual(cdev, { type: "cpufreq-cpu2", passive: true, ok: true, curState: 2, maxState: 14 });
  const r = rail(s, "board_in");
  assert.ok(r.ok);
  assert.deepEqual([r.powerW, r.voltageV, r.currentA], [4.9625, 12.1, 0.41]);
  assert.deepEqual(s.totalPowerW, { ok: true, value: 4.9625 });
  assert.equal(value(s.units.cpu_policy2.maxFreqHz), 1.908e9);
  assert.equal(value(s.units.cpu_policy0.tempC), 71.2);
});

Deno.test("read() reports Pi 5 and i.MX 8M Plus channels", async () => {
  const pi = await (await discoverBoard(fixture("raspberry-pi-5"))).read();
  assert.equal(value(pi.units.cpu.tempC), 52.35);
  assert.equal(pi.throttled, false, "fan at state 1 is active cooling");
  const imx = await (await discoverBoard(fixture("imx8mp"))).read();
  assert.equal(value(imx.units.npu.utilization), 0.12);
  assert.equal(value(imx.units.npu.tempC), 40);
  assert.deepEqual(imx.units.npu.curFreqHz, {
    ok: false,
    reason: "the galcore NPU clock has no devfreq on i.MX 8M Plus",
  });
});

Deno.test("read() turns throttled on only for a passive-bound cooling device", async () => {
  await using tree = await tempFixture("rk3588");
  const board = await discoverBoard(tree.root);
  const cdev = (n: number) => `${tree.root}/sys/devices/virtual/thermal/cooling_device${n}/cur_state`;
  await Deno.writeTextFile(cdev(4), "2\n");
  assert.equal((await board.read()).throttled, false, "devfreq-dmc is bound to no trip");
  await Deno.writeTextFile(cdev(1), "3\n");
  assert.equal((await board.read()).throttled, true, "cpufreq-cpu4 is bound to the 85 °C passive trip");
});

Deno.test("read() measures CPU utilisation from /proc/stat between reads", async () => {
  await using tree = await tempFixture("raspberry-pi-5");
  const board = await discoverBoard(tree.root);
  const rows = (busy: number, idle: number) =>
    Array.from({ length: 4 }, (_, i) => `cpu${i} ${1000 + busy} 0 500 ${9000 + idle} 0 0 0 0 0 0`).join("\n");
  await Deno.writeTextFile(`${tree.root}/proc/stat`, `cpu  0 0 0 0\n${rows(0, 0)}\n`);
  await board.read(); // baseline: this read's figures become the previous ones
  await Deno.writeTextFile(`${tree.root}/proc/stat`, `cpu  0 0 0 0\n${rows(30, 70)}\n`);
  assert.equal(value((await board.read()).units.cpu.utilization), 0.3);
  await Deno.writeTextFile(`${tree.root}/proc/stat`, `cpu  0 0 0 0\n${rows(130, 70)}\n`);
  assert.equal(value((await board.read()).units.cpu.utilization), 1);
});

Deno.test("read() fails each broken channel on its own and keeps the rest", async () => {
  await using tree = await tempFixture("rk3588");
  const board = await discoverBoard(tree.root);
  const dev = `${tree.root}/sys/devices`;
  await Deno.writeTextFile(`${dev}/system/cpu/cpufreq/policy4/scaling_cur_freq`, "fast\n");
  await Deno.writeTextFile(`${dev}/virtual/thermal/thermal_zone1/temp`, "");
  await Deno.remove(`${tree.root}/sys/kernel/debug/rknpu/load`);
  await Deno.remove(`${tree.root}/proc/meminfo`);
  const s = await board.read();
  const policy4 = s.cpufreq.find((p) => p.policy === "policy4")!;
  assert.deepEqual(
    policy4.ok ? "ok" : policy4.reason,
    `${dev}/system/cpu/cpufreq/policy4/scaling_cur_freq: expected an integer (kHz), got "fast"`,
  );
  assert.equal(s.cpufreq.find((p) => p.policy === "policy6")?.ok, true);
  assert.equal(s.units.cpu_big.curFreqHz.ok, false);
  assert.equal(value(s.units.cpu_little.curFreqHz), 408e6);
  // bigcore0 is empty: the unit temperature comes from bigcore1 alone.
  assert.equal(value(s.units.cpu_big.tempC), 44.307);
  assert.deepEqual(s.units.npu.utilization, {
    ok: false,
    reason: `${tree.root}/sys/kernel/debug/rknpu/load: missing file`,
  });
  assert.deepEqual(s.memory, { ok: false, reason: `${tree.root}/proc/meminfo: missing file` });
  await Deno.writeTextFile(`${dev}/virtual/thermal/thermal_zone2/temp`, "hot\n");
  const t = (await board.read()).units.cpu_big.tempC;
  assert.ok(!t.ok);
  assert.match(t.reason, /thermal_zone1\/temp: file is empty; .*thermal_zone2\/temp: expected an integer/);
});

Deno.test({
  name: `read() reports permission denied on a chmod 000 load file${
    runningAsRoot() ? " (ignored: running as root, which reads through mode 000)" : ""
  }`,
  ignore: runningAsRoot(),
  async fn() {
    await using tree = await tempFixture("rk3588");
    const board = await discoverBoard(tree.root);
    await Deno.chmod(`${tree.root}/sys/kernel/debug/rknpu/load`, 0o000);
    assert.deepEqual((await board.read()).units.npu.utilization, {
      ok: false,
      reason: `${tree.root}/sys/kernel/debug/rknpu/load: permission denied`,
    });
  },
});

Deno.test("read() derives power from a powercap energy counter, across its wrap-around", async () => {
  await using tree = await tempFixture("generic");
  const zone = `${tree.root}/sys/devices/virtual/powercap/intel-rapl/intel-rapl:0`;
  await Deno.mkdir(zone, { recursive: true });
  await Deno.writeTextFile(`${zone}/name`, "psys\n");
  await Deno.writeTextFile(`${zone}/energy_uj`, "262143000000\n");
  await Deno.writeTextFile(`${zone}/max_energy_range_uj`, "262143328850\n");
  await Deno.mkdir(`${tree.root}/sys/class/powercap`, { recursive: true });
  await Deno.symlink(
    "../../devices/virtual/powercap/intel-rapl/intel-rapl:0",
    `${tree.root}/sys/class/powercap/intel-rapl:0`,
  );
  const clock = new ManualClock();
  const board = await discoverBoard(tree.root, { clock });
  const info = board.rails.find((r) => r.name === "psys")!;
  assert.deepEqual([info.source, info.role, info.strategy.kind], ["powercap", "input", "energy"]);
  const first = rail(await board.read(), "psys");
  assert.deepEqual(first, {
    name: "psys",
    role: "input",
    ok: false,
    reason:
      `${tree.root}/sys/class/powercap/intel-rapl:0/energy_uj: no time elapsed since the previous counter reading`,
  });
  await clock.advance(2000);
  await Deno.writeTextFile(`${zone}/energy_uj`, "1000000\n");
  const wrapped = rail(await board.read(), "psys");
  assert.ok(wrapped.ok);
  assert.ok(Math.abs(wrapped.powerW - (1 + 262143.32885 - 262143) / 2) < 1e-9, `${wrapped.powerW} W`);
  assert.equal(wrapped.energyJ, 1);
  assert.equal(wrapped.energyRangeJ, 262143.32885);
});
