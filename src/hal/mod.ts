/**
 * Hardware abstraction layer; imports core only. Board profiles (data), board
 * discovery below a filesystem root, sysfs readers and actuators, the
 * telemetry sampler and the energy meter. Raw sysfs units end here.
 */
export {
  type BoardProfile,
  type FreqBinding,
  type LoadBinding,
  type RailBinding,
  SIM_POWER_CHIP,
  simulatedRails,
  type UnitBinding,
} from "./profile.ts";
export { detectProfile, type GenericPolicy, getProfile, listProfiles, specialiseGeneric } from "./profiles/mod.ts";
export { discoverBoard, type DiscoverOptions } from "./discover.ts";
export type {
  Board,
  CoolingDeviceInfo,
  CoolingDeviceSample,
  CpufreqPolicyInfo,
  CpufreqSample,
  DevfreqInfo,
  DevfreqSample,
  Failed,
  KnobSnapshot,
  LoadSample,
  MemoryInfo,
  RailInfo,
  RailSample,
  RailStrategy,
  Sample,
  ThermalZoneInfo,
  ThermalZoneSample,
  TripPoint,
  UnitFreqSource,
  UnitInfo,
  UnitLoadSource,
  UnitSample,
} from "./types.ts";
export {
  type ActuatorOptions,
  type ActuatorRecord,
  type Actuators,
  createActuators,
  type KnobWrite,
} from "./actuators.ts";
export { createSampler, type Sampler, type SamplerOptions } from "./sampler.ts";
export { EnergyMeter, type EnergyWindowResult, type MeterWindow } from "./energy.ts";
export { counterDeltaJ } from "./counter.ts";
export { formatProbeTable, type ProbeReport, probeReport } from "./probe.ts";
