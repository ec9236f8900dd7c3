/**
 * plan(): the Pareto front of placements of one job on one board state by
 * PGSAM, the placement a policy picks from it, and the standard and greedy
 * placements for comparison, each with its physics prediction.
 */
import { InfeasibleError, type Rng } from "../core/mod.ts";
import type { BoardModel, BoardState, Job, Placement, Prediction } from "../physics/mod.ts";
import type { PgsamOptions } from "./pgsam.ts";
import { runPgsam } from "./pgsam.ts";
import {
  createPlacementProblem,
  evaluatePlacement,
  greedyPlacement,
  type PlacementEvaluation,
  standardPlacement,
} from "./placement_problem.ts";
import { placementKey, type PlacementSpaceOptions } from "./placement_space.ts";
import { type Policy, type PolicyBounds, selectByPolicy } from "./policies.ts";
import type { Solution } from "./problem.ts";

/** A placement with its prediction. */
export interface PlannedPlacement {
  placement: Placement;
  prediction: Prediction;
  /** Canonical key of the placement. */
  key: string;
}

/** Options of `plan`. */
export interface PlanOptions extends PlacementSpaceOptions, Omit<PgsamOptions<Placement>, "seeds"> {
  /** Which front member to choose. @default "energy" */
  policy?: Policy;
  /** Start the search from the standard and greedy placements (when they lie in the space). @default true */
  seedBaselines?: boolean;
}

/** The outcome of planning one job. */
export interface Plan {
  /** Feasible non-dominated placements, by ascending energy. */
  front: PlannedPlacement[];
  /** The placement `policy` picked from the front. */
  chosen: PlannedPlacement;
  /** Everything on the default unit at its top operating point. */
  standard: PlannedPlacement;
  /** QEIL v1's rule (highest peak for prefill, best bandwidth per watt for decode). */
  greedy: PlannedPlacement;
  policy: Policy;
  /** Distinct placements evaluated by the search. */
  evaluations: number;
  /** The criterion that ended the search. */
  stoppedBy: string;
}

/** What `efficient` bounds a choice by: the standard placement's latency, when that placement is feasible. */
export function standardBounds(standard: Prediction): PolicyBounds {
  return standard.feasible ? { latencyBound: standard.latencyMs } : {};
}

function planned(s: Solution<Placement> & Partial<PlacementEvaluation>, fallback: () => Prediction): PlannedPlacement {
  return { placement: s.x, prediction: s.prediction ?? fallback(), key: s.key };
}

/**
 * Plans a job: PGSAM over the placement space (seeded with the baselines),
 * then a policy choice. Pure and seeded: the same inputs and seed give the
 * same plan (unless a time budget ends the search).
 *
 * @throws InfeasibleError when no feasible placement was found; `details` carry
 *   the least violating placement's key and violations
 */
export function plan(model: BoardModel, state: BoardState, job: Job, options: PlanOptions, rng: Rng): Plan {
  const policy = options.policy ?? "energy";
  const problem = createPlacementProblem(model, state, job, options);
  const standardX = standardPlacement(model, job);
  const greedyX = greedyPlacement(model, state, job);
  const seeds: Placement[] = [];
  if (options.seedBaselines ?? true) {
    for (const x of [standardX, greedyX]) {
      const c = problem.canonical(x);
      // A baseline on a unit outside the space (unhealthy default unit) cannot seed the search.
      if (problem.problemsOf(c).length === 0 && !seeds.some((s) => placementKey(s) === placementKey(c))) seeds.push(c);
    }
  }
  const run = runPgsam(problem, { ...options, seeds }, rng);
  const evaluate = (x: Placement) => evaluatePlacement(model, state, job, x).prediction;
  const front = run.archive.filter((s) => s.feasible);
  if (front.length === 0) {
    const best = run.archive[0];
    const prediction = best ? planned(best, () => evaluate(best.x)).prediction : undefined;
    throw new InfeasibleError(
      `plan: no feasible placement among ${run.evaluations} evaluated` +
        (prediction ? `; the least violating one fails: ${prediction.violations.join("; ")}` : ""),
      { details: { placement: best?.key, violations: prediction?.violations ?? [] } },
    );
  }
  const standardPrediction = evaluate(standardX);
  const chosen = selectByPolicy(front, policy, standardBounds(standardPrediction));
  const byEnergy = [...front].sort((a, b) => a.objectives[0] - b.objectives[0] || (a.key < b.key ? -1 : 1));
  return {
    front: byEnergy.map((s) => planned(s, () => evaluate(s.x))),
    chosen: planned(chosen, () => evaluate(chosen.x)),
    standard: { placement: standardX, prediction: standardPrediction, key: placementKey(standardX) },
    greedy: { placement: greedyX, prediction: evaluate(greedyX), key: placementKey(greedyX) },
    policy,
    evaluations: run.evaluations,
    stoppedBy: run.stoppedBy,
  };
}
