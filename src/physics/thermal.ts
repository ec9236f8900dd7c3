/**
 * First-order RC thermal model of the board's zones (DESIGN.md section 3).
 *
 * Each zone z relaxes toward its steady state with its own time constant:
 *
 *   tau_z dT_z/dt = -(T_z - T_amb,z) + sum_d R_z,d P_d
 *
 * The zones are coupled through the power of the units: every unit heats
 * every zone through the cross resistances R_z,d (a GPU warms the CPU sensors
 * on the same die), and, in the predictor, back through leakage, which grows
 * with the temperature of the unit's own zone.
 */

/**
 * Steady-state temperature of a zone, °C: T_ss = T_amb + sum_d R_z,d P_d.
 *
 * Validity: constant powers held long enough (several tau); linear heat
 * conduction. Source: DESIGN.md section 3.
 *
 * @param rthKPerW thermal resistance from each unit to this zone, K/W (absent = 0)
 * @param powersW power of each unit, W
 */
export function steadyStateC(
  ambientC: number,
  rthKPerW: Readonly<Record<string, number>>,
  powersW: Readonly<Record<string, number>>,
): number {
  let t = ambientC;
  for (const [unitId, powerW] of Object.entries(powersW)) t += (rthKPerW[unitId] ?? 0) * powerW;
  return t;
}

/**
 * Temperature after `tS` seconds of constant power, °C:
 * T(t) = T_ss + (T_0 - T_ss) e^{-t/tau}. Always between T_0 and T_ss.
 *
 * Validity: t >= 0, tau > 0 (tau <= 0 means an instantaneous zone: T_ss).
 * Source: solution of the first-order RC equation.
 */
export function transientC(startC: number, steadyC: number, tauS: number, tS: number): number {
  if (tauS <= 0) return tS > 0 ? steadyC : startC;
  return steadyC + (startC - steadyC) * Math.exp(-tS / tauS);
}

/**
 * Mean temperature over the first `durationS` seconds of a transient, °C:
 * T_ss + (T_0 - T_ss) tau (1 - e^{-D/tau}) / D.
 */
export function meanTransientC(startC: number, steadyC: number, tauS: number, durationS: number): number {
  if (durationS <= 0) return startC;
  if (tauS <= 0) return steadyC;
  const x = durationS / tauS;
  // (1 - e^{-x}) / x, by its series where expm1 / x would underflow.
  const share = x < 1e-8 ? 1 - x / 2 : -Math.expm1(-x) / x;
  return steadyC + (startC - steadyC) * share;
}

/**
 * Time for a zone starting at T_0 and relaxing toward T_ss to reach
 * `thresholdC`, s: 0 when T_0 >= threshold already; tau ln((T_ss - T_0) /
 * (T_ss - threshold)) when T_ss > threshold; Infinity when the transient never
 * gets there (the time is unbounded, not a sentinel).
 *
 * Source: inverse of {@linkcode transientC}.
 */
export function timeToReachS(startC: number, steadyC: number, tauS: number, thresholdC: number): number {
  if (startC >= thresholdC) return 0;
  if (steadyC <= thresholdC) return Infinity;
  if (tauS <= 0) return 0;
  return tauS * Math.log((steadyC - startC) / (steadyC - thresholdC));
}

/** One zone of {@linkcode zoneTrajectory}. */
export interface ZoneSpec {
  id: string;
  tauS: number;
  rthKPerW: Readonly<Record<string, number>>;
}

/** A piecewise-constant power phase. */
export interface PowerPhase {
  durationS: number;
  powersW: Readonly<Record<string, number>>;
}

/** Start, end and peak temperature of each zone over a sequence of phases. */
export interface ZoneTrajectory {
  endC: Record<string, number>;
  peakC: Record<string, number>;
}

/**
 * Temperature of every zone through a sequence of constant-power phases, °C.
 * Within a phase each zone moves monotonically toward its steady state, so the
 * peak over the whole sequence is the largest phase boundary temperature.
 *
 * @param startC initial temperature of each zone (absent zones start at ambient)
 */
export function zoneTrajectory(
  zones: readonly ZoneSpec[],
  ambientC: number,
  startC: Readonly<Record<string, number>>,
  phases: readonly PowerPhase[],
): ZoneTrajectory {
  const endC: Record<string, number> = {};
  const peakC: Record<string, number> = {};
  for (const zone of zones) {
    let t = startC[zone.id] ?? ambientC;
    let peak = t;
    for (const phase of phases) {
      t = transientC(t, steadyStateC(ambientC, zone.rthKPerW, phase.powersW), zone.tauS, phase.durationS);
      if (t > peak) peak = t;
    }
    endC[zone.id] = t;
    peakC[zone.id] = peak;
  }
  return { endC, peakC };
}
