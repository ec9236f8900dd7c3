/**
 * The simulated-board charger on a real virtual-time simulator: which units
 * run what, in which order, for how long, and how faults come out.
 */
import assert from "node:assert/strict";
import {
  concurrentBusShare,
  createBoardModel,
  decodeWork,
  type Placement,
  unitWorkTime,
} from "../../src/physics/mod.ts";
import { getProfile } from "../../src/hal/mod.ts";
import type { StepEvent } from "../../src/runtime/mod.ts";
import {
  CALIBRATED_ITEMS,
  createSimCharger,
  type SimChargerOptions,
  ThermalGuardError,
  unitFaultOf,
} from "../../src/service/mod.ts";
import type { WorkRecord } from "../../src/service/observations.ts";
import { createSimBoard, type SimBoard } from "../../src/sim/mod.ts";
import { QWEN2_05B_INT8 } from "./_sim_board.ts";

const model = createBoardModel(getProfile("rk3588").priors);

async function withSim(fn: (sim: SimBoard) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "qeil-charger-" });
  try {
    await using sim = await createSimBoard({ profileId: "rk3588", root, seed: 5, timeMode: "virtual" });
    await fn(sim);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function charger(sim: SimBoard, placement: Placement, records: WorkRecord[], extra: Partial<SimChargerOptions> = {}) {
  return createSimCharger({
    sim,
    model: () => model,
    costShape: QWEN2_05B_INT8,
    realLayers: 4,
    placement,
    promptTokens: 20,
    freqHz: { cpu_big: 2.4e9, npu: 1e9, cpu_little: 1.8e9 },
    onRecord: (r) => records.push(r),
    ...extra,
  });
}

function decode(samples: number[], pastLength = 20): StepEvent {
  return {
    phase: "decode",
    samples,
    batch: samples.length,
    newTokens: 1,
    pastLength,
    layerStart: 0,
    layerEnd: 4,
    segment: 0,
  };
}

const twoLanes: Placement = {
  prefillUnit: "npu",
  lanes: [
    { samples: 2, segments: [{ unitId: "cpu_big", layerStart: 0, layerEnd: 24 }] },
    { samples: 2, segments: [{ unitId: "npu", layerStart: 0, layerEnd: 24 }] },
  ],
  freqLevel: {},
};

Deno.test("a decode step runs its lanes concurrently on their units; device time is the step's span", async () => {
  await withSim(async (sim) => {
    const records: WorkRecord[] = [];
    const c = charger(sim, twoLanes, records);
    await c.charge(decode([0, 1, 2, 3]));
    assert.deepEqual(records.map((r) => r.unitId).sort(), ["cpu_big", "npu"]);
    const [a, b] = records;
    assert.equal(a.startMs, b.startMs, "both lanes start together");
    const longest = Math.max(...records.map((r) => r.endMs - r.startMs));
    assert.ok(Math.abs(c.deviceMs - longest) < 1e-6, `span ${c.deviceMs} = the longer lane ${longest}`);
    // Each lane decodes its own two samples across all 24 cost layers (the real model's 4 layers mapped).
    for (const r of records) assert.ok(r.bytes > 400e6, `${r.unitId} read the weights: ${r.bytes} bytes`);
  });
});

Deno.test("a decode step charges only the lanes that hold its samples", async () => {
  await withSim(async (sim) => {
    const records: WorkRecord[] = [];
    await charger(sim, twoLanes, records).charge(decode([2, 3]));
    assert.deepEqual(records.map((r) => r.unitId), ["npu"]);
  });
});

Deno.test("a lane's segments run in order, with an activation transfer between units", async () => {
  await withSim(async (sim) => {
    const records: WorkRecord[] = [];
    const pipeline: Placement = {
      prefillUnit: "npu",
      lanes: [{
        samples: 1,
        segments: [{ unitId: "cpu_big", layerStart: 0, layerEnd: 12 }, { unitId: "npu", layerStart: 12, layerEnd: 24 }],
      }],
      freqLevel: {},
    };
    await charger(sim, pipeline, records).charge(decode([0]));
    assert.deepEqual(records.map((r) => r.unitId), ["cpu_big", "npu", "npu"]);
    assert.equal(records[1].flops, 0, "the transfer moves bytes only");
    assert.ok(records[1].startMs >= records[0].endMs - 1e-9 && records[2].startMs >= records[1].endMs - 1e-9);
  });
});

Deno.test("a prefill runs on the prefill unit, then hands the prompt's KV cache to the lanes' units", async () => {
  await withSim(async (sim) => {
    const records: WorkRecord[] = [];
    await charger(sim, twoLanes, records).charge({
      phase: "prefill",
      samples: [0, 1, 2, 3],
      batch: 1,
      newTokens: 20,
      pastLength: 0,
      layerStart: 0,
      layerEnd: 4,
      segment: 0,
    });
    assert.equal(records[0].unitId, "npu");
    assert.ok(records[0].flops > 1e10, "the prompt's FLOPs");
    const copies = records.slice(1);
    assert.deepEqual(copies.map((r) => r.unitId).sort(), ["cpu_big", "npu"]);
    assert.ok(copies.every((r) => r.flops === 0 && r.bytes > 0 && r.startMs >= records[0].endMs - 1e-9));
  });
});

Deno.test("a unit that fails becomes a unit fault naming it; the other lane is stopped", async () => {
  await withSim(async (sim) => {
    const records: WorkRecord[] = [];
    sim.inject({ kind: "unit-fail", unitId: "npu" });
    const error = await charger(sim, twoLanes, records).charge(decode([0, 1, 2, 3])).then(
      () => assert.fail("charge() should fail"),
      (e) => e,
    );
    assert.deepEqual(unitFaultOf(error), { unitId: "npu", kind: "failed", reason: error.message });
    assert.ok(!records.some((r) => r.unitId === "npu"));
  });
});

Deno.test("a unit that hangs misses its deadline: a timeout unit fault", async () => {
  await withSim(async (sim) => {
    sim.inject({ kind: "unit-hang", unitId: "cpu_big" });
    const error = await charger(sim, twoLanes, [], { minDeadlineMs: 300 }).charge(decode([0, 1])).then(
      () => assert.fail("charge() should fail"),
      (e) => e,
    );
    const fault = unitFaultOf(error);
    assert.equal(fault?.unitId, "cpu_big");
    assert.equal(fault?.kind, "timeout");
    // The deadline: 20 times the predicted duration, at least the 300 ms floor.
    const [, deadline, predicted] = /deadline of (\d+) ms .*predicted ([\d.]+) ms/.exec(fault!.reason)!.map(Number);
    assert.ok(Math.abs(deadline - Math.max(300, 20 * predicted)) <= 1, fault!.reason);
    assert.equal(unitFaultOf(new Error("unrelated")), undefined);
  });
});

/** The model with `memorySamples` timed memory-bound items of each unit. */
function timedModel(memorySamples: number) {
  const eta = Object.fromEntries(model.unitIds.map((u) => [u, { computeSamples: 0, memorySamples }]));
  return { ...model, calibration: { ...model.calibration, eta } };
}

async function hangDeadline(events: StepEvent, extra: Partial<SimChargerOptions>) {
  let deadline = 0;
  let predicted = 0;
  await withSim(async (sim) => {
    sim.inject({ kind: "unit-hang", unitId: "cpu_big" });
    const error = await charger(sim, twoLanes, [], { minDeadlineMs: 300, ...extra }).charge(events).then(
      () => assert.fail("charge() should fail"),
      (e) => e,
    );
    const fault = unitFaultOf(error);
    assert.equal(fault?.kind, "timeout");
    [, deadline, predicted] = /deadline of (\d+) ms .*predicted ([\d.]+) ms/.exec(fault!.reason)!.map(Number);
  });
  return { deadline, predicted };
}

Deno.test("a unit calibration has timed enough items of gets a deadline of a few predicted durations", async () => {
  const calibrated = timedModel(CALIBRATED_ITEMS);
  const hung = await hangDeadline(decode([0, 1]), { model: () => calibrated });
  assert.ok(Math.abs(hung.deadline - Math.max(300, 5 * hung.predicted)) <= 1, `${hung.deadline} vs ${hung.predicted}`);
  // One timed item short of it, the unit's prediction is still the prior's: the wide factor.
  const prior = await hangDeadline(decode([0, 1]), { model: () => timedModel(CALIBRATED_ITEMS - 1) });
  assert.ok(Math.abs(prior.deadline - Math.max(300, 20 * prior.predicted)) <= 1);
  // Both factors are options.
  const custom = await hangDeadline(decode([0, 1]), { model: () => calibrated, calibratedDeadlineFactor: 3 });
  assert.ok(Math.abs(custom.deadline - Math.max(300, 3 * custom.predicted)) <= 1);
});

Deno.test("a deadline allows for the bus share the step's concurrent lanes leave the item", async () => {
  const calibrated = timedModel(CALIBRATED_ITEMS);
  // Both lanes decode at once: cpu_big's item shares the bus with the NPU's.
  const hung = await hangDeadline(decode([0, 1, 2, 3]), { model: () => calibrated });
  const work = (unitId: string) => ({
    unitId,
    precision: QWEN2_05B_INT8.weightPrecision,
    freqHz: unitId === "npu" ? 1e9 : 2.4e9,
    ...decodeWork(QWEN2_05B_INT8, { context: 20, batch: 2, layerStart: 0, layerEnd: 24 }),
  });
  const share = concurrentBusShare(calibrated, [work("cpu_big"), work("npu")]);
  assert.ok(share < 1, `the two decode items contend (share ${share})`);
  const contendedMs = unitWorkTime(calibrated, work("cpu_big"), { busShare: share }).durationS * 1000;
  assert.ok(contendedMs > hung.predicted * 1.05, `${contendedMs} vs ${hung.predicted}`);
  assert.ok(Math.abs(hung.deadline - Math.max(300, 5 * contendedMs)) <= 1, `${hung.deadline} vs ${contendedMs}`);
});

Deno.test("the thermal guard stops a decode step before anything runs", async () => {
  await withSim(async (sim) => {
    const records: WorkRecord[] = [];
    const guard = () => {
      throw new ThermalGuardError("soc", 73, 72.5);
    };
    await assert.rejects(charger(sim, twoLanes, records, { guard }).charge(decode([0])), ThermalGuardError);
    assert.equal(records.length, 0);
  });
});
