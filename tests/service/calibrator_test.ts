/** The calibration feed over a virtual-time simulated rk3588: telemetry points, timing fits, job errors. */
import assert from "node:assert/strict";
import { discoverBoard } from "../../src/hal/mod.ts";
import { createBoardModel } from "../../src/physics/mod.ts";
import { createBoardRuntime, createCalibrator, createSimCharger } from "../../src/service/mod.ts";
import type { WorkRecord } from "../../src/service/observations.ts";
import { createSimBoard } from "../../src/sim/mod.ts";
import { QWEN2_05B_INT8 } from "./_sim_board.ts";

Deno.test("grid samples one period apart become telemetry points; work records give the units' activity", async () => {
  const root = await Deno.makeTempDir({ prefix: "qeil-calibrator-" });
  await using sim = await createSimBoard({ profileId: "rk3588", root, seed: 6, timeMode: "virtual" });
  const board = await discoverBoard(root, { profileId: "rk3588", clock: sim.clock });
  const prior = createBoardModel(board.profile.priors);
  const calibrator = createCalibrator({ model: prior, board, periodMs: 1000 });
  await using runtime = createBoardRuntime({
    board,
    sim,
    idlePeriodMs: 1000,
    onSample: (sample, info) => calibrator.observeSample(sample, info.onGrid),
  });
  await runtime.start();
  await runtime.idle(2000);
  assert.equal(calibrator.report().telemetryObservations, 2, "two idle points of one second");

  const records: WorkRecord[] = [];
  const charger = createSimCharger({
    sim,
    model: () => calibrator.model,
    costShape: QWEN2_05B_INT8,
    realLayers: 24,
    placement: {
      prefillUnit: "npu",
      lanes: [{ samples: 4, segments: [{ unitId: "npu", layerStart: 0, layerEnd: 24 }] }],
      freqLevel: {},
    },
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
  await Deno.remove(root, { recursive: true });
});
