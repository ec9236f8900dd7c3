/**
 * Online calibration of the board model from measurements (DESIGN.md section
 * 3), pure: the service passes what it measured, calibrate() returns an updated
 * copy of the model and the prediction error it saw before each update
 * (prequential, so the error is honest: never measured on data already fitted).
 *
 * - Achieved efficiencies eta_c, eta_m per unit: EWMA of the efficiency that a
 *   timed work item implies (current eta x predicted / measured), in the regime
 *   (compute- or memory-bound) the roofline assigns the item. The EWMA starts
 *   as a running mean with the prior counted as one observation, then keeps a
 *   floor weight `etaAlpha` so it tracks drift.
 * - Power: extended recursive least squares with forgetting on every rail
 *   reading, rail = [base] + sum over its units of idle + leakage(T, V) + C_eff
 *   V^2 f activity + e_byte bytes/s. Parameters are multipliers of the priors
 *   with the priors as the starting estimate and covariance, so coefficients a
 *   workload does not excite stay at their priors instead of drifting.
 * - Thermal: per zone, discrete-time ARX least squares (RLS with forgetting) of
 *   T[n+1] = a T[n] + sum_u b_u P_u + c over consecutive telemetry points at a
 *   constant period dt (the exact discretisation of the RC model under constant
 *   power: a = e^{-dt/tau}, b_u = R_u (1 - a), c = (1 - a) T_amb,z), with P_u
 *   the calibrated power model's estimate of each unit's power (mean of the two
 *   end points). Then tau = -dt / ln a, R_u = b_u / (1 - a) and the zone's
 *   ambient offset c / (1 - a) - T_amb.
 */
import type { Precision } from "../core/mod.ts";
import type { BoardModel, CalibrationState, PowerCalibration, UnitModel, ZoneCalibration, ZoneModel } from "./model.ts";
import { voltageForFreq } from "./model.ts";
import { copyRls, createRls, rlsForget, rlsUpdate } from "./rls.ts";
import { leakagePowerW } from "./power.ts";

/** A timed work item on one unit. */
export interface TimingObservation {
  kind: "timing";
  unitId: string;
  precision: Precision;
  flops: number;
  bytes: number;
  /** Frequency the unit ran at, Hz. */
  freqHz: number;
  measuredDurationMs: number;
  /** Share of its bandwidth the unit got on the bus while it ran, (0, 1]. @default 1 */
  busShare?: number;
  /** Allocation inflation (1 + lambda_alloc CPQ) it ran under, >= 1. @default 1 */
  inflation?: number;
}

/** What one unit did during a telemetry interval. */
export interface UnitTelemetry {
  /**
   * Time-averaged dynamic activity over the interval, [0, 1]: the busy
   * fraction times the DASI of the work it ran (the service knows both), or
   * the HAL utilisation when the work is unknown.
   */
  activity: number;
  /** Current frequency, Hz. */
  freqHz: number;
  /** Supply voltage, V. @default the voltage of the OPP serving freqHz */
  voltageV?: number;
  /** DRAM traffic the unit caused, bytes/s. @default 0 */
  bytesPerS?: number;
  /**
   * Fraction of the interval the unit was busy, [0, 1] (the HAL utilisation).
   * A power-gateable unit is powered only that long; one that cannot be gated
   * is always powered. @default 1 when activity > 0, else 0
   */
  busyFraction?: number;
}

/** One power rail reading and what it covers. */
export interface RailReading {
  name: string;
  powerW: number;
  /** Units whose power flows through this rail (e.g. VDD_CPU_GPU_CV: ["cpu", "gpu"]). */
  unitIds: string[];
  /**
   * The rail also carries the board's base power (the board input, e.g.
   * Jetson VDD_IN or an external INA on the barrel jack). Leave rails that
   * carry only unmodelled parts (e.g. VDD_SOC) out.
   */
  includesBase: boolean;
}

/** One telemetry point: power and temperatures at a time. */
export interface TelemetryObservation {
  kind: "telemetry";
  /** Seconds on any monotonic clock; consecutive points form thermal pairs. */
  timeS: number;
  units: Record<string, UnitTelemetry>;
  /** Temperature of each zone, °C (zones missing here are left out of the thermal fit). */
  zoneTempsC: Record<string, number>;
  rails: RailReading[];
  /** Ambient temperature if measured, °C. @default model.ambientC */
  ambientC?: number;
}

/** A measurement the service feeds back. */
export type Observation = TimingObservation | TelemetryObservation;

/** Options of {@linkcode calibrate}. */
export interface CalibrationOptions {
  /** Floor weight of a new observation in the efficiency EWMA. @default 0.2 */
  etaAlpha?: number;
  /**
   * Upper bound of a calibrated efficiency. Above 1 on purpose: the efficiency
   * also absorbs a roof prior that is too low. @default 1.5
   */
  maxEfficiency?: number;
  /** Forgetting factor of the power RLS per telemetry point. @default 0.995 */
  powerForgetting?: number;
  /** Relative standard deviation of a rail reading's noise. @default 0.03 */
  powerNoiseRel?: number;
  /** Absolute standard deviation of a rail reading's noise, W. @default 0.05 */
  powerNoiseW?: number;
  /** Forgetting factor of the thermal ARX per pair. @default 0.998 */
  thermalForgetting?: number;
  /** Standard deviation of a temperature reading (noise and quantisation), °C. @default 0.5 */
  tempNoiseC?: number;
  /** Relative standard deviation of the thermal priors (tau, R). @default 0.5 */
  thermalPriorRelStd?: number;
  /** Standard deviation of the prior of a zone's ambient offset, K. @default 10 */
  ambientPriorStdK?: number;
  /** Largest relative deviation of a pair's interval from the fitted period. @default 0.1 */
  periodTolerance?: number;
}

/** Prequential errors of one calibrate() call (each measured before its update). */
export interface CalibrationError {
  /** Mean absolute percentage error of the predicted work durations, %. */
  durationMapePct?: number;
  /**
   * Weighted absolute percentage error of the predicted rail powers, %: the
   * sum of absolute errors over the sum of readings (a plain MAPE explodes on
   * the near-zero rails of power-gated units).
   */
  powerWapePct?: number;
  /** Mean absolute error of the one-step temperature predictions, °C. */
  tempMaeC?: number;
  timingCount: number;
  railCount: number;
  thermalPairCount: number;
  /** Observations (or parts) that were not used, each with the reason. */
  skipped: string[];
}

/** Result of {@linkcode calibrate}. */
export interface CalibrationResult {
  model: BoardModel;
  error: CalibrationError;
}

const PARAMS_PER_UNIT = 5;
const KAPPA_MIN_PER_K = 0.005;
const KAPPA_MAX_PER_K = 0.15;
/**
 * Upper bound of a power multiplier (a coefficient over its datasheet prior).
 * No unit's idle, leakage, switching or traffic power is fifty times its
 * datasheet figure; a fit that goes there is fed biased inputs, and the bound
 * (a projection onto the physical set, as in adaptive control) keeps it from
 * running away while better data pulls it back.
 */
const MAX_POWER_MULTIPLIER = 50;
const MIN_EFFICIENCY = 0.01;
/** Bounds of a fitted tau and R relative to their priors (a fit outside is a symptom, not physics). */
const THERMAL_BOUND_FACTOR = 5;

/** Inputs of {@linkcode unitPowerW}: what the unit did, and its zone temperature. */
export interface UnitPowerInputs extends UnitTelemetry {
  /** Temperature of the unit's thermal zone, °C. */
  tempC: number;
}

/**
 * Power of one unit, W: on * (P_idle + P_leak(T, V)) + C_eff V^2 f activity
 * + e_byte bytes/s (DESIGN.md section 3, the energy equation's integrand).
 */
export function unitPowerW(unit: UnitModel, inputs: UnitPowerInputs): number {
  const top = unit.opps[unit.opps.length - 1];
  const v = inputs.voltageV ?? voltageForFreq(unit, inputs.freqHz);
  const on = onShare(unit, inputs);
  const base = on > 0
    ? on * (unit.idlePowerW +
      leakagePowerW(unit.leakagePowerW, unit.leakageKappaPerK, unit.leakageRefTempC, inputs.tempC, v / top.voltageV))
    : 0;
  return base + unit.ceffF * v * v * inputs.freqHz * inputs.activity + unit.energyPerByteJ * (inputs.bytesPerS ?? 0);
}

/** Share of an interval a unit is powered: 1 unless it can be power-gated, then its busy fraction. */
function onShare(unit: UnitModel, t: { activity: number; busyFraction?: number }): number {
  if (!unit.powerGateable) return 1;
  return t.busyFraction ?? (t.activity > 0 ? 1 : 0);
}

function copyState(c: CalibrationState): CalibrationState {
  const eta: CalibrationState["eta"] = {};
  for (const [id, e] of Object.entries(c.eta)) eta[id] = { ...e };
  const zones: Record<string, ZoneCalibration> = {};
  for (const [id, z] of Object.entries(c.zones)) zones[id] = { ...copyRls(z), unitIds: z.unitIds.slice() };
  return {
    eta,
    power: { ...copyRls(c.power), unitIds: c.power.unitIds.slice(), reference: c.power.reference.slice() },
    zones,
    ...(c.thermalPeriodS !== undefined ? { thermalPeriodS: c.thermalPeriodS } : {}),
    ...(c.lastThermal !== undefined ? { lastThermal: c.lastThermal } : {}),
  };
}

function finite(...values: number[]): boolean {
  for (const v of values) if (!Number.isFinite(v)) return false;
  return true;
}

/** Units' power coefficients from the RLS multipliers. */
function applyPower(units: Record<string, UnitModel>, power: PowerCalibration): number {
  const th = power.theta;
  const ref = power.reference;
  for (let i = 0; i < power.unitIds.length; i++) {
    const o = 1 + PARAMS_PER_UNIT * i;
    const u = units[power.unitIds[i]];
    units[power.unitIds[i]] = {
      ...u,
      idlePowerW: ref[o] * th[o],
      leakagePowerW: ref[o + 1] * th[o + 1],
      leakageKappaPerK: ref[o + 2] * th[o + 2],
      ceffF: ref[o + 3] * th[o + 3],
      energyPerByteJ: ref[o + 4] * th[o + 4],
    };
  }
  return ref[0] * th[0];
}

/** Clamps the multipliers to physical ranges (at most MAX_POWER_MULTIPLIER times the priors). */
function clampPower(power: PowerCalibration): void {
  const th = power.theta;
  const ref = power.reference;
  const bound = (j: number, lo: number, hi: number) => {
    if (th[j] < lo) th[j] = lo;
    else if (th[j] > hi) th[j] = hi;
  };
  bound(0, 0, MAX_POWER_MULTIPLIER);
  for (let i = 0; i < power.unitIds.length; i++) {
    const o = 1 + PARAMS_PER_UNIT * i;
    bound(o, 0, MAX_POWER_MULTIPLIER);
    bound(o + 1, 0, MAX_POWER_MULTIPLIER);
    bound(o + 2, KAPPA_MIN_PER_K / ref[o + 2], KAPPA_MAX_PER_K / ref[o + 2]);
    bound(o + 3, 0.05, MAX_POWER_MULTIPLIER);
    bound(o + 4, 0, MAX_POWER_MULTIPLIER);
  }
}

interface UnitInputs {
  /** Share of the interval the unit is powered. */
  on: number;
  voltageRatio: number;
  tempC: number;
  refTempC: number;
  dynamicBase: number;
  bytesPerS: number;
}

function unitInputs(unit: UnitModel, t: UnitTelemetry | undefined, tempC: number): UnitInputs {
  const top = unit.opps[unit.opps.length - 1];
  const freqHz = t?.freqHz ?? unit.opps[0].freqHz;
  const v = t?.voltageV ?? voltageForFreq(unit, freqHz);
  const activity = t?.activity ?? 0;
  return {
    on: onShare(unit, { activity, ...(t?.busyFraction !== undefined ? { busyFraction: t.busyFraction } : {}) }),
    voltageRatio: v / top.voltageV,
    tempC,
    refTempC: unit.leakageRefTempC,
    dynamicBase: v * v * freqHz * activity,
    bytesPerS: t?.bytesPerS ?? 0,
  };
}

/** Predicted rail power and its Jacobian in the multipliers. */
function railModel(
  power: PowerCalibration,
  slots: readonly number[],
  inputs: readonly UnitInputs[],
  includesBase: boolean,
  jacobian: number[],
): number {
  jacobian.fill(0);
  const th = power.theta;
  const ref = power.reference;
  let y = 0;
  if (includesBase) {
    y += ref[0] * th[0];
    jacobian[0] = ref[0];
  }
  for (const i of slots) {
    const o = 1 + PARAMS_PER_UNIT * i;
    const x = inputs[i];
    const kappa = ref[o + 2] * th[o + 2];
    const e = x.voltageRatio * Math.exp(kappa * (x.tempC - x.refTempC));
    y += x.on * (ref[o] * th[o] + ref[o + 1] * th[o + 1] * e) + ref[o + 3] * th[o + 3] * x.dynamicBase +
      ref[o + 4] * th[o + 4] * x.bytesPerS;
    jacobian[o] = x.on * ref[o];
    jacobian[o + 1] = x.on * ref[o + 1] * e;
    jacobian[o + 2] = x.on * ref[o + 1] * th[o + 1] * e * ref[o + 2] * (x.tempC - x.refTempC);
    jacobian[o + 3] = ref[o + 3] * x.dynamicBase;
    jacobian[o + 4] = ref[o + 4] * x.bytesPerS;
  }
  return y;
}

function initZone(
  zone: ZoneModel,
  unitIds: readonly string[],
  periodS: number,
  ambientC: number,
  relStd: number,
  ambStdK: number,
): ZoneCalibration {
  const a = Math.exp(-periodS / zone.tauS);
  const b = unitIds.map((id) => (zone.rthKPerW[id] ?? 0) * (1 - a));
  const bMax = Math.max(...b, 1e-9);
  const theta = [a, ...b, (1 - a) * (ambientC + zone.ambientOffsetK)];
  const variance = [
    (relStd * (1 - a)) ** 2,
    // A unit the priors say does not heat this zone may still do so a little.
    ...b.map((bu) => (relStd * Math.max(bu, 0.5 * bMax)) ** 2),
    ((1 - a) * ambStdK) ** 2,
  ];
  return {
    ...createRls(theta, variance),
    unitIds: [...unitIds],
    priorTauS: zone.tauS,
    priorRthKPerW: { ...zone.rthKPerW },
  };
}

/** Resolved options and the running state of one calibrate() call. */
interface Run {
  unitIds: readonly string[];
  units: Record<string, UnitModel>;
  zones: ZoneModel[];
  cal: CalibrationState;
  basePowerW: number;
  ambientC: number;
  options: Required<CalibrationOptions>;
  skipped: string[];
  durationApe: number;
  timingCount: number;
  powerAbsErrW: number;
  powerSumW: number;
  railCount: number;
  tempAe: number;
  pairCount: number;
}

const DEFAULT_OPTIONS: Required<CalibrationOptions> = {
  etaAlpha: 0.2,
  maxEfficiency: 1.5,
  powerForgetting: 0.995,
  powerNoiseRel: 0.03,
  powerNoiseW: 0.05,
  thermalForgetting: 0.998,
  tempNoiseC: 0.5,
  thermalPriorRelStd: 0.5,
  ambientPriorStdK: 10,
  periodTolerance: 0.1,
};

/** EWMA of the efficiency a timed item implies, in the regime the roofline assigns it. */
function observeTiming(run: Run, obs: TimingObservation, what: string): void {
  const unit = run.units[obs.unitId];
  if (unit === undefined) {
    run.skipped.push(`${what}: unknown unit`);
    return;
  }
  const peakMax = unit.peakOpsPerS[obs.precision];
  if (peakMax === undefined) {
    run.skipped.push(`${what}: the unit has no ${obs.precision} peak`);
    return;
  }
  const share = obs.busShare ?? 1;
  const infl = obs.inflation ?? 1;
  if (
    !finite(obs.flops, obs.bytes, obs.freqHz, obs.measuredDurationMs, share, infl) || obs.flops < 0 ||
    obs.bytes < 0 || obs.flops + obs.bytes <= 0 || obs.freqHz <= 0 || obs.measuredDurationMs <= 0 ||
    share <= 0 || share > 1 || infl < 1
  ) {
    run.skipped.push(
      `${what}: needs flops, bytes >= 0 (not both 0), freqHz > 0, duration > 0, busShare in (0, 1], inflation >= 1`,
    );
    return;
  }
  const peak = peakMax * obs.freqHz / unit.opps[unit.opps.length - 1].freqHz;
  const bw = unit.bandwidthBytesPerS * share;
  const computeS = obs.flops / (peak * unit.computeEfficiency);
  const memoryS = obs.bytes / (bw * unit.memoryEfficiency);
  const predictedS = Math.max(computeS, memoryS) * infl;
  const measuredS = obs.measuredDurationMs / 1000;
  run.durationApe += Math.abs(predictedS - measuredS) / measuredS;
  run.timingCount++;
  const e = run.cal.eta[obs.unitId] ?? { computeSamples: 0, memorySamples: 0 };
  run.cal.eta[obs.unitId] = e;
  const { etaAlpha, maxEfficiency } = run.options;
  const bound = (x: number) => Math.min(maxEfficiency, Math.max(MIN_EFFICIENCY, x));
  // Implied efficiency = current x predicted / measured, i.e. the roof time over the measured time.
  if (computeS >= memoryS) {
    const w = Math.max(etaAlpha, 1 / (e.computeSamples + 2));
    const implied = (obs.flops * infl) / (peak * measuredS);
    run.units[obs.unitId] = { ...unit, computeEfficiency: bound((1 - w) * unit.computeEfficiency + w * implied) };
    e.computeSamples++;
  } else {
    const w = Math.max(etaAlpha, 1 / (e.memorySamples + 2));
    const implied = (obs.bytes * infl) / (bw * measuredS);
    run.units[obs.unitId] = { ...unit, memoryEfficiency: bound((1 - w) * unit.memoryEfficiency + w * implied) };
    e.memorySamples++;
  }
}

/** Power RLS on every rail of a telemetry point; returns the units' inputs, or undefined when unusable. */
function observePower(run: Run, obs: TelemetryObservation, what: string): UnitInputs[] | undefined {
  const U = run.unitIds.length;
  const inputs: UnitInputs[] = new Array(U);
  for (let i = 0; i < U; i++) {
    const unit = run.units[run.unitIds[i]];
    const t = obs.units[unit.id];
    const tempC = obs.zoneTempsC[unit.thermalZone];
    const busy = t?.busyFraction ?? 0;
    if (
      tempC === undefined || !Number.isFinite(tempC) ||
      (t !== undefined &&
        (!finite(t.activity, t.freqHz, busy) || t.activity < 0 || t.activity > 1 || t.freqHz <= 0 || busy < 0 ||
          busy > 1))
    ) {
      run.skipped.push(`${what}: needs every unit's zone temperature, activity and busyFraction in [0, 1], freqHz > 0`);
      return undefined;
    }
    inputs[i] = unitInputs(unit, t, tempC);
  }
  const { powerForgetting, powerNoiseRel, powerNoiseW } = run.options;
  const power = run.cal.power;
  const jacobian = new Array<number>(power.theta.length);
  rlsForget(power, powerForgetting);
  for (const rail of obs.rails) {
    const slots: number[] = [];
    let bad = !Number.isFinite(rail.powerW) || rail.powerW < 0;
    for (const id of rail.unitIds) {
      const slot = run.unitIds.indexOf(id);
      if (slot < 0) bad = true;
      else slots.push(slot);
    }
    if (bad) {
      run.skipped.push(`${what}: rail "${rail.name}" has a non-finite or negative power or an unknown unit`);
      continue;
    }
    const yHat = railModel(power, slots, inputs, rail.includesBase, jacobian);
    run.powerAbsErrW += Math.abs(yHat - rail.powerW);
    run.powerSumW += rail.powerW;
    run.railCount++;
    const sigma = powerNoiseRel * rail.powerW + powerNoiseW;
    rlsUpdate(power, jacobian, rail.powerW, yHat, sigma * sigma);
    clampPower(power);
  }
  run.basePowerW = applyPower(run.units, power);
  return inputs;
}

/** Thermal ARX update of every zone from the previous telemetry point to this one. */
function observeThermal(run: Run, obs: TelemetryObservation, inputs: readonly UnitInputs[], what: string): void {
  const U = run.unitIds.length;
  const { periodTolerance, thermalForgetting, tempNoiseC, thermalPriorRelStd, ambientPriorStdK } = run.options;
  // Unit powers of this point with the power model just updated.
  const unitPowerNow: Record<string, number> = {};
  for (let i = 0; i < U; i++) {
    const unit = run.units[run.unitIds[i]];
    const t = obs.units[unit.id];
    unitPowerNow[unit.id] = unitPowerW(unit, {
      activity: t?.activity ?? 0,
      freqHz: t?.freqHz ?? unit.opps[0].freqHz,
      ...(t?.voltageV !== undefined ? { voltageV: t.voltageV } : {}),
      ...(t?.bytesPerS !== undefined ? { bytesPerS: t.bytesPerS } : {}),
      ...(t?.busyFraction !== undefined ? { busyFraction: t.busyFraction } : {}),
      tempC: inputs[i].tempC,
    });
  }
  const ambientC = obs.ambientC ?? run.ambientC;
  const last = run.cal.lastThermal;
  run.cal.lastThermal = { timeS: obs.timeS, tempsC: { ...obs.zoneTempsC }, unitPowerW: unitPowerNow, ambientC };
  if (last === undefined) return;
  const dt = obs.timeS - last.timeS;
  if (!(dt > 0)) {
    run.skipped.push(`${what}: not after the previous point (${last.timeS} s); thermal pair dropped`);
    return;
  }
  if (run.cal.thermalPeriodS === undefined) run.cal.thermalPeriodS = dt;
  const period = run.cal.thermalPeriodS;
  if (Math.abs(dt - period) > periodTolerance * period) {
    run.skipped.push(`${what}: interval ${dt} s differs from the fitted period ${period} s; thermal pair dropped`);
    return;
  }
  // Regressors [T[n], mean power of each unit over the interval, 1].
  const phi = new Array<number>(U + 2);
  for (let i = 0; i < U; i++) {
    const id = run.unitIds[i];
    phi[1 + i] = 0.5 * (last.unitPowerW[id] + unitPowerNow[id]);
  }
  phi[U + 1] = 1;
  for (let z = 0; z < run.zones.length; z++) {
    const zone = run.zones[z];
    const t0 = last.tempsC[zone.id];
    const t1 = obs.zoneTempsC[zone.id];
    if (t0 === undefined || t1 === undefined || !Number.isFinite(t0) || !Number.isFinite(t1)) continue;
    let zc = run.cal.zones[zone.id];
    if (zc === undefined) {
      zc = initZone(zone, run.unitIds, period, ambientC, thermalPriorRelStd, ambientPriorStdK);
      run.cal.zones[zone.id] = zc;
    }
    phi[0] = t0;
    let yHat = 0;
    for (let j = 0; j < phi.length; j++) yHat += zc.theta[j] * phi[j];
    run.tempAe += Math.abs(yHat - t1);
    run.pairCount++;
    rlsForget(zc, thermalForgetting);
    rlsUpdate(zc, phi, t1, yHat, tempNoiseC * tempNoiseC);
    const a = zc.theta[0];
    if (!(a > 0 && a < 1)) continue;
    // A fit far outside the priors is a symptom (too little excitation), not physics: bound it.
    const tauS = -period / Math.log(a);
    const tauMax = zc.priorTauS * THERMAL_BOUND_FACTOR;
    const rMax = THERMAL_BOUND_FACTOR * Math.max(0.5, ...Object.values(zc.priorRthKPerW));
    const rth: Record<string, number> = {};
    for (let i = 0; i < U; i++) rth[run.unitIds[i]] = Math.min(rMax, Math.max(0, zc.theta[1 + i] / (1 - a)));
    const offset = zc.theta[U + 1] / (1 - a) - ambientC;
    run.zones[z] = {
      ...zone,
      tauS: Math.min(tauMax, Math.max(zc.priorTauS / THERMAL_BOUND_FACTOR, tauS)),
      rthKPerW: rth,
      ambientOffsetK: Math.min(3 * ambientPriorStdK, Math.max(-3 * ambientPriorStdK, offset)),
    };
  }
}

/**
 * Updates a model from measurements. Pure: the input model is not modified.
 * Observations are processed in order; an observation that cannot be used is
 * listed in `error.skipped` with the reason. Predictions of timing items are
 * recomputed from the model as it stands when the item is processed, so a
 * caller's stale prediction never counts twice.
 */
export function calibrate(
  model: BoardModel,
  observations: readonly Observation[],
  options: CalibrationOptions = {},
): CalibrationResult {
  const run: Run = {
    unitIds: model.unitIds,
    units: { ...model.units },
    zones: model.zones.map((z) => ({ ...z, rthKPerW: { ...z.rthKPerW } })),
    cal: copyState(model.calibration),
    basePowerW: model.basePowerW,
    ambientC: model.ambientC,
    options: { ...DEFAULT_OPTIONS, ...options },
    skipped: [],
    durationApe: 0,
    timingCount: 0,
    powerAbsErrW: 0,
    powerSumW: 0,
    railCount: 0,
    tempAe: 0,
    pairCount: 0,
  };
  for (let index = 0; index < observations.length; index++) {
    const obs = observations[index];
    if (obs.kind === "timing") {
      observeTiming(run, obs, `observation ${index} (timing on "${obs.unitId}")`);
      continue;
    }
    const what = `observation ${index} (telemetry at ${obs.timeS} s)`;
    if (!Number.isFinite(obs.timeS)) {
      run.skipped.push(`${what}: timeS must be finite`);
      continue;
    }
    const inputs = observePower(run, obs, what);
    if (inputs !== undefined) observeThermal(run, obs, inputs, what);
  }
  return {
    model: { ...model, units: run.units, zones: run.zones, basePowerW: run.basePowerW, calibration: run.cal },
    error: {
      ...(run.timingCount > 0 ? { durationMapePct: (100 * run.durationApe) / run.timingCount } : {}),
      ...(run.railCount > 0 && run.powerSumW > 0 ? { powerWapePct: (100 * run.powerAbsErrW) / run.powerSumW } : {}),
      ...(run.pairCount > 0 ? { tempMaeC: run.tempAe / run.pairCount } : {}),
      timingCount: run.timingCount,
      railCount: run.railCount,
      thermalPairCount: run.pairCount,
      skipped: run.skipped,
    },
  };
}

/** A job's predicted and measured outcome. */
export interface JobOutcome {
  predicted: { energyJ: number; latencyMs: number; peakTempC?: Record<string, number> };
  measured: { energyJ?: number; latencyMs?: number; peakTempC?: Record<string, number> };
}

/** Aggregate prediction error over jobs. */
export interface PredictionErrorReport {
  /** Mean absolute percentage error of energy, % (absent without energy measurements). */
  energyMapePct?: number;
  /** Mean absolute percentage error of latency, %. */
  latencyMapePct?: number;
  /** Mean absolute error of the peak zone temperatures, °C, over every zone measured. */
  tempMaeC?: number;
  energyCount: number;
  latencyCount: number;
  tempCount: number;
}

/**
 * MAPE of energy and latency and mean absolute temperature error of predicted
 * against measured job outcomes (DESIGN.md section 3: the status API reports
 * these). Measurements that are absent, non-finite or not positive are left out.
 */
export function predictionError(outcomes: readonly JobOutcome[]): PredictionErrorReport {
  let e = 0;
  let ne = 0;
  let l = 0;
  let nl = 0;
  let t = 0;
  let nt = 0;
  for (const o of outcomes) {
    const me = o.measured.energyJ;
    if (me !== undefined && Number.isFinite(me) && me > 0 && Number.isFinite(o.predicted.energyJ)) {
      e += Math.abs(o.predicted.energyJ - me) / me;
      ne++;
    }
    const ml = o.measured.latencyMs;
    if (ml !== undefined && Number.isFinite(ml) && ml > 0 && Number.isFinite(o.predicted.latencyMs)) {
      l += Math.abs(o.predicted.latencyMs - ml) / ml;
      nl++;
    }
    const mt = o.measured.peakTempC;
    const pt = o.predicted.peakTempC;
    if (mt !== undefined && pt !== undefined) {
      for (const [zone, m] of Object.entries(mt)) {
        const p = pt[zone];
        if (p === undefined || !Number.isFinite(m) || !Number.isFinite(p)) continue;
        t += Math.abs(p - m);
        nt++;
      }
    }
  }
  return {
    ...(ne > 0 ? { energyMapePct: (100 * e) / ne } : {}),
    ...(nl > 0 ? { latencyMapePct: (100 * l) / nl } : {}),
    ...(nt > 0 ? { tempMaeC: t / nt } : {}),
    energyCount: ne,
    latencyCount: nl,
    tempCount: nt,
  };
}
