/**
 * Generic baselines in the same interface as PGSAM: random search (uniform
 * candidates into the same bounded archive) and exhaustive enumeration (every
 * candidate into an unbounded archive: the true Pareto front of a small
 * instance).
 */
import type { Rng } from "../core/mod.ts";
import { ParetoArchive } from "./archive.ts";
import { budgetTerminations, type PgsamOptions } from "./pgsam.ts";
import { checkEvaluation, type Problem, type Solution } from "./problem.ts";
import { type Algorithm, minimize, type RunResult } from "./run.ts";

/** Random search as an ask/tell algorithm. */
export class RandomSearch<X> implements Algorithm<X> {
  readonly name = "random";
  readonly archive: ParetoArchive<X>;
  readonly #problem: Problem<X>;
  readonly #rng: Rng;

  constructor(problem: Problem<X>, options: { archiveCapacity?: number }, rng: Rng) {
    this.#problem = problem;
    this.#rng = rng;
    this.archive = new ParetoArchive<X>({ capacity: options.archiveCapacity ?? 100 });
  }

  ask(): X {
    return this.#problem.random(this.#rng);
  }

  tell(solution: Solution<X>): void {
    this.archive.add(solution);
  }
}

/** Options of `randomSearch`: archive bound and termination, as for PGSAM. */
export type RandomSearchOptions = Pick<
  PgsamOptions,
  "archiveCapacity" | "maxEvaluations" | "maxSteps" | "timeBudgetMs" | "nowMs" | "stagnation" | "historyEverySteps"
>;

/** Random search with the same budget semantics as `runPgsam` (distinct evaluations). */
export function randomSearch<X>(problem: Problem<X>, options: RandomSearchOptions, rng: Rng): RunResult<X> {
  return minimize(problem, new RandomSearch(problem, options, rng), budgetTerminations(options), options);
}

/** Options of `exhaustive`. */
export interface ExhaustiveOptions {
  /** Archive bound. @default Infinity (the whole front) */
  archiveCapacity?: number;
  /** Refuse to go past this many candidates (a guard against enumerating a huge space). @default 1_000_000 */
  maxCandidates?: number;
  /** Abort between candidates. */
  signal?: AbortSignal;
}

/**
 * Evaluates every candidate of `enumerate` (by default `problem.enumerate()`)
 * and returns the exact Pareto front (feasible members; the least violating
 * ones when nothing is feasible).
 *
 * @throws RangeError when neither is given or the space exceeds `maxCandidates`
 */
export function exhaustive<X>(
  problem: Problem<X>,
  options: ExhaustiveOptions = {},
  enumerate?: () => Iterable<X>,
): RunResult<X> {
  const source = enumerate ?? (problem.enumerate ? () => problem.enumerate!() : undefined);
  if (source === undefined) throw new RangeError("exhaustive: the problem cannot enumerate its candidates");
  const limit = options.maxCandidates ?? 1_000_000;
  const archive = new ParetoArchive<X>({ capacity: options.archiveCapacity ?? Infinity });
  const seen = new Set<string>();
  let evaluations = 0;
  let steps = 0;
  for (const x of source()) {
    options.signal?.throwIfAborted();
    if (++steps > limit) throw new RangeError(`exhaustive: more than ${limit} candidates; use a search instead`);
    const key = problem.key(x);
    if (seen.has(key)) continue;
    seen.add(key);
    const evaluation = problem.evaluate(x);
    checkEvaluation(evaluation, problem.objectiveCount, key);
    evaluations++;
    archive.add({ x, key, ...evaluation });
  }
  return {
    algorithm: "exhaustive",
    archive: [...archive.members],
    evaluations,
    steps,
    stoppedBy: "enumerated",
    history: [{ steps, evaluations, archiveSize: archive.size, feasible: archive.feasible, state: {} }],
  };
}
