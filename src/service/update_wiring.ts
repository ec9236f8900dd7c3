/**
 * Fleet updates inside the running service. `cmd/update` payloads go to the
 * updater (src/update), every step it takes is published on `<prefix>update`
 * (QoS 1) and every refusal or failure as a fault; once a new version (or a
 * rollback) is switched in, the service drains and exits with
 * `RESTART_EXIT_CODE`, which systemd/qeil.service restarts. At each start
 * the updater's health gate runs the service's own self-checks: the broker is
 * connected, the model answers (a scoring run through the orchestrator,
 * charged like a job), and the board reads (a fresh sample with a thermal
 * zone in it). Outcomes (a commit, a rollback decided by the boot count of an
 * earlier process) are announced after the gate and again at each broker
 * connection until the broker acknowledged them.
 *
 * Before all of that, `qeil serve` counts the start (`countServiceBoot`) from
 * the few config keys that locate the update files (`bootConfigOf`), so a new
 * version that crashes anywhere in its start-up is still rolled back.
 */
import { BusyError, type Clock, describeError, fail, type Logger, ok, type Reading } from "../core/mod.ts";
import { type DecoderModel, promptTokens, scoreContinuation } from "../runtime/mod.ts";
import {
  type BootOutcome,
  countBootAttempt,
  type HealthCheck,
  type StartOutcome,
  type UpdateFaultEvent,
  type UpdatePublisher,
  type Updater,
  type UpdateStatusEvent,
} from "../update/mod.ts";
import { envNameOf, parseConfig, type ParseConfigOptions, type RawValue, type ServiceConfig } from "./config.ts";
import type { Orchestrator } from "./orchestrator.ts";
import { type FaultEvent, faultEvent } from "./schema.ts";

/**
 * Exit status that asks the service manager to start the service again (sysexits' EX_TEMPFAIL):
 * an update or a rollback switched the installed version. systemd/qeil.service restarts on it.
 */
export const RESTART_EXIT_CODE = 75;

/** The payload on `<prefix>update`: one step of the updater. */
export interface UpdateStatusPayload extends UpdateStatusEvent {
  schemaVersion: 1;
  nodeId: string;
}

/** Where update events go (the MQTT bridge). */
export interface UpdateEventSink {
  /** Publishes on `update` (QoS 1); resolves once the broker acknowledged it. */
  publishUpdate(event: UpdateStatusPayload): Promise<void>;
  /** Publishes on `fault` (QoS 1); resolves once the broker acknowledged it. */
  publishFault(event: FaultEvent): Promise<void>;
}

/** Options of `createFleetUpdates`. */
export interface FleetUpdatesOptions {
  updater: Updater;
  sink: UpdateEventSink;
  nodeId: string;
  clock: Clock;
  logger: Logger;
  /**
   * Called (once) after an update or a rollback switched the installed version and its events reached the
   * broker (or `flushTimeoutMs` passed): drain, then exit with `RESTART_EXIT_CODE`.
   */
  onRestartRequired(reason: string): void;
  /** Receives every update fault event besides the sink (the dashboard). @default none */
  onFault?: (event: FaultEvent) => void;
  /** Longest wait for update events to be acknowledged by the broker before a restart or at close, ms. @default 10000 */
  flushTimeoutMs?: number;
}

/** Fleet updates of a running service. */
export interface FleetUpdates {
  /**
   * The updater's publisher: live steps to the sink, faults to the sink and `onFault`, and queued
   * outcomes to the sink, resolving once the broker acknowledged them.
   */
  readonly publisher: Required<UpdatePublisher>;
  /**
   * Handles a `cmd/update` payload: resolves once the updater has durably
   * accepted the manifest (the bridge acknowledges the message then) or
   * refused it; download, install and switch go on in the background.
   * @throws BusyError while the service stops
   */
  handleCommand(payload: Uint8Array): Promise<void>;
  /**
   * Runs this start's health gate (or finishes an interrupted update) with `checks`, then announces
   * the queued outcomes; resolves with the gate's outcome.
   */
  runStartGate(checks: readonly HealthCheck[]): Promise<StartOutcome | undefined>;
  /** Call at every broker connection: announces the outcomes still queued (a rollback announced while the broker was down). */
  onConnected(): void;
  /** Resolves once every update event handed to the sink was acknowledged, or `flushTimeoutMs` passed. */
  flush(): Promise<void>;
  /** Aborts a running update or gate (it resumes at the next start) and waits for it, then flushes. */
  close(): Promise<void>;
}

/** The fault event of an update failure (`update-failed` on the `fault` topic). */
export function updateFaultEvent(event: UpdateFaultEvent): FaultEvent {
  const version = event.version !== undefined ? ` to ${event.version}` : "";
  return faultEvent(
    "update-failed",
    "error",
    `update${version} failed at ${event.step} (${event.reason}): ${event.message}`,
    event.timestampMs,
    { code: "Update" },
  );
}

class Updates implements FleetUpdates {
  readonly publisher: Required<UpdatePublisher>;
  readonly #o: FleetUpdatesOptions;
  readonly #stop = new AbortController();
  /** Publishes handed to the sink and not yet settled, and the announce() running. */
  readonly #inflight = new Set<Promise<void>>();
  /** Applies and gates still running. */
  readonly #running = new Set<Promise<unknown>>();
  /** Faults already shown on the dashboard (an outcome announced again is shown once). */
  readonly #shown = new Set<string>();
  #acceptWaiters: (() => void)[] = [];
  #restartRequested = false;
  #gateDone = false;
  #closed = false;

  constructor(options: FleetUpdatesOptions) {
    this.#o = options;
    this.publisher = {
      // Live steps: not awaited by the updater (a command is handled inside the MQTT client's packet
      // pipeline, which also reads the acknowledgements); `flush()` waits for them instead.
      status: (event) => {
        this.#track(this.#o.sink.publishUpdate(this.#payload(event)), event.step);
        if (event.step === "verified" || event.step === "rejected") {
          for (const accept of this.#acceptWaiters.splice(0)) accept();
        }
      },
      fault: (event) => {
        this.#show(event);
        this.#track(this.#o.sink.publishFault(updateFaultEvent(event)), `fault ${event.reason}`);
      },
      // Queued outcomes: resolves once the broker acknowledged both; they stay queued on disk until then,
      // so a stop does not wait for them.
      announce: async (a) => {
        await this.#o.sink.publishUpdate(this.#payload(a.status));
        if (a.fault) {
          this.#show(a.fault);
          await this.#o.sink.publishFault(updateFaultEvent(a.fault));
        }
      },
    };
  }

  #payload(event: UpdateStatusEvent): UpdateStatusPayload {
    return { schemaVersion: 1, nodeId: this.#o.nodeId, ...event };
  }

  /** Shows an update fault on the dashboard once (an outcome announced again is the same fault). */
  #show(event: UpdateFaultEvent): void {
    const key = `${event.timestampMs} ${event.step} ${event.message}`;
    if (this.#shown.has(key)) return;
    this.#shown.add(key);
    this.#o.onFault?.(updateFaultEvent(event));
  }

  async handleCommand(payload: Uint8Array): Promise<void> {
    if (this.#closed) throw new BusyError("update refused: the service is stopping", { details: { retryAfterS: 30 } });
    const accepted = new Promise<void>((resolve) => this.#acceptWaiters.push(resolve));
    const run = this.#o.updater.apply(payload, this.#stop.signal).then(
      async (outcome) => {
        if (outcome.kind === "restart-required") {
          await this.#restart(`update to ${outcome.version} installed in slot ${outcome.slot}`);
        }
      },
      (error) => this.#unexpected("apply", error),
    );
    this.#keep(run);
    await Promise.race([run, accepted]);
  }

  async runStartGate(checks: readonly HealthCheck[]): Promise<StartOutcome | undefined> {
    const log = this.#o.logger;
    const run = this.#o.updater.onStart(checks, this.#stop.signal).then(
      async (outcome) => {
        this.#gateDone = true;
        // The outcome of this gate, or of an earlier process (a rollback its boot count decided).
        this.#announce();
        switch (outcome.kind) {
          case "idle":
            break;
          case "committed":
            log.info("update committed: the new version passed its health gate", { version: outcome.version });
            break;
          case "rolled-back":
            log.warn("an interrupted rollback finished; running the previous version", { version: outcome.version });
            break;
          case "failed":
            log.error("update step at start failed", { error: outcome.error });
            break;
          case "restart-required":
            await this.#restart(
              outcome.reason === "rolled-back" ? `rolled back to ${outcome.version}` : `switched to ${outcome.version}`,
            );
            break;
        }
        return outcome;
      },
      (error) => {
        this.#gateDone = true;
        this.#unexpected("start", error);
        this.#announce();
        return undefined;
      },
    );
    this.#keep(run);
    return await run;
  }

  onConnected(): void {
    // Before the gate has run, the gate's own announce() follows; after it, this one catches up.
    if (this.#gateDone) this.#announce();
  }

  async flush(): Promise<void> {
    if (this.#inflight.size === 0) return;
    const timer = new AbortController();
    const bound = this.#o.flushTimeoutMs ?? 10_000;
    const timedOut = this.#o.clock.sleep(bound, timer.signal).then(() => true, () => false);
    const done = Promise.allSettled([...this.#inflight]).then(() => false);
    if (await Promise.race([done, timedOut])) {
      this.#o.logger.warn("update events not acknowledged by the broker in time", {
        pending: this.#inflight.size,
        timeoutMs: bound,
      });
    }
    timer.abort();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort(new DOMException("the service is stopping", "AbortError"));
    await Promise.allSettled([...this.#running]);
    await this.flush();
  }

  async #restart(reason: string): Promise<void> {
    if (this.#restartRequested) return;
    this.#restartRequested = true;
    this.#o.logger.info("restart required by a fleet update", { reason });
    await this.flush();
    this.#o.onRestartRequired(reason);
  }

  /** Announces the queued outcomes in the background; a restart's flush waits for it (bounded). */
  #announce(): void {
    if (this.#closed) return;
    const run = this.#o.updater.announce(this.#stop.signal).then(
      (result) => {
        if (result.pending > 0) {
          this.#o.logger.info("update outcomes wait for the broker", { pending: result.pending });
        }
      },
      (error) => this.#o.logger.warn("update outcomes not announced", { error }),
    );
    this.#inflight.add(run);
    run.finally(() => this.#inflight.delete(run));
  }

  #keep(run: Promise<unknown>): void {
    this.#running.add(run);
    run.finally(() => this.#running.delete(run));
  }

  #track(publish: Promise<void>, what: string): void {
    const tracked = publish.catch((error) => this.#o.logger.warn("update event not published", { event: what, error }));
    this.#inflight.add(tracked);
    tracked.finally(() => this.#inflight.delete(tracked));
  }

  /** The updater reports its own failures; a throw out of it is a bug, still published. */
  #unexpected(during: "apply" | "start", error: unknown): void {
    this.#o.logger.error(`fleet update ${during} threw`, { error });
    for (const accept of this.#acceptWaiters.splice(0)) accept();
    this.publisher.fault({
      reason: "InstallFailed",
      step: during === "apply" ? "received" : "resumed",
      message: describeError(error),
      timestampMs: this.#o.clock.nowMs(),
    });
  }
}

/** Wires an updater into the service. Nothing runs until a command arrives or `runStartGate` is called. */
export function createFleetUpdates(options: FleetUpdatesOptions): FleetUpdates {
  return new Updates(options);
}

/**
 * The config keys the boot count reads: where the update files are, the start limit, and how to
 * log. Nothing else of the config is parsed before the start is counted, so a config the new
 * version refuses still counts as a failed start of it.
 */
export const BOOT_CONFIG_KEYS: readonly string[] = [
  "stateDir",
  "update.stateDir",
  "update.slotsDir",
  "update.factoryDir",
  "update.maxBootAttempts",
  "log.level",
  "log.format",
];

/** Environment variables besides `QEIL_*` that the default state folder derives from (see config.ts). */
const STATE_DIR_ENV = ["STATE_DIRECTORY", "XDG_STATE_HOME", "HOME"];

/**
 * The update folders and logging of the service, from the same three layers as `parseConfig` (and
 * parsed by it, so every default and derived path is the one the service uses) but reading only
 * `BOOT_CONFIG_KEYS`: other keys, and their mistakes, are left to the full parse.
 * @throws ConfigError naming the key when one of these keys is invalid (the full parse would refuse it too)
 */
export function bootConfigOf(
  fileJson: unknown,
  env: Readonly<Record<string, string | undefined>>,
  flags: Readonly<Record<string, RawValue>>,
  options: ParseConfigOptions = {},
): Pick<ServiceConfig, "update" | "log" | "stateDir"> {
  const file: Record<string, unknown> = {};
  for (const key of BOOT_CONFIG_KEYS) {
    const value = lookup(fileJson, key.split("."));
    if (value === undefined) continue;
    const parts = key.split(".");
    let node = file;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]] = value;
  }
  const names = new Set([...BOOT_CONFIG_KEYS.map(envNameOf), ...STATE_DIR_ENV]);
  const bootEnv = Object.fromEntries(Object.entries(env).filter(([name]) => names.has(name)));
  const bootFlags = Object.fromEntries(Object.entries(flags).filter(([key]) => BOOT_CONFIG_KEYS.includes(key)));
  const config = parseConfig(file, bootEnv, bootFlags, options);
  return { stateDir: config.stateDir, update: config.update, log: config.log };
}

function lookup(value: unknown, path: readonly string[]): unknown {
  let node = value;
  for (const part of path) {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/**
 * Counts this start of the service for the fleet updater (`countBootAttempt`, src/update/boot.ts):
 * call it first thing, before the board, the model and the broker. A `restart-required` outcome
 * means a new version used up its starts and was rolled back: exit with `RESTART_EXIT_CODE` at once.
 */
export async function countServiceBoot(
  config: Pick<ServiceConfig, "update">,
  version: string,
  logger: Logger,
  clock?: Clock,
): Promise<BootOutcome> {
  const outcome = await countBootAttempt({
    stateDir: config.update.stateDir,
    slotsDir: config.update.slotsDir,
    factoryDir: config.update.factoryDir,
    currentVersion: version,
    maxBootAttempts: config.update.maxBootAttempts,
    logger,
    ...(clock ? { clock } : {}),
  });
  switch (outcome.kind) {
    case "restart-required":
      logger.warn("update rolled back at start: restarting into the previous version", {
        version: outcome.version,
        reason: outcome.why,
      });
      break;
    case "rolled-back":
      logger.warn("update rolled back at start: running the previous version", {
        version: outcome.version,
        reason: outcome.reason,
      });
      break;
    case "failed":
      logger.error("cannot count this start for the fleet updater; starting anyway", { error: outcome.error });
      break;
    case "idle":
    case "trial":
      break;
  }
  return outcome;
}

/** What the self-checks of the health gate look at. */
export interface SelfCheckDeps {
  /** True while the MQTT bridge is connected. */
  brokerConnected(): boolean;
  brokerUrl: string;
  orchestrator: Pick<Orchestrator, "runtime" | "runCharged">;
  /** The served model. */
  model: DecoderModel;
  /** A board sample older than this (on the board runtime's clock) means the sampler is dead, ms. */
  samplerMaxAgeMs: number;
}

/** Text the model check scores: any text works, it only has to come out as a finite log-likelihood. */
const CHECK_CONTEXT = "The service checks that its model";
const CHECK_CONTINUATION = " answers.";

/**
 * The service's self-checks for the update health gate:
 * - `broker`: the MQTT bridge is connected;
 * - `model`: the served model scores a short continuation to a finite, negative log-likelihood, through
 *   the orchestrator (planned, charged to the board and measured like a job, serialised with jobs);
 * - `board`: the latest board sample is fresh and at least one thermal zone reads.
 */
export function serviceSelfChecks(deps: SelfCheckDeps): HealthCheck[] {
  const runtime = deps.orchestrator.runtime;
  return [
    {
      name: "broker",
      check: () =>
        Promise.resolve(deps.brokerConnected() ? ok(true) : fail(`not connected to the MQTT broker ${deps.brokerUrl}`)),
    },
    {
      name: "model",
      check: async (signal): Promise<Reading<unknown>> => {
        const tokens = promptTokens(deps.model, CHECK_CONTEXT + CHECK_CONTINUATION).length;
        const run = await deps.orchestrator.runCharged(
          { id: "update-health-gate", promptTokens: tokens },
          (charger, jobSignal) =>
            scoreContinuation(deps.model, CHECK_CONTEXT, CHECK_CONTINUATION, {
              charger,
              signal: jobSignal ?? signal,
            }),
          { signal },
        );
        const { logLikelihood, tokens: scored } = run.value;
        if (!(Number.isFinite(logLikelihood) && logLikelihood < 0) || scored < 1) {
          return fail(`the model scored ${scored} tokens to a log-likelihood of ${logLikelihood}`);
        }
        return ok(logLikelihood);
      },
    },
    {
      name: "board",
      check: () => {
        const sample = runtime.latest();
        const atMs = runtime.lastSampleMs();
        if (sample === undefined || atMs === undefined) return Promise.resolve(fail("no board sample yet"));
        const ageMs = runtime.clock.monotonicMs() - atMs;
        if (ageMs > deps.samplerMaxAgeMs) {
          return Promise.resolve(fail(`the latest board sample is ${Math.round(ageMs)} ms old`));
        }
        if (!sample.thermal.some((t) => t.ok)) {
          const first = sample.thermal.find((t) => !t.ok);
          const why = first && !first.ok
            ? `${sample.thermal.length} zones; ${first.name}: ${first.reason}`
            : "no thermal zone found";
          return Promise.resolve(fail(`no thermal zone reads (${why})`));
        }
        return Promise.resolve(ok(true));
      },
    },
  ];
}
