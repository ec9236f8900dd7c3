/**
 * When a search stops (pymoo style): each criterion reports its progress in
 * [0, 1] and the search stops when any reaches 1. Budget criteria (evaluations,
 * steps, time) grow monotonically and also drive annealing schedules;
 * convergence criteria (hypervolume stagnation) may fall back when the search
 * improves.
 */
import { boundsOf, normalizedHypervolume } from "./indicators.ts";
import type { Solution } from "./problem.ts";

/** What a termination criterion may look at, once per step. */
export interface SearchStatus {
  /** Distinct candidates evaluated so far (calls of `Problem.evaluate`). */
  evaluations: number;
  /** Steps so far (candidates proposed, including repeats answered from the cache). */
  steps: number;
  /** The current archive. */
  archive: readonly Solution<unknown>[];
}

/** A stopping criterion. Stateful: create a fresh one per run. */
export interface Termination {
  /** Name used in `stoppedBy` of a run's result. */
  readonly name: string;
  /** "budget" grows monotonically with effort (and drives schedules); "convergence" may fall back. */
  readonly kind: "budget" | "convergence";
  /** Called before every step; returns progress in [0, 1], 1 meaning stop. */
  update(status: SearchStatus): number;
}

function positive(value: number, what: string): void {
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`${what} must be a positive number, got ${value}`);
}

/** Stops after `count` evaluations. */
export function maxEvaluations(count: number): Termination {
  positive(count, "maxEvaluations");
  return { name: "maxEvaluations", kind: "budget", update: (s) => Math.min(1, s.evaluations / count) };
}

/**
 * Stops after `count` steps. A safety net for searches that keep revisiting
 * cached candidates (a small space nearly exhausted) and so stop spending
 * evaluations.
 */
export function maxSteps(count: number): Termination {
  positive(count, "maxSteps");
  return { name: "maxSteps", kind: "budget", update: (s) => Math.min(1, s.steps / count) };
}

/**
 * Stops once `durationMs` have passed on `nowMs`, measured from the first
 * update. Pure code cannot read the clock, so the caller passes one (e.g.
 * `() => performance.now()`). A run stopped by time is not reproducible.
 */
export function timeBudget(durationMs: number, nowMs: () => number): Termination {
  positive(durationMs, "timeBudget durationMs");
  let startMs: number | undefined;
  return {
    name: "timeBudget",
    kind: "budget",
    update() {
      const t = nowMs();
      startMs ??= t;
      return Math.min(1, (t - startMs) / durationMs);
    },
  };
}

/** Options of `hypervolumeStagnation`. */
export interface StagnationOptions {
  /** Steps without a hypervolume gain after which the search stops. @default 500 */
  windowSteps?: number;
  /** Steps between two hypervolume checks. @default 50 */
  checkEverySteps?: number;
  /** Relative hypervolume gain below which a check counts as no gain. @default 1e-4 */
  tolerance?: number;
}

/**
 * Stops when the hypervolume of the archive's feasible members has not grown
 * by more than `tolerance` (relative) for `windowSteps` steps. Each check
 * normalises the current and the previous archive with their joint bounds, so
 * the comparison does not depend on objective scales.
 */
export function hypervolumeStagnation(options: StagnationOptions = {}): Termination {
  const windowSteps = options.windowSteps ?? 500;
  const checkEvery = options.checkEverySteps ?? 50;
  const tolerance = options.tolerance ?? 1e-4;
  positive(windowSteps, "hypervolumeStagnation windowSteps");
  positive(checkEvery, "hypervolumeStagnation checkEverySteps");
  if (!(tolerance >= 0)) throw new RangeError(`hypervolumeStagnation tolerance must be >= 0, got ${tolerance}`);
  let previous: (readonly number[])[] = [];
  let lastGainStep = 0;
  let lastCheckStep = -Infinity;
  return {
    name: "hypervolumeStagnation",
    kind: "convergence",
    update(s) {
      if (s.steps - lastCheckStep >= checkEvery) {
        lastCheckStep = s.steps;
        const front = s.archive.filter((m) => m.feasible).map((m) => m.objectives);
        if (front.length > 0) {
          let gained = previous.length === 0;
          if (!gained) {
            const bounds = boundsOf([...front, ...previous]);
            const now = normalizedHypervolume(front, bounds);
            const before = normalizedHypervolume(previous, bounds);
            gained = now > before * (1 + tolerance);
          }
          if (gained) lastGainStep = s.steps;
          previous = front;
        }
      }
      return Math.min(1, (s.steps - lastGainStep) / windowSteps);
    },
  };
}
