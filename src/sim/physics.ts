/**
 * The simulator's physics, as pure functions of the hidden truth: voltage at a
 * frequency, leakage and dynamic power, the roofline duration of a work item,
 * DRAM bus sharing and the first-order RC step of a thermal zone. Same forms as
 * DESIGN.md section 3, so a planner that calibrates the right coefficients can
 * match the simulator; the coefficients themselves are the truth's.
 */
import type { OperatingPoint, UnitPriors } from "../core/mod.ts";

/**
 * Supply voltage at `freqHz`, V: linear between the two surrounding operating
 * points, the end voltages outside the table.
 */
export function voltageAtV(opps: readonly OperatingPoint[], freqHz: number): number {
  if (opps.length === 0) throw new RangeError("voltageAtV() needs at least one operating point");
  if (freqHz <= opps[0].freqHz) return opps[0].voltageV;
  for (let i = 1; i < opps.length; i++) {
    const hi = opps[i];
    if (freqHz <= hi.freqHz) {
      const lo = opps[i - 1];
      const span = hi.freqHz - lo.freqHz;
      return span <= 0 ? hi.voltageV : lo.voltageV + (hi.voltageV - lo.voltageV) * (freqHz - lo.freqHz) / span;
    }
  }
  return opps[opps.length - 1].voltageV;
}

/** Top operating point of a unit. */
export function topOpp(unit: UnitPriors): OperatingPoint {
  return unit.opps[unit.opps.length - 1];
}

/**
 * Subthreshold leakage, W: P_leak(T0) exp(kappa (T - T0)), scaled linearly with
 * the supply voltage relative to the top OPP (the prior is quoted there; leakage
 * current times a lower supply dissipates less).
 */
export function leakagePowerW(unit: UnitPriors, tempC: number, voltageV: number): number {
  return unit.leakagePowerW * (voltageV / topOpp(unit).voltageV) *
    Math.exp(unit.leakageKappaPerK * (tempC - unit.leakageRefTempC));
}

/** Dynamic switching power, W: C_eff V^2 f times the activity (DASI) of the work. */
export function dynamicPowerW(unit: UnitPriors, freqHz: number, voltageV: number, activity: number): number {
  return unit.ceffF * voltageV * voltageV * freqHz * activity;
}

/** Inputs of one roofline evaluation. */
export interface RooflineInput {
  flops: number;
  bytes: number;
  /** Peak rate of the precision at the top OPP, ops/s. */
  peakOpsPerS: number;
  /** Clock relative to the top OPP, (0, 1]. */
  freqRatio: number;
  computeEfficiency: number;
  /** Bandwidth the unit gets now (its own ceiling times its bus share), bytes/s. */
  bandwidthBytesPerS: number;
  memoryEfficiency: number;
}

/** Result of a roofline evaluation. */
export interface RooflineResult {
  /** max(compute, memory), ms. */
  durationMs: number;
  computeMs: number;
  memoryMs: number;
  /**
   * Share of the compute roof the work can use, DASI = min(1, I B / F(f)) with
   * arithmetic intensity I = flops / bytes (DESIGN.md 3); 0 for work without
   * FLOPs, 1 for work without bytes.
   */
  dasi: number;
}

/**
 * Duration of a work item from the roofline: max(flops / (F(f) eta_c), bytes /
 * (B eta_m)).
 */
export function roofline(input: RooflineInput): RooflineResult {
  const peakNow = input.peakOpsPerS * input.freqRatio;
  const computeMs = input.flops > 0 ? input.flops / (peakNow * input.computeEfficiency) * 1000 : 0;
  const memoryMs = input.bytes > 0 ? input.bytes / (input.bandwidthBytesPerS * input.memoryEfficiency) * 1000 : 0;
  let dasi: number;
  if (input.flops <= 0) dasi = 0;
  else if (input.bytes <= 0) dasi = 1;
  else dasi = Math.min(1, (input.flops / input.bytes) * input.bandwidthBytesPerS / peakNow);
  return { durationMs: Math.max(computeMs, memoryMs), computeMs, memoryMs, dasi };
}

/**
 * Fraction of its own bandwidth every concurrently busy unit gets from a shared
 * DRAM bus: min(1, B_bus / total demand) (DESIGN.md 3).
 */
export function busShare(demandsBytesPerS: readonly number[], busBytesPerS: number): number {
  let total = 0;
  for (const d of demandsBytesPerS) total += d;
  return total > busBytesPerS ? busBytesPerS / total : 1;
}

/**
 * One exact step of a first-order RC zone under constant power: T relaxes
 * toward the steady state T_ss with time constant tau.
 */
export function rcStepC(tempC: number, steadyC: number, durationMs: number, tauS: number): number {
  return steadyC + (tempC - steadyC) * Math.exp(-durationMs / (tauS * 1000));
}
