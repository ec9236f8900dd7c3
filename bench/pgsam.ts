/**
 * PGSAM benchmark (issue 3, "What must be shown"), printing JSON:
 *
 * 1. Front quality on an enumerable instance (8 layers x 3 units x 4 frequency
 *    levels x 4 samples on RK3588 priors): PGSAM's hypervolume over the
 *    exhaustive front's on each of 10 seeds, and random search at the same
 *    number of evaluations.
 * 2. PGSAM against the same code with momentum off (and plain AMOSA, guidance
 *    off too) at equal evaluations, on the enumerable instance and on the
 *    32-layer RK3588 instance (reference front: the union of every run).
 * 3. Planning time of a 32-layer model on RK3588's 4 units, 5 frequency
 *    levels, 8 samples (median of repeated plans, wall clock).
 * 4. Predicted energy of the chosen placement (energy policy) vs the standard
 *    placement, Llama-3.2-1B-shaped int4, 8 samples, on the RK3588 and Jetson
 *    Orin Nano priors: on an assumed idle board, and on the state the HAL
 *    reads from a simulated board.
 *
 * Usage: deno run --allow-read --allow-write bench/pgsam.ts [--seeds N] [--quick]
 */
import { parseArgs } from "node:util";
import { createRng, type DecoderShape } from "../src/core/mod.ts";
import { simulatedState } from "../cli/plan.ts";
import { getProfile } from "../src/hal/mod.ts";
import { type BoardModel, type BoardState, createBoardModel, type Job } from "../src/physics/mod.ts";
import {
  boundsOf,
  createPlacementProblem,
  exhaustive,
  normalizedHypervolume,
  plan,
  type Problem,
  randomSearch,
  runPgsam,
  type RunResult,
  type Solution,
} from "../src/pgsam/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { seeds: { type: "string", default: "10" }, quick: { type: "boolean", default: false } },
});
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
const quick = values.quick === true;

function llama(layers: number, hiddenSize: number, intermediateSize: number, tied: boolean): DecoderShape {
  return {
    family: "llama",
    mlpMatrices: 3,
    layers,
    hiddenSize,
    intermediateSize,
    heads: 32,
    kvHeads: 8,
    headDim: hiddenSize / 32,
    vocabSize: 128256,
    maxSeqLen: 4096,
    tiedEmbeddings: tied,
    weightPrecision: "int4",
    groupSize: 32,
    kvPrecision: "fp16",
  };
}
/** Llama-3.2-1B's dimensions (16 layers), or a truncation of it. */
const llama32OneB = (layers = 16) => llama(layers, 2048, 8192, true);
/** Llama-3.1-8B's dimensions: 32 layers. */
const llama31EightB = () => llama(32, 4096, 14336, false);

function board(id: string): BoardModel {
  return createBoardModel(getProfile(id).priors);
}

/** A cool, idle board with 80% of its memory free (priors only: no telemetry yet). */
function idle(model: BoardModel, healthyUnits: readonly string[] = model.unitIds): BoardState {
  return {
    tempsC: {},
    ambientC: model.ambientC,
    memAvailableBytes: 0.8 * model.memoryTotalBytes,
    healthyUnits: [...healthyUnits],
    maxFreqHz: {},
  };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x: number, digits = 4) => Number(x.toFixed(digits));
const stats = (xs: readonly number[]) => ({
  min: round(Math.min(...xs)),
  median: round(median(xs)),
  max: round(Math.max(...xs)),
});
const feasibleObjectives = <X>(archive: readonly Solution<X>[]) =>
  archive.filter((s) => s.feasible).map((s) => s.objectives);

type Runner<X> = (problem: Problem<X>, evaluations: number, seed: number) => RunResult<X>;
function runners<X>(): Record<string, Runner<X>> {
  return {
    pgsam: (p, n, seed) => runPgsam(p, { maxEvaluations: n }, createRng(seed)),
    pgsamNoMomentum: (p, n, seed) => runPgsam(p, { maxEvaluations: n, momentum: false }, createRng(seed)),
    amosa: (p, n, seed) => runPgsam(p, { maxEvaluations: n, momentum: false, guidance: false }, createRng(seed)),
    random: (p, n, seed) => randomSearch(p, { maxEvaluations: n }, createRng(seed)),
  };
}

// 1 and 2a: the enumerable instance.
const rk = board("rk3588");
const smallJob: Job = { shape: llama32OneB(8), promptTokens: 128, genTokens: 64, samples: 4 };
const small = createPlacementProblem(rk, idle(rk, ["cpu_big", "gpu", "npu"]), smallJob, { frequencyLevels: 4 });
const t0 = performance.now();
const truth = exhaustive(small);
const exhaustiveMs = performance.now() - t0;
const smallBounds = boundsOf(feasibleObjectives(truth.archive));
const truthHv = normalizedHypervolume(feasibleObjectives(truth.archive), smallBounds);
const budgets = quick ? [500, 2000] : [250, 500, 1000, 2000];
const enumerable: Record<string, Record<string, ReturnType<typeof stats> & { ratios?: number[] }>> = {};
for (const budget of budgets) {
  const row: Record<string, ReturnType<typeof stats> & { ratios?: number[] }> = {};
  for (const [name, run] of Object.entries(runners<typeof truth.archive[0]["x"]>())) {
    const ratios = seeds.map((seed) =>
      normalizedHypervolume(feasibleObjectives(run(small, budget, seed).archive), smallBounds) / truthHv
    );
    row[name] = {
      ...stats(ratios.map((r) => round(r))),
      ...(name === "pgsam" ? { ratios: ratios.map((r) => round(r)) } : {}),
    };
  }
  enumerable[`evaluations=${budget}`] = row;
}
const headline = enumerable[`evaluations=2000`];

// 2b: the 32-layer instance, reference front = union of all runs.
const bigJob: Job = { shape: llama31EightB(), promptTokens: 128, genTokens: 128, samples: 8 };
const bigState = idle(rk);
const big = createPlacementProblem(rk, bigState, bigJob, { frequencyLevels: 5 });
const bigBudgets = quick ? [1000] : [500, 1000, 2000];
const bigRuns: Record<string, Record<string, RunResult<unknown>[]>> = {};
for (const budget of bigBudgets) {
  bigRuns[budget] = {};
  for (const [name, run] of Object.entries(runners<unknown>())) {
    bigRuns[budget][name] = seeds.map((seed) => run(big as Problem<unknown>, budget, seed));
  }
}
const union = Object.values(bigRuns).flatMap((byName) =>
  Object.values(byName).flatMap((runs) => runs.flatMap((r) => feasibleObjectives(r.archive)))
);
const bigBounds = boundsOf(union);
const large: Record<string, Record<string, ReturnType<typeof stats>>> = {};
for (const [budget, byName] of Object.entries(bigRuns)) {
  large[`evaluations=${budget}`] = Object.fromEntries(
    Object.entries(byName).map((
      [name, runs],
    ) => [name, stats(runs.map((r) => round(normalizedHypervolume(feasibleObjectives(r.archive), bigBounds))))]),
  );
}
const momentumGain = (table: Record<string, Record<string, ReturnType<typeof stats>>>) =>
  Object.fromEntries(
    Object.entries(table).map((
      [budget, row],
    ) => [budget, {
      pgsamMedianHv: row.pgsam.median,
      noMomentumMedianHv: row.pgsamNoMomentum.median,
      relativeGainPercent: round(100 * (row.pgsam.median / row.pgsamNoMomentum.median - 1), 2),
    }]),
  );

// 3: planning time, 32 layers, 4 units, 5 levels, 8 samples (plan() end to end, default options).
const repeats = quick ? 5 : 21;
const planMs: number[] = [];
const planEvaluations: number[] = [];
for (let i = 0; i < repeats; i++) {
  const start = performance.now();
  const p = plan(rk, bigState, bigJob, { frequencyLevels: 5 }, createRng(100 + i));
  planMs.push(performance.now() - start);
  planEvaluations.push(p.evaluations);
}

// 4: chosen vs standard energy, on an idle board assumed from the priors and on the state the HAL reads
// from a simulated board (the model itself is the priors either way: calibration comes later).
const energy: Record<string, Record<string, unknown>> = {};
for (const id of ["rk3588", "jetson-orin-nano"]) {
  const model = board(id);
  const j: Job = { shape: llama32OneB(), promptTokens: 128, genTokens: 128, samples: 8 };
  energy[id] = {};
  for (
    const [source, state] of [["priors", idle(model)], [
      "simulator",
      (await simulatedState(id, 1, model)).state,
    ]] as const
  ) {
    const p = plan(model, state, j, { policy: "energy" }, createRng(1));
    const describe = (x: typeof p.chosen) => ({
      placement: x.key,
      energyJ: round(x.prediction.energyJ, 3),
      latencyMs: round(x.prediction.latencyMs, 1),
      underutilization: round(x.prediction.underutilization, 3),
      feasible: x.prediction.feasible,
    });
    energy[id][source] = {
      chosen: describe(p.chosen),
      standard: describe(p.standard),
      greedy: describe(p.greedy),
      chosenOverStandardEnergy: round(p.chosen.prediction.energyJ / p.standard.prediction.energyJ),
      chosenOverGreedyEnergy: round(p.chosen.prediction.energyJ / p.greedy.prediction.energyJ),
      chosenOverStandardLatency: round(p.chosen.prediction.latencyMs / p.standard.prediction.latencyMs),
      frontSize: p.front.length,
    };
  }
}

console.log(JSON.stringify(
  {
    seeds: seeds.length,
    enumerableInstance: {
      description: "rk3588 priors, units cpu_big/gpu/npu, 4 frequency levels, Llama-3.2-1B shape cut to 8 layers, " +
        "int4, 4 samples, prompt 128, 64 new tokens",
      candidates: truth.evaluations,
      exhaustiveFrontSize: truth.archive.length,
      exhaustiveMs: round(exhaustiveMs, 1),
      hypervolumeOverExhaustive: enumerable,
      pgsamAtLeast099OnEverySeed: headline.pgsam.min >= 0.99,
      pgsamBeatsRandomOnMedian: headline.pgsam.median > headline.random.median,
      momentumGain: momentumGain(enumerable),
    },
    largeInstance: {
      description: "rk3588 priors, 4 units, 5 frequency levels, Llama-3.1-8B shape (32 layers) int4, 8 samples; " +
        "normalised hypervolume against the union of all runs' fronts",
      normalizedHypervolume: large,
      momentumGain: momentumGain(large),
    },
    planningTime: {
      description: "plan() end to end with default options, 32 layers, 4 units, 5 frequency levels, 8 samples",
      runs: repeats,
      medianMs: round(median(planMs), 1),
      minMs: round(Math.min(...planMs), 1),
      maxMs: round(Math.max(...planMs), 1),
      evaluations: median(planEvaluations),
      under100Ms: median(planMs) < 100,
    },
    energyVsStandard: {
      description: "energy policy, Llama-3.2-1B shape int4, 8 samples, prompt 128, 128 new tokens; model from " +
        "the board priors (uncalibrated), state assumed idle (priors) or read from a simulated board (simulator)",
      ...energy,
    },
  },
  null,
  2,
));
