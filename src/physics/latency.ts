/**
 * Closed-form sums over a decode with a growing context, and the latency
 * composition rules of DESIGN.md section 3.
 *
 * A decode step at context c costs FLOPs and bytes affine in c, so its
 * compute time a0 + a1 c and memory time b0 + b1 c are affine too, and its
 * roofline time max(a0 + a1 c, b0 + b1 c) changes regime at most once. A run of
 * n steps at contexts c0 .. c0 + n - 1 is then two arithmetic series, summed
 * exactly without a loop over steps.
 */

/** Sum of k0 + k1 c over the integers c = from .. from + count - 1. */
export function sumAffine(k0: number, k1: number, from: number, count: number): number {
  if (count <= 0) return 0;
  return count * k0 + k1 * (count * from + (count * (count - 1)) / 2);
}

/**
 * Sum of max(a0 + a1 c, b0 + b1 c) over the integers c = from .. from + count - 1,
 * exact: the two lines cross at most once, so the range splits into at most
 * two arithmetic series.
 */
export function sumMaxAffine(a0: number, a1: number, b0: number, b1: number, from: number, count: number): number {
  if (count <= 0) return 0;
  const d0 = a0 - b0;
  const d1 = a1 - b1;
  const end = from + count;
  if (d1 === 0) return d0 >= 0 ? sumAffine(a0, a1, from, count) : sumAffine(b0, b1, from, count);
  const root = -d0 / d1;
  if (d1 > 0) {
    // a dominates from the crossing on.
    let split = Math.ceil(root);
    if (split < from) split = from;
    if (split > end) split = end;
    return sumAffine(b0, b1, from, split - from) + sumAffine(a0, a1, split, end - split);
  }
  // a dominates up to the crossing.
  let split = Math.floor(root) + 1;
  if (split < from) split = from;
  if (split > end) split = end;
  return sumAffine(a0, a1, from, split - from) + sumAffine(b0, b1, split, end - split);
}

/**
 * Time of one decode lane, s: its segments run in order every step, with an
 * activation transfer wherever consecutive segments sit on different units,
 * so the lane takes the sum of its segment times plus the transfers (a lane's
 * steps cannot overlap: token j + 1 needs token j). Never less than any of its
 * segments.
 *
 * @param segmentTimesS total time of each segment over the decode
 * @param transferTimesS total time of each transfer over the decode
 */
export function laneTimeS(segmentTimesS: readonly number[], transferTimesS: readonly number[] = []): number {
  let t = 0;
  for (const s of segmentTimesS) t += s;
  for (const s of transferTimesS) t += s;
  return t;
}

/**
 * Makespan of concurrent lanes, s: every lane must finish, and a unit shared by
 * several lanes serves them in turn, so the phase lasts at least the longest
 * lane and at least the busiest unit's total work.
 */
export function makespanS(laneTimesS: readonly number[], unitBusyS: readonly number[]): number {
  let m = 0;
  for (const t of laneTimesS) if (t > m) m = t;
  for (const t of unitBusyS) if (t > m) m = t;
  return m;
}

/**
 * Underutilisation U = 1 - sum_d sum_w t_d(w) DASI_d(w) / (N_available * makespan),
 * in [0, 1]: the share of the available units' compute capacity over the job
 * that stays unused. 1 when no unit is available.
 *
 * @param activeS sum over work items of t_d(w) DASI_d(w), over all units, s
 * Source: DESIGN.md section 3.
 */
export function underutilization(activeS: number, availableUnits: number, makespanSeconds: number): number {
  if (availableUnits <= 0 || !(makespanSeconds > 0)) return 1;
  const used = activeS / (availableUnits * makespanSeconds);
  return used >= 1 ? 0 : used <= 0 ? 1 : 1 - used;
}
