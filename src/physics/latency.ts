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
 * Sum of 1 / (y0 + y1 c) over c = from .. from + count - 1, by Euler-Maclaurin
 * on the midpoint rule: (1 / y1) ln(1 + y1 count / u(from - 1/2)) + (y1 / 24)
 * (1 / u(from + count - 1/2)^2 - 1 / u(from - 1/2)^2) with u(x) = y0 + y1 x.
 * Relative error about (7 / 5760) (y1 / u)^4: below 1e-12 for every decode (the
 * weights make y0 dominate). Needs u(from - 1/2) > 0.
 */
function sumReciprocalAffine(y0: number, y1: number, from: number, count: number): number {
  if (count <= 0) return 0;
  if (y1 === 0) return count / y0;
  const first = y0 + y1 * (from - 0.5);
  const last = y0 + y1 * (from + count - 0.5);
  const x = (y1 * count) / first;
  // log1p(x) / y1 loses everything when y1 is tiny; its series does not.
  const integral = x < 1e-6 ? (count / first) * (1 - x / 2 + (x * x) / 3) : Math.log1p(x) / y1;
  return integral + (y1 / 24) * (1 / (last * last) - 1 / (first * first));
}

/** Largest ratio of the decomposition's terms to the sum before summing step by step instead. */
const MAX_CANCELLATION = 1e6;

/**
 * Roofline time times DASI of one work item, s (without the allocation
 * inflation): max(FLOPs / (F eta_c), Bytes / (B eta_m)) * min(1, FLOPs B / (Bytes F)).
 * This is the time the unit's compute is busy, what dynamic power and
 * underutilisation integrate.
 */
export function timeDasiS(
  flops: number,
  bytes: number,
  peakOpsPerS: number,
  bandwidthBytesPerS: number,
  computeEfficiency: number,
  memoryEfficiency: number,
): number {
  if (flops <= 0) return 0;
  const computeS = flops / (peakOpsPerS * computeEfficiency);
  const memoryS = bytes / (bandwidthBytesPerS * memoryEfficiency);
  const t = computeS > memoryS ? computeS : memoryS;
  if (flops * bandwidthBytesPerS >= bytes * peakOpsPerS) return t;
  return (t * flops * bandwidthBytesPerS) / (bytes * peakOpsPerS);
}

/**
 * Sum of {@linkcode timeDasiS} over decode steps at contexts c = from .. from +
 * count - 1 with FLOPs = f0 + f1 c and Bytes = y0 + y1 c, in closed form.
 *
 * The compute/memory regime and the DASI = 1 boundary each change at most once
 * (both are signs of affine functions of c), so the range splits into at most
 * three runs. Per run the summand is affine (FLOPs / (F eta_m), or the compute
 * or memory time) or, compute-bound with DASI < 1, FLOPs^2 B / (F^2 eta_c
 * Bytes) = (B / (F^2 eta_c)) (alpha^2 u + 2 alpha beta + beta^2 / u) with u =
 * Bytes, alpha = f1 / y1, beta = f0 - alpha y0, whose 1/u part uses
 * sumReciprocalAffine.
 */
export function sumTimeDasiS(
  f0: number,
  f1: number,
  y0: number,
  y1: number,
  peakOpsPerS: number,
  bandwidthBytesPerS: number,
  computeEfficiency: number,
  memoryEfficiency: number,
  from: number,
  count: number,
): number {
  if (count <= 0) return 0;
  const F = peakOpsPerS;
  const B = bandwidthBytesPerS;
  const Fc = F * computeEfficiency;
  const Bm = B * memoryEfficiency;
  const end = from + count;
  // Boundaries: compute time = memory time, and FLOPs B = Bytes F.
  const cuts: number[] = [];
  for (const [d0, d1] of [[f0 / Fc - y0 / Bm, f1 / Fc - y1 / Bm], [f0 / F - y0 / B, f1 / F - y1 / B]]) {
    if (d1 === 0) continue;
    const c = Math.ceil(-d0 / d1);
    if (c > from && c < end) cuts.push(c);
  }
  if (cuts.length === 2 && cuts[0] > cuts[1]) cuts.reverse();
  cuts.push(end);
  let sum = 0;
  let a = from;
  for (const b of cuts) {
    const m = b - a;
    if (m <= 0) continue;
    // Signs are constant over the run; read them at its middle.
    const c = a + (m - 1) / 2;
    const flops = f0 + f1 * c;
    const bytes = y0 + y1 * c;
    const computeBound = flops / Fc >= bytes / Bm;
    const dasiOne = flops * B >= bytes * F;
    if (dasiOne) {
      sum += computeBound ? sumAffine(f0 / Fc, f1 / Fc, a, m) : sumAffine(y0 / Bm, y1 / Bm, a, m);
    } else if (!computeBound) {
      sum += sumAffine(f0 / (F * memoryEfficiency), f1 / (F * memoryEfficiency), a, m);
    } else if (y1 === 0) {
      // (f0 + f1 c)^2 / y0
      const sumC = sumAffine(0, 1, a, m);
      const sumC2 = (m * (a * a) + a * m * (m - 1)) + ((m - 1) * m * (2 * m - 1)) / 6;
      sum += (B / (F * Fc)) * (m * f0 * f0 + 2 * f0 * f1 * sumC + f1 * f1 * sumC2) / y0;
    } else {
      const alpha = f1 / y1;
      const beta = f0 - alpha * y0;
      const t1 = alpha * alpha * sumAffine(y0, y1, a, m);
      const t2 = 2 * alpha * beta * m;
      const t3 = beta * beta * sumReciprocalAffine(y0, y1, a, m);
      const estimate = (m * flops * flops) / bytes;
      if (Math.abs(t1) + Math.abs(t2) + Math.abs(t3) <= MAX_CANCELLATION * estimate) {
        sum += (B / (F * Fc)) * (t1 + t2 + t3);
      } else {
        // Ill-conditioned (FLOPs per cached byte far above the run's intensity): never the case for a
        // transformer decode, where both are a few FLOP/B; sum exactly instead.
        let direct = 0;
        for (let j = a; j < b; j++) {
          const fj = f0 + f1 * j;
          direct += (fj * fj) / (y0 + y1 * j);
        }
        sum += (B / (F * Fc)) * direct;
      }
    }
    a = b;
  }
  return sum;
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
