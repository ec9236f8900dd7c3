/**
 * Charging a simulated board for the work of a placement. The tokens come
 * from the real model on the host CPU; each ORT run the runtime is about to
 * make (a StepEvent) is mapped onto the placement the planner chose: the
 * prefill on the prefill unit, then the prompt's KV cache handed to each
 * lane's units, then every decode step as, for each lane holding samples of
 * the step, its segments in order (with an activation transfer between
 * segments on different units), lanes concurrently. FLOPs and bytes come
 * from physics's workload functions for the cost shape (which may be a
 * larger declared model than the one producing tokens, its layers mapped in
 * proportion) and are executed by the simulator, whose time and power are
 * what the HAL then measures. Each item has a deadline from the calibrated
 * model; a unit that throws or misses it fails the step with a unit fault.
 * The deadline is a multiple of the item's predicted time at the bus share
 * the step's concurrent items leave it: a wide multiple while the unit's
 * efficiency in the item's regime is still its datasheet prior, a narrow one
 * once calibration has timed enough of its items (so a hung unit is found in
 * a few predicted durations, not in hours of a long prefill).
 *
 * Every executed item becomes a work record (unit, FLOPs, bytes, clock,
 * start and end on the simulator's clock): the calibration builds its timing
 * observations and the units' activity from them (observations.ts).
 */
import { BackendError, type DecoderShape, isQeilError, TimeoutError } from "../core/mod.ts";
import {
  activationTransferBytes,
  type BoardModel,
  concurrentBusShare,
  decodeWork,
  kvHandoffBytes,
  type Placement,
  prefillWork,
  unitWorkTime,
} from "../physics/mod.ts";
import type { StepCharger, StepEvent } from "../runtime/mod.ts";
import type { SimBoard, SimWorkItem } from "../sim/mod.ts";
import type { FailedWork } from "./calibrator.ts";
import type { WorkRecord } from "./observations.ts";

/** A unit threw or missed its deadline while charged: the fault manager's input. */
export interface UnitFaultInfo {
  unitId: string;
  kind: "failed" | "timeout";
  reason: string;
}

/** The unit fault a charger error carries, or undefined for any other error. */
export function unitFaultOf(error: unknown): UnitFaultInfo | undefined {
  if (!isQeilError(error) || error.details.unitFault !== true) return undefined;
  const unitId = error.details.unitId;
  if (typeof unitId !== "string") return undefined;
  return { unitId, kind: error.code === "Timeout" ? "timeout" : "failed", reason: error.message };
}

/** A decode step is about to heat a zone past its guard: the orchestrator re-plans (and lets the board cool). */
export class ThermalGuardError extends Error {
  readonly zone: string;
  readonly tempC: number;
  readonly limitC: number;

  constructor(zone: string, tempC: number, limitC: number) {
    super(`zone ${zone} is at ${tempC.toFixed(1)} °C, at or above its guard of ${limitC.toFixed(1)} °C`);
    this.name = "ThermalGuardError";
    this.zone = zone;
    this.tempC = tempC;
    this.limitC = limitC;
  }
}

/** Options of `createSimCharger`. */
export interface SimChargerOptions {
  sim: SimBoard;
  /** The calibrated model at the time of the call (deadlines, DASI, bus shares). */
  model: () => BoardModel;
  /** Shape charged for (the declared cost model, or the real one). */
  costShape: DecoderShape;
  /** Layers of the model that produces the tokens (its events' layer ranges are mapped to the cost shape). */
  realLayers: number;
  /** The placement of this wave, in cost-shape layers. */
  placement: Placement;
  /** Prompt tokens (for the KV hand-off after the prefill). */
  promptTokens: number;
  /** Clock frequency each used unit runs at, Hz (for deadlines and the work records). */
  freqHz: Readonly<Record<string, number>>;
  /** Receives a record of every executed item. */
  onRecord: (record: WorkRecord) => void;
  /**
   * Called as an item starts; the function it returns is called once the
   * item's record was handed to `onRecord`, or with the item's unit and
   * span when it failed: the calibration feed's `hold()`. @default none
   */
  hold?: () => (failed?: FailedWork) => void;
  /**
   * An item's deadline is this many times its predicted duration while the
   * unit's efficiency in the item's regime (compute- or memory-bound) is
   * still uncalibrated. @default 20
   */
  deadlineFactor?: number;
  /**
   * The multiple once calibration has timed `CALIBRATED_ITEMS` items of the
   * unit in that regime: room for a thermal cap halving the clock, noise and
   * the model's error, not for an order of magnitude. @default 5
   */
  calibratedDeadlineFactor?: number;
  /** Shortest deadline of an item, ms of simulated time. @default 2000 */
  minDeadlineMs?: number;
  /** Checked before each decode step; throw ThermalGuardError to stop the wave. @default none */
  guard?: () => void;
  /** The prefills never decode (log-likelihood scoring): no KV hand-off to the lanes. @default false */
  prefillOnly?: boolean;
}

/** A StepCharger for a simulated board that also reports what it charged. */
export interface SimCharger extends StepCharger {
  /** Simulated device time of the charged work (the simulator's span of each step's items), ms. */
  readonly deviceMs: number;
  /** Items executed. */
  readonly items: number;
}

interface PlannedItem {
  item: SimWorkItem;
  kind: "prefill" | "copy" | "decode";
  predictedMs: number;
  /** The unit's efficiency in the item's regime was fitted from at least `CALIBRATED_ITEMS` timed items. */
  calibrated: boolean;
}

/** Timed items of a unit in a regime after which its predicted durations are trusted for deadlines. */
export const CALIBRATED_ITEMS = 8;

/** Default multiple of a calibrated item's predicted time a unit gets before it counts as hung. */
export const CALIBRATED_DEADLINE_FACTOR = 5;

class Charger implements SimCharger {
  readonly #o: SimChargerOptions;
  readonly #laneOf: number[] = [];
  #deviceMs = 0;
  #items = 0;

  constructor(options: SimChargerOptions) {
    this.#o = options;
    options.placement.lanes.forEach((lane, l) => {
      for (let i = 0; i < lane.samples; i++) this.#laneOf.push(l);
    });
  }

  get deviceMs(): number {
    return this.#deviceMs;
  }

  get items(): number {
    return this.#items;
  }

  async charge(event: StepEvent, signal?: AbortSignal): Promise<void> {
    if (event.phase === "prefill") await this.#prefill(event, signal);
    else {
      this.#o.guard?.();
      await this.#decode(event, signal);
    }
  }

  /** The event's layers in the cost shape's layers. */
  #costRange(event: StepEvent): [number, number] {
    const Lc = this.#o.costShape.layers;
    const Lr = this.#o.realLayers;
    return [Math.round(event.layerStart * Lc / Lr), Math.round(event.layerEnd * Lc / Lr)];
  }

  /** The unit's clock: as applied, else its top operating point. */
  #freqOf(unitId: string): number {
    return this.#o.freqHz[unitId] ?? this.#o.model().units[unitId].opps.at(-1)!.freqHz;
  }

  #plan(unitId: string, kind: PlannedItem["kind"], flops: number, bytes: number): PlannedItem {
    const precision = this.#o.costShape.weightPrecision;
    const freqHz = this.#freqOf(unitId);
    const model = this.#o.model();
    const t = unitWorkTime(model, { unitId, precision, flops, bytes, freqHz });
    const eta = model.calibration.eta[unitId];
    const timed = t.computeS >= t.memoryS ? eta?.computeSamples : eta?.memorySamples;
    return {
      item: { unitId, flops, bytes, precision },
      kind,
      predictedMs: t.durationS * 1000,
      calibrated: (timed ?? 0) >= CALIBRATED_ITEMS,
    };
  }

  async #prefill(event: StepEvent, signal: AbortSignal | undefined): Promise<void> {
    const [ls, le] = this.#costRange(event);
    if (le <= ls) return;
    const { costShape, placement } = this.#o;
    const w = prefillWork(costShape, { tokens: event.newTokens, batch: event.batch, layerStart: ls, layerEnd: le });
    await this.#runGroups([[this.#plan(placement.prefillUnit, "prefill", w.flops, w.bytes)]], signal);
    if (this.#o.prefillOnly) return;
    // The prompt's KV cache goes to every lane's segments (broadcast to the lane's batch), as predict() charges it.
    const copies: PlannedItem[][] = [];
    for (const lane of placement.lanes) {
      const group: PlannedItem[] = [];
      for (const seg of lane.segments) {
        const a = Math.max(ls, seg.layerStart);
        const b = Math.min(le, seg.layerEnd);
        if (b <= a) continue;
        const bytes = kvHandoffBytes(costShape, {
          promptTokens: this.#o.promptTokens,
          batch: lane.samples,
          layerStart: a,
          layerEnd: b,
          onPrefillUnit: seg.unitId === placement.prefillUnit,
        });
        if (bytes > 0) group.push(this.#plan(seg.unitId, "copy", 0, bytes));
      }
      if (group.length > 0) copies.push(group);
    }
    await this.#runGroups(copies, signal);
  }

  async #decode(event: StepEvent, signal: AbortSignal | undefined): Promise<void> {
    const [ls, le] = this.#costRange(event);
    if (le <= ls) return;
    const { costShape, placement } = this.#o;
    const batchOf = new Array<number>(placement.lanes.length).fill(0);
    for (const index of event.samples) {
      const lane = this.#laneOf[index];
      if (lane === undefined) {
        throw new RangeError(`charge: sample ${index} is outside the placement's ${this.#laneOf.length} samples`);
      }
      batchOf[lane]++;
    }
    const groups: PlannedItem[][] = [];
    placement.lanes.forEach((lane, l) => {
      const b = batchOf[l];
      if (b === 0) return;
      const group: PlannedItem[] = [];
      let prevUnit: string | undefined;
      for (const seg of lane.segments) {
        const a = Math.max(ls, seg.layerStart);
        const e = Math.min(le, seg.layerEnd);
        if (e <= a) continue;
        if (prevUnit !== undefined && prevUnit !== seg.unitId) {
          group.push(this.#plan(seg.unitId, "copy", 0, activationTransferBytes(costShape, { tokens: 1, batch: b })));
        }
        const w = decodeWork(costShape, { context: event.pastLength, batch: b, layerStart: a, layerEnd: e });
        group.push(this.#plan(seg.unitId, "decode", w.flops, w.bytes));
        prevUnit = seg.unitId;
      }
      if (group.length > 0) groups.push(group);
    });
    await this.#runGroups(groups, signal);
  }

  /**
   * Deadlines of the items of concurrent groups: each item's predicted time at
   * the bus share all the groups' items would leave it if they ran at once
   * (the worst the step can contend), times the factor its calibration earns.
   */
  #deadlines(groups: PlannedItem[][]): (p: PlannedItem) => number {
    const model = this.#o.model();
    const works = groups.flat().map((p) => ({ ...p.item, freqHz: this.#freqOf(p.item.unitId) }));
    const share = groups.length > 1 ? concurrentBusShare(model, works) : 1;
    const factor = this.#o.deadlineFactor ?? 20;
    const calibratedFactor = this.#o.calibratedDeadlineFactor ?? CALIBRATED_DEADLINE_FACTOR;
    const minMs = this.#o.minDeadlineMs ?? 2000;
    return (p) => {
      const contendedMs = share < 1
        ? unitWorkTime(model, { ...p.item, freqHz: this.#freqOf(p.item.unitId) }, { busShare: share }).durationS * 1000
        : p.predictedMs;
      return Math.max(minMs, (p.calibrated ? calibratedFactor : factor) * contendedMs);
    };
  }

  /** Runs groups concurrently (each group's items in order); the first fault aborts the others. */
  async #runGroups(groups: PlannedItem[][], signal: AbortSignal | undefined): Promise<void> {
    if (groups.length === 0) return;
    const local = new AbortController();
    const combined = signal ? AbortSignal.any([signal, local.signal]) : local.signal;
    let firstStartMs = Infinity;
    let lastEndMs = -Infinity;
    const deadlineOf = this.#deadlines(groups);
    const runGroup = async (group: PlannedItem[]) => {
      for (const p of group) {
        const timeoutMs = deadlineOf(p);
        let done;
        const release = this.#o.hold?.();
        const startMs = this.#o.sim.clock.monotonicMs();
        try {
          [done] = await this.#o.sim.execute([p.item], { signal: combined, timeoutMs });
        } catch (error) {
          release?.({ unitId: p.item.unitId, startMs, endMs: this.#o.sim.clock.monotonicMs() });
          // Stopped because another group failed: that group's fault is the one to report.
          if (local.signal.aborted) throw local.signal.reason;
          if (combined.aborted) throw error;
          if (isQeilError(error, "Backend")) {
            throw new BackendError(`unit ${p.item.unitId} failed: ${error.message}`, {
              cause: error,
              details: { unitId: p.item.unitId, unitFault: true },
            });
          }
          if (isQeilError(error, "Timeout")) {
            throw new TimeoutError(
              `unit ${p.item.unitId} missed its deadline of ${Math.round(timeoutMs)} ms for ${p.kind} work ` +
                `(predicted ${p.predictedMs.toFixed(2)} ms)`,
              { cause: error, details: { unitId: p.item.unitId, unitFault: true } },
            );
          }
          throw error;
        }
        this.#items++;
        firstStartMs = Math.min(firstStartMs, done.startMs);
        lastEndMs = Math.max(lastEndMs, done.endMs);
        try {
          this.#o.onRecord({
            ...p.item,
            freqHz: this.#freqOf(p.item.unitId),
            startMs: done.startMs,
            endMs: done.endMs,
          });
        } finally {
          release?.();
        }
      }
    };
    const runs = groups.map((g) =>
      runGroup(g).catch((error) => {
        local.abort(error);
        throw error;
      })
    );
    const settled = await Promise.allSettled(runs);
    // Device time is the simulator's own account of the groups' span (not the host's: in real time a
    // microsecond item still costs a timer tick of wall time).
    if (firstStartMs < lastEndMs) this.#deviceMs += lastEndMs - firstStartMs;
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
    // The first group's failure aborted the others: report it, not the aborts it caused.
    if (failure) throw local.signal.aborted ? local.signal.reason : failure.reason;
  }
}

/** Creates a charger for one wave of a job on a simulated board. */
export function createSimCharger(options: SimChargerOptions): SimCharger {
  return new Charger(options);
}
