/**
 * Shared vocabulary for compute units and their physical priors. A board
 * profile (src/hal) is data of these types; the physics models (src/physics)
 * start from them and calibrate online; the simulator (src/sim) perturbs them
 * into a hidden truth. Units are in every name.
 */

/** Weight precision of a work item. */
export type Precision = "fp32" | "fp16" | "int8" | "int4";

/** All precisions, widest first. */
export const PRECISIONS: readonly Precision[] = ["fp32", "fp16", "int8", "int4"];

/** True for a valid precision name. */
export function isPrecision(value: unknown): value is Precision {
  return typeof value === "string" && (PRECISIONS as readonly string[]).includes(value);
}

/** Kind of a compute unit. */
export type UnitKind = "cpu" | "gpu" | "npu";

/** One DVFS operating point of a unit. */
export interface OperatingPoint {
  /** Clock frequency, Hz. */
  freqHz: number;
  /** Supply voltage at that frequency, V. */
  voltageV: number;
}

/** Datasheet priors of one compute unit; every field cites a source in `sources`. */
export interface UnitPriors {
  /** Stable unit id used everywhere (`cpu_big`, `cpu_little`, `cpu`, `gpu`, `npu`). */
  id: string;
  kind: UnitKind;
  /** Human description, e.g. `4x Cortex-A76`. */
  label: string;
  /** Operating points, ascending by frequency; the last is the top OPP. */
  opps: readonly OperatingPoint[];
  /**
   * Peak arithmetic rate at the top operating point, per weight precision, in
   * ops/s (a multiply-add counts as 2). A precision absent here cannot run on
   * this unit.
   */
  peakOpsPerS: Partial<Record<Precision, number>>;
  /** Memory bandwidth this unit can draw on its own (STREAM-like ceiling), bytes/s. */
  bandwidthBytesPerS: number;
  /** Achieved fraction of the compute roof in compute-bound work (prefill), (0, 1]. */
  computeEfficiency: number;
  /** Achieved fraction of the memory roof in bandwidth-bound work (decode), (0, 1]. */
  memoryEfficiency: number;
  /** Power drawn while powered but not computing, excluding leakage, W. */
  idlePowerW: number;
  /** Subthreshold leakage at `leakageRefTempC` and the top OPP voltage, W. */
  leakagePowerW: number;
  /** Reference temperature T0 of `leakagePowerW`, °C. */
  leakageRefTempC: number;
  /** Exponential leakage coefficient kappa, 1/K (CMOS: 0.02-0.06). */
  leakageKappaPerK: number;
  /** Effective switched capacitance C_eff in P_dyn = C_eff V^2 f DASI, F. */
  ceffF: number;
  /** DRAM access energy attributed to this unit's traffic, J/byte. */
  energyPerByteJ: number;
  /** Whether the unit can be power-gated when unused (then it pays no idle power). */
  powerGateable: boolean;
  /** Id of the thermal zone (in `BoardPriors.zones`) whose temperature drives this unit's leakage. */
  thermalZone: string;
  /**
   * Memory dedicated to this unit, bytes. Absent: the unit shares the board's
   * unified pool (MemAvailable).
   */
  memoryBytes?: number;
  /** Citations for the figures above (boards.md sections, datasheets). */
  sources: readonly string[];
}

/** First-order RC model priors of one thermal zone. */
export interface ThermalZonePriors {
  /** Logical zone id (`soc`, `bigcore0`, `gpu`, `cpu`, `tj`). */
  id: string;
  /** Thermal time constant tau = R*C, s. */
  tauS: number;
  /** Steady-state rise of this zone per watt dissipated by each unit, K/W, keyed by unit id. */
  rthKPerW: Readonly<Record<string, number>>;
  /** Passive trip (kernel starts throttling), °C; absent when the zone has none. */
  passiveTripC?: number;
  /** Critical trip (shutdown), °C. */
  criticalTripC?: number;
}

/** Datasheet priors of a whole board. */
export interface BoardPriors {
  /** Ambient temperature assumed until measured, °C. */
  ambientC: number;
  /** Power of everything that is not a modelled unit (DRAM background, IO, regulators), W. */
  basePowerW: number;
  /** Shared DRAM bus bandwidth, bytes/s. */
  busBandwidthBytesPerS: number;
  /** Physical memory, bytes (the nominal SKU; the HAL reports the real MemTotal). */
  memoryTotalBytes: number;
  /** Unit that runs everything in "standard" inference (what a user gets without qeil). */
  defaultUnit: string;
  /** Planning margin below a passive trip that a placement must not reach, K. */
  thermalMarginC: number;
  zones: readonly ThermalZonePriors[];
  units: readonly UnitPriors[];
  sources: readonly string[];
}
