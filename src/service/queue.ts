/**
 * A bounded job queue with back-pressure: at most `concurrency` jobs run, at
 * most `capacity` wait, and a submission beyond that is refused at once with
 * a BusyError (a client gets a clear `busy`, never a hang). Every job has a
 * deadline counted from submission and can be cancelled; both abort the
 * job's signal and settle its result at once. The runner is injected.
 */
import { BusyError, type Clock, TimeoutError } from "../core/mod.ts";

/** What a runner gets with its job. */
export interface JobContext {
  id: string;
  /** Aborted on deadline (reason: TimeoutError), cancellation or queue close. */
  signal: AbortSignal;
  /** Deadline on the queue clock's monotonic time, ms. */
  deadlineAtMs: number;
}

/** Options of `createJobQueue`. */
export interface JobQueueOptions<TJob, TResult> {
  /** Jobs that may wait for a worker; one more is refused with BusyError. */
  capacity: number;
  /** Jobs run at once. */
  concurrency: number;
  /** Runs one job; should honour `context.signal`. */
  run(job: TJob, context: JobContext): Promise<TResult>;
  /** Deadlines are measured on this clock's monotonic time. */
  clock: Clock;
}

/** Options of one submission. */
export interface SubmitOptions {
  /** Job id (for logs, stats and `overdue()`). */
  id: string;
  /** Time from submission to deadline, ms. */
  deadlineMs: number;
  /** Cancels the job when aborted. */
  signal?: AbortSignal;
  /** Admit even when the queue is full (jobs replayed from the journal were accepted before). @default false */
  force?: boolean;
}

/** A submitted job. */
export interface JobHandle<TResult> {
  id: string;
  /** Settles with the runner's result, or rejects with its error, a TimeoutError, or the cancel reason. */
  result: Promise<TResult>;
  /** Cancels the job (a waiting job is dropped, a running one has its signal aborted). */
  cancel(reason?: unknown): void;
}

/** Counters and gauges of a queue. */
export interface QueueStats {
  waiting: number;
  running: number;
  capacity: number;
  concurrency: number;
  /** Jobs admitted since creation. */
  submitted: number;
  completed: number;
  failed: number;
  rejectedBusy: number;
  timedOut: number;
  cancelled: number;
}

/** A running job whose runner has not returned although its deadline passed. */
export interface OverdueJob {
  id: string;
  overdueMs: number;
}

/** The job queue. */
export interface JobQueue<TJob, TResult> extends AsyncDisposable {
  /**
   * Admits a job. @throws BusyError (synchronously) when `capacity` jobs are
   * waiting, or when the queue is draining or closed
   */
  submit(job: TJob, options: SubmitOptions): JobHandle<TResult>;
  /** True when a submission now would be admitted. */
  hasRoom(): boolean;
  stats(): QueueStats;
  /** Running jobs past their deadline, for the watchdog. */
  overdue(): OverdueJob[];
  /** Refuses new jobs and resolves when every admitted job has settled (or rejects when `signal` aborts). */
  drain(signal?: AbortSignal): Promise<void>;
  /** Refuses new jobs, drops waiting ones and aborts running ones with `reason`. */
  close(reason?: unknown): void;
}

interface Slot<TJob, TResult> {
  id: string;
  job: TJob;
  deadlineAtMs: number;
  controller: AbortController;
  /** Stops the deadline timer. */
  timer: AbortController;
  state: "waiting" | "running" | "settled";
  /** The result promise has been settled (the runner may still be running). */
  answered: boolean;
  resolve(value: TResult): void;
  reject(error: unknown): void;
  unlink(): void;
}

class BoundedJobQueue<TJob, TResult> implements JobQueue<TJob, TResult> {
  readonly #options: JobQueueOptions<TJob, TResult>;
  #waiting: Slot<TJob, TResult>[] = [];
  #running = new Set<Slot<TJob, TResult>>();
  #accepting = true;
  #closedReason: string | undefined;
  #idleWaiters: (() => void)[] = [];
  #stats = { submitted: 0, completed: 0, failed: 0, rejectedBusy: 0, timedOut: 0, cancelled: 0 };

  constructor(options: JobQueueOptions<TJob, TResult>) {
    if (!Number.isInteger(options.capacity) || options.capacity < 0) {
      throw new RangeError(`createJobQueue() needs an integer capacity >= 0, got ${options.capacity}`);
    }
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError(`createJobQueue() needs an integer concurrency >= 1, got ${options.concurrency}`);
    }
    this.#options = options;
  }

  hasRoom(): boolean {
    return this.#accepting && (this.#freeWorkers() > 0 || this.#waiting.length < this.#options.capacity);
  }

  submit(job: TJob, options: SubmitOptions): JobHandle<TResult> {
    if (!(options.deadlineMs > 0)) throw new RangeError(`submit() needs a deadline > 0 ms, got ${options.deadlineMs}`);
    if (!this.#accepting) {
      this.#stats.rejectedBusy++;
      throw new BusyError(
        `cannot accept job "${options.id}": the service is ${this.#closedReason ?? "shutting down"}`,
        {
          details: { retryAfterS: 5 },
        },
      );
    }
    if (!options.force && !this.hasRoom()) {
      this.#stats.rejectedBusy++;
      throw new BusyError(
        `cannot accept job "${options.id}": ${this.#running.size} jobs running and ${this.#waiting.length} waiting (queue capacity ${this.#options.capacity})`,
        { details: { retryAfterS: 1 } },
      );
    }
    const clock = this.#options.clock;
    let resolve!: (value: TResult) => void;
    let reject!: (error: unknown) => void;
    const result = new Promise<TResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A result nobody waits for must not become an unhandled rejection (which ends a Deno process).
    result.catch(() => {});
    const slot: Slot<TJob, TResult> = {
      id: options.id,
      job,
      deadlineAtMs: clock.monotonicMs() + options.deadlineMs,
      controller: new AbortController(),
      timer: new AbortController(),
      state: "waiting",
      answered: false,
      resolve,
      reject,
      unlink: () => {},
    };
    this.#stats.submitted++;
    clock.sleep(options.deadlineMs, slot.timer.signal).then(
      () => {
        this.#stats.timedOut++;
        this.#stop(slot, new TimeoutError(`job "${slot.id}" missed its deadline of ${options.deadlineMs} ms`));
      },
      () => {/* the timer was stopped because the job settled */},
    );
    if (options.signal) {
      const signal = options.signal;
      const onAbort = () => {
        this.#stats.cancelled++;
        this.#stop(slot, signal.reason);
      };
      if (signal.aborted) {
        queueMicrotask(onAbort);
      } else {
        signal.addEventListener("abort", onAbort, { once: true });
        slot.unlink = () => signal.removeEventListener("abort", onAbort);
      }
    }
    this.#waiting.push(slot);
    this.#pump();
    return {
      id: slot.id,
      result,
      cancel: (reason?: unknown) => {
        if (slot.answered) return;
        this.#stats.cancelled++;
        this.#stop(slot, reason ?? new DOMException(`job "${slot.id}" was cancelled`, "AbortError"));
      },
    };
  }

  stats(): QueueStats {
    return {
      waiting: this.#waiting.length,
      running: this.#running.size,
      capacity: this.#options.capacity,
      concurrency: this.#options.concurrency,
      ...this.#stats,
    };
  }

  overdue(): OverdueJob[] {
    const now = this.#options.clock.monotonicMs();
    return [...this.#running]
      .filter((s) => now > s.deadlineAtMs)
      .map((s) => ({ id: s.id, overdueMs: now - s.deadlineAtMs }));
  }

  drain(signal?: AbortSignal): Promise<void> {
    this.#accepting = false;
    this.#closedReason ??= "draining";
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== done);
        reject(signal!.reason);
      };
      const done = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#idleWaiters.push(done);
    });
  }

  close(reason?: unknown): void {
    this.#accepting = false;
    this.#closedReason = "closed";
    const why = reason ?? new DOMException("the job queue was closed", "AbortError");
    for (const slot of [...this.#waiting, ...this.#running]) {
      if (!slot.answered) this.#stats.cancelled++;
      this.#stop(slot, why);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.drain();
  }

  #freeWorkers(): number {
    return this.#options.concurrency - this.#running.size;
  }

  #isIdle(): boolean {
    return this.#waiting.length === 0 && this.#running.size === 0;
  }

  #answer(slot: Slot<TJob, TResult>, outcome: { ok: true; value: TResult } | { ok: false; error: unknown }): void {
    if (slot.answered) return;
    slot.answered = true;
    slot.timer.abort();
    slot.unlink();
    if (outcome.ok) slot.resolve(outcome.value);
    else slot.reject(outcome.error);
  }

  /** Deadline, cancellation or close: answer now; a running runner keeps its worker until it returns. */
  #stop(slot: Slot<TJob, TResult>, reason: unknown): void {
    if (slot.state === "settled") return;
    if (slot.state === "waiting") {
      this.#waiting = this.#waiting.filter((s) => s !== slot);
      slot.state = "settled";
      slot.controller.abort(reason);
      this.#answer(slot, { ok: false, error: reason });
      this.#afterSettle();
      return;
    }
    slot.controller.abort(reason);
    this.#answer(slot, { ok: false, error: reason });
  }

  #pump(): void {
    while (this.#freeWorkers() > 0 && this.#waiting.length > 0) {
      const slot = this.#waiting.shift()!;
      slot.state = "running";
      this.#running.add(slot);
      const context: JobContext = { id: slot.id, signal: slot.controller.signal, deadlineAtMs: slot.deadlineAtMs };
      let runner: Promise<TResult>;
      try {
        runner = this.#options.run(slot.job, context);
      } catch (error) {
        runner = Promise.reject(error);
      }
      const settle = (outcome: { ok: true; value: TResult } | { ok: false; error: unknown }) => {
        // Free the worker first, so the next job has started when this one's result is seen.
        slot.state = "settled";
        this.#running.delete(slot);
        if (!slot.answered) outcome.ok ? this.#stats.completed++ : this.#stats.failed++;
        this.#answer(slot, outcome);
        this.#afterSettle();
      };
      runner.then((value) => settle({ ok: true, value }), (error) => settle({ ok: false, error }));
    }
  }

  #afterSettle(): void {
    this.#pump();
    if (this.#isIdle()) {
      const waiters = this.#idleWaiters.splice(0);
      for (const w of waiters) w();
    }
  }
}

/** Creates a bounded job queue. */
export function createJobQueue<TJob, TResult>(options: JobQueueOptions<TJob, TResult>): JobQueue<TJob, TResult> {
  return new BoundedJobQueue(options);
}
