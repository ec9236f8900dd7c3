import assert from "node:assert/strict";
import { fail, ManualClock, ok, SensorUnavailableError } from "../../src/core/mod.ts";
import { discoverBoard, EnergyMeter, type RailSample, type Sample } from "../../src/hal/mod.ts";
import { tempFixture } from "./helpers.ts";

type RailSpec =
  | { name: string; role?: RailSample["role"]; powerW: number; energyJ?: number; energyRangeJ?: number }
  | { name: string; role?: RailSample["role"]; reason: string };

/** A sample that carries only power data (the meter reads nothing else). */
function sample(monotonicMs: number, rails: RailSpec[], totalPowerRails = [rails[0].name]): Sample {
  const power: RailSample[] = rails.map((r) =>
    "reason" in r ? { name: r.name, role: r.role ?? "input", ok: false, reason: r.reason } : {
      name: r.name,
      role: r.role ?? "input",
      ok: true,
      powerW: r.powerW,
      ...(r.energyJ !== undefined ? { energyJ: r.energyJ } : {}),
      ...(r.energyRangeJ !== undefined ? { energyRangeJ: r.energyRangeJ } : {}),
    }
  );
  return {
    timestampMs: 1_700_000_000_000 + monotonicMs,
    monotonicMs,
    thermal: [],
    coolingDevices: [],
    devfreq: [],
    cpufreq: [],
    power,
    load: [],
    memory: fail("not part of this test"),
    units: {},
    totalPowerW: ok(0),
    totalPowerRails,
    throttled: false,
  };
}

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

Deno.test("EnergyMeter integrates constant power exactly over a window", () => {
  const meter = new EnergyMeter();
  meter.add(sample(0, [{ name: "VDD_IN", powerW: 2 }]));
  const window = meter.begin("job-1");
  for (let t = 100; t <= 1000; t += 100) meter.add(sample(t, [{ name: "VDD_IN", powerW: 2 }]));
  const r = window.end();
  assert.equal(r.label, "job-1");
  close(r.energyJ, 2);
  close(r.perRailJ.VDD_IN, 2);
  assert.equal(r.durationMs, 1000);
  close(r.avgPowerW, 2);
  assert.equal(r.samples, 11);
  assert.deepEqual(r.incompleteRails, []);
  assert.equal(window.end(), r, "end() is idempotent");
});

Deno.test("EnergyMeter uses the trapezoid, exact for a linear power ramp", () => {
  const meter = new EnergyMeter();
  const window = meter.begin();
  for (const t of [0, 500, 1000]) meter.add(sample(t, [{ name: "board", powerW: 4 * t / 1000 }]));
  close(window.end().energyJ, 2); // integral of 4t over 1 s
});

Deno.test("EnergyMeter reports energy per rail and the total from Sample.totalPowerRails", () => {
  const meter = new EnergyMeter();
  const window = meter.begin();
  for (const t of [0, 1000, 2000]) {
    meter.add(sample(t, [
      { name: "cpu_big", role: "unit", powerW: 3 },
      { name: "gpu", role: "unit", powerW: 1 },
      { name: "VDD_SOC", role: "aux", powerW: 0.5 },
    ], ["cpu_big", "gpu"]));
  }
  const r = window.end();
  assert.deepEqual(r.perRailJ, { cpu_big: 6, gpu: 2, VDD_SOC: 1 });
  assert.equal(r.energyJ, 8);
  assert.equal(r.avgPowerW, 4);
});

Deno.test("EnergyMeter takes counter deltas, across a wrap, where the rail has an energy counter", () => {
  const meter = new EnergyMeter();
  const window = meter.begin();
  const range = 262143.32885;
  // The power readings (0 W) disagree on purpose: the counter must win.
  meter.add(sample(0, [{ name: "psys", powerW: 0, energyJ: 262142, energyRangeJ: range }]));
  meter.add(sample(1000, [{ name: "psys", powerW: 0, energyJ: 262143, energyRangeJ: range }]));
  meter.add(sample(2000, [{ name: "psys", powerW: 0, energyJ: 0.5, energyRangeJ: range }]));
  close(window.end().energyJ, 1 + (0.5 + range - 262143));
});

Deno.test("EnergyMeter bridges a failed reading and names the rail as incomplete", () => {
  const meter = new EnergyMeter();
  const window = meter.begin();
  meter.add(sample(0, [{ name: "VDD_IN", powerW: 2 }]));
  meter.add(sample(1000, [{ name: "VDD_IN", reason: "in1_input: read failed with EIO" }]));
  meter.add(sample(2000, [{ name: "VDD_IN", powerW: 4 }]));
  const r = window.end();
  close(r.energyJ, 6); // trapezoid 2 W -> 4 W over 2 s
  assert.deepEqual(r.incompleteRails, ["VDD_IN"]);
});

Deno.test("EnergyMeter bridges a rail lost until past the window's end at its last good power, once", () => {
  const meter = new EnergyMeter();
  meter.add(sample(0, [{ name: "VDD_IN", powerW: 3 }]));
  // A job's window opens while the board-total rail has just stopped reading and closes before it is back.
  const job = meter.begin("job");
  const longer = meter.begin("longer");
  meter.add(sample(1000, [{ name: "VDD_IN", reason: "in1_input: No such file or directory" }]));
  meter.add(sample(2000, [{ name: "VDD_IN", reason: "in1_input: No such file or directory" }]));
  const r = job.end();
  close(r.energyJ, 3 * 2); // held at 3 W from the last reading (the window's start) to its end
  assert.deepEqual(r.incompleteRails, ["VDD_IN"]);
  // A window still open when the rail returns gets the trapezoid across the gap, not the hold as well.
  meter.add(sample(3000, [{ name: "VDD_IN", powerW: 5 }]));
  close(longer.end().energyJ, (3 + 5) / 2 * 3);
  // Lost for the whole window with no reading ever: nothing to bridge from.
  const blind = new EnergyMeter();
  const w = blind.begin();
  blind.add(sample(0, [{ name: "VDD_IN", reason: "gone" }]));
  blind.add(sample(1000, [{ name: "VDD_IN", reason: "gone" }]));
  close(w.end().energyJ, 0);
});

Deno.test("EnergyMeter bridges a lost board input rail as the rest of the board plus what its sub-rails measure", () => {
  const meter = new EnergyMeter();
  const board = (tMs: number, totalW: number | undefined, cpuW: number, npuW: number | undefined) =>
    sample(tMs, [
      totalW === undefined ? { name: "total", reason: "power5_input: No such file or directory" } : {
        name: "total",
        powerW: totalW,
      },
      { name: "cpu", role: "unit", powerW: cpuW },
      npuW === undefined ? { name: "npu", role: "unit", reason: "gone" } : { name: "npu", role: "unit", powerW: npuW },
    ]);
  // Idle: 3 W in, of which 0.5 W cpu and 0.5 W npu, so 2 W for the rest of the board.
  meter.add(board(0, 3, 0.5, 0.5));
  const early = meter.begin("opened before the loss");
  meter.add(board(1000, 3, 0.5, 0.5));
  // The input rail is lost, then a job starts on the cpu (4 W) while the npu's rail is lost too.
  meter.add(board(2000, undefined, 0.5, undefined));
  const job = meter.begin("job");
  meter.add(board(3000, undefined, 4.5, undefined));
  meter.add(board(4000, undefined, 4.5, undefined));
  const r = job.end();
  // 2 s: the rest (2 W) + the cpu's trapezoid 0.5 -> 4.5 -> 4.5 (2.5 + 4.5 J) + the npu held at 0.5 W.
  close(r.energyJ, 2 * 2 + 7 + 0.5 * 2);
  assert.deepEqual(r.incompleteRails, ["npu", "total"]);
  // Lost inside a window: the total read itself until 1000 ms, then rest + sub-rails from there (not 3 W held).
  const e = early.end();
  close(e.energyJ, 3 + (2 * 3 + (0.5 + 2.5 + 4.5) + 0.5 * 3));
  // Without sub-rails to go by, the last good power holds (the test above).
});

Deno.test("EnergyMeter windows count only the time they were open, even across a gap", () => {
  const meter = new EnergyMeter();
  const whole = meter.begin("whole");
  meter.add(sample(0, [{ name: "in", powerW: 1 }]));
  meter.add(sample(1000, [{ name: "in", reason: "EAGAIN" }]));
  const late = meter.begin("late"); // opens at 1000 ms, inside the rail's gap 0..2000 ms
  meter.add(sample(2000, [{ name: "in", powerW: 1 }]));
  meter.add(sample(3000, [{ name: "in", powerW: 1 }]));
  close(whole.end().energyJ, 3);
  const r = late.end();
  close(r.energyJ, 2);
  assert.equal(r.durationMs, 2000);
  assert.equal(r.samples, 3);
});

Deno.test("EnergyMeter refuses empty windows, boards without a total rail and samples out of order", () => {
  const meter = new EnergyMeter();
  meter.add(sample(0, [{ name: "in", powerW: 1 }]));
  assert.throws(() => meter.begin("empty").end(), /energy window "empty" covers no time/);
  const auxOnly = new EnergyMeter();
  const noTotal = auxOnly.begin();
  auxOnly.add(sample(1000, [{ name: "aux", role: "aux", powerW: 1 }], []));
  auxOnly.add(sample(2000, [{ name: "aux", role: "aux", powerW: 1 }], []));
  assert.throws(() => noTotal.end(), (e: unknown) => {
    assert.ok(e instanceof SensorUnavailableError);
    assert.match(e.message, /the board has no rail that gives its total power/);
    return true;
  });
  assert.throws(() => auxOnly.add(sample(1500, [{ name: "in", powerW: 1 }])), /older than the previous one/);
});

Deno.test("EnergyMeter integrates the Orin Nano's INA3221 VDD_IN read from the tree", async () => {
  await using tree = await tempFixture("jetson-orin-nano");
  const clock = new ManualClock();
  const board = await discoverBoard(tree.root, { clock });
  const ina = `${tree.root}/sys/devices/platform/bus@0/c240000.i2c/i2c-1/1-0040/hwmon/hwmon1`;
  const meter = new EnergyMeter();
  meter.add(await board.read()); // 5064 mV x 824 mA
  const window = meter.begin("decode");
  await clock.advance(500);
  await Deno.writeTextFile(`${ina}/curr1_input`, "1824\n");
  meter.add(await board.read()); // 5064 mV x 1824 mA
  await clock.advance(500);
  meter.add(await board.read());
  const r = window.end();
  const p0 = 5.064 * 0.824;
  const p1 = 5.064 * 1.824;
  close(r.perRailJ.VDD_IN, (p0 + p1) / 2 * 0.5 + p1 * 0.5);
  close(r.energyJ, r.perRailJ.VDD_IN);
  close(r.perRailJ.VDD_SOC, 5.064 * 0.272);
  assert.equal(r.durationMs, 1000);
});

Deno.test("EnergyMeter takes the qeil_sim chip's energy counter across its 32-bit wrap instead of the power trapezoid", async () => {
  await using tree = await tempFixture("rk3588");
  // The simulated-only chip of qeil's simulated boards: power1_input µW and a cumulative energy1_input µJ.
  const chip = `${tree.root}/sys/devices/virtual/hwmon/hwmon9`;
  await Deno.mkdir(chip, { recursive: true });
  await Deno.writeTextFile(`${chip}/name`, "qeil_sim\n");
  await Deno.writeTextFile(`${chip}/power1_label`, "total\n");
  await Deno.writeTextFile(`${chip}/power1_input`, "2000000\n");
  await Deno.writeTextFile(`${chip}/energy1_input`, `${2 ** 32 - 296}\n`);
  await Deno.symlink("../../devices/virtual/hwmon/hwmon9", `${tree.root}/sys/class/hwmon/hwmon9`);
  const clock = new ManualClock();
  const board = await discoverBoard(tree.root, { clock });
  const info = board.rails.find((r) => r.name === "board_total")!;
  assert.deepEqual([info.chip, info.role, info.strategy.kind], ["qeil_sim", "input", "power"]);
  const meter = new EnergyMeter();
  const first = await board.read();
  const rail = first.power.find((r) => r.name === "board_total")!;
  assert.ok(rail.ok);
  assert.equal(rail.energyRangeJ, 4294.967296);
  meter.add(first);
  const window = meter.begin("short");
  await clock.advance(500);
  // 296 µJ to the top of the register, then 704 µJ past the wrap: 1 mJ, where 2 W x 0.5 s would say 1 J.
  await Deno.writeTextFile(`${chip}/energy1_input`, "704\n");
  meter.add(await board.read());
  const r = window.end();
  close(r.perRailJ.board_total, 0.001);
  close(r.energyJ, 0.001);
});
