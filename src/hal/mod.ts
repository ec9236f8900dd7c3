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
