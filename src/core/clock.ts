/**
 * Time as an injected dependency: production code uses `systemClock`; tests and
 * virtual-time simulation use `ManualClock`, which only moves when told to.
 */
export interface Clock {
  /** Wall-clock timestamp in ms since the Unix epoch (for records and messages). */
  nowMs(): number;
  /** Monotonic time in ms from an arbitrary origin (for durations and scheduling). */
  monotonicMs(): number;
  /**
   * Resolves after `durationMs` of this clock's time. Rejects with the signal's
   * reason when `signal` aborts first.
   */
  sleep(durationMs: number, signal?: AbortSignal): Promise<void>;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

/** The real clock: `Date.now()` for timestamps, `performance.now()` for durations. */
export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  sleep(durationMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortReason(signal!));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, durationMs));
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};

interface Sleeper {
  dueMs: number;
  seq: number;
  resolve: () => void;
}

/**
 * A clock that only advances through `advance()`/`advanceTo()`. Sleepers wake in
 * due order, each after the clock has moved to its due time, so code under test
 * observes a consistent time.
 */
export class ManualClock implements Clock {
  #monotonicMs: number;
  readonly #epochOffsetMs: number;
  #sleepers: Sleeper[] = [];
  #seq = 0;

  /**
   * @param startEpochMs wall-clock time at monotonic 0. @default 1_700_000_000_000
   */
  constructor(startEpochMs = 1_700_000_000_000) {
    this.#monotonicMs = 0;
    this.#epochOffsetMs = startEpochMs;
  }

  nowMs(): number {
    return this.#epochOffsetMs + this.#monotonicMs;
  }

  monotonicMs(): number {
    return this.#monotonicMs;
  }

  /** Number of sleepers waiting for the clock to advance. */
  get pendingSleeps(): number {
    return this.#sleepers.length;
  }

  sleep(durationMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = {
        dueMs: this.#monotonicMs + Math.max(0, durationMs),
        seq: this.#seq++,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(abortReason(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  /** Moves time forward by `durationMs`, waking due sleepers in order. */
  advance(durationMs: number): Promise<void> {
    if (!(durationMs >= 0)) throw new RangeError(`advance() needs a duration >= 0, got ${durationMs}`);
    return this.advanceTo(this.#monotonicMs + durationMs);
  }

  /** Moves time forward to `targetMs`, waking due sleepers in order and letting each run. */
  async advanceTo(targetMs: number): Promise<void> {
    if (targetMs < this.#monotonicMs) {
      throw new RangeError(`advanceTo() cannot go back in time: ${targetMs} < ${this.#monotonicMs}`);
    }
    for (;;) {
      const next = this.#nextDue(targetMs);
      if (next === undefined) break;
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      this.#monotonicMs = Math.max(this.#monotonicMs, next.dueMs);
      next.resolve();
      // Let the woken task run (and possibly schedule new sleeps) before moving on.
      await flushMicrotasks();
    }
    this.#monotonicMs = targetMs;
    await flushMicrotasks();
  }

  #nextDue(limitMs: number): Sleeper | undefined {
    let best: Sleeper | undefined;
    for (const s of this.#sleepers) {
      if (s.dueMs > limitMs) continue;
      if (!best || s.dueMs < best.dueMs || (s.dueMs === best.dueMs && s.seq < best.seq)) best = s;
    }
    return best;
  }
}

/** Yields to queued promise callbacks a few times (a settled chain of awaits needs several turns). */
async function flushMicrotasks(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}
