/**
 * The placement problem: PGSAM's generic `Problem` over physics's
 * `Placement`, with objectives energy (J), latency (ms) and
 * underutilisation from `predict()`, and its constraints (memory pressure,
 * thermal limit, latency SLO) as feasibility; plus the two reference
 * placements every plan is compared with.
 */
import type { BoardModel, BoardState, Job, Placement, Prediction } from "../physics/mod.ts";
import { predict } from "../physics/mod.ts";
import type { Evaluation, Problem } from "./problem.ts";
import {
  canonicalPlacement,
  createPlacementSpace,
  enumeratePlacements,
  placementKey,
  placementMoves,
  placementProblems,
  type PlacementSpace,
  type PlacementSpaceOptions,
  randomPlacement,
} from "./placement_space.ts";

/** Objective names of the placement problem, in order. */
export const PLACEMENT_OBJECTIVES = ["energyJ", "latencyMs", "underutilization"] as const;

/** An evaluation that keeps the physics prediction it came from. */
export interface PlacementEvaluation extends Evaluation {
  prediction: Prediction;
}

/** The placement problem of one job on one board state. */
export interface PlacementProblem extends Problem<Placement> {
  readonly space: PlacementSpace;
  evaluate(x: Placement): PlacementEvaluation;
  /** Canonical form of a placement of this space (e.g. a baseline before seeding a search with it). */
  canonical(x: Placement): Placement;
  /** Why a placement is outside this space (empty when it is inside). */
  problemsOf(x: Placement): string[];
}

/** Evaluates a placement with physics: objectives energyJ, latencyMs, underutilization. */
export function evaluatePlacement(model: BoardModel, state: BoardState, job: Job, x: Placement): PlacementEvaluation {
  const prediction = predict(model, state, job, x);
  // physics reports 0 exactly when feasible; an infeasible prediction always carries a positive amount,
  // but keep constraint domination working even if a future rule forgot to add one.
  const violation = prediction.feasible ? 0 : Math.max(prediction.constraintViolation, 1e-9);
  return {
    objectives: [prediction.energyJ, prediction.latencyMs, prediction.underutilization],
    feasible: prediction.feasible,
    violation,
    prediction,
  };
}

/**
 * The placement problem of `job` on `model` in `state`: units the state does
 * not list as healthy, and units that cannot run the job's precision, are
 * excluded from the space.
 *
 * @throws RangeError when no unit is usable or options are invalid
 */
export function createPlacementProblem(
  model: BoardModel,
  state: BoardState,
  job: Job,
  options: PlacementSpaceOptions = {},
): PlacementProblem {
  const space = createPlacementSpace(model, state, job, options);
  if (space.units.length === 0) {
    throw new RangeError(
      `placement problem: no usable unit (healthy: ${state.healthyUnits.join(", ") || "none"}; ` +
        `running ${job.shape.weightPrecision}: ${
          model.unitIds.filter((u) => (model.units[u].peakOpsPerS[job.shape.weightPrecision] ?? 0) > 0).join(", ") ||
          "none"
        })`,
    );
  }
  return {
    space,
    objectiveCount: 3,
    objectiveNames: PLACEMENT_OBJECTIVES,
    evaluate: (x) => evaluatePlacement(model, state, job, x),
    random: (rng) => randomPlacement(space, rng),
    moves: placementMoves(space),
    key: placementKey,
    enumerate: () => enumeratePlacements(space),
    canonical: (x) => canonicalPlacement(space, x),
    problemsOf: (x) => placementProblems(space, x),
  };
}

/**
 * The `standard` placement: everything (prefill and one lane with every
 * sample) on the board's default unit at its top operating point, which is
 * what a user gets without qeil. Built whether or not the unit is healthy;
 * physics then reports it infeasible.
 */
export function standardPlacement(model: BoardModel, job: Job): Placement {
  const unit = model.defaultUnit;
  return {
    prefillUnit: unit,
    lanes: [{ samples: job.samples, segments: [{ unitId: unit, layerStart: 0, layerEnd: job.shape.layers }] }],
    freqLevel: { [unit]: model.units[unit].opps.length - 1 },
  };
}

/**
 * Full-activity power of a unit at its top operating point, W: idle plus
 * leakage at the reference temperature plus C_eff V^2 f.
 */
function topPowerW(model: BoardModel, unit: string): number {
  const u = model.units[unit];
  const top = u.opps[u.opps.length - 1];
  return u.idlePowerW + u.leakagePowerW + u.ceffF * top.voltageV * top.voltageV * top.freqHz;
}

/**
 * The `greedy` placement, QEIL v1's rule: prefill on the unit with the highest
 * peak rate for the job's precision, decode (one lane, every sample) on the
 * unit with the most memory bandwidth per watt at full activity, both at their
 * top operating point. Only units usable in `state` compete (all of the
 * board's units when none is).
 */
export function greedyPlacement(model: BoardModel, state: BoardState, job: Job): Placement {
  const precision = job.shape.weightPrecision;
  const healthy = new Set(state.healthyUnits);
  const capable = model.unitIds.filter((u) => (model.units[u].peakOpsPerS[precision] ?? 0) > 0);
  const usable = capable.filter((u) => healthy.has(u));
  const pool = usable.length > 0 ? usable : capable.length > 0 ? capable : [...model.unitIds];
  let prefill = pool[0];
  let decode = pool[0];
  for (const u of pool) {
    if ((model.units[u].peakOpsPerS[precision] ?? 0) > (model.units[prefill].peakOpsPerS[precision] ?? 0)) prefill = u;
    if (
      model.units[u].bandwidthBytesPerS / topPowerW(model, u) >
        model.units[decode].bandwidthBytesPerS / topPowerW(model, decode)
    ) {
      decode = u;
    }
  }
  return {
    prefillUnit: prefill,
    lanes: [{ samples: job.samples, segments: [{ unitId: decode, layerStart: 0, layerEnd: job.shape.layers }] }],
    freqLevel: {
      [prefill]: model.units[prefill].opps.length - 1,
      [decode]: model.units[decode].opps.length - 1,
    },
  };
}
