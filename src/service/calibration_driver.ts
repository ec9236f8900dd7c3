/**
 * The calibration workload: a short designed experiment run on a board (a
 * simulated one in virtual time, in seconds of wall time) that moves the
 * board model from its datasheet priors to what the board really does,
 * reading only through the HAL: work durations from the backend that ran the
 * work, power, temperatures and clocks from HAL samples. Never the
 * simulator's truth.
 *
 * The experiment (each phase excites what the next fit needs):
 * 1. idle: base power, idle and leakage of the units that cannot be gated;
 * 2. a sweep of each unit alone at three clocks: a compute-bound item (its
 *    achieved compute efficiency; C_eff V^2 f at three voltages), a
 *    memory-bound item and a memory-only copy (achieved bandwidth, energy per
 *    byte), with idle gaps; at the top clock also items of several arithmetic
 *    intensities around the unit's ridge, where DASI reaches 1 (timing shows
 *    only the achieved roofs; how they split into raw roof and efficiency
 *    sets DASI, the activity of the switching power, which the rail shows:
 *    `estimateRidge`);
 * 3. every unit streaming memory at once: the shared bus's bandwidth and each
 *    unit's own demand (a unit that saturates the bus alone looks the same as
 *    a slow one until it has to share; `estimateBus`);
 * 4. each unit held busy for tens of seconds, then left to cool: thermal
 *    resistances and time constants, and leakage at many temperatures;
 * then physics' calibrate() over every timing and telemetry point, and a
 * validation on jobs the fit never saw: the prediction error of the prior
 * model and of the calibrated one (`before`, `after`).
 */
import { type Clock, type DecoderShape, type Precision, PRECISIONS } from "../core/mod.ts";
import { type Actuators, type Board, EnergyMeter, type Sample } from "../hal/mod.ts";
import type { SimBoard } from "../sim/mod.ts";
import {
  activationTransferBytes,
  type BoardModel,
  type BoardState,
  calibrate,
  type CalibrationError,
  type CalibrationOptions,
  decodeWork,
  type Job,
  type JobOutcome,
  kvHandoffBytes,
  type Observation,
  type Placement,
  predict,
  predictionError,
  type PredictionErrorReport,
  prefillWork,
} from "../physics/mod.ts";
import {
  busShares,
  type RailCoverage,
  railCoverage,
  stateFromSample,
  telemetryObservations,
  timingObservations,
  type WorkRecord,
  zoneTempsC,
} from "./observations.ts";

/** One piece of work for a unit (what `SimBoard.execute` takes). */
export interface WorkItem {
  unitId: string;
  flops: number;
  bytes: number;
  precision: Precision;
}

/** When one item ran. */
export interface ExecutedItem {
  unitId: string;
  /** Start on its unit (queueing excluded), ms on the board's monotonic clock. */
  startMs: number;
  endMs: number;
}

/**
 * A board to calibrate, as the service sees it: the HAL's view, the DVFS
 * actuators, a way to run work and to let time pass, and the HAL samples.
 */
export interface CalibrationTarget {
  /** The discovered board. */
  board: Board;
  /** The board's actuators (the one writer of its knobs). */
  actuators: Actuators;
  /** The clock of the samples and of `ExecutedItem` times. */
  clock: Clock;
  /** Time between two samples, ms; a sample's rail powers are the average since the previous one. */
  samplePeriodMs: number;
  /** Runs items: items on different units concurrently, items on one unit in order; one result per item. */
  execute(items: readonly WorkItem[], signal?: AbortSignal): Promise<ExecutedItem[]>;
  /** Lets the board idle for `durationMs` (virtual time: advances the simulator). */
  idle(durationMs: number, signal?: AbortSignal): Promise<void>;
  /** Delivers every HAL sample, in time order, until the returned function is called. */
  subscribe(listener: (sample: Sample) => void): () => void;
}

/**
 * The target of a simulated board in virtual time: work runs through
 * `sim.execute`, idle time through `sim.advance`, and after every physics step
 * (with the tree written) the HAL reads the board once.
 */
export function simCalibrationTarget(sim: SimBoard, board: Board, actuators: Actuators): CalibrationTarget {
  if (sim.timeMode !== "virtual") {
    throw new RangeError("simCalibrationTarget() needs a simulated board in virtual time");
  }
  return {
    board,
    actuators,
    clock: sim.clock,
    samplePeriodMs: sim.stepMs,
    execute: (items, signal) => sim.execute(items, signal ? { signal } : {}),
    idle: (durationMs) => sim.advance(durationMs),
    subscribe: (listener) => sim.onStep(async () => listener(await board.read())),
  };
}

// ------------------------------------------------------------------------------------------------ jobs

/** The work a job charges, in the order and with the conventions predict() assumes. */
export interface JobWork {
  /** Prefill of the prompt (batch 1, all layers) on the prefill unit. */
  prefill: WorkItem;
  lanes: LaneWork[];
}

/** The work of one decode lane. */
export interface LaneWork {
  /** KV hand-offs (memory-only), run in order before the first step. */
  handoffs: WorkItem[];
  /** Decode steps. */
  steps: number;
  /** Items of step `step` (0-based), one per segment, run in order. */
  stepItems(step: number): WorkItem[];
}

/**
 * The work items of a job under a placement: the prefill; per lane, the
 * prompt's KV cache copied to every segment that did not compute it (or that
 * decodes a batch, kvHandoffBytes) as memory-only items, then genTokens - 1
 * steps at contexts P, P + 1, ..., each segment one item. The hidden state a
 * segment receives from a segment on another unit is counted in that
 * segment's bytes (a simulated board has no separate transfer engine).
 */
export function jobWork(job: Job, placement: Placement): JobWork {
  const { shape } = job;
  const precision = shape.weightPrecision;
  const p = prefillWork(shape, { tokens: job.promptTokens, batch: 1 });
  const steps = job.genTokens > 1 ? job.genTokens - 1 : 0;
  return {
    prefill: { unitId: placement.prefillUnit, flops: p.flops, bytes: p.bytes, precision },
    lanes: placement.lanes.map((lane): LaneWork => {
      const handoffs: WorkItem[] = [];
      if (steps > 0) {
        for (const seg of lane.segments) {
          const bytes = kvHandoffBytes(shape, {
            layerStart: seg.layerStart,
            layerEnd: seg.layerEnd,
            promptTokens: job.promptTokens,
            batch: lane.samples,
            onPrefillUnit: seg.unitId === placement.prefillUnit,
          });
          if (bytes > 0) handoffs.push({ unitId: seg.unitId, flops: 0, bytes, precision });
        }
      }
      const transferBytes = activationTransferBytes(shape, { tokens: 1, batch: lane.samples });
      return {
        handoffs,
        steps,
        stepItems: (step) =>
          lane.segments.map((seg, s) => {
            const w = decodeWork(shape, {
              context: job.promptTokens + step,
              batch: lane.samples,
              layerStart: seg.layerStart,
              layerEnd: seg.layerEnd,
            });
            const received = s > 0 && lane.segments[s - 1].unitId !== seg.unitId ? transferBytes : 0;
            return { unitId: seg.unitId, flops: w.flops, bytes: w.bytes + received, precision };
          }),
      };
    }),
  };
}

/** What a job did on the board, measured through the HAL. */
export interface MeasuredJob {
  /** The state read just before the job (what a planner would predict from). */
  state: BoardState;
  latencyMs: number;
  /** Board input energy over the job's window (from its first sample to the first sample after it), J. */
  energyJ: number;
  /**
   * Highest temperature of each modelled zone during the job, °C: the peak
   * of the readings smoothed over 5 samples (sensor noise would bias a raw
   * maximum upward).
   */
  peakTempC: Record<string, number>;
  records: WorkRecord[];
}

/**
 * A running board under observation: every sample kept, energy metered, work
 * recorded, clocks pinned. Keeps everything it saw, so it is meant for bounded
 * runs (a calibration workload, a benchmark, a test), not for a service's life.
 */
export class BoardSession implements AsyncDisposable {
  readonly target: CalibrationTarget;
  readonly meter = new EnergyMeter();
  readonly samples: Sample[] = [];
  readonly records: WorkRecord[] = [];
  readonly #unsubscribe: () => void;
  readonly #pinnedHz = new Map<string, number>();

  constructor(target: CalibrationTarget) {
    this.target = target;
    this.#unsubscribe = target.subscribe((sample) => {
      this.samples.push(sample);
      this.meter.add(sample);
    });
  }

  /** The latest sample. @throws Error before the first one */
  latest(): Sample {
    const s = this.samples.at(-1);
    if (s === undefined) throw new Error("no HAL sample yet: call alignToSample() first");
    return s;
  }

  /** Lets the board idle until the next sample has been taken (at once when one was just taken). */
  async alignToSample(signal?: AbortSignal): Promise<void> {
    const periodMs = this.target.samplePeriodMs;
    const nowMs = () => this.target.clock.monotonicMs();
    for (let attempt = 0; attempt < 100; attempt++) {
      const last = this.samples.at(-1);
      if (last !== undefined && nowMs() - last.monotonicMs < 1e-6) return;
      const dueMs = last === undefined ? nowMs() + periodMs : last.monotonicMs + periodMs;
      await this.target.idle(Math.max(dueMs - nowMs(), periodMs / 100), signal);
    }
    throw new Error(`no HAL sample arrived within 100 attempts of ${periodMs} ms`);
  }

  /** Pins a unit's clock at one of the model's operating points (through the HAL actuators). */
  async pin(unitId: string, freqHz: number): Promise<void> {
    if (this.#pinnedHz.get(unitId) === freqHz) return;
    await this.target.actuators.pinFrequency(unitId, freqHz);
    this.#pinnedHz.set(unitId, freqHz);
  }

  /** Hands a unit back to its governor (as discovery found it). */
  async release(unitId: string): Promise<void> {
    if (!this.#pinnedHz.has(unitId)) return;
    await this.target.actuators.release(unitId);
    this.#pinnedHz.delete(unitId);
  }

  /** Runs items (on pinned units) and records them. */
  async run(items: readonly WorkItem[], signal?: AbortSignal): Promise<WorkRecord[]> {
    const out = await this.target.execute(items, signal);
    const records = items.map((item, i): WorkRecord => ({
      ...item,
      freqHz: this.#runningFreqHz(item.unitId),
      startMs: out[i].startMs,
      endMs: out[i].endMs,
    }));
    this.records.push(...records);
    return records;
  }

  /**
   * The clock a unit runs at: the pinned one, lowered to the cap the latest
   * sample shows (a thermal governor caps max_freq under a pin); an unpinned
   * unit's current clock.
   */
  #runningFreqHz(unitId: string): number {
    const u = this.samples.at(-1)?.units[unitId];
    const pinned = this.#pinnedHz.get(unitId);
    if (pinned !== undefined) return u?.maxFreqHz.ok ? Math.min(pinned, u.maxFreqHz.value) : pinned;
    if (u?.curFreqHz.ok) return u.curFreqHz.value;
    throw new Error(`unit ${unitId} is not pinned and its clock is unreadable: cannot record its work`);
  }

  /**
   * Runs a job's work (jobWork) with the placement's clocks pinned, lanes
   * concurrently, and measures it through the HAL: latency, board input
   * energy over the job's window, peak zone temperatures.
   */
  async runJob(model: BoardModel, job: Job, placement: Placement, signal?: AbortSignal): Promise<MeasuredJob> {
    const work = jobWork(job, placement);
    const used = new Set([placement.prefillUnit, ...placement.lanes.flatMap((l) => l.segments.map((s) => s.unitId))]);
    for (const id of used) {
      const opps = model.units[id].opps;
      await this.pin(id, opps[placement.freqLevel[id] ?? opps.length - 1].freqHz);
    }
    await this.alignToSample(signal);
    const state = stateFromSample(model, this.target.board, this.latest());
    const first = this.samples.length - 1;
    const window = this.meter.begin();
    const startMs = this.target.clock.monotonicMs();
    const records: WorkRecord[] = [];
    records.push(...await this.run([work.prefill], signal));
    await Promise.all(work.lanes.map(async (lane) => {
      for (const h of lane.handoffs) records.push(...await this.run([h], signal));
      for (let step = 0; step < lane.steps; step++) {
        for (const item of lane.stepItems(step)) records.push(...await this.run([item], signal));
      }
    }));
    const latencyMs = this.target.clock.monotonicMs() - startMs;
    await this.alignToSample(signal);
    const energyJ = window.end().energyJ;
    for (const id of used) await this.release(id);
    return { state, latencyMs, energyJ, peakTempC: smoothedPeaks(model, this.samples.slice(first)), records };
  }

  /** Stops listening and hands every pinned unit back to its governor. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#unsubscribe();
    for (const id of [...this.#pinnedHz.keys()]) await this.release(id);
  }
}

/** Peak of each modelled zone over samples, from a 5-sample centred moving mean. */
function smoothedPeaks(model: BoardModel, samples: readonly Sample[]): Record<string, number> {
  const peaks: Record<string, number> = {};
  for (const zone of model.zones) {
    const series: number[] = [];
    for (const s of samples) {
      let t = -Infinity;
      for (const z of s.thermal) if (z.ok && z.zone === zone.id && z.tempC > t) t = z.tempC;
      if (Number.isFinite(t)) series.push(t);
    }
    if (series.length === 0) continue;
    let peak = -Infinity;
    for (let i = 0; i < series.length; i++) {
      const lo = Math.max(0, i - 2);
      const hi = Math.min(series.length, i + 3);
      let sum = 0;
      for (let j = lo; j < hi; j++) sum += series[j];
      peak = Math.max(peak, sum / (hi - lo));
    }
    peaks[zone.id] = peak;
  }
  return peaks;
}

// ------------------------------------------------------------------------------------------------ bus

/** The shared bus as the concurrent phase shows it. */
export interface BusEstimate {
  /** Bandwidth of the DRAM bus, bytes/s (a lower bound when the units never contended). */
  busBandwidthBytesPerS: number;
  /** What each unit draws when it runs alone on an uncontended bus, bytes/s. */
  demandBytesPerS: Record<string, number>;
  /** Share each unit got while all ran together, (0, 1]. */
  share: number;
  /** The units' demands exceeded the bus when all ran together. */
  contended: boolean;
}

/** Below this share the concurrent phase counts as contended (rail and timing noise stay far above it). */
const CONTENDED_SHARE = 0.98;

/**
 * The bus bandwidth and each unit's own demand from memory-bound records:
 * `solo` ran one unit at a time, `concurrent` ran every unit at once (each a
 * queue of items from the same instant). A unit alone draws min(demand, bus);
 * together all draw demand x share with one share (DESIGN.md 3, the rule the
 * physics predicts with). Items inside the span where every unit was busy
 * give each unit's concurrent rate; the share is the lowest ratio of
 * concurrent to solo rate (a unit not limited by the bus alone shows it
 * exactly; one limited alone shows more), the bus the sum of the concurrent
 * rates, and each demand its concurrent rate over the share.
 *
 * @throws RangeError when a unit has no solo record or no item inside the all-busy span
 */
export function estimateBus(
  model: BoardModel,
  solo: readonly WorkRecord[],
  concurrent: readonly WorkRecord[],
): BusEstimate {
  const units = [...new Set(concurrent.map((r) => r.unitId))];
  const rate = (rs: readonly WorkRecord[]) => {
    let bytes = 0;
    let ms = 0;
    for (const r of rs) {
      bytes += r.bytes;
      ms += r.endMs - r.startMs;
    }
    return bytes / (ms / 1000);
  };
  let spanStart = -Infinity;
  let spanEnd = Infinity;
  for (const id of units) {
    const mine = concurrent.filter((r) => r.unitId === id);
    spanStart = Math.max(spanStart, Math.min(...mine.map((r) => r.startMs)));
    spanEnd = Math.min(spanEnd, Math.max(...mine.map((r) => r.endMs)));
  }
  const soloRate: Record<string, number> = {};
  const togetherRate: Record<string, number> = {};
  for (const id of units) {
    const alone = solo.filter((r) => r.unitId === id && r.endMs > r.startMs);
    if (alone.length === 0) throw new RangeError(`estimateBus: no solo memory-bound record of unit "${id}"`);
    const inside = concurrent.filter((r) =>
      r.unitId === id && r.startMs >= spanStart - 1e-6 && r.endMs <= spanEnd + 1e-6 && r.endMs > r.startMs
    );
    if (inside.length === 0) {
      throw new RangeError(`estimateBus: no item of unit "${id}" ran while every unit was busy`);
    }
    soloRate[id] = rate(alone);
    togetherRate[id] = rate(inside);
  }
  const share = Math.min(1, ...units.map((id) => togetherRate[id] / soloRate[id]));
  const total = units.reduce((s, id) => s + togetherRate[id], 0);
  if (share >= CONTENDED_SHARE) {
    return {
      busBandwidthBytesPerS: Math.max(model.busBandwidthBytesPerS, total),
      demandBytesPerS: soloRate,
      share: 1,
      contended: false,
    };
  }
  const demandBytesPerS: Record<string, number> = {};
  for (const id of units) demandBytesPerS[id] = togetherRate[id] / share;
  return { busBandwidthBytesPerS: total, demandBytesPerS, share, contended: true };
}

/** The model with the bus and the units' memory efficiencies (demand over the unit's own bandwidth) of an estimate. */
export function applyBusEstimate(model: BoardModel, estimate: BusEstimate): BoardModel {
  const units = { ...model.units };
  for (const [id, demand] of Object.entries(estimate.demandBytesPerS)) {
    const u = units[id];
    if (u !== undefined) units[id] = { ...u, memoryEfficiency: demand / u.bandwidthBytesPerS };
  }
  return { ...model, units, busBandwidthBytesPerS: estimate.busBandwidthBytesPerS };
}

// ------------------------------------------------------------------------------------------------ ridge

/** A unit's raw ridge point as its power shows it. */
export interface RidgeEstimate {
  unitId: string;
  /**
   * Arithmetic intensity at which the unit's DASI reaches 1 at its top clock,
   * F(f_max) / B, FLOP/byte (raw roofs, before the achieved efficiencies).
   */
  ridgeFlopPerByte: number;
  /** Rail-sample points the fit used. */
  points: number;
  /** Root mean square residual of the power fit, W. */
  rmsResidualW: number;
}

/** One rail sample taken while a unit ran a single item alone. */
interface RidgePoint {
  powerW: number;
  /** FLOPs per byte of the item times the bus share it got. */
  intensity: number;
  bytesPerS: number;
  tempC: number;
}

/** Least squares of y on the columns of x (normal equations, Gaussian elimination); undefined when singular. */
function leastSquares(x: readonly number[][], y: readonly number[]): { beta: number[]; sse: number } | undefined {
  const k = x[0].length;
  const a = Array.from({ length: k }, () => new Array<number>(k + 1).fill(0));
  for (let n = 0; n < x.length; n++) {
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) a[i][j] += x[n][i] * x[n][j];
      a[i][k] += x[n][i] * y[n];
    }
  }
  for (let c = 0; c < k; c++) {
    let pivot = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(a[r][c]) > Math.abs(a[pivot][c])) pivot = r;
    if (!(Math.abs(a[pivot][c]) > 1e-12 * (Math.abs(a[c][c]) + 1e-300))) return undefined;
    [a[c], a[pivot]] = [a[pivot], a[c]];
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = a[r][c] / a[c][c];
      for (let j = c; j <= k; j++) a[r][j] -= f * a[c][j];
    }
  }
  const beta = a.map((row, i) => row[k] / row[i]);
  let sse = 0;
  for (let n = 0; n < x.length; n++) {
    let e = y[n];
    for (let i = 0; i < k; i++) e -= beta[i] * x[n][i];
    sse += e * e;
  }
  return { beta, sse };
}

/**
 * The raw ridge point F/B of a unit from its power while it ran items of
 * several arithmetic intensities alone at one clock. Timing shows only the
 * achieved roofs (F eta_c, B eta_m); the split between roof and efficiency
 * matters for DASI = min(1, I B / F), the activity of the switching power,
 * which the power rail shows: at one clock and temperature the unit draws
 * P = a + b (T - T_mean) + K min(1, I s / R) + e_byte x traffic, linear in
 * everything but the ridge R (s: the item's bus share). R is found by a
 * log-spaced search with a golden-section refinement, each candidate solved
 * by linear least squares. Uses the rail samples whose whole interval lies
 * inside one item of the unit at `freqHz` while no other unit worked.
 *
 * @throws RangeError when fewer than 8 samples qualify or the intensities do not span the prior ridge
 */
export function estimateRidge(
  model: BoardModel,
  unitId: string,
  freqHz: number,
  samples: readonly Sample[],
  records: readonly WorkRecord[],
  rail: string,
): RidgeEstimate {
  const unit = model.units[unitId];
  if (unit === undefined) throw new RangeError(`estimateRidge: unknown unit "${unitId}"`);
  const shares = busShares(model, records);
  const points: RidgePoint[] = [];
  const mine = records.map((r, i) => ({ r, i })).filter(({ r }) =>
    r.unitId === unitId && r.freqHz === freqHz && r.bytes > 0 && r.endMs > r.startMs
  );
  for (let n = 1; n < samples.length; n++) {
    const from = samples[n - 1].monotonicMs;
    const to = samples[n].monotonicMs;
    const hit = mine.find(({ r }) => r.startMs <= from + 1e-6 && r.endMs >= to - 1e-6);
    if (hit === undefined) continue;
    if (records.some((o) => o.unitId !== unitId && o.startMs < to && o.endMs > from)) continue;
    const reading = samples[n].power.find((p) => p.name === rail);
    const tempC = zoneTempsC(samples[n], [unit.thermalZone])[unit.thermalZone];
    if (reading === undefined || !reading.ok || tempC === undefined) continue;
    const { r, i } = hit;
    points.push({
      powerW: reading.powerW,
      intensity: (r.flops / r.bytes) * shares[i],
      bytesPerS: r.bytes / ((r.endMs - r.startMs) / 1000),
      tempC,
    });
  }
  const top = unit.opps[unit.opps.length - 1].freqHz;
  const precision = records.find((r) => r.unitId === unitId)?.precision ?? workloadPrecision(model, unitId);
  const priorRidge = (unit.peakOpsPerS[precision]! * freqHz / top) / unit.bandwidthBytesPerS;
  const below = points.some((p) => p.intensity < 0.7 * priorRidge);
  const above = points.some((p) => p.intensity > 1.4 * priorRidge);
  if (points.length < 8 || !below || !above) {
    throw new RangeError(
      `estimateRidge: unit "${unitId}" needs 8 rail samples inside single items spanning its prior ridge ` +
        `${priorRidge.toFixed(1)} FLOP/B (got ${points.length})`,
    );
  }
  const meanT = points.reduce((s, p) => s + p.tempC, 0) / points.length;
  const y = points.map((p) => p.powerW);
  const sseAt = (ridge: number) => {
    const x = points.map((p) => [1, p.tempC - meanT, Math.min(1, p.intensity / ridge), p.bytesPerS / 1e9]);
    return leastSquares(x, y)?.sse ?? Infinity;
  };
  // Log-spaced scan over a factor 4 either side of the prior, then golden-section refinement of the best bracket.
  const lo = Math.log(priorRidge / 4);
  const hi = Math.log(priorRidge * 4);
  const steps = 80;
  let best = 0;
  const grid = Array.from({ length: steps + 1 }, (_, k) => sseAt(Math.exp(lo + (hi - lo) * k / steps)));
  for (let k = 1; k <= steps; k++) if (grid[k] < grid[best]) best = k;
  let a = lo + (hi - lo) * Math.max(0, best - 1) / steps;
  let b = lo + (hi - lo) * Math.min(steps, best + 1) / steps;
  const g = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 40; it++) {
    const c = b - g * (b - a);
    const d = a + g * (b - a);
    if (sseAt(Math.exp(c)) <= sseAt(Math.exp(d))) b = d;
    else a = c;
  }
  const ridge = Math.exp((a + b) / 2);
  return {
    unitId,
    ridgeFlopPerByte: ridge,
    points: points.length,
    rmsResidualW: Math.sqrt(sseAt(ridge) / points.length),
  };
}

/**
 * The model with a unit's raw compute roof moved so its ridge at the top clock
 * is `estimate.ridgeFlopPerByte` (every precision scaled alike), and its
 * compute efficiency scaled the other way, so the achieved compute rate, and
 * every predicted time, stay as they were; only DASI changes.
 */
export function applyRidgeEstimate(model: BoardModel, estimate: RidgeEstimate, precision: Precision): BoardModel {
  const u = model.units[estimate.unitId];
  const peak = u.peakOpsPerS[precision];
  if (peak === undefined) throw new RangeError(`applyRidgeEstimate: unit "${u.id}" has no ${precision} peak`);
  const factor = (estimate.ridgeFlopPerByte * u.bandwidthBytesPerS) / peak;
  const peakOpsPerS: Partial<Record<Precision, number>> = {};
  for (const [p, v] of Object.entries(u.peakOpsPerS)) peakOpsPerS[p as Precision] = v! * factor;
  return {
    ...model,
    units: { ...model.units, [u.id]: { ...u, peakOpsPerS, computeEfficiency: u.computeEfficiency / factor } },
  };
}

// ------------------------------------------------------------------------------------------------ workload

/** A job to validate the calibration on. */
export interface ValidationJob {
  job: Job;
  placement: Placement;
}

/** A validation job with its measurement and both predictions. */
export interface ValidationResult extends ValidationJob {
  measured: MeasuredJob;
  before: JobOutcome["predicted"];
  after: JobOutcome["predicted"];
}

/** Options of {@linkcode runCalibrationWorkload}. */
export interface CalibrationWorkloadOptions extends CalibrationTarget {
  /** The model to calibrate (usually `createBoardModel(profile.priors)`). */
  model: BoardModel;
  /** Units to exercise. @default every unit of the model that discovery found */
  unitIds?: readonly string[];
  /**
   * What the rails cover, by rail name, replacing the naming rule of
   * `railCoverage` (e.g. a board-specific aux rail). @default none
   */
  railOverrides?: Readonly<Record<string, RailCoverage | null>>;
  /** Length of a telemetry point, ms. @default 1000 */
  telemetryPeriodMs?: number;
  /**
   * Options of calibrate(). @default no forgetting (the experiment is short
   * and the board does not drift during it: every point counts)
   */
  calibration?: CalibrationOptions;
  /** Duration of each compute-bound item of the sweep at the prior model, ms. @default 800 */
  sweepItemMs?: number;
  /** How long each unit is held busy in the thermal phase, ms. @default 20000 */
  heatMs?: number;
  /** How long the board cools after each unit's heat, ms. @default 15000 */
  coolMs?: number;
  /**
   * Jobs to measure the prediction error on (never fed to the fit).
   * @default `defaultValidationJobs(model, board, validationShape)`
   */
  validation?: readonly ValidationJob[];
  /** Decoder of the default validation jobs. @default a Llama-3.2-1B-shaped int4 decoder */
  validationShape?: DecoderShape;
}

/** Result of {@linkcode runCalibrationWorkload}. */
export interface CalibrationWorkloadResult {
  /** The calibrated model. */
  model: BoardModel;
  /** Prediction error of the starting model on the validation jobs. */
  before: PredictionErrorReport;
  /** Prediction error of the calibrated model on the same jobs. */
  after: PredictionErrorReport;
  validation: ValidationResult[];
  /** calibrate()'s prequential errors over the workload (each point predicted before it was fitted). */
  fit: CalibrationError;
  bus: BusEstimate;
  /** Each unit's raw ridge point, from its power over the intensity sweep (units without a rail have none). */
  ridges: RidgeEstimate[];
  /** What the workload could not fit, with the reason (e.g. a unit no rail measures). */
  notes: string[];
  /** Time the workload took on the board's clock (the validation included), ms. */
  durationMs: number;
  /** Work items, samples and telemetry points the fit used. */
  counts: { records: number; samples: number; telemetry: number };
}

/**
 * Llama-3.2-1B's dimensions (meta-llama/Llama-3.2-1B config.json) with int4
 * weights in groups of 32: the size of model qeil plans for on these boards.
 */
export const LLAMA_3_2_1B_INT4: DecoderShape = {
  family: "llama",
  mlpMatrices: 3,
  layers: 16,
  hiddenSize: 2048,
  intermediateSize: 8192,
  heads: 32,
  kvHeads: 8,
  headDim: 64,
  vocabSize: 128256,
  maxSeqLen: 131072,
  tiedEmbeddings: true,
  weightPrecision: "int4",
  groupSize: 32,
  kvPrecision: "fp16",
};

/** Decode steps a validation job runs at most (keeps a slow unit's job short). */
const VALIDATION_MAX_STEPS = 400;
/** Target length of a validation job at the model's prediction, ms. */
const VALIDATION_TARGET_MS = 2500;

/**
 * Validation jobs for a board: every unit alone (prefill and a 2-sample lane
 * at its top clock), and the two highest-bandwidth units together (prefill on
 * one, a lane on each). Decode lengths are sized so each job takes about 2.5 s
 * at the model's prediction.
 */
export function defaultValidationJobs(
  model: BoardModel,
  board: Pick<Board, "units">,
  shape: DecoderShape = LLAMA_3_2_1B_INT4,
): ValidationJob[] {
  const found = new Set(board.units.map((u) => u.id));
  const ids = model.unitIds.filter((id) => found.has(id) && model.units[id].peakOpsPerS[shape.weightPrecision]);
  const state: BoardState = {
    tempsC: {},
    ambientC: model.ambientC,
    memAvailableBytes: 0.8 * model.memoryTotalBytes,
    healthyUnits: ids,
    maxFreqHz: {},
  };
  const whole = (unitId: string) => [{ unitId, layerStart: 0, layerEnd: shape.layers }];
  const placements: Placement[] = ids.map((id) => ({
    prefillUnit: id,
    lanes: [{ segments: whole(id), samples: 2 }],
    freqLevel: {},
  }));
  const byBandwidth = [...ids].sort((a, b) =>
    model.units[b].bandwidthBytesPerS * model.units[b].memoryEfficiency -
    model.units[a].bandwidthBytesPerS * model.units[a].memoryEfficiency
  );
  if (byBandwidth.length >= 2) {
    placements.push({
      prefillUnit: byBandwidth[0],
      lanes: [{ segments: whole(byBandwidth[0]), samples: 2 }, { segments: whole(byBandwidth[1]), samples: 2 }],
      freqLevel: {},
    });
  }
  const promptTokens = 64;
  return placements.map((placement) => {
    const samples = placement.lanes.reduce((s, l) => s + l.samples, 0);
    const probe = predict(model, state, { shape, promptTokens, genTokens: 2, samples }, placement);
    const perStepMs = Math.max(1e-3, probe.latencyMs - probe.ttftMs);
    const steps = Math.max(
      4,
      Math.min(
        VALIDATION_MAX_STEPS,
        shape.maxSeqLen - promptTokens,
        Math.round((VALIDATION_TARGET_MS - probe.ttftMs) / perStepMs),
      ),
    );
    return { job: { shape, promptTokens, genTokens: steps + 1, samples }, placement };
  });
}

/** Precision the workload exercises a unit with: the widest-rate integer format it has. */
function workloadPrecision(model: BoardModel, unitId: string): Precision {
  const peaks = model.units[unitId].peakOpsPerS;
  for (const p of ["int8", "fp16", "int4", "fp32"] as const) if (peaks[p] !== undefined) return p;
  return PRECISIONS.find((p) => peaks[p] !== undefined)!;
}

/** Arithmetic intensity of the compute-bound items, FLOP/byte: far above every edge unit's ridge (~10-300). */
const COMPUTE_INTENSITY = 2000;
/**
 * Arithmetic intensity of the memory-bound items, FLOP/byte: far below every
 * ridge, also at the lowest clocks (a 115 MHz Orin CPU cluster computes ~9 GOP/s).
 */
const MEMORY_INTENSITY = 0.05;

/**
 * An item sized to take `ms` on the unit alone at `freqHz`, by the model:
 * compute-bound, memory-bound, a memory-only copy, or of a given arithmetic
 * intensity (FLOP/byte).
 */
function sizedItem(
  model: BoardModel,
  unitId: string,
  freqHz: number,
  kind: "compute" | "memory" | "copy" | { intensity: number },
  ms: number,
): WorkItem {
  const unit = model.units[unitId];
  const precision = workloadPrecision(model, unitId);
  const top = unit.opps[unit.opps.length - 1].freqHz;
  const seconds = ms / 1000;
  const computeRate = unit.peakOpsPerS[precision]! * (freqHz / top) * unit.computeEfficiency;
  const memoryRate = unit.bandwidthBytesPerS * unit.memoryEfficiency;
  const intensity = kind === "compute"
    ? COMPUTE_INTENSITY
    : kind === "memory"
    ? MEMORY_INTENSITY
    : kind === "copy"
    ? 0
    : kind.intensity;
  const bytes = seconds / Math.max(intensity / computeRate, 1 / memoryRate);
  return { unitId, precision, flops: intensity * bytes, bytes };
}

/** Intensities of the ridge sweep, relative to the prior ridge F(f_max) / B (the truth may sit 0.4-2.5x off). */
const RIDGE_SWEEP = [0.3, 0.55, 0.8, 1.1, 1.6, 2.6];

/** The rail that shows a unit's power with the fewest other parts on it. */
function railFor(rails: Readonly<Record<string, RailCoverage>>, unitId: string): string | undefined {
  let best: string | undefined;
  let bestCost = Infinity;
  for (const [name, c] of Object.entries(rails)) {
    if (!c.unitIds.includes(unitId)) continue;
    const cost = c.unitIds.length + (c.includesBase ? 0.5 : 0);
    if (cost < bestCost) {
      best = name;
      bestCost = cost;
    }
  }
  return best;
}

/** Distinct operating-point indices: top, middle, lowest. */
function sweepLevels(count: number): number[] {
  return [...new Set([count - 1, Math.floor((count - 1) / 2), 0])];
}

/**
 * Runs the calibration workload (see the module comment) and returns the
 * calibrated model with the prediction error before and after on jobs the
 * fit never saw. Reads the board only through the HAL. Leaves every unit
 * with its governor as discovery found it.
 *
 * @throws RangeError when none of the model's units was discovered
 */
export async function runCalibrationWorkload(
  options: CalibrationWorkloadOptions,
  signal?: AbortSignal,
): Promise<CalibrationWorkloadResult> {
  const prior = options.model;
  const found = new Set(options.board.units.map((u) => u.id));
  const unitIds = (options.unitIds ?? prior.unitIds).filter((id) => found.has(id) && prior.units[id] !== undefined);
  if (unitIds.length === 0) {
    throw new RangeError(
      `runCalibrationWorkload: none of the model's units (${prior.unitIds}) was discovered on the board`,
    );
  }
  const sweepItemMs = options.sweepItemMs ?? 800;
  const heatMs = options.heatMs ?? 20000;
  const coolMs = options.coolMs ?? 15000;
  const periodMs = options.telemetryPeriodMs ?? 1000;
  const validation = options.validation ?? defaultValidationJobs(prior, options.board, options.validationShape);

  await using session = new BoardSession(options);
  await session.alignToSample(signal);
  const t0 = options.clock.monotonicMs();
  const idle = (ms: number) => options.idle(ms, signal);

  // 1. Idle baseline.
  await idle(3000);

  // 2. Each unit alone at three clocks; at the top clock also a sweep of arithmetic intensities around its ridge.
  const soloMemory: WorkRecord[] = [];
  for (const id of unitIds) {
    const unit = prior.units[id];
    const opps = unit.opps;
    for (const level of sweepLevels(opps.length)) {
      const f = opps[level].freqHz;
      await session.pin(id, f);
      await session.run([sizedItem(prior, id, f, "compute", sweepItemMs)], signal);
      const memory = await session.run([sizedItem(prior, id, f, "memory", 0.75 * sweepItemMs)], signal);
      if (level === opps.length - 1) soloMemory.push(...memory);
      await session.run([sizedItem(prior, id, f, "copy", 0.4 * sweepItemMs)], signal);
      if (level === opps.length - 1) {
        const ridge = unit.peakOpsPerS[workloadPrecision(prior, id)]! / unit.bandwidthBytesPerS;
        for (const k of RIDGE_SWEEP) {
          await session.run([sizedItem(prior, id, f, { intensity: k * ridge }, 0.8 * sweepItemMs)], signal);
        }
      }
      await idle(0.6 * sweepItemMs);
    }
    await session.release(id);
    await idle(1000);
  }
  const timed = calibrate(prior, timingObservations(prior, session.records).observations, options.calibration);

  // 3. Every unit streaming memory at once, each a queue of short items sized by the timed model.
  for (const id of unitIds) await session.pin(id, prior.units[id].opps.at(-1)!.freqHz);
  const queue: WorkItem[] = [];
  for (const id of unitIds) {
    const top = prior.units[id].opps.at(-1)!.freqHz;
    for (let k = 0; k < 8; k++) queue.push(sizedItem(timed.model, id, top, "memory", 150));
  }
  const concurrent = await session.run(queue, signal);
  const bus = estimateBus(timed.model, soloMemory, concurrent);
  for (const id of unitIds) await session.release(id);
  await idle(2000);

  // 4. Heat each unit in turn (compute-bound, then memory-bound at its top clock), then let the board cool.
  for (const id of unitIds) {
    const top = prior.units[id].opps.at(-1)!.freqHz;
    await session.pin(id, top);
    const computeMs = 0.75 * heatMs;
    for (let ms = 0; ms < computeMs; ms += 1000) {
      await session.run([sizedItem(timed.model, id, top, "compute", 1000)], signal);
    }
    for (let ms = 0; ms < heatMs - computeMs; ms += 1000) {
      await session.run([sizedItem(timed.model, id, top, "memory", 1000)], signal);
    }
    await session.release(id);
    await idle(coolMs);
  }
  await session.alignToSample(signal);

  // The fit: the bus and each unit's ridge first (they change DASI and the bus shares the other fits use),
  // then every record's timing and every telemetry point, in time order.
  const coverage = railCoverage(options.board, prior, options.railOverrides);
  const rails = coverage.rails;
  let busModel = applyBusEstimate(prior, bus);
  const ridges: RidgeEstimate[] = [];
  const notes: string[] = [...coverage.skipped];
  for (const id of unitIds) {
    const rail = railFor(rails, id);
    if (rail === undefined) {
      notes.push(`${id}: no power rail covers it; its ridge and power coefficients stay at the priors`);
      continue;
    }
    const top = prior.units[id].opps.at(-1)!.freqHz;
    try {
      const ridge = estimateRidge(busModel, id, top, session.samples, session.records, rail);
      ridges.push(ridge);
      busModel = applyRidgeEstimate(busModel, ridge, workloadPrecision(prior, id));
    } catch (error) {
      // Too few clean rail samples (a sensor that failed during the sweep): keep the prior roofs, say so.
      if (!(error instanceof RangeError)) throw error;
      notes.push(`${id}: ridge not fitted, prior roofs kept: ${error.message}`);
    }
  }
  const timing = timingObservations(busModel, session.records);
  const telemetry = telemetryObservations({
    model: busModel,
    samples: session.samples,
    records: session.records,
    rails,
    periodMs,
  }).observations;
  const ordered: { atS: number; obs: Observation }[] = [
    ...timing.observations.map((obs, i) => ({ atS: session.records[timing.recordIndex[i]].endMs / 1000, obs })),
    ...telemetry.map((obs) => ({ atS: obs.timeS, obs })),
  ].sort((a, b) => a.atS - b.atS);
  const fitted = calibrate(busModel, ordered.map((o) => o.obs), {
    powerForgetting: 1,
    thermalForgetting: 1,
    ...options.calibration,
  });
  const model = fitted.model;

  // Validation on jobs the fit never saw.
  const results: ValidationResult[] = [];
  for (const v of validation) {
    const measured = await session.runJob(model, v.job, v.placement, signal);
    const b = predict(prior, measured.state, v.job, v.placement);
    const a = predict(model, measured.state, v.job, v.placement);
    results.push({
      ...v,
      measured,
      before: { energyJ: b.energyJ, latencyMs: b.latencyMs, peakTempC: b.peakTempC },
      after: { energyJ: a.energyJ, latencyMs: a.latencyMs, peakTempC: a.peakTempC },
    });
  }
  const outcome = (which: "before" | "after") =>
    results.map((r): JobOutcome => ({
      predicted: r[which],
      measured: { energyJ: r.measured.energyJ, latencyMs: r.measured.latencyMs, peakTempC: r.measured.peakTempC },
    }));
  return {
    model,
    before: predictionError(outcome("before")),
    after: predictionError(outcome("after")),
    validation: results,
    fit: fitted.error,
    bus,
    ridges,
    notes,
    durationMs: options.clock.monotonicMs() - t0,
    counts: { records: session.records.length, samples: session.samples.length, telemetry: telemetry.length },
  };
}
