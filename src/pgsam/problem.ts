/**
 * The generic optimisation problem PGSAM and its baselines work on (pymoo
 * style: the problem knows its variables and objectives, the algorithm knows
 * nothing of them). Every objective is minimised.
 */
import type { Rng } from "../core/mod.ts";

/** What one evaluation of a candidate says. */
export interface Evaluation {
  /** Objective values, all minimised; always `Problem.objectiveCount` finite numbers. */
  objectives: readonly number[];
  /** True when every constraint holds. */
  feasible: boolean;
  /**
   * How far the candidate is from feasibility, >= 0 (0 when feasible). Constraint
   * domination compares infeasible candidates by this amount, so it should grow
   * with the size of the violation (a sum of normalised excesses works well).
   */
  violation: number;
}

/** A candidate with its evaluation. */
export interface Solution<X> extends Evaluation {
  x: X;
  /** `Problem.key(x)`: equal keys mean the same candidate. */
  key: string;
}

/** Direction of a numeric move: one step down or one step up. */
export type Direction = -1 | 1;

/** A named way of turning a candidate into a neighbour. */
export interface MoveType<X> {
  /** Stable name (momentum keeps one velocity per name). */
  name: string;
  /**
   * True when the move steps a number (a frequency level, a cut position, a
   * sample count): it then honours `direction`, and momentum keeps a velocity
   * per direction as well.
   */
  numeric: boolean;
  /**
   * A neighbour of `x`, or `undefined` when this move cannot apply to `x` (e.g.
   * a cut shift on a placement with one segment, a frequency step past the top
   * level). Must not mutate `x`. Non-numeric moves ignore `direction`.
   */
  apply(x: X, rng: Rng, direction: Direction): X | undefined;
}

/** A multi-objective problem over candidates of type X. */
export interface Problem<X> {
  /** Number of objectives (>= 1). */
  readonly objectiveCount: number;
  /** Names of the objectives, for reports; same length as objectiveCount. */
  readonly objectiveNames?: readonly string[];
  /** Evaluates one candidate. Must be deterministic. */
  evaluate(x: X): Evaluation;
  /** A uniformly drawn (or at least well spread) random candidate. */
  random(rng: Rng): X;
  /** Neighbourhood moves; at least one. */
  readonly moves: readonly MoveType<X>[];
  /** Canonical identity of a candidate (equal keys = same candidate). */
  key(x: X): string;
  /** Every candidate, for exhaustive search on small instances; absent when the space is too large. */
  enumerate?(): Iterable<X>;
}

/** Checks an evaluation against the problem's contract; throws naming what was wrong. */
export function checkEvaluation(evaluation: Evaluation, objectiveCount: number, key: string): void {
  const { objectives, violation } = evaluation;
  if (objectives.length !== objectiveCount) {
    throw new RangeError(
      `evaluate(${key}) returned ${objectives.length} objectives, the problem declares ${objectiveCount}`,
    );
  }
  for (let i = 0; i < objectives.length; i++) {
    if (!Number.isFinite(objectives[i])) {
      throw new RangeError(`evaluate(${key}) returned objective ${i} = ${objectives[i]}, not a finite number`);
    }
  }
  if (!Number.isFinite(violation) || violation < 0) {
    throw new RangeError(`evaluate(${key}) returned violation ${violation}, must be a finite number >= 0`);
  }
  if (evaluation.feasible && violation !== 0) {
    throw new RangeError(`evaluate(${key}) is feasible with violation ${violation}; a feasible candidate has 0`);
  }
  if (!evaluation.feasible && violation === 0) {
    throw new RangeError(`evaluate(${key}) is infeasible with violation 0; give the amount of the violation`);
  }
}
