/**
 * What discovery finds (`Board` and its channel descriptions) and what a read
 * returns (`Sample`). All values in SI units; every channel is read and
 * reported on its own, so one bad sensor never loses the sample.
 */
import type { Reading, UnitKind } from "../core/mod.ts";
import type { BoardProfile } from "./profile.ts";
import type { MemoryInfo } from "./parse.ts";

export type { MemoryInfo } from "./parse.ts";

/** A thermal trip point. */
export interface TripPoint {
  /** `critical`, `hot`, `passive` or `active`. */
  type: string;
  tempC: number;
  /** Hysteresis, K, when the kernel exposes it. */
  hystC?: number;
}

/** A governor/min/max snapshot taken at discovery, restored by `Actuators.release()`. */
export interface KnobSnapshot {
  governor: string;
  minFreqHz: number;
  maxFreqHz: number;
}

/** A thermal zone found at discovery. */
export interface ThermalZoneInfo {
  /** The zone's `type` (e.g. `soc-thermal`). */
  name: string;
  /** The profile's logical zone id for this type, when it has one. */
  zone?: string;
  /** Directory of the zone. */
  path: string;
  trips: readonly TripPoint[];
  /** Governor (`step_wise`, `power_allocator`, ...) when readable. */
  policy?: string;
}

/** A thermal cooling device found at discovery. */
export interface CoolingDeviceInfo {
  /** `cpufreq-cpu4`, `devfreq-fb000000.gpu`, `pwm-fan`, ... */
  type: string;
  path: string;
  /**
   * Bound to a passive trip of some zone (from the zones' `cdevN` links and
   * `cdevN_trip_point`). When no zone exposes bindings, cpufreq/devfreq
   * cooling devices are taken as passive and fans as active.
   */
  passive: boolean;
}

/** A devfreq device found at discovery. */
export interface DevfreqInfo {
  /** Directory name under `/sys/class/devfreq` (`fb000000.gpu`, `dmc`). */
  name: string;
  path: string;
  /** Unit this device clocks, when the profile binds it. */
  unitId?: string;
  availableFreqsHz: readonly number[];
  availableGovernors: readonly string[];
  /** Snapshot at discovery (absent when unreadable then). */
  initial?: KnobSnapshot;
  /** Type of the cooling device that throttles it (`devfreq-<name>`), when one exists. */
  coolingDevice?: string;
}

/** A cpufreq policy found at discovery. */
export interface CpufreqPolicyInfo {
  /** `policy0`, `policy4`, ... */
  name: string;
  path: string;
  /** Affected CPUs. */
  cpus: readonly number[];
  unitId?: string;
  availableFreqsHz: readonly number[];
  availableGovernors: readonly string[];
  /** `cpuinfo_min_freq` / `cpuinfo_max_freq`, Hz, when readable. */
  hardwareMinFreqHz?: number;
  hardwareMaxFreqHz?: number;
  initial?: KnobSnapshot;
  coolingDevice?: string;
}

/** How a rail's power is read, chosen once at discovery. */
export type RailStrategy =
  /** A power file (`powerK_input` or `powerK_average`, µW). */
  | { kind: "power"; powerPath: string; voltagePath?: string; currentPath?: string; energyPath?: string }
  /** Bus voltage x current (`inK_input` mV x `currK_input` mA; INA3221 has no power file). */
  | { kind: "voltage-current"; voltagePath: string; currentPath: string; energyPath?: string }
  /** Power from the change of a cumulative energy counter between reads (µJ). */
  | { kind: "energy"; energyPath: string; maxRangePath?: string };

/** A power rail found at discovery. */
export interface RailInfo {
  name: string;
  /** `input` gives the board total; `unit` measures exactly one unit; `aux` anything else. */
  role: "input" | "unit" | "aux";
  unitId?: string;
  source: "hwmon" | "powercap";
  /** hwmon chip `name` or powercap zone `name`. */
  chip: string;
  label?: string;
  channel?: number;
  strategy: RailStrategy;
}

/** How a unit's frequency is read and set. */
export type UnitFreqSource =
  | { kind: "cpufreq"; policies: readonly string[] }
  | { kind: "devfreq"; device: string }
  | { kind: "none"; reason: string };

/** How a unit's utilisation is read. */
export type UnitLoadSource =
  | { kind: "procstat"; path: string; cpus: readonly number[] }
  | { kind: "devfreq-load" | "permille" | "rknpu"; path: string }
  | { kind: "galcore"; path: string; core: number }
  | { kind: "none"; reason: string };

/** A compute unit as discovery bound it. */
export interface UnitInfo {
  id: string;
  kind: UnitKind;
  label: string;
  /** Frequencies the kernel offers, ascending Hz (from sysfs). */
  availableFreqsHz: readonly number[];
  availableGovernors: readonly string[];
  freq: UnitFreqSource;
  load: UnitLoadSource;
  /** Thermal zone `type`s found for this unit. */
  thermalZones: readonly string[];
  /** Rail that measures exactly this unit, when one exists. */
  rail?: string;
  /** Which channels discovery found for this unit. */
  channels: { freq: boolean; temp: boolean; load: boolean; power: boolean };
}

/** A discovered board: a snapshot of what exists, and a fast reader of it. */
export interface Board {
  /** The profile in use (for `generic`, specialised to the policies found). */
  profile: BoardProfile;
  /** Device-tree model, or `""` when the tree has none. */
  model: string;
  /** Device-tree compatible list, most specific first. */
  compatible: readonly string[];
  /** Absolute filesystem root everything is read below. */
  root: string;
  units: readonly UnitInfo[];
  thermalZones: readonly ThermalZoneInfo[];
  coolingDevices: readonly CoolingDeviceInfo[];
  devfreq: readonly DevfreqInfo[];
  cpufreq: readonly CpufreqPolicyInfo[];
  rails: readonly RailInfo[];
  /** Things discovery noticed but tolerated (duplicate rail names, unreadable snapshots). */
  warnings: readonly string[];
  /** Reads every discovered channel once, concurrently. Never throws for a bad channel. */
  read(): Promise<Sample>;
}

/** One channel failed: the reason names the file and what was wrong. */
export interface Failed {
  ok: false;
  reason: string;
}

export type ThermalZoneSample =
  & { name: string; zone?: string; trips: readonly TripPoint[] }
  & ({ ok: true; tempC: number } | Failed);

export type CoolingDeviceSample =
  & { type: string; passive: boolean }
  & ({ ok: true; curState: number; maxState: number } | Failed);

export type DevfreqSample =
  & { name: string; unitId?: string; availableFreqsHz: readonly number[] }
  & ({ ok: true; curFreqHz: number; minFreqHz: number; maxFreqHz: number; governor: string } | Failed);

export type CpufreqSample =
  & { policy: string; cpus: readonly number[]; unitId?: string; availableFreqsHz: readonly number[] }
  & ({ ok: true; curFreqHz: number; minFreqHz: number; maxFreqHz: number; governor: string } | Failed);

export type RailSample =
  & { name: string; role: RailInfo["role"]; unitId?: string }
  & (
    | {
      ok: true;
      powerW: number;
      voltageV?: number;
      currentA?: number;
      /** Cumulative energy counter, J, when the rail has one. */
      energyJ?: number;
      /**
       * Counter wrap range, J: from powercap's `max_energy_range_uj`, or the register width of an hwmon
       * chip known to wrap (board.ts keeps that table). Absent: a backwards step is a reset, not a wrap.
       */
      energyRangeJ?: number;
    }
    | Failed
  );

export type LoadSample =
  & { unit: string; source?: string }
  & ({ ok: true; utilization: number; coreUtilizations?: number[] } | Failed);

/** The per-unit view of a sample. */
export interface UnitSample {
  /** Hottest readable zone of the unit. */
  tempC: Reading<number>;
  /** Current clock (for a unit over several cpufreq policies: the slowest). */
  curFreqHz: Reading<number>;
  /** Current cap (user and thermal; several policies: the lowest). */
  maxFreqHz: Reading<number>;
  /** 0..1. */
  utilization: Reading<number>;
  /** Only when a rail measures exactly this unit. */
  powerW: Reading<number>;
}

/** One read of every channel of the board. */
export interface Sample {
  /** Wall-clock time of the read, ms since the epoch. */
  timestampMs: number;
  /** Monotonic time of the read, ms (for integrating power). */
  monotonicMs: number;
  thermal: ThermalZoneSample[];
  coolingDevices: CoolingDeviceSample[];
  devfreq: DevfreqSample[];
  cpufreq: CpufreqSample[];
  power: RailSample[];
  load: LoadSample[];
  memory: Reading<MemoryInfo>;
  units: Record<string, UnitSample>;
  /** Board input rail, or the sum of the unit rails when there is no input rail. */
  totalPowerW: Reading<number>;
  /** Rails that make up `totalPowerW`. */
  totalPowerRails: readonly string[];
  /** Any cooling device bound to a passive trip has `cur_state > 0`. */
  throttled: boolean;
}
