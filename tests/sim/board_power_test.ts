/**
 * Thermal shutdown of a simulated board: a runaway ends at a critical trip or
 * the SoC's hardware limit, the board powers off (its tree goes, its units
 * stop, it cools by its RC model), the HAL keeps reading without a crash, and
 * `powerOn()` boots it again; no NaN or Infinity ever reaches the state or the
 * tree, whatever the ambient, the loads and the knobs.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { BackendError, ManualClock, TimeoutError } from "../../src/core/mod.ts";
import { discoverBoard, EnergyMeter } from "../../src/hal/mod.ts";
import {
  GARBAGE_TEXT,
  getLayout,
  SIM_AMBIENT_MAX_C,
  SIM_BOARD_IDS,
  type SimBoard,
  type SimShutdown,
  type SimWorkItem,
} from "../../src/sim/mod.ts";
import { readInt, readText, simBoard } from "./helpers.ts";

const POLICY4 = "sys/devices/system/cpu/cpufreq/policy4";
const BIG_COMPUTE = { unitId: "cpu_big", flops: 2e9, bytes: 1e5, precision: "fp32" } as const;
/** The GPU and the NPU of an rk3588 flat out (far more work than the test lets time for). */
const GPU_NPU_FLAT_OUT: SimWorkItem[] = [
  { unitId: "gpu", flops: 1e20, bytes: 1e9, precision: "fp16" },
  { unitId: "npu", flops: 1e20, bytes: 1e9, precision: "int8" },
];
const SHUTDOWN_MESSAGE =
  /^board powered off: [a-z0-9]+-thermal reached (its critical trip 115 °C|the TSADC shutdown temperature 120 °C) \(read 1[12]\d\.\d °C\)$/;

/** The rejection of a call, or undefined when it resolved. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error;
  }
}

function missing(root: string, rel: string): boolean {
  try {
    Deno.lstatSync(`${root}/${rel}`);
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return true;
    throw error;
  }
}

/** The shutdown of an rk3588 in a +40 K enclosure with its GPU and NPU flat out (the runaway of the report). */
async function runaway(sim: SimBoard): Promise<{ error: unknown; shutdown: SimShutdown }> {
  sim.inject({ kind: "ambient-step", deltaC: 40 });
  const error = await rejection(sim.execute(GPU_NPU_FLAT_OUT, { timeoutMs: 3_600_000 }));
  const power = sim.power;
  assert.ok(!power.on, `the board is still on after the call ended with ${error}`);
  return { error, shutdown: power.shutdown };
}

Deno.test("a thermal runaway (rk3588, +40 K, GPU and NPU flat out) powers the board off at its shutdown temperature, every value finite", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 1, stepMs: 500 });
  const zoneIds = Object.keys(sim.truthForTests().zoneTempsC);
  const trace: { timeMs: number; on: boolean; tempsC: Record<string, number>; totalPowerW: number }[] = [];
  sim.onStep((timeMs) => {
    const truth = sim.truthForTests();
    trace.push({ timeMs, on: sim.power.on, tempsC: truth.zoneTempsC, totalPowerW: truth.totalPowerW });
    if (!sim.power.on) return;
    for (const z of sim.paths.zones) assert.match(readText(sim.root, `${z.path}/temp`), /^\d+$/, z.type);
  });
  const { error, shutdown } = await runaway(sim);

  assert.ok(error instanceof BackendError, `rejected with ${error}`);
  assert.equal(error.code, "Backend");
  assert.match(error.message, SHUTDOWN_MESSAGE);
  assert.equal(error.message, shutdown.message);
  assert.deepEqual(error.details, {
    shutdown: shutdown.kind,
    zoneType: shutdown.zoneType,
    tempC: shutdown.tempC,
    limitC: shutdown.limitC,
    timeMs: shutdown.timeMs,
  });
  assert.equal(shutdown.limitC, shutdown.kind === "critical-trip" ? 115 : 120);
  assert.ok(shutdown.tempC >= shutdown.limitC && shutdown.tempC < shutdown.limitC + 2, JSON.stringify(shutdown));
  assert.ok(shutdown.timeMs > 0 && shutdown.timeMs < 3_600_000);
  // The kernel and its trees are gone; the work stopped and new work is refused with the same named error.
  assert.ok(missing(sim.root, "sys") && missing(sim.root, "proc"), "no sys or proc tree on a powered-off board");
  await assert.rejects(
    sim.execute([BIG_COMPUTE]),
    (e: unknown) => e instanceof BackendError && e.message === shutdown.message,
  );
  for (const s of trace) {
    for (const id of zoneIds) {
      assert.ok(Number.isFinite(s.tempsC[id]) && s.tempsC[id] < 125, `${id} at ${s.timeMs} ms: ${s.tempsC[id]} °C`);
    }
    assert.ok(Number.isFinite(s.totalPowerW));
  }

  // Off, the zones cool toward the ambient exactly as their RC model says, and nothing draws power.
  const atOff = sim.truthForTests();
  assert.equal(atOff.poweredOn, false);
  await sim.advance(300_000);
  const offTrace = trace.filter((s) => s.timeMs > shutdown.timeMs);
  assert.equal(offTrace.length, 600, "onStep callbacks keep running while the board is off");
  const cooled = sim.truthForTests();
  for (const zone of cooled.priors.zones) {
    const excessC = atOff.zoneTempsC[zone.id] - cooled.ambientC;
    const expectedC = cooled.ambientC + excessC * Math.exp(-300 / zone.tauS);
    assert.ok(excessC > 30, `${zone.id} was hot at the shutdown (${atOff.zoneTempsC[zone.id]} °C)`);
    assert.ok(Math.abs(cooled.zoneTempsC[zone.id] - expectedC) < 1e-6, `${zone.id}: ${cooled.zoneTempsC[zone.id]} °C`);
  }
  for (const s of offTrace) {
    assert.equal(s.on, false);
    assert.equal(s.totalPowerW, 0);
  }
  assert.equal(cooled.totalPowerW, 0);
  assert.deepEqual(Object.values(cooled.unitFreqHz), [0, 0, 0, 0]);
  const readings = sim.readings();
  assert.equal(readings.poweredOn, false);
  assert.ok(readings.zones.every((z) => z.tempC === undefined));
  assert.ok(readings.rails.every((r) => r.powerW === 0));
  assert.ok(readings.domains.every((d) => d.curFreqHz === 0));
  assert.ok(Object.values(readings.unitBusy).every((b) => b === 0));
  assert.ok(missing(sim.root, "sys"), "stepping while off writes no tree");
  assert.deepEqual(sim.power, { on: false, shutdown });

  // The same seed shuts down the same way.
  await using again = await simBoard({ profileId: "rk3588", seed: 1, stepMs: 500 });
  assert.deepEqual((await runaway(again)).shutdown, shutdown);
});

Deno.test("a board that is off keeps its sensor faults and refuses new ones; powerOn() refuses while a sensor reads at its shutdown temperature, then boots a fresh tree the HAL reads again", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 2, stepMs: 500 });
  const root = sim.root;
  const board = await discoverBoard(root, { clock: sim.clock });
  const meter = new EnergyMeter();
  const bigZone = sim.paths.zones.find((z) => z.type === "bigcore0-thermal")!.path;
  Deno.writeTextFileSync(`${root}/${POLICY4}/scaling_governor`, "performance\n");
  Deno.writeTextFileSync(`${root}/${POLICY4}/scaling_max_freq`, "1800000\n");
  sim.inject({ kind: "sensor-garbage", path: `${bigZone}/temp` });
  await sim.advance(1000);
  assert.equal(readText(root, `${POLICY4}/scaling_governor`), "performance");
  const before = await board.read();
  assert.ok(before.totalPowerW.ok);
  meter.add(before);
  const window = meter.begin("outage");
  const startJ = sim.truthForTests().energyJ.totalJ;

  // A furnace: the board reaches a shutdown temperature within seconds.
  sim.inject({ kind: "ambient-step", deltaC: 300 });
  await sim.advance(60_000);
  const power = sim.power;
  assert.ok(!power.on, "powered off");
  assert.match(power.shutdown.message, SHUTDOWN_MESSAGE);

  // The HAL reads a board whose tree went: every channel fails, nothing throws.
  const during = await board.read();
  meter.add(during);
  assert.ok(during.thermal.length > 0 && during.thermal.every((z) => !z.ok && /missing file/.test(z.reason)));
  assert.ok(during.power.length > 0 && during.power.every((r) => !r.ok));
  assert.equal(during.totalPowerW.ok, false);
  assert.throws(
    () => sim.inject({ kind: "sensor-remove", path: `${bigZone}/temp` }),
    /sensor-remove\): the simulated board is powered off \(board powered off: .*\); it has no tree/,
  );

  assert.throws(
    () => sim.powerOn(),
    (e: unknown) =>
      e instanceof BackendError &&
      /^cannot power the simulated board on: [a-z0-9]+-thermal reads \d+\.\d °C, at or above (its critical trip 115 °C|the TSADC shutdown temperature 120 °C)/
        .test(e.message),
  );
  assert.ok(!sim.power.on && missing(root, "sys"), "a refused power-on changes nothing");

  sim.clear({ kind: "ambient-step", deltaC: 300 });
  await sim.advance(900_000);
  const offJ = sim.truthForTests().energyJ.totalJ;
  sim.powerOn();
  assert.deepEqual(sim.power, { on: true });
  assert.equal(sim.truthForTests().energyJ.totalJ, offJ, "booting takes no time");

  // A fresh boot: the kernel's defaults in the knobs, statistics since boot, the garbled sensor still garbled.
  assert.equal(readText(root, `${POLICY4}/scaling_governor`), "ondemand");
  assert.equal(readInt(root, `${POLICY4}/scaling_max_freq`), readInt(root, `${POLICY4}/cpuinfo_max_freq`));
  assert.equal(readText(root, `${bigZone}/temp`), GARBAGE_TEXT.replace(/\n$/, ""));
  const cpu0 = readText(root, "proc/stat").split("\n")[1].split(" ").map(Number);
  assert.deepEqual([cpu0[1], cpu0[4]], [0, 0], "no CPU time since boot");
  const after = await board.read();
  const soc = after.thermal.find((z) => z.name === "soc-thermal")!;
  assert.ok(soc.ok && soc.tempC < 60, JSON.stringify(soc));
  assert.ok(after.totalPowerW.ok && after.totalPowerW.value > 0.5);
  // The qeil_sim counters resumed where they stopped: a window across the outage counts only the energy drawn.
  meter.add(after);
  const result = window.end();
  const trueJ = sim.truthForTests().energyJ.totalJ - startJ;
  assert.ok(Math.abs(result.energyJ - trueJ) <= 2e-6, `meter ${result.energyJ} J vs true ${trueJ} J`);
  assert.deepEqual(result.incompleteRails.length > 0, true, "the outage shows as a gap in the rails");

  const [run] = await sim.execute([BIG_COMPUTE]);
  assert.ok(run.durationMs > 0);
  await sim.advance(1000);
  assert.ok(readInt(root, "sys/class/thermal/thermal_zone0/temp") < 60_000);
});

Deno.test("a realtime board powers off in the middle of a call and keeps stepping, without a tree, while off", async () => {
  const clock = new ManualClock();
  await using sim = await simBoard({ profileId: "rk3588", seed: 4, stepMs: 1000, timeMode: "realtime", clock });
  sim.start();
  sim.inject({ kind: "ambient-step", deltaC: 300 });
  let settled = false;
  const call = rejection(sim.execute(GPU_NPU_FLAT_OUT)).finally(() => (settled = true));
  for (let i = 0; i < 600 && !settled; i++) await clock.advance(1000);
  const error = await call;
  const power = sim.power;
  assert.ok(!power.on, "powered off");
  assert.ok(error instanceof BackendError && error.message === power.shutdown.message, `${error}`);
  const offC = sim.truthForTests().zoneTempsC.soc;
  sim.clear({ kind: "ambient-step", deltaC: 300 });
  for (let i = 0; i < 30; i++) await clock.advance(1000);
  assert.ok(sim.truthForTests().timeMs >= power.shutdown.timeMs + 30_000, "the realtime steps go on");
  assert.ok(sim.truthForTests().zoneTempsC.soc < offC - 5, "and the board cools");
  assert.ok(missing(sim.root, "sys"));
  await sim.stop();
});

Deno.test("ambient steps that would take the ambient beyond the supported range are refused", async () => {
  await using sim = await simBoard({ profileId: "imx8mp", seed: 1 });
  const ambientC = sim.truthForTests().ambientC;
  assert.throws(
    () => sim.inject({ kind: "ambient-step", deltaC: SIM_AMBIENT_MAX_C }),
    /ambient-step of 1000 K would take the ambient to 10\d\d\.\d\d °C .*at most 1000 °C/,
  );
  assert.throws(() => sim.inject({ kind: "ambient-step", deltaC: -300 }), /above -273\.15 °C/);
  sim.inject({ kind: "ambient-step", deltaC: 900 });
  assert.throws(() => sim.inject({ kind: "ambient-step", deltaC: 100 }), RangeError, "the steps add up");
  sim.inject({ kind: "ambient-step", deltaC: -200 });
  assert.throws(() => sim.inject({ kind: "ambient-step", deltaC: Number.POSITIVE_INFINITY }), /finite deltaC/);
  assert.equal(sim.faults.length, 2, "refused steps are not in force");
  assert.ok(Math.abs(sim.truthForTests().ambientC - (ambientC + 700)) < 1e-9);
  sim.clear({ kind: "ambient-step", deltaC: 900 });
  assert.ok(Math.abs(sim.truthForTests().ambientC - ambientC) < 1e-9, "clear() lifts every ambient step");
});

/** A thing done to a board in the property test. */
type Action =
  | { kind: "ambient"; deltaC: number }
  | { kind: "clear-ambient" }
  | { kind: "load"; unitMask: number; flops: number; bytes: number; timeoutMs: number }
  | { kind: "idle"; durationMs: number }
  | { kind: "knob"; knob: number; text: string }
  | { kind: "power-on" };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    kind: fc.constant("ambient" as const),
    deltaC: fc.oneof(fc.double({ min: -400, max: 1500, noNaN: true }), fc.constantFrom(40, 80, 200, 975)),
  }),
  fc.record({
    kind: fc.constant("ambient" as const),
    deltaC: fc.oneof(fc.double({ min: -400, max: 1500, noNaN: true }), fc.constantFrom(40, 80, 200, 975)),
  }),
  fc.constant({ kind: "clear-ambient" as const }),
  fc.record({
    kind: fc.constant("load" as const),
    unitMask: fc.integer({ min: 1, max: 15 }),
    flops: fc.oneof(fc.double({ min: 0, max: 1e300, noNaN: true }), fc.constant(1e20)),
    bytes: fc.oneof(fc.double({ min: 0, max: 1e300, noNaN: true }), fc.constant(1e9)),
    timeoutMs: fc.integer({ min: 1, max: 400_000 }),
  }),
  fc.record({ kind: fc.constant("idle" as const), durationMs: fc.integer({ min: 0, max: 400_000 }) }),
  fc.record({
    kind: fc.constant("knob" as const),
    knob: fc.nat(),
    text: fc.oneof(
      fc.constantFrom("performance", "powersave", "userspace", "ondemand", "schedutil", "simple_ondemand", "bogus", ""),
      fc.nat().map(String),
      fc.constantFrom("99999999999999999999", "-5", "1e9", "NaN"),
    ),
  }),
  fc.constant({ kind: "power-on" as const }),
);

/** Every knob file a user may write, root-relative. */
function knobFiles(sim: SimBoard): string[] {
  return [
    ...sim.paths.cpufreq.flatMap((p) =>
      ["scaling_governor", "scaling_min_freq", "scaling_max_freq", "scaling_setspeed"].map((f) => `${p.path}/${f}`)
    ),
    ...sim.paths.devfreq.flatMap((p) =>
      ["governor", "min_freq", "max_freq", "userspace/set_freq"].map((f) => `${p.path}/${f}`)
    ),
  ];
}

/** Every temperature, power, voltage, current, energy and clock the tree shows is an integer in its sysfs unit. */
function assertTreeFinite(sim: SimBoard): void {
  const layout = getLayout(sim.profileId);
  const integer = /^-?\d+\n$/;
  sim.paths.zones.forEach((z, i) => {
    if (layout.zones[i].readable === false) return;
    assert.match(Deno.readTextFileSync(`${sim.root}/${z.path}/temp`), integer, `${z.type} temp`);
  });
  for (const h of sim.paths.hwmon) {
    for (const e of Deno.readDirSync(`${sim.root}/${h.path}`)) {
      if (!/^(temp|power|energy|in|curr|fan)\d+_input$/.test(e.name)) continue;
      assert.match(Deno.readTextFileSync(`${sim.root}/${h.path}/${e.name}`), integer, `${h.name} ${e.name}`);
    }
  }
  for (const p of sim.paths.cpufreq) {
    assert.match(Deno.readTextFileSync(`${sim.root}/${p.path}/scaling_cur_freq`), integer, `${p.name} cur`);
  }
  for (const p of sim.paths.devfreq) {
    assert.match(Deno.readTextFileSync(`${sim.root}/${p.path}/cur_freq`), integer, `${p.name} cur`);
  }
}

function assertStateFinite(sim: SimBoard): void {
  assertTruthFinite(sim);
  const readings = sim.readings();
  for (const z of readings.zones) assert.ok(z.tempC === undefined || Number.isFinite(z.tempC), z.type);
  for (const r of readings.rails) assert.ok(Number.isFinite(r.powerW), r.label);
  for (const d of readings.domains) assert.ok(Number.isFinite(d.curFreqHz) && Number.isFinite(d.maxFreqHz), d.name);
  if (sim.power.on) assertTreeFinite(sim);
  else assert.ok(missing(sim.root, "sys"), "a powered-off board has no tree");
}

function assertTruthFinite(sim: SimBoard): void {
  const truth = sim.truthForTests();
  const numbers = [
    truth.ambientC,
    truth.totalPowerW,
    truth.timeMs,
    truth.energyJ.baseJ,
    truth.energyJ.totalJ,
    ...Object.values(truth.zoneTempsC),
    ...Object.values(truth.unitPowerW),
    ...Object.values(truth.energyJ.units),
    ...Object.values(truth.unitFreqHz),
  ];
  for (const n of numbers) assert.ok(Number.isFinite(n), `a non-finite value in the truth: ${JSON.stringify(truth)}`);
}

async function act(sim: SimBoard, action: Action): Promise<void> {
  switch (action.kind) {
    case "ambient":
      try {
        sim.inject({ kind: "ambient-step", deltaC: action.deltaC });
      } catch (error) {
        if (!(error instanceof RangeError && /ambient-step of/.test(error.message))) throw error;
      }
      return;
    case "clear-ambient":
      sim.clear({ kind: "ambient-step", deltaC: 0 });
      return;
    case "load": {
      const items = sim.units.filter((_, i) => action.unitMask & (1 << i)).map((u) => ({
        unitId: u.id,
        flops: action.flops,
        bytes: action.bytes,
        precision: u.precisions[0],
      }));
      const error = await rejection(sim.execute(items, { timeoutMs: action.timeoutMs }));
      if (error instanceof assert.AssertionError) throw error;
      assert.ok(
        error === undefined || error instanceof TimeoutError ||
          (error instanceof BackendError && /^board powered off: /.test(error.message)),
        `execute() failed with ${error}`,
      );
      return;
    }
    case "idle":
      await sim.advance(action.durationMs);
      return;
    case "knob": {
      const files = knobFiles(sim);
      const rel = files[action.knob % files.length];
      try {
        Deno.writeTextFileSync(`${sim.root}/${rel}`, action.text + "\n");
      } catch (error) {
        // The tree of a powered-off board is gone (and the userspace set point file may be too).
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      return;
    }
    case "power-on":
      try {
        sim.powerOn();
      } catch (error) {
        if (!(error instanceof BackendError && /^cannot power the simulated board on/.test(error.message))) throw error;
      }
      return;
  }
}

Deno.test("no NaN or Infinity reaches the state or the tree, whatever the ambient steps, loads and knobs (fast-check)", async () => {
  let shutdowns = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...SIM_BOARD_IDS),
      fc.nat(1000),
      fc.oneof(fc.constant(0.25), fc.double({ min: 0, max: 0.95, noNaN: true })),
      fc.constantFrom(100, 1000, 5000),
      fc.array(actionArb, { minLength: 1, maxLength: 8 }),
      async (profileId, seed, truthSpread, stepMs, actions) => {
        await using sim = await simBoard({ profileId, seed, truthSpread, stepMs });
        // Checked during long calls too (a failed check rejects the call): a NaN must not go unseen until it ends.
        sim.onStep(() => assertTruthFinite(sim), { periodMs: 10 * stepMs });
        assertStateFinite(sim);
        for (const action of actions) {
          await act(sim, action);
          assertStateFinite(sim);
        }
        if (!sim.power.on) shutdowns++;
      },
    ),
    { numRuns: 40, seed: 11 },
  );
  assert.ok(shutdowns >= 3, `the runs include boards that shut down (${shutdowns})`);
});
