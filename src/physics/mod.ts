/**
 * Pure; imports core only (no I/O, no clock, no randomness). The physics of
 * LLM work on an edge board: workload FLOPs/bytes of a decoder shape, roofline
 * time and DASI, CPQ memory pressure, leakage and Phi, the RC thermal model,
 * the energy and latency of a placement (predict), and online calibration.
 */
export type { BoardState, Job, Lane, Placement, Prediction, Segment, UnitPrediction } from "./types.ts";
export {
  activationTransferBytes,
  decodeAffineOf,
  decodeWork,
  DEFAULT_GROUP_SIZE,
  kvCacheBytes,
  kvHandoffBytes,
  paramCount,
  prefillWork,
  prefillWorkOf,
  shapeConstants,
  weightsBytes,
  weightsBytesOf,
  workspaceBytesOf,
} from "./workload.ts";
export type {
  AffineWork,
  DecodeOptions,
  KvCacheOptions,
  KvHandoffOptions,
  LayerRange,
  PrefillOptions,
  ShapeConstants,
  Work,
} from "./workload.ts";
export {
  allocationInflation,
  busShare,
  cpq,
  dasi,
  DEFAULT_RHO_MAX,
  measuredDasi,
  memoryRho,
  peakAtFreq,
  rooflineTimeS,
} from "./roofline.ts";
export type { RooflineOptions } from "./roofline.ts";
export { dynamicPowerW, energyJ, leakageEnergyJ, leakagePowerW, phi } from "./power.ts";
export { meanTransientC, steadyStateC, timeToReachS, transientC, zoneTrajectory } from "./thermal.ts";
export type { PowerPhase, ZoneSpec, ZoneTrajectory } from "./thermal.ts";
export { laneTimeS, makespanS, sumAffine, sumMaxAffine, sumTimeDasiS, timeDasiS, underutilization } from "./latency.ts";
export { createBoardModel, effectiveOpp, voltageForFreq } from "./model.ts";
export type {
  BoardModel,
  BoardModelOptions,
  CalibrationState,
  EtaCalibration,
  PowerCalibration,
  RlsState,
  ThermalPoint,
  UnitModel,
  ZoneCalibration,
  ZoneModel,
} from "./model.ts";
export { checkPlacement, predict } from "./predict.ts";
export { concurrentBusShare, unitWorkTime } from "./unit_time.ts";
export type { UnitWork, UnitWorkOptions, UnitWorkTime } from "./unit_time.ts";
export { calibrate, predictionError, unitPowerW } from "./calibration.ts";
export type {
  CalibrationError,
  CalibrationOptions,
  CalibrationResult,
  JobOutcome,
  Observation,
  PredictionErrorReport,
  RailReading,
  TelemetryObservation,
  TimingObservation,
  UnitPowerInputs,
  UnitTelemetry,
} from "./calibration.ts";
