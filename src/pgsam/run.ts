/**
 * The search loop shared by PGSAM and the baselines (pymoo's `minimize`): an
 * algorithm proposes candidates (`ask`) and is told their evaluations
 * (`tell`); the loop evaluates, answers repeats from a cache, asks the
 * termination criteria and records history. Deterministic for a given
 * algorithm state, problem and criteria (a time budget aside).
 */
import type { ParetoArchive } from "./archive.ts";
import { checkEvaluation, type Evaluation, type Problem, type Solution } from "./problem.ts";
import type { SearchStatus, Termination } from "./termination.ts";

/** A search algorithm with the ask/tell protocol. */
export interface Algorithm<X> {
  /** Name for reports (`pgsam`, `amosa`, `random`). */
  readonly name: string;
  /** The archive this algorithm maintains. */
  readonly archive: ParetoArchive<X>;
  /**
   * The next candidate to evaluate.
   * @param budgetProgress progress of the budget criteria in [0, 1] (drives schedules such as cooling)
   */
  ask(budgetProgress: number): X;
  /**
   * The evaluation of the candidate the last `ask` returned.
   * @param fresh false when the loop answered from its cache (the candidate was seen before)
   */
  tell(solution: Solution<X>, fresh: boolean): void;
  /** Figures of the algorithm's state for the history (e.g. `temperature`). */
  state?(): Record<string, number>;
}

/** One row of a run's history. */
export interface HistoryPoint {
  steps: number;
  evaluations: number;
  archiveSize: number;
  /** True when the archive holds feasible solutions. */
  feasible: boolean;
  /** Algorithm-specific figures (`temperature` for PGSAM). */
  state: Record<string, number>;
}

/** The outcome of a search. */
export interface RunResult<X> {
  /** Name of the algorithm that produced it. */
  algorithm: string;
  /** The final archive: the approximated Pareto front (feasible when any feasible candidate was found). */
  archive: Solution<X>[];
  /** Distinct candidates evaluated. */
  evaluations: number;
  /** Candidates proposed (evaluations plus cache hits). */
  steps: number;
  /** Name of the criterion that stopped the search. */
  stoppedBy: string;
  history: HistoryPoint[];
}

/** Options of `minimize`. */
export interface MinimizeOptions {
  /** Steps between two history rows (the last step is always recorded). @default 100 */
  historyEverySteps?: number;
  /**
   * Abort between steps; the loop then throws the signal's reason. A planner
   * may also prefer a time budget, which ends the search with a result.
   */
  signal?: AbortSignal;
}

/**
 * Runs `algorithm` on `problem` until a criterion in `terminations` reaches
 * progress 1. At least one criterion must be a budget (evaluations, steps or
 * time), so that the run ends and schedules have a progress to follow.
 */
export function minimize<X>(
  problem: Problem<X>,
  algorithm: Algorithm<X>,
  terminations: readonly Termination[],
  options: MinimizeOptions = {},
): RunResult<X> {
  if (!terminations.some((t) => t.kind === "budget")) {
    throw new RangeError("minimize: give at least one budget criterion (maxEvaluations, maxSteps or timeBudget)");
  }
  const historyEvery = options.historyEverySteps ?? 100;
  const cache = new Map<string, Evaluation>();
  const history: HistoryPoint[] = [];
  let evaluations = 0;
  let steps = 0;
  let stoppedBy = "";
  const record = () =>
    history.push({
      steps,
      evaluations,
      archiveSize: algorithm.archive.size,
      feasible: algorithm.archive.feasible,
      state: algorithm.state?.() ?? {},
    });
  for (;;) {
    options.signal?.throwIfAborted();
    const status: SearchStatus = { evaluations, steps, archive: algorithm.archive.members };
    let budgetProgress = 0;
    for (const t of terminations) {
      const p = t.update(status);
      if (p >= 1 && stoppedBy === "") stoppedBy = t.name;
      if (t.kind === "budget") budgetProgress = Math.max(budgetProgress, p);
    }
    if (stoppedBy !== "") break;
    const x = algorithm.ask(Math.min(1, budgetProgress));
    const key = problem.key(x);
    let evaluation = cache.get(key);
    const fresh = evaluation === undefined;
    if (evaluation === undefined) {
      evaluation = problem.evaluate(x);
      checkEvaluation(evaluation, problem.objectiveCount, key);
      cache.set(key, evaluation);
      evaluations++;
    }
    algorithm.tell({ x, key, ...evaluation }, fresh);
    steps++;
    if (steps % historyEvery === 0) record();
  }
  if (history.length === 0 || history[history.length - 1].steps !== steps) record();
  return {
    algorithm: algorithm.name,
    archive: [...algorithm.archive.members],
    evaluations,
    steps,
    stoppedBy,
    history,
  };
}
