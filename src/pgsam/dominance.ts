/**
 * Pareto dominance and constraint domination (Deb, "An efficient constraint
 * handling method for genetic algorithms", 2000): a feasible candidate beats an
 * infeasible one, two infeasible ones compare by violation, two feasible ones
 * by Pareto dominance. Every objective is minimised.
 */
import type { Evaluation } from "./problem.ts";

/** True when `a` Pareto-dominates `b`: no worse in every objective, better in one. */
export function dominates(a: readonly number[], b: readonly number[]): boolean {
  let better = false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] > b[i]) return false;
    if (a[i] < b[i]) better = true;
  }
  return better;
}

/** True when `a` weakly dominates `b`: no worse in every objective. */
export function weaklyDominates(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] > b[i]) return false;
  return true;
}

/** -1 when a dominates b, 1 when b dominates a, 0 when neither (or equal). */
export function compareDominance(a: readonly number[], b: readonly number[]): -1 | 0 | 1 {
  let aBetter = false;
  let bBetter = false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] < b[i]) aBetter = true;
    else if (a[i] > b[i]) bBetter = true;
    if (aBetter && bBetter) return 0;
  }
  if (aBetter) return -1;
  if (bBetter) return 1;
  return 0;
}

/** True when `a` constraint-dominates `b`. */
export function constraintDominates(a: Evaluation, b: Evaluation): boolean {
  if (a.feasible && !b.feasible) return true;
  if (!a.feasible && b.feasible) return false;
  if (!a.feasible) return a.violation < b.violation;
  return dominates(a.objectives, b.objectives);
}

/** -1 when a constraint-dominates b, 1 when b does a, 0 otherwise. */
export function compareConstrained(a: Evaluation, b: Evaluation): -1 | 0 | 1 {
  if (a.feasible !== b.feasible) return a.feasible ? -1 : 1;
  if (!a.feasible) return a.violation < b.violation ? -1 : a.violation > b.violation ? 1 : 0;
  return compareDominance(a.objectives, b.objectives);
}
