/**
 * Power of a compute unit: idle, temperature-dependent leakage, dynamic
 * switching power, DRAM traffic, and the thermal yield Phi (DESIGN.md section 3).
 */

/**
 * Subthreshold leakage power, W:
 * P_leak(T, V) = P_leak(T0) * (V / V_top) * exp(kappa (T - T0)).
 *
 * The exponential in T is DESIGN.md's; the linear factor V / V_top is a
 * refinement (leakage power is V times a leakage current, and the prior is
 * specified at the top OPP voltage), so at the top OPP this is exactly
 * DESIGN.md's P_leak(T0) exp(kappa (T - T0)).
 *
 * Validity: kappa 0.02-0.06 /K (subthreshold slope of CMOS from 25 to 110 °C);
 * V in the unit's OPP range. Source: DESIGN.md section 3; Kaxiras & Martonosi,
 * "Computer Architecture Techniques for Power-Efficiency", ch. 4.
 */
export function leakagePowerW(
  leakageRefW: number,
  kappaPerK: number,
  refTempC: number,
  tempC: number,
  voltageRatio = 1,
): number {
  return leakageRefW * voltageRatio * Math.exp(kappaPerK * (tempC - refTempC));
}

/**
 * Dynamic switching power, W: P_dyn = C_eff * V^2 * f * DASI.
 *
 * Validity: DASI in [0, 1] is the activity factor (0 when idle). Source:
 * DESIGN.md section 3; the CMOS switching-power equation alpha C V^2 f.
 */
export function dynamicPowerW(ceffF: number, voltageV: number, freqHz: number, activity: number): number {
  return ceffF * voltageV * voltageV * freqHz * activity;
}

/**
 * Thermal yield Phi = P_dyn / (P_dyn + P_leak(T)): the share of a unit's
 * non-idle power that does useful switching, in (0, 1] for P_dyn > 0,
 * decreasing in T (leakage grows with T). 0 when P_dyn = 0.
 *
 * Source: DESIGN.md section 3.
 */
export function phi(dynamicW: number, leakageW: number): number {
  if (dynamicW <= 0) return 0;
  return dynamicW / (dynamicW + leakageW);
}

/**
 * Energy of leakage over an interval of `durationS` during which the zone
 * temperature relaxes exponentially from `startC` to `steadyC` with time
 * constant `tauS`, J:
 *
 *   integral_0^D P_leak(T(t)) dt, T(t) = T_ss + (T_0 - T_ss) e^{-t/tau}
 *   = P_leak(T_ss) [D + tau * sum_{k>=1} (kappa Delta)^k (1 - x^k) / (k k!)],
 *
 * with Delta = T_0 - T_ss and x = e^{-D/tau} (expand exp(kappa Delta e^{-t/tau})
 * in a power series and integrate term by term; exact, converges for any
 * Delta; the loop stops when a term falls below 1e-12 of the sum).
 *
 * Validity: constant power (so constant T_ss) over the interval.
 */
export function leakageEnergyJ(
  leakageAtSteadyW: number,
  kappaPerK: number,
  startC: number,
  steadyC: number,
  tauS: number,
  durationS: number,
): number {
  if (durationS <= 0) return 0;
  const z = kappaPerK * (startC - steadyC);
  // No transient (or an instantaneous one): the zone sits at T_ss throughout.
  if (z === 0 || tauS <= 0) return leakageAtSteadyW * durationS;
  const x = Math.exp(-durationS / tauS);
  let series = 0;
  let zk = 1;
  let factorial = 1;
  let xk = 1;
  for (let k = 1; k < 200; k++) {
    zk *= z;
    factorial *= k;
    xk *= x;
    const term = (zk * (1 - xk)) / (k * factorial);
    series += term;
    if (Math.abs(term) <= 1e-12 * (Math.abs(series) + durationS / tauS)) break;
  }
  return leakageAtSteadyW * (durationS + tauS * series);
}

/**
 * Energy of a constant power over a duration, J: E = P t. Non-negative and
 * monotone in both arguments for P, t >= 0.
 */
export function energyJ(powerW: number, durationS: number): number {
  return powerW * durationS;
}
