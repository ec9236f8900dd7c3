/**
 * Job intake: the path every request takes between a transport (MQTT, HTTP)
 * and the job runner. It answers repeated request ids from the journal,
 * refuses work beyond the queue's capacity (BusyError), journals an accepted
 * job durably before the transport acknowledges it, runs it through the
 * bounded queue with a deadline, journals the result, and delivers it to the
 * reply route. After a restart `recover()` runs every journaled unfinished
 * job and re-delivers every undelivered result. The runner (planning and
 * inference) is injected: this is the seam the orchestrator plugs into.
 */
import { BusyError, type Clock, type Logger } from "../core/mod.ts";
import type { Journal } from "./journal.ts";
import { createJobQueue, type JobContext, type JobQueue } from "./queue.ts";
import {
  errorPayload,
  type InferOutcome,
  type InferRequest,
  type ReplyPayload,
  type ReplyRoute,
  resultPayload,
} from "./schema.ts";

/** What the journal keeps of an accepted job. */
export interface JournaledJob {
  request: InferRequest;
  /** Where the result goes; absent for HTTP, whose client waits on the response. */
  route?: ReplyRoute;
}

/** The journal type the intake works with. */
export type JobJournal = Journal<JournaledJob, ReplyPayload>;

/** Runs one inference job (plan, run, verify). Throws domain errors for failures. */
export type JobRunner = (request: InferRequest, context: JobContext) => Promise<InferOutcome>;

/** Publishes a reply to a route; resolves once the broker has it (QoS 1 acknowledged). */
export type ReplyDelivery = (route: ReplyRoute, payload: ReplyPayload) => Promise<void>;

/** Options of `createJobIntake`. */
export interface JobIntakeOptions {
  journal: JobJournal;
  run: JobRunner;
  deliver: ReplyDelivery;
  /** Jobs that may wait for a worker. */
  capacity: number;
  /** Jobs run at once. */
  concurrency: number;
  /** Deadline of a job, ms from when it is queued. */
  deadlineMsFor: (request: InferRequest) => number;
  clock: Clock;
  /** @default no logging */
  logger?: Logger;
  /** Called once per job with its final payload (metrics, fault events). */
  onSettled?: (request: InferRequest, payload: ReplyPayload, info: { replayed: boolean }) => void;
}

/** The outcome of a submission. */
export interface Submission {
  /** `accepted`: a new job; `duplicate`: the id is known and `reply` is its first result. */
  status: "accepted" | "duplicate";
  id: string;
  /** Settles with the result or error payload once it is journaled; never rejects. */
  reply: Promise<ReplyPayload>;
}

/** What `recover()` found. */
export interface RecoveryReport {
  /** Unfinished jobs queued again. */
  replayed: number;
  /** Finished results sent again. */
  redelivered: number;
}

/** The job intake. */
export interface JobIntake extends AsyncDisposable {
  /**
   * Submits a request. Resolves once the job is journaled (the transport may
   * acknowledge then); the reply is delivered to `route` when it is given.
   * @throws BusyError when the queue is full; the journal's write error when it cannot be journaled
   */
  submit(request: InferRequest, route?: ReplyRoute): Promise<Submission>;
  /**
   * Queues every journaled unfinished job (synchronously, before it returns
   * its promise) and re-delivers undelivered results. Call it once, at start,
   * before the first `submit()`; its promise settles when the re-delivered
   * results are acknowledged, which waits for the broker.
   */
  recover(): Promise<RecoveryReport>;
  /** Sends every finished-but-undelivered result again (e.g. after the broker came back). */
  redeliver(): Promise<number>;
  readonly queue: JobQueue<InferRequest, InferOutcome>;
  /** Refuses new jobs and waits for admitted ones (graceful stop; abort `signal` to give up waiting). */
  drain(signal?: AbortSignal): Promise<void>;
  /**
   * Stops every job now. Jobs stopped this way are not journaled as failed:
   * they stay pending and run again after the restart; waiting callers get a BusyError payload.
   */
  close(): Promise<void>;
}

class Intake implements JobIntake {
  readonly queue: JobQueue<InferRequest, InferOutcome>;
  readonly #options: JobIntakeOptions;
  readonly #inflight = new Map<string, Promise<ReplyPayload>>();
  /** Reply route of each in-flight job (absent: HTTP). */
  readonly #inflightRoutes = new Map<string, ReplyRoute | undefined>();
  readonly #delivering = new Set<string>();
  readonly #deliveries = new Set<Promise<void>>();
  readonly #gates = new Map<string, Promise<void>>();
  #recovered = false;
  #closing = false;

  constructor(options: JobIntakeOptions) {
    this.#options = options;
    this.queue = createJobQueue<InferRequest, InferOutcome>({
      capacity: options.capacity,
      concurrency: options.concurrency,
      clock: options.clock,
      run: async (request, context) => {
        // A job may start before its acceptance record is durable; it must not finish before.
        await this.#gates.get(context.id);
        context.signal.throwIfAborted();
        return options.run(request, context);
      },
    });
  }

  async submit(request: InferRequest, route?: ReplyRoute): Promise<Submission> {
    const { journal } = this.#options;
    const id = request.id;
    const known = journal.lookup(id);
    if (known?.state === "finished") {
      const reply = Promise.resolve(known.result);
      // A result still on its way to this very route (a broker redelivering the request) is not sent twice.
      const pendingHere = !known.delivered && sameRoute(route, known.job?.route);
      if (route && !pendingHere) this.#deliverCopy(id, route, known.result);
      return { status: "duplicate", id, reply };
    }
    const running = this.#inflight.get(id);
    if (running) {
      if (route && !sameRoute(route, this.#inflightRoutes.get(id))) {
        running.then((payload) => this.#deliverCopy(id, route, payload));
      }
      return { status: "duplicate", id, reply: running };
    }
    if (known?.state === "pending") {
      // Journaled by an earlier run of the service and not yet replayed: recover() will run it.
      throw new RangeError(`submit(): request "${id}" is journaled but not replayed; call recover() first`);
    }
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => openGate = resolve);
    // The gate must be in place before submit(): the queue may start the job synchronously.
    this.#gates.set(id, gate);
    let handle;
    try {
      handle = this.queue.submit(request, { id, deadlineMs: this.#options.deadlineMsFor(request) });
    } catch (error) {
      this.#gates.delete(id);
      throw error;
    }
    const job: JournaledJob = route ? { request, route } : { request };
    const accepted = journal.accept(id, job);
    const reply = this.#track(request, route, handle.result, { accepted, replayed: false });
    try {
      await accepted;
    } catch (error) {
      handle.cancel(error);
      throw error;
    } finally {
      openGate();
      this.#gates.delete(id);
    }
    return { status: "accepted", id, reply };
  }

  async recover(): Promise<RecoveryReport> {
    if (this.#recovered) throw new Error("recover() may be called once");
    this.#recovered = true;
    const { journal, logger } = this.#options;
    let replayed = 0;
    for (const pending of journal.unfinished()) {
      const { request, route } = pending.job;
      const handle = this.queue.submit(request, {
        id: pending.id,
        deadlineMs: this.#options.deadlineMsFor(request),
        force: true,
      });
      this.#track(request, route, handle.result, { accepted: Promise.resolve(), replayed: true });
      replayed++;
    }
    const redelivered = await this.redeliver();
    if (replayed + redelivered > 0) logger?.info("recovered journaled jobs", { replayed, redelivered });
    return { replayed, redelivered };
  }

  async redeliver(): Promise<number> {
    const { journal } = this.#options;
    const sends: Promise<void>[] = [];
    for (const item of journal.undelivered()) {
      if (this.#delivering.has(item.id)) continue;
      sends.push(this.#deliverOriginal(item.id, item.job.route, item.result));
    }
    await Promise.all(sends);
    return sends.length;
  }

  async drain(signal?: AbortSignal): Promise<void> {
    await this.queue.drain(signal);
    // Let the last results be journaled and delivered (or queued for the broker).
    await Promise.all(this.#inflight.values());
    await Promise.all(this.#deliveries);
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.queue.close(
      new BusyError("the service is shutting down; the job stays journaled and runs after the restart", {
        details: { retryAfterS: 10 },
      }),
    );
    await Promise.all(this.#inflight.values());
    await Promise.all(this.#deliveries);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #track(
    request: InferRequest,
    route: ReplyRoute | undefined,
    result: Promise<InferOutcome>,
    how: { accepted: Promise<void>; replayed: boolean },
  ): Promise<ReplyPayload> {
    const { journal, logger } = this.#options;
    const id = request.id;
    // Handled at once: a job can fail (deadline, cancel) before its acceptance is durable.
    const outcome = result.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const reply = (async (): Promise<ReplyPayload> => {
      try {
        await how.accepted;
      } catch (error) {
        // Never journaled: the transport refuses the request with this error.
        return errorPayload(id, error);
      }
      const settled = await outcome;
      if (!settled.ok && this.#closing) {
        // Stopped by shutdown, not failed: it stays journaled as pending and runs again after the restart.
        return errorPayload(id, settled.error);
      }
      let payload: ReplyPayload;
      try {
        payload = settled.ok ? resultPayload(id, settled.value) : errorPayload(id, settled.error);
      } catch (error) {
        payload = errorPayload(id, error);
      }
      try {
        await journal.finish(id, payload);
      } catch (error) {
        logger?.error("cannot journal a result; a restart would run the job again", { id, error });
        return payload;
      }
      this.#options.onSettled?.(request, payload, { replayed: how.replayed });
      // Delivery runs on its own: the reply promise settles once the result is durable.
      this.#deliverOriginal(id, route, payload);
      return payload;
    })().finally(() => {
      this.#inflight.delete(id);
      this.#inflightRoutes.delete(id);
    });
    this.#inflight.set(id, reply);
    this.#inflightRoutes.set(id, route);
    return reply;
  }

  /** Delivers the result of a journaled job and marks it delivered (route-less jobs are delivered by their response). */
  #deliverOriginal(id: string, route: ReplyRoute | undefined, payload: ReplyPayload): Promise<void> {
    const { journal, logger } = this.#options;
    if (this.#delivering.has(id)) return Promise.resolve();
    this.#delivering.add(id);
    const delivery = (async () => {
      try {
        if (route) await this.#options.deliver(route, payload);
        await journal.markDelivered(id);
      } catch (error) {
        logger?.warn("result not delivered; it stays journaled for redelivery", { id, topic: route?.topic, error });
      } finally {
        this.#delivering.delete(id);
      }
    })();
    this.#deliveries.add(delivery);
    delivery.finally(() => this.#deliveries.delete(delivery));
    return delivery;
  }

  /** Delivers a result to the route of a repeated request (not journaled: the first route owns the job). */
  #deliverCopy(id: string, route: ReplyRoute, payload: ReplyPayload): void {
    this.#options.deliver(route, payload).catch((error) =>
      this.#options.logger?.warn("reply to a repeated request not delivered", { id, topic: route.topic, error })
    );
  }
}

function sameRoute(a: ReplyRoute | undefined, b: ReplyRoute | undefined): boolean {
  return a !== undefined && b !== undefined && a.topic === b.topic && a.correlationData === b.correlationData;
}

/** Creates the job intake. Call `recover()` once the reply delivery is ready. */
export function createJobIntake(options: JobIntakeOptions): JobIntake {
  return new Intake(options);
}
