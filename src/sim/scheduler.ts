/**
 * Work on a simulated board: validation of submitted items, one FIFO queue
 * per unit (items of one unit run in order, units run concurrently), and the
 * life of each `execute()` call until it resolves, times out, is aborted or
 * fails with its unit. Time itself is the board's; the scheduler is told the
 * current instant.
 */
import { BackendError, isPrecision, type Precision, PRECISIONS, TimeoutError } from "../core/mod.ts";
import type { SimExecuteOptions, SimExecution, SimWorkItem } from "./api.ts";
import type { UnitState, UnitWork } from "./units.ts";

/** Item ends within this much of an instant count as at that instant, ms. */
export const EPS_MS = 1e-7;

/** One pending `execute()` call. */
export interface Call {
  items: Item[];
  results: (SimExecution | undefined)[];
  left: number;
  deadlineMs: number;
  timeoutMs: number | undefined;
  settled: boolean;
  resolve: (results: SimExecution[]) => void;
  reject: (error: unknown) => void;
  detach: () => void;
}

/** One work item of a call, queued on or running on its unit. */
export interface Item extends UnitWork {
  call: Call;
  index: number;
  unit: SchedUnit;
  startMs: number;
  /** Predicted end under the current segment's rates, ms. */
  endMs: number;
}

/** A unit as the scheduler sees it. */
export type SchedUnit = UnitState<Item>;

/** A validated work item. */
export interface ParsedItem {
  unit: SchedUnit;
  flops: number;
  bytes: number;
  precision: Precision;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

/** The error of an injected unit failure. */
export function unitFailure(unitId: string): BackendError {
  return new BackendError(`simulated unit "${unitId}" failed (injected unit-fail fault)`, { details: { unitId } });
}

/** Queues and calls of one board. */
export class Scheduler {
  readonly calls = new Set<Call>();
  /** Counts settled calls, so a run can stop at the first settlement whatever caused it. */
  settleCount = 0;
  readonly #units: ReadonlyMap<string, SchedUnit>;
  readonly #boardName: string;
  readonly #now: () => number;
  readonly #onSettle: () => void;

  /**
   * @param now the board's current simulated time, ms
   * @param onSettle called after every settlement (the board lets remaining work proceed)
   */
  constructor(units: ReadonlyMap<string, SchedUnit>, boardName: string, now: () => number, onSettle: () => void) {
    this.#units = units;
    this.#boardName = boardName;
    this.#now = now;
    this.#onSettle = onSettle;
  }

  /** The unit with this id. @throws RangeError naming the board's units */
  unit(unitId: string, what: string): SchedUnit {
    const unit = this.#units.get(unitId);
    if (!unit) {
      throw new RangeError(
        `${what}: unknown unit "${unitId}" on ${this.#boardName} (units: ${[...this.#units.keys()].join(", ")})`,
      );
    }
    return unit;
  }

  /**
   * Checks a submission.
   * @throws TypeError / RangeError naming the item and field; BackendError for a failed unit
   */
  validate(items: readonly SimWorkItem[], options: SimExecuteOptions): ParsedItem[] {
    if (!Array.isArray(items)) throw new TypeError("execute() needs an array of work items");
    if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
      throw new RangeError(`execute(): timeoutMs must be a finite number > 0, got ${options.timeoutMs}`);
    }
    const parsed = items.map((item, i): ParsedItem => {
      if (typeof item !== "object" || item === null) throw new TypeError(`execute(): item ${i} is not an object`);
      const unit = this.unit(item.unitId, `execute() item ${i}`);
      for (const field of ["flops", "bytes"] as const) {
        const v = item[field];
        if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
          throw new RangeError(`execute() item ${i}: ${field} must be a finite number >= 0, got ${v}`);
        }
      }
      const precision: unknown = item.precision;
      if (!isPrecision(precision)) {
        throw new RangeError(
          `execute() item ${i}: precision must be one of ${PRECISIONS.join(", ")}, got "${precision}"`,
        );
      }
      if (item.flops > 0 && unit.priors.peakOpsPerS[precision] === undefined) {
        const can = PRECISIONS.filter((p) => unit.priors.peakOpsPerS[p] !== undefined);
        throw new RangeError(
          `execute() item ${i}: unit "${item.unitId}" cannot compute ${precision} (it runs ${can.join(", ")})`,
        );
      }
      return { unit, flops: item.flops, bytes: item.bytes, precision };
    });
    for (const p of parsed) if (p.unit.failed) throw unitFailure(p.unit.priors.id);
    return parsed;
  }

  /** Queues a validated submission now; resolves or rejects through the call's callbacks. */
  submit(
    parsed: readonly ParsedItem[],
    options: SimExecuteOptions,
    resolve: (results: SimExecution[]) => void,
    reject: (error: unknown) => void,
  ): void {
    const now = this.#now();
    const call: Call = {
      items: [],
      results: parsed.map(() => undefined),
      left: parsed.length,
      deadlineMs: options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : now + options.timeoutMs,
      timeoutMs: options.timeoutMs,
      settled: false,
      resolve,
      reject,
      detach: () => {},
    };
    const signal = options.signal;
    if (signal) {
      const onAbort = () => this.settle(call, abortReason(signal));
      signal.addEventListener("abort", onAbort, { once: true });
      call.detach = () => signal.removeEventListener("abort", onAbort);
    }
    this.calls.add(call);
    parsed.forEach((p, index) => {
      const item: Item = {
        call,
        index,
        unit: p.unit,
        flops: p.flops,
        bytes: p.bytes,
        precision: p.precision,
        remaining: 1,
        startMs: Number.NaN,
        endMs: Number.POSITIVE_INFINITY,
      };
      call.items.push(item);
      p.unit.queue.push(item);
    });
    for (const unit of new Set(parsed.map((p) => p.unit))) this.startNext(unit);
  }

  /** Starts the unit's next queued item if it is free (work-free items finish on the spot). */
  startNext(unit: SchedUnit): void {
    while (!unit.active && unit.queue.length > 0) {
      const item = unit.queue.shift()!;
      if (item.call.settled) continue;
      item.startMs = this.#now();
      if (item.flops === 0 && item.bytes === 0) {
        this.#finish(item);
        continue;
      }
      unit.active = item;
    }
  }

  #finish(item: Item): void {
    const now = this.#now();
    item.remaining = 0;
    const call = item.call;
    call.results[item.index] = {
      unitId: item.unit.priors.id,
      durationMs: now - item.startMs,
      startMs: item.startMs,
      endMs: now,
    };
    call.left--;
    if (call.left === 0) this.settle(call, undefined);
  }

  /** Earliest predicted item end or call deadline under the units' current rates, ms. */
  nextEventMs(): number {
    const now = this.#now();
    let next = Number.POSITIVE_INFINITY;
    for (const unit of this.#units.values()) {
      const item = unit.active;
      if (item && unit.ratePerMs > 0) next = Math.min(next, now + item.remaining / unit.ratePerMs);
    }
    for (const call of this.calls) next = Math.min(next, call.deadlineMs);
    return next;
  }

  /** Sets each active item's predicted end from the current rates; returns the earliest, ms. */
  predictEnds(): number {
    const now = this.#now();
    let earliest = Number.POSITIVE_INFINITY;
    for (const unit of this.#units.values()) {
      const item = unit.active;
      if (!item) continue;
      item.endMs = unit.ratePerMs > 0 ? now + item.remaining / unit.ratePerMs : Number.POSITIVE_INFINITY;
      earliest = Math.min(earliest, item.endMs);
    }
    for (const call of this.calls) earliest = Math.min(earliest, call.deadlineMs);
    return earliest;
  }

  /** Finishes the items whose predicted end is now and times out calls whose deadline is now. */
  settleDue(): void {
    const now = this.#now();
    for (const unit of this.#units.values()) {
      const item = unit.active;
      if (!item || item.endMs > now + EPS_MS) continue;
      unit.active = undefined;
      this.#finish(item);
      this.startNext(unit);
    }
    for (const call of [...this.calls]) {
      if (call.deadlineMs > now + EPS_MS) continue;
      const units = [...new Set(call.items.filter((i) => i.remaining > 0).map((i) => i.unit.priors.id))];
      this.settle(
        call,
        new TimeoutError(`execute() did not finish within ${call.timeoutMs} ms (waiting for ${units.join(", ")})`, {
          details: { unitIds: units, timeoutMs: call.timeoutMs },
        }),
      );
    }
  }

  /** Rejects every call with unfinished work on `unit`. */
  failUnit(unit: SchedUnit, error: unknown): void {
    for (const call of [...this.calls]) {
      if (call.items.some((i) => i.unit === unit && i.remaining > 0)) this.settle(call, error);
    }
  }

  /** Rejects every pending call. */
  failAll(error: unknown): void {
    for (const call of [...this.calls]) this.settle(call, error);
  }

  /** Resolves (error undefined) or rejects a call and releases its unfinished items. */
  settle(call: Call, error: unknown): void {
    if (call.settled) return;
    call.settled = true;
    this.settleCount++;
    call.detach();
    this.calls.delete(call);
    for (const item of call.items) {
      if (item.unit.active === item) {
        item.unit.active = undefined;
        this.startNext(item.unit);
      }
    }
    for (const unit of new Set(call.items.map((i) => i.unit))) {
      unit.queue = unit.queue.filter((i) => i.call !== call);
    }
    if (error === undefined) call.resolve(call.results as SimExecution[]);
    else call.reject(error);
    this.#onSettle();
  }
}
