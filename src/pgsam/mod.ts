/**
 * Pure; imports core and physics only. The multi-objective placement optimizer:
 * a generic problem interface, the bounded Pareto archive, PGSAM (Pareto-Guided
 * Simulated Annealing with Momentum) with ask/tell and a run loop, termination
 * criteria, baselines (random search, exhaustive), indicators (hypervolume,
 * IGD+, non-dominated sorting, normalisation) and synthetic test problems.
 */
export type { Direction, Evaluation, MoveType, Problem, Solution } from "./problem.ts";
export { checkEvaluation } from "./problem.ts";
export { compareConstrained, compareDominance, constraintDominates, dominates, weaklyDominates } from "./dominance.ts";
export {
  type Bounds,
  boundsOf,
  crowdingDistance,
  hypervolume,
  igdPlus,
  nonDominatedIndices,
  nonDominatedSort,
  normalize,
  normalizedHypervolume,
  type ObjectiveVector,
} from "./indicators.ts";
export { type ArchiveInsert, type ArchiveOptions, ParetoArchive } from "./archive.ts";
export {
  hypervolumeStagnation,
  maxEvaluations,
  maxSteps,
  type SearchStatus,
  type StagnationOptions,
  type Termination,
  timeBudget,
} from "./termination.ts";
export { drawIndex, type MomentumOptions, MomentumTable } from "./momentum.ts";
export { type Algorithm, type HistoryPoint, minimize, type MinimizeOptions, type RunResult } from "./run.ts";
export {
  budgetTerminations,
  dominationAmount,
  Pgsam,
  type PgsamAlgorithmOptions,
  type PgsamOptions,
  type PgsamState,
  runPgsam,
} from "./pgsam.ts";
export {
  exhaustive,
  type ExhaustiveOptions,
  RandomSearch,
  randomSearch,
  type RandomSearchOptions,
} from "./baselines.ts";
export {
  canonicalPlacement,
  createPlacementSpace,
  enumeratePlacements,
  laneUnits,
  placementKey,
  placementMoves,
  placementProblems,
  type PlacementSpace,
  type PlacementSpaceOptions,
  randomPlacement,
  usedUnits,
} from "./placement_space.ts";
export {
  createPlacementProblem,
  evaluatePlacement,
  greedyPlacement,
  PLACEMENT_OBJECTIVES,
  type PlacementEvaluation,
  type PlacementProblem,
  standardPlacement,
} from "./placement_problem.ts";
export { isPolicy, POLICIES, type Policy, type PolicyBounds, selectByPolicy } from "./policies.ts";
export { type Plan, plan, type PlannedPlacement, type PlanOptions, standardBounds } from "./plan.ts";
export {
  createDiscreteDtlz2,
  createKnapsack,
  type DiscreteDtlz2Options,
  type KnapsackOptions,
} from "./test_problems.ts";
