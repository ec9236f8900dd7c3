/**
 * The calibration feed: the physics board model the planner uses, updated
 * online from what the board measured. Samples are grouped into telemetry
 * points of one telemetry period each (rail powers and zone temperatures
 * averaged over the period, each unit's activity from the work records that
 * overlap it, as observations.ts builds them); the measured durations of the
 * work charged to each unit become timing observations after each wave. The
 * prediction error of whole jobs (energy and latency MAPE, peak temperature
 * error) is kept for the status API, the metrics and the dashboard.
 *
 * A unit's work is recorded when it finishes, yet the telemetry points it
 * overlaps complete while it runs (a long prefill spans many). A point built
 * then would see the unit drawing power with no activity, and the power fit
 * would put that power into idle and leakage: biased regressors under which
 * the recursive fit runs away. So whoever runs work holds the feed
 * (`hold()`) until its record is in; points that complete meanwhile wait
 * and are built, in order, once nothing is held. Work that failed has no
 * record, and a hung unit spins at full power, also after its work was given
 * up: from the failed work's start until the unit's next recorded work (at
 * most FAILED_UNKNOWN_MS), the unit's activity is unknown and the points are
 * left out of the fit.
 */
import type { Logger } from "../core/mod.ts";
import type { Board, Sample } from "../hal/mod.ts";
import {
  type BoardModel,
  calibrate,
  type CalibrationOptions,
  type JobOutcome,
  type Observation,
  predictionError,
  type PredictionErrorReport,
} from "../physics/mod.ts";
import {
  type RailCoverage,
  railCoverage,
  telemetryObservations,
  timingObservations,
  type WorkRecord,
} from "./observations.ts";

/** Options of `createCalibrator`. */
export interface CalibratorOptions {
  /** The model to start from (the profile's priors). */
  model: BoardModel;
  /** The discovered board (which rail measures what). */
  board: Board;
  /** Length of a telemetry point, ms (the sampling grid's idle period). */
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
  /** Observations (or parts of them) that could not be used, total. */
  skipped: number;
  /** The last reason given for skipping one. */
  lastSkipped?: string;
  /** Increments when the calibrated efficiencies drift by more than 10% (plans are redone then). */
  epoch: number;
}

/** Work that failed (no record): a unit busy for a while at an unknown activity. */
export interface FailedWork {
  unitId: string;
  /** When it started and when it was given up, on the samples' monotonic clock, ms. */
  startMs: number;
  endMs: number;
}

/** The calibration feed. */
export interface Calibrator {
  /** The current calibrated model. */
  readonly model: BoardModel;
  /** Increments when the model has drifted enough that cached plans should be redone. */
  readonly epoch: number;
  /** Feeds a sample (every sample, in time order; `onGrid` marks the sampling grid's own). */
  observeSample(sample: Sample, onGrid: boolean): void;
  /** Feeds a record of work a unit ran (for the activity of telemetry points). */
  addRecord(record: WorkRecord): void;
  /**
   * Work is running whose record is not in yet: telemetry points that
   * complete meanwhile wait until every hold is released (call the returned
   * function once, after `addRecord`; for work that failed, with when it
   * ran: the points it overlaps are then left out of the fit).
   */
  hold(): (failed?: FailedWork) => void;
  /** Fits the efficiencies to the measured durations of `records` (the work of a wave). */
  observeTimings(records: readonly WorkRecord[]): void;
  /** Records a job's predicted and measured outcome. */
  recordOutcome(outcome: JobOutcome): void;
  report(): CalibrationReport;
}

/** How far (relative) an efficiency may drift before cached plans are redone. */
const EPOCH_DRIFT = 0.1;
/** Fitting errors are averaged over this many recent calls. */
const FIT_WINDOW = 30;
/** A telemetry point may be this much (relative) longer or shorter than the period (observations.ts's tolerance). */
const PERIOD_SLACK = 0.02;
/**
 * Completed points kept waiting for held work, at most (about an hour at a
 * 1 s period); older ones are dropped, not built: work held that long is
 * likely hung, its unit spinning with no record, and a point built without
 * knowing that would bias the fit (and a hold never released must not grow
 * memory without bound).
 */
const MAX_WAITING_POINTS = 4096;
/**
 * Longest a unit's activity counts as unknown after its work failed, when no
 * work of it is recorded again, ms of the samples' clock: past that, points
 * are fitted again (a unit that stays broken must not stop the calibration).
 */
const FAILED_UNKNOWN_MS = 10 * 60_000;

class Feed implements Calibrator {
  #model: BoardModel;
  #epoch = 0;
  #epochModel: BoardModel;
  readonly #o: CalibratorOptions;
  readonly #rails: Record<string, RailCoverage>;
  #outcomes: JobOutcome[] = [];
  #fit: { durationMapePct: number[]; powerWapePct: number[]; tempMaeC: number[] } = {
    durationMapePct: [],
    powerWapePct: [],
    tempMaeC: [],
  };
  /** Samples since the start of the current telemetry point (the first one is its start). */
  #samples: Sample[] = [];
  #records: WorkRecord[] = [];
  /** Completed points waiting for held work, oldest first. */
  #waiting: Sample[][] = [];
  #holds = 0;
  /** Failed work whose points are left out of the fit. */
  #failed: { unitId: string; startMs: number; untilMs: number; endMs: number }[] = [];
  #telemetryCount = 0;
  #timingCount = 0;
  #skipped = 0;
  #lastSkipped: string | undefined;

  constructor(options: CalibratorOptions) {
    this.#o = options;
    this.#model = options.model;
    this.#epochModel = options.model;
    const coverage = railCoverage(options.board, options.model);
    this.#rails = coverage.rails;
    for (const why of coverage.skipped) options.logger?.info("rail left out of the power fit", { why });
  }

  get model(): BoardModel {
    return this.#model;
  }

  get epoch(): number {
    return this.#epoch;
  }

  addRecord(record: WorkRecord): void {
    this.#records.push(record);
    // The unit works again: its activity is known from here.
    for (const f of this.#failed) {
      if (f.unitId === record.unitId && record.startMs >= f.endMs) f.untilMs = Math.min(f.untilMs, record.startMs);
    }
  }

  hold(): (failed?: FailedWork) => void {
    this.#holds++;
    let released = false;
    return (failed?: FailedWork) => {
      if (released) return;
      released = true;
      if (failed && Number.isFinite(failed.startMs) && Number.isFinite(failed.endMs)) {
        this.#failed.push({ ...failed, untilMs: failed.endMs + FAILED_UNKNOWN_MS });
      }
      this.#holds--;
      if (this.#holds === 0) this.#buildWaiting();
    };
  }

  observeSample(sample: Sample, onGrid: boolean): void {
    if (this.#samples.length === 0) {
      if (onGrid) this.#samples.push(sample);
      return;
    }
    this.#samples.push(sample);
    const periodMs = this.#o.periodMs;
    const spanMs = sample.monotonicMs - this.#samples[0].monotonicMs;
    if (spanMs < periodMs * (1 - PERIOD_SLACK)) return;
    if (spanMs <= periodMs * (1 + PERIOD_SLACK)) {
      this.#waiting.push(this.#samples);
      if (this.#holds === 0) this.#buildWaiting();
      else if (this.#waiting.length > MAX_WAITING_POINTS) {
        const dropped = this.#waiting.shift()!;
        this.#skip([
          `telemetry point at ${(dropped[0].monotonicMs / 1000).toFixed(1)} s: waited for held work longer than ` +
          `${MAX_WAITING_POINTS} points; dropped`,
        ]);
      }
    }
    this.#samples = onGrid ? [sample] : [];
    this.#dropRecords();
  }

  /** Builds the waiting points, oldest first. */
  #buildWaiting(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const samples of waiting) this.#buildPoint(samples);
    this.#dropRecords();
  }

  #buildPoint(samples: Sample[]): void {
    const fromMs = samples[0].monotonicMs;
    const toMs = samples[samples.length - 1].monotonicMs;
    const failed = this.#failed.find((f) => f.startMs < toMs && f.untilMs > fromMs);
    if (failed) {
      this.#skip([
        `telemetry point at ${(fromMs / 1000).toFixed(1)} s: work on ${failed.unitId} failed and has not ` +
        `been recorded since (its activity is unknown); left out of the fit`,
      ]);
      return;
    }
    const built = telemetryObservations({
      model: this.#model,
      samples,
      records: this.#records,
      rails: this.#rails,
      periodMs: this.#o.periodMs,
    });
    this.#skip(built.skipped);
    if (built.observations.length > 0) {
      this.#apply(built.observations);
      this.#telemetryCount += built.observations.length;
    }
  }

  /** Forgets records that end before every point still to be built. */
  #dropRecords(): void {
    const fromMs = this.#waiting[0]?.[0]?.monotonicMs ?? this.#samples[0]?.monotonicMs;
    if (fromMs === undefined) return;
    this.#records = this.#records.filter((r) => r.endMs > fromMs);
    this.#failed = this.#failed.filter((f) => f.untilMs > fromMs);
  }

  observeTimings(records: readonly WorkRecord[]): void {
    if (records.length === 0) return;
    const built = timingObservations(this.#model, records);
    this.#skip(built.skipped);
    if (built.observations.length === 0) return;
    this.#apply(built.observations);
    this.#timingCount += built.observations.length;
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

  #skip(reasons: readonly string[]): void {
    if (reasons.length === 0) return;
    this.#skipped += reasons.length;
    this.#lastSkipped = reasons[reasons.length - 1];
    this.#o.logger?.debug("calibration skipped observations", { skipped: reasons });
  }

  #apply(observations: readonly Observation[]): void {
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
    this.#skip(e.skipped);
  }
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
