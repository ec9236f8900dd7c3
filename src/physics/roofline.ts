/**
 * Roofline time, DASI, CPQ memory pressure and shared-bus contention
 * (DESIGN.md section 3).
 *
 * Refinement of DESIGN.md's single achieved efficiency eta: a unit has one
 * achieved fraction of its compute roof (eta_c, reached in compute-bound
 * prefill) and one of its memory roof (eta_m, reached in bandwidth-bound
 * decode), because runtimes reach very different fractions of the two (e.g.
 * llama.cpp on A76: ~95% of STREAM bandwidth in decode, ~20% of the FMA peak in
 * prefill). So
 *
 *   t = max(FLOPs / (F(f) eta_c), Bytes / (B_eff eta_m)) * (1 + lambda_alloc CPQ),
 *
 * which is DESIGN.md's max(FLOPs / F, Bytes / B) / eta when eta_c = eta_m.
 * DASI stays exactly DESIGN.md's roofline share min(1, I B_eff / F(f)) (no
 * efficiencies), and dynamic power is C_eff V^2 f DASI while the unit is busy,
 * the same forms as the simulator's truth.
 */

/**
 * Peak rate at a frequency: F(f) = F_max * f / f_max, ops/s.
 *
 * Validity: f in (0, f_max]; assumes a fixed number of ops per cycle (true for
 * SIMD/tensor units with a fixed issue width). Source: DESIGN.md section 3.
 */
export function peakAtFreq(peakMaxOpsPerS: number, freqHz: number, maxFreqHz: number): number {
  return peakMaxOpsPerS * freqHz / maxFreqHz;
}

/**
 * DASI, the share of the unit's peak that the roofline lets a work item use:
 * min(1, (FLOPs / Bytes) * B_eff / F(f)), in (0, 1] for FLOPs > 0.
 *
 * Validity: rates > 0; work without bytes is fully compute-bound (1), work
 * without FLOPs does no arithmetic (0). Source: DESIGN.md section 3.
 */
export function dasi(flops: number, bytes: number, peakOpsPerS: number, bandwidthBytesPerS: number): number {
  if (flops <= 0) return 0;
  if (bytes <= 0) return 1;
  const ratio = (flops * bandwidthBytesPerS) / (bytes * peakOpsPerS);
  return ratio >= 1 ? 1 : ratio;
}

/**
 * Measured DASI of a completed work item: FLOPs / (t_measured * F(f)), the
 * achieved share of the (underated) peak. Source: DESIGN.md section 3.
 */
export function measuredDasi(flops: number, measuredDurationS: number, peakOpsPerS: number): number {
  return flops / (measuredDurationS * peakOpsPerS);
}

/** Options of {@linkcode rooflineTimeS}. */
export interface RooflineOptions {
  /** Achieved fraction of the compute roof, (0, 1]. @default 1 */
  computeEfficiency?: number;
  /** Achieved fraction of the memory roof, (0, 1]. @default 1 */
  memoryEfficiency?: number;
  /** Allocation inflation (1 + lambda_alloc CPQ), >= 1. @default 1 */
  inflation?: number;
}

/**
 * Execution time of a work item on a unit, s:
 * max(FLOPs / (F(f) eta_c), Bytes / (B_eff eta_m)) * (1 + lambda_alloc CPQ).
 *
 * Validity: one kernel stream per unit; overlapping compute and memory
 * traffic perfectly (the roofline's optimistic assumption, corrected by the
 * calibrated efficiencies). Source: DESIGN.md section 3 (refined with eta_c, eta_m).
 */
export function rooflineTimeS(
  flops: number,
  bytes: number,
  peakOpsPerS: number,
  bandwidthBytesPerS: number,
  options: RooflineOptions = {},
): number {
  const computeS = flops / (peakOpsPerS * (options.computeEfficiency ?? 1));
  const memoryS = bytes / (bandwidthBytesPerS * (options.memoryEfficiency ?? 1));
  return (computeS > memoryS ? computeS : memoryS) * (options.inflation ?? 1);
}

/** Default feasibility limit of the memory-pressure ratio rho (DESIGN.md section 3). */
export const DEFAULT_RHO_MAX = 0.85;

/**
 * Memory pressure ratio rho = M_required / M_available, dimensionless, >= 0.
 * Returns Infinity when nothing is available and something is required.
 */
export function memoryRho(requiredBytes: number, availableBytes: number): number {
  if (requiredBytes <= 0) return 0;
  return availableBytes > 0 ? requiredBytes / availableBytes : Infinity;
}

/**
 * CPQ = rho / (1 - rho): the expected queueing delay factor of an allocator (or
 * a page cache) at occupancy rho (M/M/1 occupancy-to-wait relation), >= 0,
 * strictly increasing in rho, Infinity from rho = 1.
 *
 * Validity: rho in [0, 1); placements with rho > rho_max are infeasible anyway.
 * Source: DESIGN.md section 3.
 */
export function cpq(rho: number): number {
  if (rho < 0 || Number.isNaN(rho)) throw new RangeError(`cpq: rho must be >= 0, got ${rho}`);
  return rho >= 1 ? Infinity : rho / (1 - rho);
}

/**
 * Time inflation from memory pressure: 1 + lambda_alloc * CPQ, >= 1.
 * Source: DESIGN.md section 3.
 */
export function allocationInflation(cpqValue: number, lambdaAlloc: number): number {
  return 1 + lambdaAlloc * cpqValue;
}

/**
 * Share of its own bandwidth a unit gets on the shared DRAM bus:
 * min(1, B_bus / total concurrent demand), in (0, 1]. Each unit's effective
 * bandwidth is B_d times this share.
 *
 * Validity: demand is the bandwidth the concurrently active units would draw
 * uncontended, bytes/s. Source: DESIGN.md section 3.
 */
export function busShare(busBandwidthBytesPerS: number, totalDemandBytesPerS: number): number {
  if (totalDemandBytesPerS <= busBandwidthBytesPerS) return 1;
  return busBandwidthBytesPerS / totalDemandBytesPerS;
}
