/**
 * PGSAM: Pareto-Guided Simulated Annealing with Momentum (DESIGN.md section 4).
 *
 * The search is archived multi-objective simulated annealing (AMOSA:
 * Bandyopadhyay, Saha, Maulik and Deb, "A simulated annealing-based
 * multiobjective optimization algorithm: AMOSA", IEEE TEVC 12(3), 2008) with
 * two additions:
 *
 * - Pareto guidance: whenever the walk stands on the front (its current point
 *   is an archive member), the next current point is drawn from the archive's
 *   least crowded region (a crowding-distance tournament), so effort goes where
 *   the front is thin. A walk that accepted a dominated point continues from it:
 *   that is what annealing's uphill acceptance is for.
 * - Momentum: move types and numeric directions are drawn in proportion to a
 *   velocity that rises when they produce archive entries (see momentum.ts).
 *
 * Acceptance follows AMOSA's three cases, with the amount of domination
 * Δdom(a, b) = Π over objectives where a and b differ of |a_i - b_i| / R_i (R_i
 * the range of objective i among feasible candidates seen). The product starts
 * at 1: the public AMOSA code starts it at 0, which makes every amount 0 and
 * every uphill move a coin flip. A dominated proposal is accepted with
 * probability 1 / (1 + exp(Δ / T)). T is a relative temperature times a scale,
 * the geometric mean of the amounts observed so far, so the same schedule fits
 * problems of any objective scale. The relative temperature cools
 * geometrically with the budget's progress from a value that accepts a typical
 * uphill move with probability `initialAcceptance` down to
 * `finalTemperatureRatio` of it; when no archive entry appears for
 * `reheatAfterSteps` steps, the temperature is raised by `reheatFactor` (at most
 * back to the start) and cools again over the remaining budget. When a
 * proposal beats the current point but the archive dominates it (AMOSA's case
 * 3a), the walk moves to the least-dominating archive member with probability
 * 1 / (1 + exp(-Δmin / scale)), else to the proposal.
 *
 * With `momentum: false` (and guidance off) this is plain AMOSA, the public
 * baseline of the family.
 */
import type { Rng } from "../core/mod.ts";
import { ParetoArchive } from "./archive.ts";
import { compareConstrained } from "./dominance.ts";
import { type MomentumOptions, MomentumTable } from "./momentum.ts";
import type { Direction, Evaluation, Problem, Solution } from "./problem.ts";
import { type Algorithm, minimize, type MinimizeOptions, type RunResult } from "./run.ts";
import {
  hypervolumeStagnation,
  maxEvaluations,
  maxSteps,
  type StagnationOptions,
  type Termination,
  timeBudget,
} from "./termination.ts";

/** Options of the PGSAM algorithm itself (not of its termination). */
export interface PgsamAlgorithmOptions<X = unknown> {
  /** Archive size bound. @default 100 */
  archiveCapacity?: number;
  /** Random candidates evaluated before annealing starts. @default 16 */
  initialSamples?: number;
  /** Candidates to evaluate first (e.g. known good placements), before the random ones. @default [] */
  seeds?: readonly X[];
  /** Momentum on move types and directions; false gives uniform draws (plain annealing). @default true */
  momentum?: boolean | MomentumOptions;
  /** Pareto guidance; false keeps AMOSA's current point. @default true */
  guidance?: boolean;
  /** Members drawn in the guidance tournament (more: stronger pull to sparse regions). @default 2 */
  guidanceTournament?: number;
  /** Probability of accepting a typical dominated proposal at the start, in (0, 0.5). @default 0.4 */
  initialAcceptance?: number;
  /** Final over initial temperature of the geometric schedule, in (0, 1]. @default 1e-3 */
  finalTemperatureRatio?: number;
  /** Steps without an archive entry that trigger a reheat; 0 disables reheating. @default 200 */
  reheatAfterSteps?: number;
  /** Factor a reheat multiplies the temperature by (capped at the initial temperature). @default 10 */
  reheatFactor?: number;
}

/** PGSAM state exposed for reports. */
export interface PgsamState extends Record<string, number> {
  /** Absolute temperature: relative temperature times the domination-amount scale. */
  temperature: number;
  /** Relative temperature of the schedule (1 / ln(1 / initialAcceptance - 1) at the start). */
  relativeTemperature: number;
  /** Reheats so far. */
  reheats: number;
}

interface Pending {
  move: number;
  direction: Direction | undefined;
}

/** PGSAM as an ask/tell algorithm; see the module documentation. */
export class Pgsam<X> implements Algorithm<X> {
  readonly name: string;
  readonly archive: ParetoArchive<X>;
  readonly momentum: MomentumTable;
  readonly #problem: Problem<X>;
  readonly #rng: Rng;
  readonly #initialSamples: number;
  readonly #seeds: readonly X[];
  readonly #guidance: boolean;
  readonly #tournament: number;
  readonly #tau0: number;
  readonly #tauEnd: number;
  readonly #reheatAfter: number;
  readonly #reheatFactor: number;
  #told = 0;
  #current: Solution<X> | undefined;
  #pending: Pending | undefined;
  #progress = 0;
  #tau: number;
  #reheatProgress = 0;
  #reheatTau: number;
  #reheats = 0;
  #stepsSinceEntry = 0;
  #logAmountSum = 0;
  #amountCount = 0;
  #lo: number[];
  #hi: number[];
  #maxViolation = 0;

  constructor(problem: Problem<X>, options: PgsamAlgorithmOptions<X>, rng: Rng) {
    if (problem.moves.length === 0) throw new RangeError("PGSAM: the problem has no moves");
    this.#problem = problem;
    this.#rng = rng;
    this.archive = new ParetoArchive<X>({ capacity: options.archiveCapacity ?? 100 });
    this.#initialSamples = options.initialSamples ?? 16;
    this.#seeds = options.seeds ?? [];
    if (!Number.isInteger(this.#initialSamples) || this.#initialSamples < 1) {
      throw new RangeError(`PGSAM: initialSamples must be an integer >= 1, got ${this.#initialSamples}`);
    }
    const momentum = options.momentum ?? true;
    this.momentum = new MomentumTable(
      problem.moves.length,
      typeof momentum === "boolean" ? { enabled: momentum } : momentum,
    );
    this.#guidance = options.guidance ?? true;
    this.name = this.momentum.enabled ? "pgsam" : this.#guidance ? "pgsam-no-momentum" : "amosa";
    this.#tournament = options.guidanceTournament ?? 2;
    const p0 = options.initialAcceptance ?? 0.4;
    if (!(p0 > 0 && p0 < 0.5)) throw new RangeError(`PGSAM: initialAcceptance must be in (0, 0.5), got ${p0}`);
    const ratio = options.finalTemperatureRatio ?? 1e-3;
    if (!(ratio > 0 && ratio <= 1)) {
      throw new RangeError(`PGSAM: finalTemperatureRatio must be in (0, 1], got ${ratio}`);
    }
    // 1 / (1 + exp(1 / tau0)) = p0 for an amount equal to the observed scale.
    this.#tau0 = 1 / Math.log(1 / p0 - 1);
    this.#tauEnd = this.#tau0 * ratio;
    this.#tau = this.#tau0;
    this.#reheatTau = this.#tau0;
    this.#reheatAfter = options.reheatAfterSteps ?? 200;
    this.#reheatFactor = options.reheatFactor ?? 10;
    if (!(this.#reheatAfter >= 0)) {
      throw new RangeError(`PGSAM: reheatAfterSteps must be >= 0, got ${this.#reheatAfter}`);
    }
    if (!(this.#reheatFactor >= 1)) throw new RangeError(`PGSAM: reheatFactor must be >= 1, got ${this.#reheatFactor}`);
    this.#lo = new Array<number>(problem.objectiveCount).fill(Infinity);
    this.#hi = new Array<number>(problem.objectiveCount).fill(-Infinity);
  }

  /** Current absolute temperature (relative temperature times the amount scale). */
  get temperature(): number {
    return this.#tau * this.#scale();
  }

  state(): PgsamState {
    return { temperature: this.temperature, relativeTemperature: this.#tau, reheats: this.#reheats };
  }

  ask(budgetProgress: number): X {
    this.#progress = budgetProgress;
    this.#cool();
    this.#pending = undefined;
    if (this.#told < this.#seeds.length) return this.#seeds[this.#told];
    if (this.#told < this.#seeds.length + this.#initialSamples) return this.#problem.random(this.#rng);
    if (this.#current === undefined || (this.#guidance && this.archive.has(this.#current.key))) {
      this.#current = this.#guidance
        ? this.archive.pickSparse(this.#rng, this.#tournament)
        : this.archive.members[this.#rng.int(this.archive.size)];
    }
    const moves = this.#problem.moves;
    const attempts = 4 * moves.length + 4;
    for (let a = 0; a < attempts; a++) {
      const move = this.momentum.drawMove(this.#rng);
      const direction = moves[move].numeric ? this.momentum.drawDirection(this.#rng, move) : undefined;
      const y = moves[move].apply(this.#current.x, this.#rng, direction ?? 1);
      if (y !== undefined) {
        this.#pending = { move, direction };
        return y;
      }
    }
    // No move applies to this point: restart from a random candidate.
    return this.#problem.random(this.#rng);
  }

  tell(solution: Solution<X>, _fresh: boolean): void {
    this.#told++;
    this.#observe(solution);
    const current = this.#current;
    if (current === undefined || this.#pending === undefined) {
      // Initial samples and restarts: archive them; a restart becomes the current point.
      const insert = this.archive.add(solution);
      this.#afterInsert(insert.added);
      if (current !== undefined) this.#current = solution;
      return;
    }
    const insert = this.archive.add(solution);
    const dominators = insert.dominators;
    this.#afterInsert(insert.added);
    this.momentum.reward(this.#pending.move, this.#pending.direction, insert.added);
    const relation = compareConstrained(current, solution);
    const k = dominators.length;
    if (relation < 0) {
      // Case 1: the current point dominates the proposal.
      let sum = this.#amount(current, solution);
      for (const d of dominators) sum += this.#amount(d, solution);
      if (this.#acceptUphill(sum / (k + 1), solution.feasible)) this.#current = solution;
    } else if (relation === 0) {
      // Case 2: neither dominates; accept unless the archive dominates it, then anneal.
      if (k === 0) this.#current = solution;
      else {
        let sum = 0;
        for (const d of dominators) sum += this.#amount(d, solution);
        if (this.#acceptUphill(sum / k, solution.feasible)) this.#current = solution;
      }
    } else if (k === 0) {
      // Case 3, nothing in the archive dominates the proposal.
      this.#current = solution;
    } else {
      // Case 3, the proposal beats the current point but the archive dominates it:
      // move to the archive member that dominates it least, with AMOSA's probability.
      let best = dominators[0];
      let bestAmount = this.#amount(best, solution);
      for (let i = 1; i < k; i++) {
        const a = this.#amount(dominators[i], solution);
        if (a < bestAmount) {
          best = dominators[i];
          bestAmount = a;
        }
      }
      const p = 1 / (1 + Math.exp(-bestAmount / this.#scale()));
      this.#current = this.#rng.next() < p ? best : solution;
    }
  }

  #afterInsert(added: boolean): void {
    if (added) this.#stepsSinceEntry = 0;
    else this.#stepsSinceEntry++;
    if (this.#reheatAfter > 0 && this.#stepsSinceEntry >= this.#reheatAfter && this.#progress < 1) {
      this.#reheatTau = Math.min(this.#tau0, this.#tau * this.#reheatFactor);
      this.#reheatProgress = this.#progress;
      this.#tau = this.#reheatTau;
      this.#reheats++;
      this.#stepsSinceEntry = 0;
    }
  }

  /** Geometric cooling from the last (re)heat to the final temperature at progress 1. */
  #cool(): void {
    const span = 1 - this.#reheatProgress;
    const t = span > 0 ? Math.min(1, Math.max(0, (this.#progress - this.#reheatProgress) / span)) : 1;
    this.#tau = this.#reheatTau * Math.pow(this.#tauEnd / this.#reheatTau, t);
  }

  #observe(s: Solution<X>): void {
    if (s.feasible) {
      for (let i = 0; i < s.objectives.length; i++) {
        if (s.objectives[i] < this.#lo[i]) this.#lo[i] = s.objectives[i];
        if (s.objectives[i] > this.#hi[i]) this.#hi[i] = s.objectives[i];
      }
    } else if (s.violation > this.#maxViolation) this.#maxViolation = s.violation;
  }

  #amount(a: Solution<X>, b: Solution<X>): number {
    return dominationAmount(a, b, this.#lo, this.#hi, this.#maxViolation);
  }

  /** Annealing acceptance of a dominated proposal; `feasible` proposals also feed the amount scale. */
  #acceptUphill(amount: number, feasible: boolean): boolean {
    // Only amounts between feasible points (objective gaps) set the scale; 1 for crossing
    // into infeasibility is a convention, not a measurement.
    if (feasible && amount > 0) {
      this.#logAmountSum += Math.log(amount);
      this.#amountCount++;
    }
    const t = this.temperature;
    const p = 1 / (1 + Math.exp(amount / t));
    return this.#rng.next() < p;
  }

  /** Typical domination amount: geometric mean of the amounts seen (1 before any). */
  #scale(): number {
    return this.#amountCount === 0 ? 1 : Math.exp(this.#logAmountSum / this.#amountCount);
  }
}

/**
 * Amount by which `a` constraint-dominates `b` (AMOSA's Δdom): between
 * feasible points, the product over objectives where they differ of the gap
 * normalised by that objective's range `hi - lo` (an objective without range
 * counts 1). The product starts at 1 (the public AMOSA code starts it at 0, so
 * every amount there is 0). Feasible over infeasible: 1, the largest gap.
 * Between infeasible points: the violation gap over `maxViolation`.
 */
export function dominationAmount(
  a: Evaluation,
  b: Evaluation,
  lo: readonly number[],
  hi: readonly number[],
  maxViolation: number,
): number {
  if (a.feasible && b.feasible) {
    let product = 1;
    for (let i = 0; i < a.objectives.length; i++) {
      const gap = Math.abs(a.objectives[i] - b.objectives[i]);
      if (gap === 0) continue;
      const range = hi[i] - lo[i];
      product *= range > 0 ? Math.min(1, gap / range) : 1;
    }
    return product;
  }
  if (a.feasible) return 1;
  return maxViolation > 0 ? Math.min(1, Math.abs(b.violation - a.violation) / maxViolation) : 1;
}

/** Options of `runPgsam`: the algorithm's options plus termination. */
export interface PgsamOptions<X = unknown> extends PgsamAlgorithmOptions<X>, MinimizeOptions {
  /** Most evaluations (distinct candidates). @default 2000 */
  maxEvaluations?: number;
  /** Most steps, including repeats answered from the cache. @default 20 * maxEvaluations */
  maxSteps?: number;
  /** Time budget in ms of `nowMs`; needs `nowMs`. @default none */
  timeBudgetMs?: number;
  /** Clock for `timeBudgetMs` (pure code cannot read one), e.g. `() => performance.now()`. */
  nowMs?: () => number;
  /** Stop when the hypervolume stops growing; false: never. @default false */
  stagnation?: StagnationOptions | false;
}

/** The termination criteria `runPgsam` and the baselines build from their options. */
export function budgetTerminations<X>(options: PgsamOptions<X>): Termination[] {
  const evaluations = options.maxEvaluations ?? 2000;
  const terms = [maxEvaluations(evaluations), maxSteps(options.maxSteps ?? 20 * evaluations)];
  if (options.timeBudgetMs !== undefined) {
    if (options.nowMs === undefined) throw new TypeError("a time budget needs a clock: pass options.nowMs");
    terms.push(timeBudget(options.timeBudgetMs, options.nowMs));
  }
  if (options.stagnation) terms.push(hypervolumeStagnation(options.stagnation));
  return terms;
}

/**
 * Runs PGSAM on `problem`. The same problem, options and seed of `rng` give
 * the same archive bit for bit (unless a time budget stops the run).
 */
export function runPgsam<X>(problem: Problem<X>, options: PgsamOptions<X>, rng: Rng): RunResult<X> {
  return minimize(problem, new Pgsam(problem, options, rng), budgetTerminations(options), options);
}
