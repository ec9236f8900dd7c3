/**
 * Selection policies: the one placement a plan runs, picked from a front.
 * Every front member is feasible, so the latency SLO (a constraint of the
 * problem) already holds.
 */
import { boundsOf, normalize } from "./indicators.ts";
import type { Solution } from "./problem.ts";

/**
 * `energy`: least energy; `latency`: least latency; `balanced`: the knee of
 * the front; `efficient`: least energy among the placements no slower than a
 * bound (the plan gives the standard placement's latency: what the user
 * would get without qeil), so saving energy never costs latency.
 */
export type Policy = "energy" | "latency" | "balanced" | "efficient";

/** Every policy name. */
export const POLICIES: readonly Policy[] = ["energy", "latency", "balanced", "efficient"];

/** What `efficient` needs to know. */
export interface PolicyBounds {
  /**
   * Latency no chosen placement may exceed, in the latency objective's units;
   * without one (no feasible standard placement to compare with), `efficient`
   * is `energy`.
   */
  latencyBound?: number;
}

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
 * extremes. `efficient` is `energy` over the members whose latency is
 * within `bounds.latencyBound` (relative slack 1e-9 for rounding); when none
 * is, the fastest member. Ties go to the smaller key, so the choice is
 * deterministic.
 *
 * @throws RangeError on an empty front
 */
export function selectByPolicy<X>(
  front: readonly Solution<X>[],
  policy: Policy,
  bounds: PolicyBounds = {},
): Solution<X> {
  if (front.length === 0) throw new RangeError(`selectByPolicy: the front is empty (policy ${policy})`);
  const keyOrder = (a: Solution<X>, b: Solution<X>) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  if (policy === "efficient") {
    const bound = bounds.latencyBound;
    if (bound === undefined || !Number.isFinite(bound)) return selectByPolicy(front, "energy");
    const within = front.filter((s) => s.objectives[1] <= bound * (1 + 1e-9));
    return within.length > 0 ? selectByPolicy(within, "energy") : selectByPolicy(front, "latency");
  }
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
