/** The calibration feed over a virtual-time simulated rk3588: telemetry points, timing fits, job errors. */
import assert from "node:assert/strict";
import { discoverBoard } from "../../src/hal/mod.ts";
import { createBoardModel } from "../../src/physics/mod.ts";
import {
  createBoardRuntime,
  createCalibrator,
  createSimCharger,
  type SimChargerOptions,
} from "../../src/service/mod.ts";
import type { WorkRecord } from "../../src/service/observations.ts";
import { createSimBoard } from "../../src/sim/mod.ts";
import { QWEN2_05B_INT8 } from "./_sim_board.ts";

/** A calibration feed on a virtual-time simulated rk3588, fed by a board runtime sampling once a second. */
async function feedRig(seed: number) {
  const root = await Deno.makeTempDir({ prefix: "qeil-calibrator-" });
  const sim = await createSimBoard({ profileId: "rk3588", root, seed, timeMode: "virtual" });
  const board = await discoverBoard(root, { profileId: "rk3588", clock: sim.clock });
  const prior = createBoardModel(board.profile.priors);
  const calibrator = createCalibrator({ model: prior, board, periodMs: 1000 });
  const runtime = createBoardRuntime({
    board,
    sim,
    idlePeriodMs: 1000,
    onSample: (sample, info) => calibrator.observeSample(sample, info.onGrid),
  });
  await runtime.start();
  return {
    sim,
    board,
    prior,
    calibrator,
    runtime,
    async [Symbol.asyncDispose]() {
      await runtime[Symbol.asyncDispose]();
      await sim[Symbol.asyncDispose]();
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** A charger for Qwen2-0.5B on one unit (prefill and all `samples`), its model the rig's calibrated one. */
function oneUnitCharger(
  rig: Awaited<ReturnType<typeof feedRig>>,
  unitId: string,
  samples: number,
  options: Omit<SimChargerOptions, "sim" | "model" | "costShape" | "realLayers" | "placement">,
) {
  return createSimCharger({
    sim: rig.sim,
    model: () => rig.calibrator.model,
    costShape: QWEN2_05B_INT8,
    realLayers: 24,
    placement: {
      prefillUnit: unitId,
      lanes: [{ samples, segments: [{ unitId, layerStart: 0, layerEnd: 24 }] }],
      freqLevel: {},
    },
    ...options,
  });
}

Deno.test("grid samples one period apart become telemetry points; work records give the units' activity", async () => {
  await using rig = await feedRig(6);
  const { prior, calibrator, runtime } = rig;
  await runtime.idle(2000);
  assert.equal(calibrator.report().telemetryObservations, 2, "two idle points of one second");

  const records: WorkRecord[] = [];
  const charger = oneUnitCharger(rig, "npu", 4, {
    promptTokens: 32,
    freqHz: { npu: 1e9 },
    onRecord: (r) => {
      records.push(r);
      calibrator.addRecord(r);
    },
  });
  const done = runtime.busy();
  for (let step = 0; step < 200; step++) {
    await charger.charge({
      phase: "decode",
      samples: [0, 1, 2, 3],
      batch: 4,
      newTokens: 1,
      pastLength: 32 + step,
      layerStart: 0,
      layerEnd: 24,
      segment: 0,
    });
  }
  done();
  await runtime.idle(1000);
  const report = calibrator.report();
  assert.ok(report.telemetryObservations >= 4, `points while the NPU worked: ${report.telemetryObservations}`);
  assert.ok(report.fit.powerWapePct !== undefined);
  assert.ok(report.fit.tempMaeC !== undefined);

  calibrator.observeTimings(records);
  const after = calibrator.report();
  assert.equal(after.timingObservations, records.length);
  assert.ok(after.fit.durationMapePct !== undefined);
  assert.notEqual(
    calibrator.model.units.npu.memoryEfficiency,
    prior.units.npu.memoryEfficiency,
    "the NPU's efficiency moved",
  );

  calibrator.recordOutcome({ predicted: { energyJ: 10, latencyMs: 100 }, measured: { energyJ: 8, latencyMs: 125 } });
  assert.equal(calibrator.report().jobs.energyMapePct, 25);
  assert.equal(calibrator.report().jobs.latencyMapePct, 20);
});

Deno.test("telemetry points that complete while the feed is held wait, and are built in order once it is released", async () => {
  await using rig = await feedRig(6);
  const { calibrator, runtime } = rig;
  await runtime.idle(1000);
  const before = calibrator.report().telemetryObservations;
  const releaseA = calibrator.hold();
  const releaseB = calibrator.hold();
  await runtime.idle(3000);
  assert.equal(calibrator.report().telemetryObservations, before, "no point is built while work is held");
  releaseA();
  releaseA(); // a second call does nothing
  assert.equal(calibrator.report().telemetryObservations, before, "one hold is still open");
  releaseB();
  assert.equal(calibrator.report().telemetryObservations, before + 3, "the three waiting points, once released");
  await runtime.idle(1000);
  assert.equal(calibrator.report().telemetryObservations, before + 4, "and points are built as they complete again");
});

/**
 * A long prefill on the A76 cluster at its top clock (tens of seconds of
 * board time in one simulator call, its record in only at the end), then idle
 * time, as the evaluation's standard mode runs. Returns the feed's power fit
 * error and the big cluster's fitted idle and leakage power.
 */
async function longPrefill(withHold: boolean) {
  await using rig = await feedRig(3);
  const { sim, board, prior, calibrator, runtime } = rig;
  await runtime.idle(2000);
  const top = board.units.find((u) => u.id === "cpu_big")!;
  const charger = oneUnitCharger(rig, "cpu_big", 1, {
    promptTokens: 1024,
    freqHz: { cpu_big: prior.units.cpu_big.opps.at(-1)!.freqHz },
    onRecord: (r) => calibrator.addRecord(r),
    ...(withHold ? { hold: () => calibrator.hold() } : {}),
    prefillOnly: true,
    minDeadlineMs: 10 * 60_000,
  });
  assert.ok(top, "rk3588 has cpu_big");
  for (let round = 0; round < 3; round++) {
    const done = runtime.busy();
    const startMs = sim.clock.monotonicMs();
    await charger.charge({
      phase: "prefill",
      samples: [0],
      batch: 1,
      newTokens: 1024,
      pastLength: 0,
      layerStart: 0,
      layerEnd: 24,
      segment: 0,
    });
    done();
    assert.ok(sim.clock.monotonicMs() - startMs > 5000, "the prefill spans several telemetry points");
    await runtime.idle(20_000);
  }
  const u = calibrator.model.units.cpu_big;
  return {
    powerWapePct: calibrator.report().fit.powerWapePct!,
    staticW: u.idlePowerW + u.leakagePowerW,
    priorStaticW: prior.units.cpu_big.idlePowerW + prior.units.cpu_big.leakagePowerW,
  };
}

Deno.test("work held until its record is in keeps the power fit unbiased; unheld, the busy points read as idle power", async () => {
  const held = await longPrefill(true);
  const unheld = await longPrefill(false);
  // Held: the busy points carry the prefill's activity; the static power stays near the datasheet's.
  assert.ok(held.staticW < 2 * held.priorStaticW, `held: static ${held.staticW} W, prior ${held.priorStaticW} W`);
  assert.ok(held.powerWapePct < 15, `held: power fit error ${held.powerWapePct}%`);
  // Unheld (the defect this guards against): seconds at full power with no activity inflate the static power.
  assert.ok(
    unheld.staticW > 2 * held.staticW,
    `unheld: static ${unheld.staticW} W vs held ${held.staticW} W`,
  );
  assert.ok(
    unheld.powerWapePct > held.powerWapePct,
    `unheld fit error ${unheld.powerWapePct}% vs ${held.powerWapePct}%`,
  );
});

Deno.test("points overlapping work that failed (no record, activity unknown) are left out of the fit, and say why", async () => {
  await using rig = await feedRig(6);
  const { sim, calibrator, runtime } = rig;
  await runtime.idle(1000);
  const before = calibrator.report();
  const release = calibrator.hold();
  const startMs = sim.clock.monotonicMs();
  await runtime.idle(1000);
  // A hung NPU for 1.5 s, given up halfway through the third point.
  await runtime.idle(1500);
  release({ unitId: "npu", startMs: startMs + 1000, endMs: startMs + 2500 });
  await runtime.idle(500);
  const after = calibrator.report();
  assert.equal(after.telemetryObservations, before.telemetryObservations + 1, "only the point before the failure");
  assert.equal(after.skipped - before.skipped, 2, "the two points the failed work overlaps");
  assert.match(
    after.lastSkipped ?? "",
    /work on npu failed and has not been recorded since \(its activity is unknown\); left out of the fit/,
  );
  // The unit may still spin (a hang outlives the work given up): unknown until it is recorded working again.
  await runtime.idle(2000);
  assert.equal(calibrator.report().telemetryObservations, before.telemetryObservations + 1, "still unknown");
  const t = sim.clock.monotonicMs();
  calibrator.addRecord({
    unitId: "npu",
    precision: "int8",
    flops: 1e9,
    bytes: 1e6,
    freqHz: 1e9,
    startMs: t,
    endMs: t + 1,
  });
  await runtime.idle(2000);
  assert.equal(calibrator.report().telemetryObservations, before.telemetryObservations + 3, "known again");
  // And at most FAILED_UNKNOWN_MS (10 min) when the unit is never recorded again.
  const release2 = calibrator.hold();
  const t2 = sim.clock.monotonicMs();
  release2({ unitId: "gpu", startMs: t2, endMs: t2 + 1 });
  await runtime.idle(11 * 60_000);
  const counted = calibrator.report().telemetryObservations;
  await runtime.idle(2000);
  assert.equal(calibrator.report().telemetryObservations, counted + 2, "fitted again after 10 minutes");
});

Deno.test("points that waited too long for held work (a hang) are dropped, not fitted without it", async () => {
  await using rig = await feedRig(6);
  const { calibrator, runtime } = rig;
  await runtime.idle(1000);
  const before = calibrator.report();
  const release = calibrator.hold();
  await runtime.idle(4200 * 1000);
  const during = calibrator.report();
  assert.equal(during.telemetryObservations, before.telemetryObservations, "nothing fitted while held");
  assert.ok(during.skipped - before.skipped >= 100, `dropped ${during.skipped - before.skipped}`);
  assert.match(during.lastSkipped ?? "", /waited for held work longer than 4096 points; dropped/);
  release();
  assert.equal(calibrator.report().telemetryObservations, before.telemetryObservations + 4096, "the kept ones");
});
