import assert from "node:assert/strict";
import { ConfigError, SensorUnavailableError } from "../../src/core/mod.ts";
import { type Board, discoverBoard, type UnitInfo } from "../../src/hal/mod.ts";
import { fixture, tempDir, tempFixture } from "./helpers.ts";

function unit(board: Board, id: string): UnitInfo {
  const u = board.units.find((x) => x.id === id);
  assert.ok(u, `no unit ${id} in ${board.units.map((x) => x.id)}`);
  return u;
}

Deno.test("discoverBoard() detects the vendor RK3588 tree and binds its four units", async () => {
  const board = await discoverBoard(fixture("rk3588"));
  assert.equal(board.profile.id, "rk3588");
  assert.equal(board.model, "Radxa ROCK 5B");
  assert.deepEqual(board.compatible, ["radxa,rock-5b", "rockchip,rk3588"]);
  assert.deepEqual(board.warnings, []);
  assert.deepEqual(board.units.map((u) => u.id), ["cpu_big", "cpu_little", "gpu", "npu"]);
  const big = unit(board, "cpu_big");
  assert.deepEqual(big.freq, { kind: "cpufreq", policies: ["policy4", "policy6"] });
  assert.deepEqual(big.thermalZones, ["bigcore0-thermal", "bigcore1-thermal"]);
  assert.equal(big.availableFreqsHz.length, 14);
  assert.equal(big.availableFreqsHz.at(-1), 2.4e9);
  assert.deepEqual(big.load, { kind: "procstat", path: `${board.root}/proc/stat`, cpus: [4, 5, 6, 7] });
  assert.deepEqual(unit(board, "gpu").freq, { kind: "devfreq", device: "fb000000.gpu" });
  assert.equal(unit(board, "gpu").load.kind, "devfreq-load");
  // The NPU devfreq `load` always reads 100: the rknpu debugfs file is used instead.
  assert.deepEqual(unit(board, "npu").load, { kind: "rknpu", path: `${board.root}/sys/kernel/debug/rknpu/load` });
  assert.deepEqual(unit(board, "npu").channels, { freq: true, temp: true, load: true, power: false });
  // Zones in natural order, found by type; only soc-thermal has trips.
  assert.deepEqual(board.thermalZones.map((z) => [z.name, z.zone, z.trips.length]), [
    ["soc-thermal", "soc", 3],
    ["bigcore0-thermal", "bigcore0", 0],
    ["bigcore1-thermal", "bigcore1", 0],
    ["littlecore-thermal", "littlecore", 0],
    ["center-thermal", "center", 0],
    ["gpu-thermal", "gpu", 0],
    ["npu-thermal", "npu", 0],
  ]);
  assert.deepEqual(board.thermalZones[0].trips, [
    { type: "passive", tempC: 75, hystC: 2 },
    { type: "passive", tempC: 85, hystC: 2 },
    { type: "critical", tempC: 115, hystC: 2 },
  ]);
  // Bound to the 85 °C passive trip of soc-thermal: cpu0, cpu4, cpu6 and the GPU; dmc is not.
  assert.deepEqual(board.coolingDevices.map((c) => [c.type, c.passive]), [
    ["cpufreq-cpu0", true],
    ["cpufreq-cpu4", true],
    ["cpufreq-cpu6", true],
    ["devfreq-fb000000.gpu", true],
    ["devfreq-dmc", false],
  ]);
  // The USB-PD tcpm hwmon reports a negotiated contract, not a measurement: no rail.
  assert.deepEqual(board.rails, []);
  assert.deepEqual(board.cpufreq.find((p) => p.name === "policy4")?.initial, {
    governor: "ondemand",
    minFreqHz: 408e6,
    maxFreqHz: 2.4e9,
  });
  assert.equal(board.devfreq.find((d) => d.name === "fb000000.gpu")?.coolingDevice, "devfreq-fb000000.gpu");
});

Deno.test("discoverBoard() maps mainline RK3588 names to the same logical zones", async () => {
  const board = await discoverBoard(fixture("rk3588-mainline"));
  assert.equal(board.profile.id, "rk3588");
  assert.deepEqual(unit(board, "cpu_big").thermalZones, ["bigcore0-thermal", "bigcore2-thermal"]);
  assert.equal(board.thermalZones.find((z) => z.name === "package-thermal")?.zone, "soc");
  assert.equal(board.thermalZones.find((z) => z.name === "bigcore2-thermal")?.zone, "bigcore1");
  const npu = unit(board, "npu");
  assert.deepEqual(npu.freq, { kind: "none", reason: "no devfreq device fdab0000.npu" });
  assert.equal(npu.load.kind, "none");
  assert.match(npu.load.kind === "none" ? npu.load.reason : "", /no load source found \(tried .*rknpu\/load/);
  assert.equal(unit(board, "gpu").load.kind, "none", "panthor has no devfreq load file");
  assert.deepEqual(board.coolingDevices.map((c) => c.passive), [true, true, true, true]);
});

Deno.test("discoverBoard() reads JetPack 6 and JetPack 5 Orin Nano trees with the same profile", async () => {
  const jp6 = await discoverBoard(fixture("jetson-orin-nano"));
  assert.equal(jp6.profile.id, "jetson-orin-nano");
  assert.deepEqual(unit(jp6, "cpu").freq, { kind: "cpufreq", policies: ["policy0", "policy4"] });
  assert.deepEqual(unit(jp6, "gpu").freq, { kind: "devfreq", device: "17000000.gpu" });
  // The per-mille load is found through the devfreq device's parent platform device.
  assert.deepEqual(unit(jp6, "gpu").load, {
    kind: "permille",
    path: `${jp6.root}/sys/class/devfreq/17000000.gpu/device/load`,
  });
  assert.deepEqual(jp6.rails.map((r) => [r.name, r.role, r.strategy.kind]), [
    ["VDD_IN", "input", "voltage-current"],
    ["VDD_CPU_GPU_CV", "aux", "voltage-current"],
    ["VDD_SOC", "aux", "voltage-current"],
  ]);
  assert.equal(jp6.coolingDevices[0].passive, false, "pwm-fan is active cooling");

  const jp5 = await discoverBoard(fixture("jetson-orin-nano-jp5"));
  assert.equal(jp5.profile.id, "jetson-orin-nano");
  assert.deepEqual(unit(jp5, "gpu").freq, { kind: "devfreq", device: "17000000.ga10b" });
  assert.deepEqual(unit(jp5, "cpu").thermalZones, ["CPU-therm"]);
  assert.deepEqual(jp5.thermalZones.map((z) => z.zone), ["cpu", "gpu", "cv0", "tj"]);
});

Deno.test("discoverBoard() skips INA3221 NC channels and the shunt-sum channel", async () => {
  const board = await discoverBoard(fixture("jetson-agx-orin"));
  assert.equal(board.profile.id, "generic", "AGX Orin has no profile of its own");
  assert.deepEqual(board.rails.map((r) => [r.name, r.chip, r.channel]), [
    ["VDD_GPU_SOC", "ina3221", 1],
    ["VDD_CPU_CV", "ina3221", 2],
    ["VIN_SYS_5V0", "ina3221", 3],
    ["VDDQ_VDD2_1V8AO", "ina3221", 2],
  ]);
  assert.deepEqual(board.units.map((u) => u.id), ["cpu_policy0", "cpu_policy4", "cpu_policy8"]);
});

Deno.test("discoverBoard() makes the generic profile concrete per cpufreq policy", async () => {
  const board = await discoverBoard(fixture("generic"));
  assert.equal(board.profile.id, "generic");
  assert.deepEqual(board.units.map((u) => [u.id, u.freq]), [
    ["cpu_policy0", { kind: "cpufreq", policies: ["policy0"] }],
    ["cpu_policy2", { kind: "cpufreq", policies: ["policy2"] }],
  ]);
  assert.equal(board.profile.priors.defaultUnit, "cpu_policy2");
  assert.deepEqual(unit(board, "cpu_policy2").thermalZones, ["cpu-thermal"]);
  // The external INA226 on channel 1 is the profile's board input: a direct power file plus V and I.
  assert.equal(board.rails.length, 1);
  const rail = board.rails[0];
  assert.equal(rail.name, "board_in");
  assert.equal(rail.role, "input");
  assert.equal(rail.strategy.kind, "power");
});

Deno.test("discoverBoard() binds the Pi 5 and i.MX 8M Plus units", async () => {
  const pi = await discoverBoard(fixture("raspberry-pi-5"));
  assert.equal(pi.profile.id, "raspberry-pi-5");
  assert.deepEqual(pi.rails, [], "rp1_adc voltages and fan hwmons are no rails");
  assert.equal(pi.coolingDevices[0].passive, false, "the fan is bound to active trips only");
  const imx = await discoverBoard(fixture("imx8mp"));
  assert.equal(imx.profile.id, "imx8mp");
  assert.deepEqual(unit(imx, "npu").load, { kind: "galcore", path: `${imx.root}/sys/kernel/debug/gc/load`, core: 1 });
  assert.deepEqual(unit(imx, "npu").freq, {
    kind: "none",
    reason: "the galcore NPU clock has no devfreq on i.MX 8M Plus",
  });
});

Deno.test("discoverBoard() honours a profile override over device-tree detection", async () => {
  const board = await discoverBoard(fixture("jetson-agx-orin"), { profileId: "jetson-orin-nano" });
  assert.equal(board.profile.id, "jetson-orin-nano");
  assert.deepEqual(unit(board, "cpu").thermalZones, ["CPU-therm"]);
  assert.deepEqual(unit(board, "gpu").freq, { kind: "devfreq", device: "17000000.ga10b" });
  await assert.rejects(discoverBoard(fixture("rk3588"), { profileId: "nope" }), ConfigError);
});

Deno.test("discoverBoard() follows class links written as absolute board paths below the root", async () => {
  await using tree = await tempFixture("rk3588", { absoluteLinks: true });
  const link = await Deno.readLink(`${tree.root}/sys/class/thermal/thermal_zone0`);
  assert.equal(link, "/sys/devices/virtual/thermal/thermal_zone0", "the copy really has absolute links");
  const board = await discoverBoard(tree.root);
  assert.equal(board.thermalZones.length, 7);
  assert.equal(board.thermalZones[0].path, `${tree.root}/sys/devices/virtual/thermal/thermal_zone0`);
  assert.equal(board.devfreq.length, 4);
  const sample = await board.read();
  const soc = sample.thermal[0];
  assert.ok(soc.ok && soc.tempC === 44.384);
});

Deno.test("discoverBoard() finds the device tree under /sys/firmware when /proc/device-tree is absent", async () => {
  await using tree = await tempFixture("raspberry-pi-5");
  await Deno.remove(`${tree.root}/proc/device-tree`);
  const board = await discoverBoard(tree.root);
  assert.equal(board.model, "Raspberry Pi 5 Model B Rev 1.0");
  assert.equal(board.profile.id, "raspberry-pi-5");
});

Deno.test("discoverBoard() names what is wrong with the root", async () => {
  await assert.rejects(discoverBoard("/definitely/not/here"), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.message, 'sysfs root "/definitely/not/here" is not a directory');
    assert.equal(e.details.field, "root");
    return true;
  });
  await using empty = await tempDir();
  await assert.rejects(discoverBoard(empty.root), (e: unknown) => {
    assert.ok(e instanceof SensorUnavailableError);
    assert.match(e.message, /found no sensors below/);
    return true;
  });
});

Deno.test("discoverBoard() keeps a zone whose type cannot be read, under its directory name", async () => {
  await using tree = await tempFixture("imx8mp");
  await Deno.writeTextFile(`${tree.root}/sys/devices/virtual/thermal/thermal_zone1/type`, "");
  const board = await discoverBoard(tree.root);
  assert.deepEqual(board.thermalZones.map((z) => z.name), ["cpu-thermal", "thermal_zone1"]);
  assert.equal(board.warnings.length, 1);
  assert.match(board.warnings[0], /thermal_zone1\/type: file is empty; zone reported as thermal_zone1/);
});

Deno.test("discoverBoard() treats cpufreq/devfreq cooling as passive when no zone exposes bindings", async () => {
  await using tree = await tempFixture("imx8mp");
  for (const zone of [0, 1]) {
    const dir = `${tree.root}/sys/devices/virtual/thermal/thermal_zone${zone}`;
    await Deno.remove(`${dir}/cdev0`);
    await Deno.remove(`${dir}/cdev0_trip_point`);
  }
  const board = await discoverBoard(tree.root);
  assert.deepEqual(board.coolingDevices.map((c) => [c.type, c.passive]), [["cpufreq-cpu0", true]]);
});

Deno.test("discoverBoard() reports a knob it cannot snapshot as a warning", async () => {
  await using tree = await tempFixture("raspberry-pi-5");
  await Deno.writeTextFile(`${tree.root}/sys/devices/system/cpu/cpufreq/policy0/scaling_governor`, "");
  const board = await discoverBoard(tree.root);
  assert.equal(board.cpufreq[0].initial, undefined);
  assert.match(board.warnings.join("\n"), /no knob snapshot for .*policy0 \(release\(\) cannot restore it\)/);
});

Deno.test("discoverBoard() binds the generic profile's single cpu unit to a lone policy", async () => {
  const board = await discoverBoard(fixture("raspberry-pi-5"), { profileId: "generic" });
  assert.deepEqual(board.units.map((u) => [u.id, u.freq]), [["cpu", { kind: "cpufreq", policies: ["policy0"] }]]);
  assert.deepEqual(unit(board, "cpu").thermalZones, ["cpu-thermal"]);
  const s = await board.read();
  assert.deepEqual(s.units.cpu.maxFreqHz, { ok: true, value: 2.4e9 });
});

Deno.test("discoverBoard() still counts a unit's CPUs in /proc/stat when cpufreq is absent", async () => {
  await using tree = await tempFixture("raspberry-pi-5");
  await Deno.remove(`${tree.root}/sys/devices/system/cpu/cpufreq`, { recursive: true });
  const board = await discoverBoard(tree.root);
  const cpu = unit(board, "cpu");
  assert.deepEqual(cpu.freq, { kind: "none", reason: "no cpufreq policy for cpus 0 1 2 3" });
  assert.deepEqual(cpu.load, { kind: "procstat", path: `${tree.root}/proc/stat`, cpus: [0, 1, 2, 3] });
});
