/**
 * Selection policies: the one placement a plan runs, picked from a front.
 * Every front member is feasible, so the latency SLO (a constraint of the
 * problem) already holds.
 */
import { boundsOf, normalize } from "./indicators.ts";
import type { Solution } from "./problem.ts";

/** `energy`: least energy; `latency`: least latency; `balanced`: the knee of the front. */
export type Policy = "energy" | "latency" | "balanced";

/** Every policy name. */
export const POLICIES: readonly Policy[] = ["energy", "latency", "balanced"];

/** True for a policy name. */
export function isPolicy(value: unknown): value is Policy {
  return typeof value === "string" && (POLICIES as readonly string[]).includes(value);
}

function lexicographic(a: readonly number[], b: readonly number[], order: readonly number[]): number {
  for (const i of order) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/**
 * Picks one member of a non-empty front by policy, for objectives ordered
 * (energy, latency, underutilisation). `energy` and `latency` minimise their
 * objective, breaking ties by the others. `balanced` takes the knee: the
 * member with the least sum of objectives normalised to the front's ideal and
 * nadir, i.e. the one farthest below the plane through the normalised
 * extremes. Ties go to the smaller key, so the choice is deterministic.
 *
 * @throws RangeError on an empty front
 */
export function selectByPolicy<X>(front: readonly Solution<X>[], policy: Policy): Solution<X> {
  if (front.length === 0) throw new RangeError(`selectByPolicy: the front is empty (policy ${policy})`);
  const keyOrder = (a: Solution<X>, b: Solution<X>) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  const candidates = [...front];
  if (policy === "energy" || policy === "latency") {
    const order = policy === "energy" ? [0, 1, 2] : [1, 0, 2];
    candidates.sort((a, b) => lexicographic(a.objectives, b.objectives, order) || keyOrder(a, b));
    return candidates[0];
  }
  const normalised = normalize(candidates.map((s) => s.objectives), boundsOf(candidates.map((s) => s.objectives)));
  let best = 0;
  let bestSum = Infinity;
  for (let i = 0; i < candidates.length; i++) {
    const sum = normalised[i].reduce((a, v) => a + v, 0);
    if (sum < bestSum || (sum === bestSum && keyOrder(candidates[i], candidates[best]) < 0)) {
      best = i;
      bestSum = sum;
    }
  }
  return candidates[best];
}
