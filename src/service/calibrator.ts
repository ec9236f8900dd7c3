/**
 * The calibration feed: the physics board model the planner uses, updated
 * online from what the board measured. Telemetry (power rails, zone
 * temperatures, per-unit clocks, and the work each unit did, from the work
 * ledger) is fed at the telemetry period, on the sampling grid, so the
 * thermal fit sees evenly spaced points; the measured durations of the work
 * charged to each unit are fed after each job. The prediction error of whole
 * jobs (energy and latency MAPE, peak temperature error) is kept for the
 * status API, the metrics and the dashboard.
 */
import type { Logger } from "../core/mod.ts";
import type { Board, Sample } from "../hal/mod.ts";
import {
  type BoardModel,
  calibrate,
  type CalibrationOptions,
  type JobOutcome,
  predictionError,
  type PredictionErrorReport,
  type RailReading,
  type TelemetryObservation,
  type TimingObservation,
  type UnitTelemetry,
} from "../physics/mod.ts";
import type { WorkLedger } from "./charger.ts";

/** Options of `createCalibrator`. */
export interface CalibratorOptions {
  /** The model to start from (the profile's priors). */
  model: BoardModel;
  /** The discovered board (which rail measures what). */
  board: Board;
  /** Work the units did (charged by the orchestrator). */
  ledger: WorkLedger;
  /** Spacing of telemetry observations, ms (the sampling grid's idle period). */
  periodMs: number;
  /** Job outcomes kept for the prediction error. @default 200 */
  outcomesKept?: number;
  /** Passed to physics's calibrate(). @default physics's defaults */
  calibration?: CalibrationOptions;
  /** @default no logging */
  logger?: Logger;
}

/** Mean of the prequential errors physics reported while fitting (recent calls). */
export interface FitError {
  /** Predicted vs measured work durations, MAPE %. */
  durationMapePct?: number;
  /** Predicted vs measured rail power, weighted APE %. */
  powerWapePct?: number;
  /** One-step temperature prediction, mean absolute error °C. */
  tempMaeC?: number;
}

/** What the calibration feed reports. */
export interface CalibrationReport {
  /** Whole jobs: the planner's model (post hoc, with the realised token counts) vs the HAL's measurement. */
  jobs: PredictionErrorReport;
  /** The fitting errors of recent observations. */
  fit: FitError;
  telemetryObservations: number;
  timingObservations: number;
  /** Observations (or parts of them) physics could not use, total. */
  skipped: number;
  /** The last reason physics gave for skipping one. */
  lastSkipped?: string;
  /** Increments when the calibrated efficiencies drift by more than 10% (plans are redone then). */
  epoch: number;
}

/** The calibration feed. */
export interface Calibrator {
  /** The current calibrated model. */
  readonly model: BoardModel;
  /** Increments when the model has drifted enough that cached plans should be redone. */
  readonly epoch: number;
  /** Feeds a sample; only grid samples one period apart become telemetry observations. */
  observeSample(sample: Sample, onGrid: boolean): void;
  /** Feeds measured durations of charged work. */
  observeTimings(observations: readonly TimingObservation[]): void;
  /** Records a job's predicted and measured outcome. */
  recordOutcome(outcome: JobOutcome): void;
  report(): CalibrationReport;
}

/** How far (relative) an efficiency may drift before cached plans are redone. */
const EPOCH_DRIFT = 0.1;
/** Fitting errors are averaged over this many recent calls. */
const FIT_WINDOW = 30;

class Feed implements Calibrator {
  #model: BoardModel;
  #epoch = 0;
  #epochModel: BoardModel;
  readonly #o: CalibratorOptions;
  readonly #railUnits: Map<string, { unitIds: string[]; includesBase: boolean }>;
  #outcomes: JobOutcome[] = [];
  #fit: { durationMapePct: number[]; powerWapePct: number[]; tempMaeC: number[] } = {
    durationMapePct: [],
    powerWapePct: [],
    tempMaeC: [],
  };
  #lastObsMs: number | undefined;
  #prevSample: { atMs: number; ledger: ReturnType<WorkLedger["snapshot"]> } | undefined;
  #lastFreqHz: Record<string, number> = {};
  #telemetryCount = 0;
  #timingCount = 0;
  #skipped = 0;
  #lastSkipped: string | undefined;

  constructor(options: CalibratorOptions) {
    this.#o = options;
    this.#model = options.model;
    this.#epochModel = options.model;
    this.#railUnits = new Map();
    const unitIds = [...options.model.unitIds];
    for (const rail of options.board.rails) {
      if (rail.role === "input") this.#railUnits.set(rail.name, { unitIds, includesBase: true });
      else if (rail.role === "unit" && rail.unitId !== undefined && options.model.units[rail.unitId]) {
        this.#railUnits.set(rail.name, { unitIds: [rail.unitId], includesBase: false });
      }
    }
  }

  get model(): BoardModel {
    return this.#model;
  }

  get epoch(): number {
    return this.#epoch;
  }

  observeSample(sample: Sample, onGrid: boolean): void {
    const ledger = this.#o.ledger.snapshot();
    const prev = this.#prevSample;
    this.#prevSample = { atMs: sample.monotonicMs, ledger };
    for (const [id, u] of Object.entries(sample.units)) if (u.curFreqHz.ok) this.#lastFreqHz[id] = u.curFreqHz.value;
    if (!onGrid || prev === undefined) return;
    const periodMs = this.#o.periodMs;
    if (this.#lastObsMs !== undefined && sample.monotonicMs - this.#lastObsMs < periodMs * 0.95) return;
    this.#lastObsMs = sample.monotonicMs;
    const intervalMs = sample.monotonicMs - prev.atMs;
    if (!(intervalMs > 0)) return;
    const units: Record<string, UnitTelemetry> = {};
    for (const id of this.#model.unitIds) {
      const now = ledger[id];
      const before = prev.ledger[id];
      const busyMs = (now?.busyMs ?? 0) - (before?.busyMs ?? 0);
      const dasiMs = (now?.dasiMs ?? 0) - (before?.dasiMs ?? 0);
      const bytes = (now?.bytes ?? 0) - (before?.bytes ?? 0);
      units[id] = {
        activity: clamp01(dasiMs / intervalMs),
        busyFraction: clamp01(busyMs / intervalMs),
        freqHz: this.#lastFreqHz[id] ?? this.#model.units[id].opps[0].freqHz,
        bytesPerS: Math.max(0, bytes) / (intervalMs / 1000),
      };
    }
    const zoneTempsC: Record<string, number> = {};
    for (const t of sample.thermal) {
      if (!t.ok || t.zone === undefined) continue;
      zoneTempsC[t.zone] = Math.max(zoneTempsC[t.zone] ?? -Infinity, t.tempC);
    }
    const rails: RailReading[] = [];
    for (const r of sample.power) {
      const mapped = this.#railUnits.get(r.name);
      if (!r.ok || mapped === undefined) continue;
      rails.push({ name: r.name, powerW: r.powerW, ...mapped });
    }
    const observation: TelemetryObservation = {
      kind: "telemetry",
      timeS: sample.monotonicMs / 1000,
      units,
      zoneTempsC,
      rails,
    };
    this.#apply([observation]);
    this.#telemetryCount++;
  }

  observeTimings(observations: readonly TimingObservation[]): void {
    if (observations.length === 0) return;
    this.#apply(observations);
    this.#timingCount += observations.length;
    if (drifted(this.#epochModel, this.#model)) {
      this.#epoch++;
      this.#epochModel = this.#model;
    }
  }

  recordOutcome(outcome: JobOutcome): void {
    this.#outcomes.push(outcome);
    const kept = this.#o.outcomesKept ?? 200;
    if (this.#outcomes.length > kept) this.#outcomes.splice(0, this.#outcomes.length - kept);
  }

  report(): CalibrationReport {
    const mean = (xs: number[]) => xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length;
    const fit: FitError = {};
    for (const key of ["durationMapePct", "powerWapePct", "tempMaeC"] as const) {
      const m = mean(this.#fit[key]);
      if (m !== undefined) fit[key] = m;
    }
    return {
      jobs: predictionError(this.#outcomes),
      fit,
      telemetryObservations: this.#telemetryCount,
      timingObservations: this.#timingCount,
      skipped: this.#skipped,
      ...(this.#lastSkipped !== undefined ? { lastSkipped: this.#lastSkipped } : {}),
      epoch: this.#epoch,
    };
  }

  #apply(observations: TelemetryObservation[] | readonly TimingObservation[]): void {
    const result = calibrate(this.#model, observations, this.#o.calibration);
    this.#model = result.model;
    const e = result.error;
    for (const key of ["durationMapePct", "powerWapePct", "tempMaeC"] as const) {
      const v = e[key];
      if (v === undefined || !Number.isFinite(v)) continue;
      const list = this.#fit[key];
      list.push(v);
      if (list.length > FIT_WINDOW) list.shift();
    }
    if (e.skipped.length > 0) {
      this.#skipped += e.skipped.length;
      this.#lastSkipped = e.skipped[e.skipped.length - 1];
      this.#o.logger?.debug("calibration skipped observations", { skipped: e.skipped });
    }
  }
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** True when any unit's efficiency moved by more than EPOCH_DRIFT relative to `base`. */
function drifted(base: BoardModel, now: BoardModel): boolean {
  for (const id of now.unitIds) {
    const a = base.units[id];
    const b = now.units[id];
    for (const key of ["computeEfficiency", "memoryEfficiency"] as const) {
      if (Math.abs(b[key] - a[key]) > EPOCH_DRIFT * a[key]) return true;
    }
  }
  return false;
}

/** Creates the calibration feed. */
export function createCalibrator(options: CalibratorOptions): Calibrator {
  return new Feed(options);
}
