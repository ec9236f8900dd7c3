import assert from "node:assert/strict";
import { discoverBoard, formatProbeTable, type ProbeReport, probeReport } from "../../src/hal/mod.ts";
import { runCli } from "../../main.ts";
import { fixture } from "./helpers.ts";

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    isTerminal: false,
    env: {},
    signal: new AbortController().signal,
  });
  return { code, stdout, stderr };
}

Deno.test("probeReport() has exactly the fields of issue 2, failed channels with ok false and a reason", async () => {
  const board = await discoverBoard(fixture("jetson-orin-nano"));
  const report = probeReport(board, await board.read());
  assert.deepEqual(Object.keys(report), ["board", "thermal", "devfreq", "cpufreq", "power", "load", "memory"]);
  assert.deepEqual(report.board, {
    id: "jetson-orin-nano",
    model: "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super",
  });
  assert.deepEqual(report.thermal[0], {
    name: "cpu-thermal",
    ok: true,
    tempC: 48.343,
    trips: [{ type: "passive", tempC: 99 }, { type: "critical", tempC: 104.5 }],
  });
  assert.deepEqual(report.thermal[2], {
    name: "cv0-thermal",
    ok: false,
    reason: `${board.root}/sys/class/thermal/thermal_zone2/temp: file is empty`,
    trips: [{ type: "passive", tempC: 99 }, { type: "critical", tempC: 104.5 }],
  });
  assert.deepEqual(report.devfreq, [{
    name: "17000000.gpu",
    ok: true,
    curFreqHz: 306e6,
    minFreqHz: 306e6,
    maxFreqHz: 918e6,
    availableFreqsHz: [306e6, 408e6, 510e6, 612e6, 714e6, 816e6, 918e6, 1020e6],
    governor: "nvhost_podgov",
  }]);
  assert.deepEqual(report.cpufreq, [
    {
      policy: "policy0",
      cpus: [0, 1, 2, 3],
      ok: true,
      curFreqHz: 729.6e6,
      minFreqHz: 729.6e6,
      maxFreqHz: 1.344e9,
      governor: "schedutil",
    },
    {
      policy: "policy4",
      cpus: [4, 5],
      ok: true,
      curFreqHz: 1036.8e6,
      minFreqHz: 729.6e6,
      maxFreqHz: 1.344e9,
      governor: "schedutil",
    },
  ]);
  assert.deepEqual(report.power, [
    { name: "VDD_IN", ok: true, powerW: 4.172736, voltageV: 5.064, currentA: 0.824 },
    { name: "VDD_CPU_GPU_CV", ok: true, powerW: 0.566272, voltageV: 5.056, currentA: 0.112 },
    { name: "VDD_SOC", ok: true, powerW: 1.377408, voltageV: 5.064, currentA: 0.272 },
  ]);
  assert.deepEqual(report.load[1], { unit: "gpu", ok: true, utilization: 0.354 });
  assert.equal(report.load[0].ok, false);
  assert.deepEqual(report.memory, { totalBytes: 7620656 * 1024, availableBytes: 6401224 * 1024 });
});

Deno.test("probeReport() gives rails without voltage and current null for those fields", async () => {
  const board = await discoverBoard(fixture("generic"));
  const report = probeReport(board, await board.read());
  assert.deepEqual(report.power, [{ name: "board_in", ok: true, powerW: 4.9625, voltageV: 12.1, currentA: 0.41 }]);
  const missing = probeReport(board, { ...(await board.read()), power: [] });
  assert.deepEqual(missing.power, []);
});

Deno.test("formatProbeTable() prints one row per channel with FAIL and the reason for failed ones", async () => {
  const board = await discoverBoard(fixture("jetson-orin-nano"));
  const text = formatProbeTable(probeReport(board, await board.read()));
  assert.match(text, /^board: jetson-orin-nano \(NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super\)/);
  assert.match(text, /\n {2}cpu-thermal\s+48\.3 °C\s+passive 99 °C, critical 104\.5 °C\n/);
  assert.match(
    text,
    /\n {2}cv0-thermal\s+FAIL\s+passive 99 °C, critical 104\.5 °C\s+\/.*thermal_zone2\/temp: file is empty\n/,
  );
  assert.match(text, /\n {2}VDD_IN\s+4\.173 W\s+5\.064 V\s+0\.824 A\n/);
  assert.match(text, /\n {2}17000000\.gpu\s+306 MHz\s+306 MHz\s+918 MHz\s+nvhost_podgov\n/);
  assert.match(text, /\n {2}gpu\s+35\.4 %\n/);
  assert.match(text, /memory: 6\.10 GiB available of 7\.27 GiB\n$/);
});

Deno.test("qeil probe --root DIR --json prints the report as one JSON object", async () => {
  const { code, stdout, stderr } = await cli(["probe", "--root", fixture("rk3588"), "--json", "--interval-ms", "0"]);
  assert.equal(stderr, "");
  assert.equal(code, 0);
  const report = JSON.parse(stdout) as ProbeReport;
  assert.deepEqual(report.board, { id: "rk3588", model: "Radxa ROCK 5B" });
  assert.deepEqual(report.thermal[0], {
    name: "soc-thermal",
    ok: true,
    tempC: 44.384,
    trips: [{ type: "passive", tempC: 75 }, { type: "passive", tempC: 85 }, { type: "critical", tempC: 115 }],
  });
  assert.deepEqual(report.thermal[1].trips, [], "vendor zones without trips");
  assert.deepEqual(report.power, []);
});

Deno.test("qeil probe --board overrides detection and rejects unknown profiles", async () => {
  const over = await cli([
    "probe",
    "--root",
    fixture("jetson-agx-orin"),
    "--board",
    "jetson-orin-nano",
    "--json",
    "--interval-ms",
    "0",
  ]);
  assert.equal(over.code, 0);
  assert.equal((JSON.parse(over.stdout) as ProbeReport).board.id, "jetson-orin-nano");
  const bad = await cli(["probe", "--root", fixture("rk3588"), "--board", "rk3399"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown board profile "rk3399"; known profiles: rk3588, jetson-orin-nano/);
  const noRoot = await cli(["probe", "--root", "/no/such/root"]);
  assert.equal(noRoot.code, 2);
  assert.match(noRoot.stderr, /sysfs root "\/no\/such\/root" is not a directory/);
  const seedless = await cli(["probe", "--root", fixture("rk3588"), "--seed", "3"]);
  assert.equal(seedless.code, 2);
  assert.match(seedless.stderr, /--seed only applies to --board sim:PROFILE/);
});

async function simDirs(): Promise<string[]> {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const names: string[] = [];
  for await (const e of Deno.readDir(tmp)) if (e.name.startsWith("qeil-probe-sim-")) names.push(e.name);
  return names;
}

Deno.test("qeil probe --board sim:rk3588 probes a simulated board in a temporary folder and removes it", async () => {
  const before = await simDirs();
  const { code, stdout, stderr } = await cli(["probe", "--board", "sim:rk3588", "--json", "--interval-ms", "500"]);
  assert.equal(stderr, "");
  assert.equal(code, 0);
  const report = JSON.parse(stdout) as ProbeReport;
  assert.equal(report.board.id, "rk3588");
  assert.deepEqual(report.thermal.map((z) => z.name), [
    "soc-thermal",
    "bigcore0-thermal",
    "bigcore1-thermal",
    "littlecore-thermal",
    "center-thermal",
    "gpu-thermal",
    "npu-thermal",
  ]);
  assert.ok(report.thermal.every((z) => z.ok && z.tempC > 0 && z.tempC < 100));
  assert.deepEqual(report.power.map((r) => r.name), ["cpu_big", "cpu_little", "gpu", "npu", "board_total"]);
  assert.ok(report.power.every((r) => r.ok && r.powerW >= 0 && r.voltageV === null));
  assert.ok(report.load.every((l) => l.ok && l.utilization >= 0 && l.utilization <= 1), JSON.stringify(report.load));
  assert.ok("totalBytes" in report.memory && report.memory.totalBytes > 0);
  assert.deepEqual(await simDirs(), before, "the temporary tree is gone");
});

Deno.test("qeil probe --board sim:PROFILE refuses --root and unknown simulated boards", async () => {
  const withRoot = await cli(["probe", "--board", "sim:rk3588", "--root", "/tmp"]);
  assert.equal(withRoot.code, 2);
  assert.match(withRoot.stderr, /--root cannot be combined with --board sim:PROFILE/);
  const unknown = await cli(["probe", "--board", "sim:rk3399"]);
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /no such simulated board; choose one of rk3588, jetson-orin-nano, raspberry-pi-5, imx8mp/,
  );
});
