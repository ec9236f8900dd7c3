/**
 * The data that crosses the physics boundary: placements and jobs (built by
 * pgsam and the service), the board state the service observes, and the
 * prediction physics returns. See CONTRACTS.md, "Physics".
 */
import type { DecoderShape } from "../core/mod.ts";

/** Layers [layerStart, layerEnd) of a decode pipeline, run on one unit. */
export interface Segment {
  unitId: string;
  /** First layer, inclusive. */
  layerStart: number;
  /** Last layer, exclusive. */
  layerEnd: number;
}

/**
 * A decode pipeline: its segments cover [0, layers) contiguously, in order;
 * it decodes `samples` samples as one batch.
 */
export interface Lane {
  segments: Segment[];
  /** Samples this lane decodes as one batch, >= 1. */
  samples: number;
}

/**
 * Where and how fast a job runs. The prompt is prefilled (batch 1, all layers)
 * on `prefillUnit`; then every lane decodes its samples, each step running its
 * segments in order with an activation transfer wherever consecutive segments
 * sit on different units. Lanes run concurrently; a unit used by several lanes
 * serves them in turn.
 */
export interface Placement {
  prefillUnit: string;
  lanes: Lane[];
  /**
   * Operating point of each unit: an index into the unit's `opps` (ascending).
   * A used unit without an entry runs at its top OPP; an unused, powered unit
   * without one idles at its lowest.
   */
  freqLevel: Record<string, number>;
}

/** One inference request as the planner sees it. */
export interface Job {
  shape: DecoderShape;
  /** Prompt length P, tokens, >= 1. */
  promptTokens: number;
  /**
   * New tokens per sample G, >= 0. The prefill's logits give the first token;
   * G - 1 decode steps follow at contexts P, P + 1, ..., P + G - 2.
   */
  genTokens: number;
  /** Samples k, >= 1 (the sum of the lanes' samples). */
  samples: number;
  /** Latency objective, ms: a prediction above it is infeasible. */
  sloMs?: number;
}

/** What the service observes about the board right now. */
export interface BoardState {
  /**
   * Current temperature of each thermal zone, °C. A zone without an entry is
   * assumed to sit at ambient plus its calibrated offset (pass the last good
   * reading instead when a sensor drops out).
   */
  tempsC: Record<string, number>;
  /**
   * Ambient temperature, °C. Boards have no ambient sensor; pass the model's
   * `ambientC` unless one is measured.
   */
  ambientC: number;
  /**
   * Memory the model's data may occupy on the shared (unified) pool, bytes:
   * MemAvailable plus whatever the currently loaded model already holds.
   */
  memAvailableBytes: number;
  /** Units the HAL and fault manager consider usable. */
  healthyUnits: string[];
  /** Current frequency cap of each unit (thermal governor or user), Hz; absent = no cap. */
  maxFreqHz: Record<string, number>;
}

/** Per-unit figures of a prediction. */
export interface UnitPrediction {
  /** Time the unit computes or copies, ms. */
  busyMs: number;
  /**
   * Energy attributed to the unit, J: idle and leakage over the whole span
   * (only while busy for a power-gateable unit), dynamic power and DRAM energy
   * of its work.
   */
  energyJ: number;
  /** Busy-time-weighted DASI of its work, [0, 1] (0 for a powered unit that does no work). */
  dasi: number;
  /** CPQ of the memory pool the unit uses (Infinity once the pool is full, rho >= 1). */
  cpq: number;
  /** Memory pressure rho of that pool. */
  rho: number;
  /** Thermal yield over its busy time at the job's mean zone temperature, [0, 1]. */
  phi: number;
  /** Average power over the job's span, W. */
  powerW: number;
  /** Frequency it runs at (the OPP, lowered to the current cap), Hz. */
  freqHz: number;
}

/** Predicted outcome of running a job with a placement. */
export interface Prediction {
  /** Energy of the whole board over the job's span (units + base power), J. */
  energyJ: number;
  /** Time from start to the last sample's last token, ms. */
  latencyMs: number;
  /** Time to the first token (the prefill), ms. */
  ttftMs: number;
  /** Underutilisation U in [0, 1] (DESIGN.md section 3). */
  underutilization: number;
  /** Highest predicted temperature of each zone during the job, °C. */
  peakTempC: Record<string, number>;
  /** No violation. */
  feasible: boolean;
  /** One line per violated constraint, naming the unit or zone and the reason. */
  violations: string[];
  /**
   * Total amount of constraint violation, >= 0, 0 exactly when feasible: the
   * optimiser's penalty. Each memory pool adds rho - rho_max, each zone
   * (peak - limit) / 10 K, the SLO latency / slo - 1, and every structural
   * violation (unhealthy unit, missing precision, frequency level out of
   * range, context too long) adds 1.
   */
  constraintViolation: number;
  /** Every unit that draws power during the job (used, or not power-gateable). */
  perUnit: Record<string, UnitPrediction>;
}
