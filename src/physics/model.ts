/**
 * The calibratable board model: every coefficient of every unit and thermal
 * zone, initialised from the board profile's datasheet priors. Plain,
 * JSON-serialisable data; calibration returns an updated copy.
 */
import type { BoardPriors, OperatingPoint, Precision, UnitKind, UnitPriors } from "../core/mod.ts";
import { DEFAULT_RHO_MAX } from "./roofline.ts";
import { createRls } from "./rls.ts";

/** Calibrated coefficients of one compute unit (same meanings and units as {@linkcode UnitPriors}). */
export interface UnitModel {
  id: string;
  kind: UnitKind;
  label: string;
  /** Operating points, ascending by frequency. */
  opps: readonly OperatingPoint[];
  /** Peak rate at the top OPP per precision, ops/s. */
  peakOpsPerS: Readonly<Partial<Record<Precision, number>>>;
  /** Bandwidth ceiling of the unit alone, bytes/s. */
  bandwidthBytesPerS: number;
  /** Achieved fraction of the compute roof (calibrated; may exceed 1 when the prior roof is low). */
  computeEfficiency: number;
  /** Achieved fraction of the memory roof (calibrated; may exceed 1 when the prior roof is low). */
  memoryEfficiency: number;
  idlePowerW: number;
  leakagePowerW: number;
  leakageRefTempC: number;
  leakageKappaPerK: number;
  ceffF: number;
  energyPerByteJ: number;
  powerGateable: boolean;
  thermalZone: string;
  memoryBytes?: number;
}

/** Calibrated first-order RC coefficients of one thermal zone. */
export interface ZoneModel {
  id: string;
  /** Time constant tau, s. */
  tauS: number;
  /** Steady-state rise per watt of each unit, K/W. */
  rthKPerW: Readonly<Record<string, number>>;
  passiveTripC?: number;
  criticalTripC?: number;
  /**
   * Zone temperature at rest minus the board ambient, K: heat from what is not
   * a modelled unit (regulators, DRAM). 0 in the priors; fitted by calibration.
   */
  ambientOffsetK: number;
}

/** Running state of the EWMA of a unit's efficiencies. */
export interface EtaCalibration {
  computeSamples: number;
  memorySamples: number;
}

/** Recursive least squares state: estimate, covariance (row-major n x n), prior variances. */
export interface RlsState {
  theta: number[];
  covariance: number[];
  /** Prior variance of each parameter: the covariance diagonal never grows past it (anti-windup). */
  priorVariance: number[];
  samples: number;
}

/**
 * Power RLS: parameters are multipliers of fixed reference values (the
 * priors), so every regressor is in watts and the problem is well scaled.
 * Index 0 is the board's base power; unit i (in `unitIds` order) owns indices
 * 1 + 5i .. 5 + 5i: idle, leakage at T0, kappa, C_eff, energy per byte.
 */
export interface PowerCalibration extends RlsState {
  unitIds: string[];
  reference: number[];
}

/** ARX state of one zone: theta = [a, b_1 .. b_U, c] for T[n+1] = a T[n] + sum b_u P_u + c. */
export interface ZoneCalibration extends RlsState {
  unitIds: string[];
  /** tau when the fit started, s: fitted values are bounded to a factor of 5 around it. */
  priorTauS: number;
  /** R when the fit started, K/W. */
  priorRthKPerW: Record<string, number>;
}

/** Last telemetry point, kept so the next call can form a (T[n], T[n+1]) pair. */
export interface ThermalPoint {
  timeS: number;
  tempsC: Record<string, number>;
  unitPowerW: Record<string, number>;
  ambientC: number;
}

/** Calibration state carried inside the model between calls. */
export interface CalibrationState {
  eta: Record<string, EtaCalibration>;
  power: PowerCalibration;
  /** Sampling period the thermal ARX is fitted at, s (fixed by the first pair). */
  thermalPeriodS?: number;
  zones: Record<string, ZoneCalibration>;
  lastThermal?: ThermalPoint;
}

/** A board's calibratable model. Immutable by convention: never mutate, calibrate() returns a copy. */
export interface BoardModel {
  /** Unit ids in profile order. */
  unitIds: readonly string[];
  units: Readonly<Record<string, UnitModel>>;
  zones: readonly ZoneModel[];
  /** Ambient temperature, °C (prior until calibrated). */
  ambientC: number;
  /** Power of everything that is not a modelled unit, W. */
  basePowerW: number;
  busBandwidthBytesPerS: number;
  memoryTotalBytes: number;
  defaultUnit: string;
  /** Planning margin below a passive trip, K. */
  thermalMarginC: number;
  /** Memory pressure limit of a feasible placement. */
  rhoMax: number;
  /** Time inflation per unit of CPQ (lambda_alloc). */
  allocLambda: number;
  /** Fixed cost of handing activations from one unit to another (synchronisation, launch), s. */
  transferOverheadS: number;
  calibration: CalibrationState;
}

/** Options of {@linkcode createBoardModel}. */
export interface BoardModelOptions {
  /** Memory pressure limit rho_max (DESIGN.md section 3). @default 0.85 */
  rhoMax?: number;
  /**
   * lambda_alloc of the (1 + lambda_alloc CPQ) time inflation. An engineering
   * assumption (no datasheet gives it): at rho = 0.85, CPQ = 5.7 and the
   * inflation is 11%; the calibrated efficiencies absorb the rest. @default 0.02
   */
  allocLambda?: number;
  /**
   * Fixed cost of an activation hand-off between units, s: a kernel launch and
   * a synchronisation (Mali/OpenCL and RKNPU job submission take 0.05-0.5 ms).
   * An engineering assumption. @default 0.0002
   */
  transferOverheadS?: number;
  /**
   * Relative standard deviation of the power priors, the starting uncertainty
   * of the power RLS. @default 0.5
   */
  powerPriorRelStd?: number;
}

/** Fallback RLS reference for a power coefficient whose prior is 0 (the multiplier needs a scale). */
const POWER_REFERENCE_FLOOR = [0.05, 0.05, 0.01, 1e-12, 1e-11] as const;

function check(cond: boolean, what: string): void {
  if (!cond) throw new RangeError(`createBoardModel: ${what}`);
}

function positive(v: number): boolean {
  return Number.isFinite(v) && v > 0;
}

function nonNegative(v: number): boolean {
  return Number.isFinite(v) && v >= 0;
}

function validateUnit(u: UnitPriors, zoneIds: Set<string>): void {
  const at = `unit "${u.id}"`;
  check(u.opps.length > 0, `${at} has no operating points`);
  for (let i = 0; i < u.opps.length; i++) {
    const o = u.opps[i];
    check(positive(o.freqHz) && positive(o.voltageV), `${at} opp ${i} needs positive freqHz and voltageV`);
    check(i === 0 || o.freqHz > u.opps[i - 1].freqHz, `${at} opps must ascend by frequency (opp ${i})`);
  }
  const peaks = Object.entries(u.peakOpsPerS);
  check(peaks.length > 0, `${at} has no peakOpsPerS entry`);
  for (const [p, v] of peaks) check(positive(v ?? 0), `${at} peakOpsPerS.${p} must be positive`);
  check(positive(u.bandwidthBytesPerS), `${at} bandwidthBytesPerS must be positive`);
  check(positive(u.computeEfficiency) && u.computeEfficiency <= 1, `${at} computeEfficiency must be in (0, 1]`);
  check(positive(u.memoryEfficiency) && u.memoryEfficiency <= 1, `${at} memoryEfficiency must be in (0, 1]`);
  check(nonNegative(u.idlePowerW), `${at} idlePowerW must be >= 0`);
  check(nonNegative(u.leakagePowerW), `${at} leakagePowerW must be >= 0`);
  check(Number.isFinite(u.leakageRefTempC), `${at} leakageRefTempC must be finite`);
  check(positive(u.leakageKappaPerK), `${at} leakageKappaPerK must be positive`);
  check(positive(u.ceffF), `${at} ceffF must be positive`);
  check(nonNegative(u.energyPerByteJ), `${at} energyPerByteJ must be >= 0`);
  check(zoneIds.has(u.thermalZone), `${at} thermalZone "${u.thermalZone}" is not a zone of the board`);
  check(u.memoryBytes === undefined || positive(u.memoryBytes), `${at} memoryBytes must be positive when given`);
}

/**
 * Builds the model of a board from its datasheet priors.
 *
 * @throws RangeError naming the unit or zone and the field when the priors are inconsistent
 */
export function createBoardModel(priors: BoardPriors, options: BoardModelOptions = {}): BoardModel {
  const zoneIds = new Set(priors.zones.map((z) => z.id));
  check(zoneIds.size === priors.zones.length, "zone ids must be unique");
  check(priors.units.length > 0, "the board has no units");
  const unitIds = priors.units.map((u) => u.id);
  check(new Set(unitIds).size === unitIds.length, "unit ids must be unique");
  check(unitIds.includes(priors.defaultUnit), `defaultUnit "${priors.defaultUnit}" is not a unit of the board`);
  check(positive(priors.busBandwidthBytesPerS), "busBandwidthBytesPerS must be positive");
  check(positive(priors.memoryTotalBytes), "memoryTotalBytes must be positive");
  check(nonNegative(priors.basePowerW), "basePowerW must be >= 0");
  check(nonNegative(priors.thermalMarginC), "thermalMarginC must be >= 0");
  check(Number.isFinite(priors.ambientC), "ambientC must be finite");
  for (const u of priors.units) validateUnit(u, zoneIds);
  for (const z of priors.zones) {
    check(positive(z.tauS), `zone "${z.id}" tauS must be positive`);
    for (const [unitId, r] of Object.entries(z.rthKPerW)) {
      check(unitIds.includes(unitId), `zone "${z.id}" rthKPerW names unknown unit "${unitId}"`);
      check(nonNegative(r), `zone "${z.id}" rthKPerW.${unitId} must be >= 0`);
    }
  }
  const rhoMax = options.rhoMax ?? DEFAULT_RHO_MAX;
  check(rhoMax > 0 && rhoMax < 1, `rhoMax must be in (0, 1), got ${rhoMax}`);
  const allocLambda = options.allocLambda ?? 0.02;
  check(nonNegative(allocLambda), `allocLambda must be >= 0, got ${allocLambda}`);
  const transferOverheadS = options.transferOverheadS ?? 0.0002;
  check(nonNegative(transferOverheadS), `transferOverheadS must be >= 0, got ${transferOverheadS}`);
  const relStd = options.powerPriorRelStd ?? 0.5;
  check(positive(relStd), `powerPriorRelStd must be positive, got ${relStd}`);

  const units: Record<string, UnitModel> = {};
  const eta: Record<string, EtaCalibration> = {};
  for (const u of priors.units) {
    units[u.id] = {
      id: u.id,
      kind: u.kind,
      label: u.label,
      opps: u.opps.map((o) => ({ freqHz: o.freqHz, voltageV: o.voltageV })),
      peakOpsPerS: { ...u.peakOpsPerS },
      bandwidthBytesPerS: u.bandwidthBytesPerS,
      computeEfficiency: u.computeEfficiency,
      memoryEfficiency: u.memoryEfficiency,
      idlePowerW: u.idlePowerW,
      leakagePowerW: u.leakagePowerW,
      leakageRefTempC: u.leakageRefTempC,
      leakageKappaPerK: u.leakageKappaPerK,
      ceffF: u.ceffF,
      energyPerByteJ: u.energyPerByteJ,
      powerGateable: u.powerGateable,
      thermalZone: u.thermalZone,
      ...(u.memoryBytes !== undefined ? { memoryBytes: u.memoryBytes } : {}),
    };
    eta[u.id] = { computeSamples: 0, memorySamples: 0 };
  }

  // Power RLS in multipliers of the priors (see PowerCalibration).
  const reference = [priors.basePowerW > 0 ? priors.basePowerW : 0.1];
  const theta = [priors.basePowerW > 0 ? 1 : 0];
  for (const u of priors.units) {
    const values = [u.idlePowerW, u.leakagePowerW, u.leakageKappaPerK, u.ceffF, u.energyPerByteJ];
    for (let j = 0; j < 5; j++) {
      reference.push(values[j] > 0 ? values[j] : POWER_REFERENCE_FLOOR[j]);
      theta.push(values[j] > 0 ? 1 : 0);
    }
  }
  const power = createRls(theta, new Array<number>(theta.length).fill(relStd * relStd));

  return {
    unitIds,
    units,
    zones: priors.zones.map((z) => ({
      id: z.id,
      tauS: z.tauS,
      rthKPerW: { ...z.rthKPerW },
      ...(z.passiveTripC !== undefined ? { passiveTripC: z.passiveTripC } : {}),
      ...(z.criticalTripC !== undefined ? { criticalTripC: z.criticalTripC } : {}),
      ambientOffsetK: 0,
    })),
    ambientC: priors.ambientC,
    basePowerW: priors.basePowerW,
    busBandwidthBytesPerS: priors.busBandwidthBytesPerS,
    memoryTotalBytes: priors.memoryTotalBytes,
    defaultUnit: priors.defaultUnit,
    thermalMarginC: priors.thermalMarginC,
    rhoMax,
    allocLambda,
    transferOverheadS,
    calibration: {
      eta,
      power: { ...power, unitIds: [...unitIds], reference },
      zones: {},
    },
  };
}

/**
 * The OPP a unit runs at for a requested level under a frequency cap: the
 * level's OPP, or the highest OPP at or below the cap when the cap is lower
 * (the kernel clamps the same way). The lowest OPP when the cap is below all.
 */
export function effectiveOpp(unit: UnitModel, level: number, capHz: number | undefined): OperatingPoint {
  let i = level;
  if (capHz !== undefined) {
    while (i > 0 && unit.opps[i].freqHz > capHz) i--;
  }
  return unit.opps[i];
}

/** Voltage of the OPP serving a frequency: the lowest OPP at or above it (the top OPP above the table), V. */
export function voltageForFreq(unit: UnitModel, freqHz: number): number {
  for (const o of unit.opps) if (o.freqHz >= freqHz * (1 - 1e-9)) return o.voltageV;
  return unit.opps[unit.opps.length - 1].voltageV;
}
