/**
 * The planner's view of the board (from a real HAL sample of a simulated
 * rk3588) and its choices in each mode: caching, re-planning, probation,
 * failed default units and a board too hot for any placement.
 */
import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import { discoverBoard, getProfile, type Sample } from "../../src/hal/mod.ts";
import { type BoardState, createBoardModel, type Job } from "../../src/physics/mod.ts";
import type { Policy } from "../../src/pgsam/mod.ts";
import {
  beyondProbation,
  boardStateOf,
  type Choice,
  createPlanner,
  expectedTrialCost,
  obeysProbation,
  planKey,
  type ProbationLimits,
} from "../../src/service/mod.ts";
import { createSimBoard } from "../../src/sim/mod.ts";
import { QWEN2_05B_INT8 } from "./_sim_board.ts";

const model = createBoardModel(getProfile("rk3588").priors);
const noProbation: ProbationLimits = { units: new Set(), maxSamples: (n) => n };
const job: Job = { shape: QWEN2_05B_INT8, promptTokens: 40, genTokens: 32, samples: 4 };

async function sampleOfSim(): Promise<Sample> {
  const root = await Deno.makeTempDir({ prefix: "qeil-planner-" });
  try {
    await using sim = await createSimBoard({ profileId: "rk3588", root, seed: 2, timeMode: "virtual" });
    const board = await discoverBoard(root, { profileId: "rk3588", clock: sim.clock });
    await sim.advance(1000);
    return await board.read();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function state(extra: Partial<BoardState> = {}): BoardState {
  return {
    tempsC: { soc: 40 },
    ambientC: model.ambientC,
    memAvailableBytes: 6e9,
    healthyUnits: [...model.unitIds],
    maxFreqHz: {},
    ...extra,
  };
}

Deno.test("boardStateOf() reads zones, memory and caps, with last good values for zones that stopped reading", async () => {
  const sample = await sampleOfSim();
  const soc = sample.thermal.find((t) => t.zone === "soc")!;
  assert.ok(soc.ok);
  const { state: fresh } = boardStateOf({
    model,
    sample,
    lastGoodZones: {},
    usableUnits: ["cpu_big", "npu"],
    capHz: (u) => (u === "npu" ? 600e6 : undefined),
  });
  assert.equal(fresh.tempsC.soc, soc.tempC);
  assert.deepEqual(fresh.healthyUnits, ["cpu_big", "npu"]);
  assert.deepEqual(fresh.maxFreqHz, { npu: 600e6 });
  assert.ok(sample.memory.ok && fresh.memAvailableBytes === sample.memory.value.availableBytes);

  const blind: Sample = {
    ...sample,
    thermal: sample.thermal.map((t) =>
      t.zone === "soc" ? { name: t.name, zone: t.zone, trips: t.trips, ok: false, reason: "gone" } : t
    ),
  };
  const { state: degraded, notes } = boardStateOf({
    model,
    sample: blind,
    lastGoodZones: { soc: { value: 61.5, atMs: 0 } },
    usableUnits: [...model.unitIds],
    capHz: () => undefined,
    heldBytes: 1e9,
  });
  assert.equal(degraded.tempsC.soc, 61.5);
  assert.ok(notes.some((n) => n.includes("zone soc unreadable")));
  assert.equal(degraded.memAvailableBytes, fresh.memAvailableBytes + 1e9);

  const { state: trending } = boardStateOf({
    model,
    sample,
    lastGoodZones: {},
    usableUnits: [...model.unitIds],
    capHz: () => undefined,
    trendKPerS: { soc: 0.5, gpu: -1 },
    trendHorizonS: 10,
  });
  assert.equal(trending.tempsC.soc, soc.tempC + 5, "a rising trend is projected");
  assert.equal(trending.tempsC.gpu, fresh.tempsC.gpu, "a falling one is not");
});

Deno.test("planKey() changes with a 5 K temperature bucket, health and probation, not with a degree", () => {
  const key = (s: BoardState, probation = noProbation) =>
    planKey("energy", model, { job, state: s, probation, epoch: 0 });
  const base = key(state({ tempsC: { soc: 41 } }));
  assert.equal(key(state({ tempsC: { soc: 42 } })), base);
  assert.notEqual(key(state({ tempsC: { soc: 46 } })), base);
  assert.notEqual(key(state({ tempsC: { soc: 41 }, healthyUnits: ["cpu_big", "npu"] })), base);
  assert.notEqual(key(state({ tempsC: { soc: 41 } }), { units: new Set(["npu"]), maxSamples: (n) => n }), base);
  assert.notEqual(key(state({ tempsC: { soc: 41 }, maxFreqHz: { npu: 6e8 } })), base);
});

Deno.test("choose() caches a qeil plan for the same state and plans again when the state changes", () => {
  let now = 0;
  const planner = createPlanner({ nowMs: () => now, pgsam: { maxEvaluations: 200 } });
  const rng = createRng(1);
  const a = planner.choose("qeil", model, { job, state: state(), probation: noProbation, epoch: 0 }, rng);
  assert.equal(a.cached, false);
  assert.ok(a.prediction.feasible && a.plan);
  const b = planner.choose("qeil", model, { job, state: state(), probation: noProbation, epoch: 0 }, rng);
  assert.equal(b.cached, true);
  assert.deepEqual(b.placement, a.placement);
  const c = planner.choose(
    "qeil",
    model,
    { job, state: state({ healthyUnits: ["cpu_big", "cpu_little", "gpu"] }), probation: noProbation, epoch: 0 },
    rng,
  );
  assert.equal(c.cached, false);
  assert.ok(
    ![c.placement.prefillUnit, ...c.placement.lanes.flatMap((l) => l.segments.map((s) => s.unitId))].includes("npu"),
  );
  now = 61_000;
  assert.equal(
    planner.choose("qeil", model, { job, state: state(), probation: noProbation, epoch: 0 }, rng).cached,
    false,
  );
  assert.equal(planner.computed, 3);
});

Deno.test("choose() keeps units on probation off the prefill and within their share of the samples", () => {
  // A trial that must be nearly free to pay off: the unit on probation never prefills here.
  const planner = createPlanner({
    nowMs: () => 0,
    pgsam: { maxEvaluations: 300 },
    probationTrial: { refailProbability: 0.99 },
  });
  const probation: ProbationLimits = { units: new Set(["npu"]), maxSamples: (n) => Math.floor(n / 2) };
  const choice = planner.choose("qeil", model, { job, state: state(), probation, epoch: 0 }, createRng(3));
  assert.notEqual(choice.placement.prefillUnit, "npu");
  assert.equal(choice.trial, undefined);
  assert.ok(obeysProbation(choice.placement, probation, job.samples));
});

Deno.test("expectedTrialCost(): the trial's cost, plus on a refault its loss and the run within the limits", () => {
  // p = 0.25, F = 5: 10 (0.75 + 1.25) + 0.25 x 100.
  assert.equal(expectedTrialCost(10, 100), 45);
  assert.equal(expectedTrialCost(10, 100, { refailProbability: 0 }), 10);
  assert.ok(Math.abs(expectedTrialCost(10, 100, { refailProbability: 0.5, lossFactor: 20 }) - (10 * 10.5 + 50)) < 1e-9);
  assert.throws(() => expectedTrialCost(1, 1, { refailProbability: 1 }), /refailProbability/);
  assert.throws(() => expectedTrialCost(1, 1, { lossFactor: 0.5 }), /lossFactor/);
  assert.throws(() => createPlanner({ nowMs: () => 0, probationTrial: { refailProbability: -0.1 } }), RangeError);
});

const npuProbation: ProbationLimits = { units: new Set(["npu"]), maxSamples: (n) => Math.max(1, Math.floor(n / 2)) };

/** The expected energy and latency of `choice` as a trial against the run within the limits, and the efficient bound. */
function trialCosts(choice: Choice, within: Choice) {
  return {
    energyJ: expectedTrialCost(choice.prediction.energyJ, within.prediction.energyJ),
    latencyMs: expectedTrialCost(choice.prediction.latencyMs, within.prediction.latencyMs),
    boundMs: Math.max(within.prediction.latencyMs, choice.plan!.standard.prediction.latencyMs),
  };
}

/** The efficient policy's test: expected energy below the run within the limits, expected latency within its bound. */
function assertTrialPays(choice: Choice, within: Choice): void {
  const { energyJ, latencyMs, boundMs } = trialCosts(choice, within);
  assert.ok(energyJ < within.prediction.energyJ, `${energyJ} J vs ${within.prediction.energyJ} J`);
  assert.ok(latencyMs <= boundMs, `${latencyMs} ms vs ${boundMs} ms`);
}

/** The choice with the NPU on probation, and the best choice within the limits (a planner that never takes a trial). */
function trialAndWithin(j: Job, policy: Policy = "efficient") {
  const inputs = { job: j, state: state(), probation: npuProbation, epoch: 0 };
  const choice = createPlanner({ nowMs: () => 0, policy }).choose("qeil", model, inputs, createRng(3));
  const within = createPlanner({ nowMs: () => 0, policy, probationTrial: { refailProbability: 0.999 } })
    .choose("qeil", model, inputs, createRng(3));
  assert.equal(within.trial, undefined);
  assert.ok(obeysProbation(within.placement, npuProbation, j.samples));
  return { choice, within, inputs };
}

Deno.test("a unit on probation prefills a long prompt as a trial when every other prefill costs many times more", () => {
  // A prefill-only scoring job on a long context: the NPU's prefill is far cheaper than any CPU's.
  const scoring: Job = { shape: QWEN2_05B_INT8, promptTokens: 1500, genTokens: 1, samples: 1 };
  const { choice, within, inputs } = trialAndWithin(scoring);
  assert.equal(choice.placement.prefillUnit, "npu");
  assert.deepEqual(choice.trial?.units, ["npu"]);
  assert.deepEqual(beyondProbation(choice.placement, npuProbation, scoring.samples), ["npu"]);
  assert.match(choice.trial!.why, /^npu \(prefill\): expected .* J and .* s with the risk of a fault, against/);
  assertTrialPays(choice, within);
  // A cached answer keeps saying it is a trial.
  const planner = createPlanner({ nowMs: () => 0 });
  planner.choose("qeil", model, inputs, createRng(3));
  const again = planner.choose("qeil", model, inputs, createRng(3));
  assert.ok(again.cached);
  assert.deepEqual(again.trial?.units, ["npu"]);
});

Deno.test("a unit on probation decodes beyond its share as a trial when the policy's objective pays for the risk", () => {
  // Long generations: the NPU decoding all five samples costs about a quarter of the energy of the run within the
  // limits (two samples on the NPU, three on the A76s), and about half its latency.
  const generation: Job = { shape: QWEN2_05B_INT8, promptTokens: 100, genTokens: 200, samples: 5 };
  const energy = trialAndWithin(generation, "energy");
  assert.ok(energy.choice.trial, "the energy policy takes the trial");
  assert.deepEqual(energy.choice.trial.units, beyondProbation(energy.choice.placement, npuProbation, 5));
  assert.ok(energy.choice.placement.lanes.some((l) => l.samples > 2 && l.segments.some((seg) => seg.unitId === "npu")));
  const e = trialCosts(energy.choice, energy.within);
  assert.ok(e.energyJ < energy.within.prediction.energyJ);
  // The efficient policy also bounds the expected latency (a refault's loss included) by the standard placement's.
  const efficient = trialAndWithin(generation, "efficient");
  const f = trialCosts(energy.choice, efficient.within);
  if (efficient.choice.trial) assertTrialPays(efficient.choice, efficient.within);
  else {
    assert.ok(f.latencyMs > f.boundMs || f.energyJ >= efficient.within.prediction.energyJ, JSON.stringify(f));
    assert.ok(obeysProbation(efficient.choice.placement, npuProbation, 5));
  }
});

Deno.test("with a unit on probation the efficient policy still keeps to the standard placement's latency", () => {
  // Orin Nano with its CPU on probation: of the front members within the limits, the cheapest are slower than the
  // standard placement (the GPU at its top clock).
  const orin = createBoardModel(getProfile("jetson-orin-nano").priors);
  const j: Job = { shape: QWEN2_05B_INT8, promptTokens: 500, genTokens: 50, samples: 2 };
  const probation: ProbationLimits = { units: new Set(["cpu"]), maxSamples: (n) => Math.max(1, Math.floor(n / 2)) };
  const s: BoardState = { ...state(), healthyUnits: [...orin.unitIds] };
  const choice = createPlanner({ nowMs: () => 0, probationTrial: { refailProbability: 0.999 } })
    .choose("qeil", orin, { job: j, state: s, probation, epoch: 0 }, createRng(3));
  const plan = choice.plan!;
  const boundMs = plan.standard.prediction.latencyMs;
  const allowed = plan.front.filter((p) => obeysProbation(p.placement, probation, j.samples));
  const inBound = allowed.filter((p) => p.prediction.latencyMs <= boundMs);
  // The case: some front members break the limits, and the cheapest within them is beyond the bound.
  assert.ok(allowed.length > 0 && allowed.length < plan.front.length, `${allowed.length} of ${plan.front.length}`);
  assert.ok(inBound.length > 0 && inBound.length < allowed.length, `${inBound.length} of ${allowed.length}`);
  const cheapest = Math.min(...allowed.map((p) => p.prediction.energyJ));
  assert.ok(allowed.some((p) => p.prediction.energyJ === cheapest && p.prediction.latencyMs > boundMs));
  assert.ok(choice.prediction.latencyMs <= boundMs, `${choice.prediction.latencyMs} ms vs ${boundMs} ms`);
  assert.equal(choice.prediction.energyJ, Math.min(...inBound.map((p) => p.prediction.energyJ)));
});

Deno.test("standard mode falls back to the first usable unit when the default unit is failed", () => {
  const planner = createPlanner({ nowMs: () => 0 });
  const s = state({ healthyUnits: ["cpu_little", "gpu", "npu"] });
  const choice = planner.choose("standard", model, { job, state: s, probation: noProbation, epoch: 0 }, createRng(1));
  assert.equal(choice.placement.prefillUnit, "cpu_little");
  assert.equal(choice.placement.freqLevel.cpu_little, model.units.cpu_little.opps.length - 1);
});

Deno.test("a board too hot for any placement gets the coolest single unit at its lowest clock", () => {
  const planner = createPlanner({ nowMs: () => 0, pgsam: { maxEvaluations: 200 } });
  const hot = state({
    tempsC: { soc: 74, bigcore0: 74, bigcore1: 74, littlecore: 74, center: 74, gpu: 84, npu: 74 },
    ambientC: 70,
  });
  const choice = planner.choose(
    "qeil",
    model,
    { job: { ...job, genTokens: 400 }, state: hot, probation: noProbation, epoch: 0 },
    createRng(1),
  );
  assert.equal(choice.fallback, true);
  assert.equal(choice.placement.lanes.length, 1);
  const unit = choice.placement.prefillUnit;
  assert.deepEqual(choice.placement.lanes[0].segments.map((s) => s.unitId), [unit]);
  assert.equal(choice.placement.freqLevel[unit], 0);
});

Deno.test("choose() refuses when no unit is usable at all", () => {
  const planner = createPlanner({ nowMs: () => 0 });
  assert.throws(
    () =>
      planner.choose(
        "qeil",
        model,
        { job, state: state({ healthyUnits: [] }), probation: noProbation, epoch: 0 },
        createRng(1),
      ),
    (e: Error & { code?: string }) => e.code === "Infeasible",
  );
});
