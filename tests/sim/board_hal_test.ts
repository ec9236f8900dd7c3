/**
 * The simulated boards read through the real HAL: discovery finds every unit,
 * zone and rail; the HAL's energy meter agrees with the hidden truth; the
 * HAL's actuators drive the simulator's clocks through the tree.
 */
import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import { createActuators, discoverBoard, EnergyMeter, type Sample } from "../../src/hal/mod.ts";
import { SIM_BOARD_IDS, type SimBoard } from "../../src/sim/mod.ts";
import { readInt, simBoard } from "./helpers.ts";

/** The same sample with the rails' energy counters dropped: the meter then integrates the power readings. */
function withoutCounters(sample: Sample): Sample {
  return {
    ...sample,
    power: sample.power.map((rail) => {
      if (!rail.ok) return rail;
      const { energyJ: _energyJ, energyRangeJ: _energyRangeJ, ...rest } = rail;
      return rest;
    }),
  };
}

for (const id of SIM_BOARD_IDS) {
  Deno.test(`${id}: the HAL discovers the simulated board and reads every unit in SI units`, async () => {
    await using sim = await simBoard({ profileId: id, seed: 1, stepMs: 100 });
    // Some work first, so /proc/stat and the load files have something to show between two reads.
    await sim.execute(sim.units.map((u) => ({ unitId: u.id, flops: 1e9, bytes: 1e8, precision: u.precisions[0] })));
    const board = await discoverBoard(sim.root, { clock: sim.clock });
    assert.equal(board.profile.id, id);
    assert.deepEqual(board.units.map((u) => u.id).sort(), sim.units.map((u) => u.id).sort());
    await board.read();
    await sim.advance(500);
    const sample = await board.read();
    for (const unit of sim.units) {
      const u = sample.units[unit.id];
      assert.ok(u.tempC.ok && u.tempC.value > 15 && u.tempC.value < 90, `${unit.id} tempC ${JSON.stringify(u.tempC)}`);
      assert.ok(u.utilization.ok, `${unit.id} utilization ${JSON.stringify(u.utilization)}`);
    }
    for (const unit of board.units) {
      if (unit.freq.kind !== "none") assert.ok(sample.units[unit.id].curFreqHz.ok, `${unit.id} curFreqHz`);
    }
    assert.ok(sample.totalPowerW.ok && sample.totalPowerW.value > 0.5, JSON.stringify(sample.totalPowerW));
    assert.ok(sample.memory.ok && sample.memory.value.availableBytes < sample.memory.value.totalBytes);
    assert.equal(sample.throttled, false);
    if (id === "jetson-orin-nano") {
      const cv = sample.thermal.filter((z) => z.name.startsWith("cv"));
      assert.equal(cv.length, 3);
      for (const z of cv) assert.equal(z.ok, false, `${z.name} is unreadable, as on a real Orin Nano`);
    }
  });
}

Deno.test("the HAL's energy meter on the simulated rails matches the true energy within 2%", async () => {
  for (const id of ["rk3588", "jetson-orin-nano", "imx8mp"]) {
    await using sim = await simBoard({ profileId: id, seed: 17, stepMs: 100 });
    const board = await discoverBoard(sim.root, { clock: sim.clock });
    const meter = new EnergyMeter();
    let firstJ: number | undefined;
    let lastJ = 0;
    sim.onStep(async () => {
      meter.add(await board.read());
      const trueJ = sim.truthForTests().energyJ.totalJ;
      firstJ ??= trueJ;
      lastJ = trueJ;
    });
    await sim.advance(100);
    const window = meter.begin("run");
    const items = sim.units.map((u) => ({ unitId: u.id, flops: 4e10, bytes: 5e8, precision: u.precisions[0] }));
    for (let i = 0; i < 12; i++) {
      await sim.execute(items.slice(0, 1 + (i % items.length)));
      await sim.advance(250);
    }
    const result = window.end();
    const trueJ = lastJ - firstJ!;
    const error = Math.abs(result.energyJ - trueJ) / trueJ;
    assert.ok(error < 0.02, `${id}: meter ${result.energyJ.toFixed(3)} J vs true ${trueJ.toFixed(3)} J`);
  }
});

Deno.test("the HAL's actuators pin and release the simulated clocks; their read-back sees the thermal cap", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 2, stepMs: 500 });
  const board = await discoverBoard(sim.root, { clock: sim.clock });
  await using actuators = createActuators(board);
  const work = { unitId: "cpu_big", flops: 2e9, bytes: 1e5, precision: "fp32" } as const;
  const [top] = await sim.execute([work]);
  await actuators.pinFrequency("cpu_big", 1.2e9);
  const [pinned] = await sim.execute([work]);
  assert.ok(Math.abs(pinned.durationMs / top.durationMs - 2) < 1e-6);
  const sample = await board.read();
  assert.equal(sample.units.cpu_big.maxFreqHz.ok && sample.units.cpu_big.maxFreqHz.value, 1.2e9);
  await actuators.release("cpu_big");
  const [released] = await sim.execute([work]);
  assert.ok(Math.abs(released.durationMs / top.durationMs - 1) < 1e-6);

  await actuators.setGovernor("gpu", "userspace");
  await actuators.setSpeed("gpu", 500e6);
  await actuators.setGovernor("gpu", "performance");
  const gpuWork = { unitId: "gpu", flops: 2e10, bytes: 1e5, precision: "fp16" } as const;
  const [gpuTop] = await sim.execute([gpuWork]);
  await actuators.setGovernor("gpu", "userspace");
  await actuators.setSpeed("gpu", 500e6);
  const [gpuHalf] = await sim.execute([gpuWork]);
  assert.ok(Math.abs(gpuHalf.durationMs / gpuTop.durationMs - 2) < 1e-6);
  await actuators.release("gpu");

  // Heat the board past its trip: the HAL sees the throttle; a max written above the cap is shown capped again
  // from the simulator's next step (it notices writes when it polls, not synchronously like the kernel).
  sim.inject({ kind: "ambient-step", deltaC: 60 });
  await assert.rejects(
    sim.execute([{ unitId: "cpu_big", flops: 1e16, bytes: 1e9, precision: "fp32" }], { timeoutMs: 300_000 }),
    (e: unknown) => e instanceof Error && e.name === "TimeoutError",
  );
  const hot = await board.read();
  assert.equal(hot.throttled, true);
  const capped = hot.units.cpu_big.maxFreqHz;
  assert.ok(capped.ok && capped.value < 2.4e9, JSON.stringify(capped));
  await actuators.setMaxFreq("cpu_big", 2.4e9);
  await sim.advance(500);
  const after = (await board.read()).units.cpu_big.maxFreqHz;
  assert.ok(after.ok && after.value < 2.4e9, "the thermal cap still holds");
});

Deno.test("for a window shorter than one step the HAL's meter is exact from the qeil_sim counters; the power trapezoid is not", async () => {
  for (const id of ["rk3588", "raspberry-pi-5", "imx8mp"]) {
    await using sim = await simBoard({ profileId: id, seed: 23, stepMs: 100 });
    const board = await discoverBoard(sim.root, { clock: sim.clock });
    await sim.advance(1000);
    const counted = new EnergyMeter();
    const integrated = new EnergyMeter();
    const sample = async () => {
      const s = await board.read();
      counted.add(s);
      integrated.add(withoutCounters(s));
    };
    // Sample right before begin() and right before end(): a window opens and closes at a sample.
    await sample();
    const exact = counted.begin("short");
    const trapezoid = integrated.begin("short");
    const startJ = sim.truthForTests().energyJ.totalJ;
    const t0 = sim.clock.monotonicMs();
    await sim.execute(sim.units.map((u) => ({ unitId: u.id, flops: 5e8, bytes: 2e7, precision: u.precisions[0] })));
    const durationMs = sim.clock.monotonicMs() - t0;
    assert.ok(durationMs > 0 && durationMs < 100, `${id}: the window (${durationMs} ms) is shorter than one step`);
    await sample();
    const trueJ = sim.truthForTests().energyJ.totalJ - startJ;
    const fromCounters = exact.end().energyJ;
    const fromPower = trapezoid.end().energyJ;
    // One µJ LSB at each end of the window.
    assert.ok(Math.abs(fromCounters - trueJ) <= 2e-6, `${id}: counters ${fromCounters} J vs true ${trueJ} J`);
    // The power files still show the idle step before the work: the trapezoid misses the work's power.
    assert.ok(Math.abs(fromPower - trueJ) / trueJ > 0.2, `${id}: trapezoid ${fromPower} J vs true ${trueJ} J`);
  }
});

Deno.test("the HAL's meter follows the qeil_sim counters across their 32-bit wrap", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 29, stepMs: 100 });
  const board = await discoverBoard(sim.root, { clock: sim.clock });
  const total = sim.paths.power.find((p) => p.label === "total")!.files as {
    powerMicroW: string;
    energyMicroJ: string;
  };
  const meter = new EnergyMeter();
  sim.onStep(async () => meter.add(await board.read()), { periodMs: 10_000 });
  meter.add(await board.read());
  const window = meter.begin("wrap");
  const startJ = sim.truthForTests().energyJ.totalJ;
  const startCount = readInt(sim.root, total.energyMicroJ);
  // Idle until the register has passed 2^32 µJ (plus a margin), sampled every 10 s (an idle rk3588 wraps every ~45 min).
  const toWrapS = (2 ** 32 - startCount) / 1e6 / (readInt(sim.root, total.powerMicroW) / 1e6);
  await sim.advance(Math.ceil(toWrapS / 10 + 2) * 10_000);
  const endCount = readInt(sim.root, total.energyMicroJ);
  assert.ok(endCount < startCount, `the counter wrapped (${startCount} -> ${endCount} µJ)`);
  const result = window.end();
  const trueJ = sim.truthForTests().energyJ.totalJ - startJ;
  assert.ok(result.samples > 2, `${result.samples} samples`);
  assert.ok(Math.abs(result.energyJ - trueJ) <= 2e-6, `meter ${result.energyJ} J vs true ${trueJ} J`);
});

/** What each knob file must hold: the last value the HAL's actuators wrote there and read back. */
type KnobModel = Map<string, string>;

/** Every knob file the model knows whose text differs from it. */
function lostWrites(model: KnobModel): string[] {
  const lost: string[] = [];
  for (const [path, value] of model) {
    const text = Deno.readTextFileSync(path).trim();
    if (text !== value) lost.push(`${path}: wrote "${value}", reads "${text}"`);
  }
  return lost;
}

/**
 * Runs `rounds` rounds of actuator calls on two units at once (pin, release or
 * a governor, at random) while `churn` makes the board step and execute, and
 * returns the read-back failures, the writes the board lost (a knob file that
 * no longer holds what was written, or a pinned unit that does not run at its
 * pin) and the number of calls made.
 */
async function actuateWhileRunning(
  sim: SimBoard,
  rounds: number,
  churn: (unitId: string) => Promise<void>,
): Promise<{ mismatches: string[]; lost: string[]; calls: number }> {
  const board = await discoverBoard(sim.root, { clock: sim.clock });
  await using actuators = createActuators(board);
  const rng = createRng(7);
  const model: KnobModel = new Map();
  const pinnedHz = new Map<string, number>();
  const mismatches: string[] = [];
  const lost: string[] = [];
  let calls = 0;
  const units = board.units.filter((u) => u.availableFreqsHz.length > 1);
  const act = async (unitId: string) => {
    const info = units.find((u) => u.id === unitId)!;
    const roll = rng.next();
    const freqHz = info.availableFreqsHz[rng.int(info.availableFreqsHz.length)];
    try {
      calls++;
      let record;
      if (roll < 0.6) record = await actuators.pinFrequency(unitId, freqHz);
      else if (roll < 0.8) record = await actuators.release(unitId);
      else record = await actuators.setGovernor(unitId, roll < 0.9 ? "performance" : "powersave");
      for (const w of record.writes) model.set(w.path, w.value);
      if (record.action === "pinFrequency") pinnedHz.set(unitId, freqHz);
      else if (record.action === "release") pinnedHz.delete(unitId);
    } catch (error) {
      mismatches.push(error instanceof Error ? error.message : String(error));
    }
  };
  for (let round = 0; round < rounds; round++) {
    const a = units[rng.int(units.length)].id;
    const b = units[(units.findIndex((u) => u.id === a) + 1 + rng.int(units.length - 1)) % units.length].id;
    let settled = false;
    const actions = Promise.all([act(a), act(b)]).finally(() => (settled = true));
    // The board steps and executes while the writes and their read-backs are under way.
    while (!settled) await churn(units[rng.int(units.length)].id);
    await actions;
    lost.push(...lostWrites(model));
    // The board took the writes in: a pinned unit runs at its pin from its next execute() on.
    for (const [unitId, hz] of pinnedHz) {
      await churn(unitId);
      const trueHz = sim.truthForTests().unitFreqHz[unitId];
      if (Math.abs(trueHz - hz) > 1) lost.push(`${unitId} pinned at ${hz} Hz runs at ${trueHz} Hz`);
    }
  }
  return { mismatches, lost, calls };
}

/** A short work item on `unitId` (a few hundred µs of simulated time). */
function smallItem(sim: SimBoard, unitId: string) {
  const unit = sim.units.find((u) => u.id === unitId)!;
  return { unitId, flops: 2e6, bytes: 1e5, precision: unit.precisions[0] };
}

Deno.test("HAL actuator writes interleaved with a realtime board stepping and executing: none lost, every read-back matches", async () => {
  // Realtime on the system clock, 2 ms steps: the board polls and publishes while the writes are in flight.
  await using sim = await simBoard({ profileId: "rk3588", seed: 31, stepMs: 2, timeMode: "realtime" });
  sim.start();
  const result = await actuateWhileRunning(sim, 150, async (unitId) => {
    await sim.execute([smallItem(sim, unitId)]);
  });
  await sim.stop();
  assert.ok(result.calls >= 300, `${result.calls} actuator calls`);
  assert.deepEqual(result.mismatches, [], "read-back mismatches");
  assert.deepEqual(result.lost, [], "lost writes");
});

Deno.test("HAL actuator writes interleaved with a virtual board stepping and executing: none lost, every read-back matches", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 37, stepMs: 10 });
  // Someone watches every step, so the tree is published (knobs shown) at every step.
  sim.onStep(() => {});
  const result = await actuateWhileRunning(sim, 150, async (unitId) => {
    await Promise.all([sim.execute([smallItem(sim, unitId)]), sim.advance(10)]);
    // Virtual time moves on promise turns alone; between charges the service's runtime does real work (an
    // ORT run) during which the actuators' file operations complete. A stat stands in for that work.
    await Deno.stat(sim.root);
  });
  assert.ok(result.calls >= 300, `${result.calls} actuator calls`);
  assert.deepEqual(result.mismatches, [], "read-back mismatches");
  assert.deepEqual(result.lost, [], "lost writes");
});
