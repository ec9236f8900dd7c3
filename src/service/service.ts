/**
 * The service composed: board (real, or a realtime simulated one read through
 * the HAL like a real one), DVFS actuators, the served model (a model folder,
 * or the embedded tiny model), the orchestrator (planner, calibration, fault
 * manager, cascade), the job journal and intake, the MQTT bridge (the
 * configured broker, or the embedded one), the HTTP API, metrics, and the
 * watchdog with sd_notify. `createService` starts everything in order and
 * undoes what it started when a step fails; `stop()` drains gracefully
 * (STOPPING=1, running and queued jobs finish or stay journaled), then
 * closes sockets, releases clocks and ORT sessions and stops the simulator.
 * Fleet updates arrive on `cmd/update` (see update_wiring.ts): one that
 * switches the installed version stops the service with `RESTART_EXIT_CODE`.
 * The start itself is counted for the updater by the caller, before this
 * (`countServiceBoot`, as `qeil serve` does), so that a start that fails in
 * here still counts against a new version.
 */
import {
  BusyError,
  type Clock,
  ConfigError,
  type DecoderShape,
  describeError,
  InputError,
  type Logger,
  ModelError,
  parseDecoderShape,
  systemClock,
} from "../core/mod.ts";
import { discoverBoard } from "../hal/mod.ts";
import type { Placement } from "../physics/mod.ts";
import { placementKey } from "../pgsam/mod.ts";
import { createSimBoard, type SimBoard } from "../sim/mod.ts";
import { createUpdater, type FleetPublicKey, importFleetPublicKeys } from "../update/mod.ts";
import { buildTinyModel, type DecoderModel, loadModel, ORT_VERSION } from "../runtime/mod.ts";
import { type EmbeddedBroker, startEmbeddedBroker } from "./broker.ts";
import { realBackends } from "./board_runtime.ts";
import type { ServiceConfig } from "./config.ts";
import { nextBootSequence } from "./boot.ts";
import { writeFileAtomic } from "./durable_file.ts";
import { createDashboard, createDashboardHub, type DashboardHub, dashboardPlan } from "./dashboard.ts";
import { createHttpApp, type HttpServer, type ReadinessReport, serveHttp, type ServiceApi } from "./http.ts";
import { createJobIntake, type JobIntake, type JobJournal, type JournaledJob } from "./intake.ts";
import { openJournal } from "./journal.ts";
import { createServiceMetrics, recordJob, type ServiceMetrics } from "./metrics.ts";
import { type MqttBridge, readTlsFiles, startMqttBridge } from "./mqtt_bridge.ts";
import { createOrchestrator, type JobRequest, type JobResult, type Orchestrator, outcomeOf } from "./orchestrator.ts";
import { type FaultEvent, faultEvent, type InferRequest, type ReplyPayload, requestLimitsOf } from "./schema.ts";
import { createNotifier, type Notifier, systemdEnv } from "./sd_notify.ts";
import { createFleetUpdates, type FleetUpdates, RESTART_EXIT_CODE, serviceSelfChecks } from "./update_wiring.ts";
import {
  deadlineCheck,
  type EventLoopLagMonitor,
  type HealthReport,
  heartbeatCheck,
  startEventLoopLagMonitor,
  startWatchdog,
  type Watchdog,
} from "./watchdog.ts";

/** What the service needs from its host besides the config. */
export interface ServiceDeps {
  /** Version of this build (the `status` message, `/v1/status`). */
  version: string;
  /** The process environment (NOTIFY_SOCKET, WATCHDOG_USEC). */
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  /** Process id (sd_notify's WATCHDOG_PID check, the ready file). @default Deno.pid */
  pid?: number;
  /** Stops the service when aborted (SIGTERM, SIGINT). */
  signal?: AbortSignal;
  /** @default systemClock */
  clock?: Clock;
  /** Longest graceful drain at stop before unfinished jobs are left journaled for the next start, ms. @default 20000 */
  drainTimeoutMs?: number;
  /**
   * Receives the simulated board (config `board: sim:*`) right after it wrote its tree, before the HAL
   * discovers it or anything reads it: for tests and tools that inject faults from the very start
   * (`service.orchestrator.sim` gives the same board later). Never called for a real board. @default none
   */
  onSimBoard?: (sim: SimBoard) => void | Promise<void>;
}

/** How the service ended. */
export interface ServiceExit {
  reason: string;
  /**
   * The exit status for the process: 0 after a stop, `RESTART_EXIT_CODE` (75) after a fleet update or a
   * rollback switched the installed version (the service manager starts it again).
   */
  exitCode: number;
}

/** Where the running service can be reached (also written to `<stateDir>/service.json`). */
export interface ServiceInfo {
  nodeId: string;
  pid: number;
  bootSequence: number;
  version: string;
  /** `http://host:port` of the HTTP API, when enabled. */
  httpUrl?: string;
  brokerUrl: string;
  topicPrefix: string;
  stateDir: string;
  board: { profileId: string; simulated: boolean; root: string };
  modelDir: string;
  startedAtMs: number;
}

/** A running service. */
export interface Service extends AsyncDisposable {
  readonly info: ServiceInfo;
  readonly orchestrator: Orchestrator;
  readonly intake: JobIntake;
  readonly bridge: MqttBridge;
  readonly api: ServiceApi;
  readonly metrics: ServiceMetrics;
  /** Resolves once the service has stopped (by `stop()`, the signal, or a fleet update asking for a restart). */
  readonly stopped: Promise<ServiceExit>;
  /** Drains and stops (idempotent). */
  stop(reason?: string): Promise<void>;
}

/** Name of the file in the state folder that says where the running service listens. */
export const SERVICE_INFO_FILE = "service.json";

/** A cleanup step of start-up, undone in reverse order. */
type Cleanup = { what: string; run: () => PromiseLike<void> | void };

/** Reads a model config (a file, or a folder with config.json / genai_config.json) into a decoder shape. */
export async function readCostShape(path: string): Promise<DecoderShape> {
  let file = path;
  try {
    if ((await Deno.stat(path)).isDirectory) {
      file = `${path}/config.json`;
      if (!(await Deno.stat(file).then((s) => s.isFile, () => false))) file = `${path}/genai_config.json`;
    }
    return parseDecoderShape(JSON.parse(await Deno.readTextFile(file)), file);
  } catch (error) {
    throw new ConfigError(
      `config: orchestrator.costModel names ${path}, which is not a readable model config: ${describeError(error)}`,
      {
        cause: error,
        details: { field: "orchestrator.costModel", path },
      },
    );
  }
}

/** Builds the embedded tiny model into `dir` unless it is there (written aside and renamed: never half-written). */
async function ensureTinyAt(dir: string): Promise<void> {
  if (await Deno.stat(`${dir}/model.onnx`).then((s) => s.isFile, () => false)) return;
  const parent = dir.slice(0, dir.lastIndexOf("/")) || "/";
  await Deno.mkdir(parent, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: parent, prefix: ".tiny-" });
  try {
    await buildTinyModel(tmp);
    await Deno.rename(tmp, dir);
  } catch (error) {
    await Deno.remove(tmp, { recursive: true }).catch(() => undefined);
    if (!(await Deno.stat(`${dir}/model.onnx`).then((s) => s.isFile, () => false))) throw error;
  }
}

/**
 * Starts the service. Resolves once it runs (READY=1 has been sent); the
 * broker may still be connecting (`/readyz` says so).
 * @throws ConfigError naming the key for a config that cannot work; the first start-up failure otherwise
 */
export async function createService(config: ServiceConfig, deps: ServiceDeps): Promise<Service> {
  const log = deps.logger;
  const clock = deps.clock ?? systemClock;
  const pid = deps.pid ?? Deno.pid;
  const cleanups: Cleanup[] = [];
  const undo = async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c.run();
      } catch (error) {
        log.warn(`stop: ${c.what} failed`, { error });
      }
    }
  };
  try {
    await Deno.mkdir(config.stateDir, { recursive: true });
    const bootSequence = await nextBootSequence(config.stateDir, log);
    const notifier: Notifier = await createNotifier({
      socketPath: systemdEnv(deps.env, pid).notifySocket,
      logger: log,
    });
    cleanups.push({ what: "close sd_notify", run: () => notifier.close() });

    // Board: a simulated one writes its tree, then the HAL discovers it like a real one.
    let sim: SimBoard | undefined;
    if (config.board.kind === "sim") {
      sim = await createSimBoard({
        profileId: config.board.profileId,
        root: config.sysfsRoot,
        seed: config.sim.seed,
        timeMode: "realtime",
        stepMs: config.sim.stepMs,
      }).catch((error) => {
        throw new ConfigError(`config: board ${describeError(error)}`, { cause: error, details: { field: "board" } });
      });
      const s = sim;
      cleanups.push({ what: "stop the simulated board", run: () => s[Symbol.asyncDispose]() });
      await deps.onSimBoard?.(sim);
      sim.start();
    }
    const profileId = config.board.profileId === "auto" ? undefined : config.board.profileId;
    const board = await discoverBoard(config.sysfsRoot, { ...(profileId ? { profileId } : {}), clock });
    log.info("board discovered", {
      profile: board.profile.id,
      model: board.model,
      simulated: sim !== undefined,
      units: board.units.map((u) => u.id).join(","),
      warnings: board.warnings.length,
    });

    // Model.
    if (config.model.source === "tiny") await ensureTinyAt(config.model.dir);
    const model: DecoderModel = await loadModel(config.model.dir).catch((error) => {
      throw new ModelError(`load the model in ${config.model.dir}: ${describeError(error)}`, {
        cause: error,
        details: { field: "modelDir", path: config.model.dir },
      });
    });
    cleanups.push({ what: "release the model's ORT sessions", run: () => model.dispose() });
    log.info("model loaded", {
      dir: config.model.dir,
      family: model.shape.family,
      layers: model.shape.layers,
      ort: ORT_VERSION,
    });
    let costShape: DecoderShape | undefined;
    if (config.orchestrator.costModel !== undefined) {
      if (!sim) {
        throw new ConfigError(
          "config: orchestrator.costModel is for simulated boards (a real board runs the real model)",
          {
            details: { field: "orchestrator.costModel" },
          },
        );
      }
      costShape = await readCostShape(config.orchestrator.costModel);
    }

    // Fleet updates: the keys are checked now, so a bad key fails the start naming it.
    let publicKeys: FleetPublicKey[];
    try {
      publicKeys = await importFleetPublicKeys(config.update.publicKeys);
    } catch (error) {
      throw new ConfigError(`config: update.publicKeys ${describeError(error)}`, {
        cause: error,
        details: { field: "update.publicKeys" },
      });
    }
    if (publicKeys.length === 0) log.info("no fleet public keys configured: updates on cmd/update will be refused");

    // Late-bound: faults may happen before the broker is up; the bridge queues them.
    const late: { bridge?: MqttBridge; intake?: JobIntake; updates?: FleetUpdates } = {};
    const pendingFaults: FaultEvent[] = [];
    const publishFault = (event: FaultEvent) => {
      const bridge = late.bridge;
      if (!bridge) {
        pendingFaults.push(event);
        return;
      }
      bridge.publishFault(event).catch((error) => log.warn("fault event not published", { kind: event.kind, error }));
    };
    const metrics = createServiceMetrics();
    metrics.bootSequence.set({}, bootSequence);
    // The live dashboard's feed: the orchestrator's samples, jobs, faults, unit health, plan and calibration.
    const hub: DashboardHub = createDashboardHub({
      board,
      nodeId: config.nodeId,
      periodMs: config.telemetry.periodMs,
      bootId: `${bootSequence}-${clock.nowMs()}`,
      clock,
      logger: log,
    });
    let lastHubSampleMs = Number.NEGATIVE_INFINITY;
    let hubPlan: unknown;
    let hubPlacement: Placement | undefined;
    const hubSync = {
      health: () => {},
      afterJob: (_result: JobResult) => {},
    };

    const orchestrator = createOrchestrator({
      board,
      ...(sim ? { sim } : {}),
      model,
      ...(costShape ? { costShape } : {}),
      mode: config.orchestrator.mode,
      policy: config.orchestrator.policy,
      waves: config.orchestrator.waves,
      readOnlyActuators: config.dvfs.readOnly,
      clock,
      seed: config.sim.seed,
      faults: {
        probationMs: config.faults.probationMs,
        probationShare: config.faults.probationShare,
        maxRetries: config.faults.maxRetries,
        trialRefailProbability: config.faults.trialRefailProbability,
      },
      telemetryPeriodMs: config.telemetry.periodMs,
      ...(sim ? {} : { backends: (await realBackends(board, log)).backends }),
      logger: log.child({ part: "orchestrator" }),
      onFault: (event) => {
        publishFault(event);
        hub.recordFault(event);
        if (event.unitId !== undefined) hubSync.health();
      },
      onSample: (sample) => {
        // One chart point per telemetry period (samples come faster while jobs run).
        if (sample.monotonicMs - lastHubSampleMs < config.telemetry.periodMs * 0.95) return;
        lastHubSampleMs = sample.monotonicMs;
        hub.recordSample(sample);
      },
      onJob: (result) => hubSync.afterJob(result),
      moreWork: () => (late.intake?.queue.stats().waiting ?? 0) > 0,
    });
    cleanups.push({ what: "stop the orchestrator", run: () => orchestrator.close() });
    hubSync.health = () => {
      for (const u of orchestrator.units()) hub.setHealth(u.unitId, u.state, u.reason);
    };
    hubSync.afterJob = (result) => {
      const standardEnergyJ = standardEstimateJ(result);
      hub.recordJob({
        id: result.id,
        task: result.task,
        ok: true,
        answer: result.answer,
        samplesUsed: result.samplesUsed,
        samplesMax: result.k,
        stopReason: result.stopReason,
        energyJ: result.energyJ,
        latencyMs: result.latencyMs,
        ...(standardEnergyJ !== undefined ? { standardEnergyJ } : {}),
        finishedAtMs: clock.nowMs(),
      });
      const choice = orchestrator.currentChoice();
      const latest = choice?.plan;
      const view = orchestrator.planView();
      if (choice && latest !== undefined && view.job && (latest !== hubPlan || choice.placement !== hubPlacement)) {
        hubPlan = latest;
        hubPlacement = choice.placement;
        // The point shown as chosen is the one that ran: with a unit on probation the planner runs the
        // best front member that respects its limits, not PGSAM's unconstrained choice.
        const ran = latest.front.find((p) => p.placement === choice.placement) ??
          { placement: choice.placement, prediction: choice.prediction, key: placementKey(choice.placement) };
        hub.setPlan(
          dashboardPlan(
            orchestrator.calibrator.model,
            view.job,
            { ...latest, chosen: ran },
            view.plannedAtMs ?? clock.nowMs(),
          ),
        );
      }
      hub.setCalibration(orchestrator.calibration().jobs);
      hubSync.health();
    };
    await orchestrator.start();

    const journal: JobJournal = await openJournal<JournaledJob, ReplyPayload>({
      dir: `${config.stateDir}/journal`,
      clock,
      logger: log,
      retainResults: config.journal.retainResults,
      compactAfterRecords: config.journal.compactAfterRecords,
    });
    cleanups.push({ what: "close the journal", run: () => journal.close() });
    if (journal.recovery.corruptRecords > 0) {
      publishFault(faultEvent(
        "journal-corrupt",
        "warning",
        `the job journal had ${journal.recovery.corruptRecords} corrupt records (skipped)`,
        clock.nowMs(),
      ));
    }

    let brokerUrl: string;
    if (config.mqtt.broker.kind === "embedded") {
      const embedded: EmbeddedBroker = await startEmbeddedBroker({
        host: config.mqtt.broker.host,
        port: config.mqtt.broker.port,
        logger: log,
      });
      cleanups.push({ what: "close the embedded broker", run: () => embedded.close() });
      brokerUrl = embedded.url;
    } else {
      brokerUrl = config.mqtt.broker.url;
    }

    const limits = requestLimitsOf(config);
    const intake = createJobIntake({
      journal,
      run: async (request, context) =>
        outcomeOf(await orchestrator.runJob(jobRequestOf(request), { signal: context.signal })),
      deliver: (route, payload) => late.bridge!.publishReply(route, payload),
      capacity: config.queue.capacity,
      concurrency: config.queue.concurrency,
      deadlineMsFor: (request) =>
        request.sloMs === undefined
          ? config.deadlines.defaultMs
          : Math.min(config.deadlines.maxMs, Math.max(request.sloMs, config.deadlines.defaultMs)),
      clock,
      logger: log,
      onSettled: (request, payload, settled) => {
        recordJob(metrics, request, payload);
        if (!payload.ok) {
          hub.recordJob({
            id: request.id,
            task: request.task,
            ok: false,
            answer: null,
            samplesUsed: 0,
            samplesMax: request.samples,
            stopReason: null,
            energyJ: null,
            latencyMs: 0,
            error: { code: payload.error.code, message: payload.error.message },
            finishedAtMs: clock.nowMs(),
          });
        }
        log.info("job finished", {
          id: request.id,
          ok: payload.ok,
          ...(payload.ok ? { samplesUsed: payload.samplesUsed } : { code: payload.error.code }),
          ...(settled.replayed ? { replayed: true } : {}),
        });
        if (!payload.ok && payload.error.code === "Timeout") {
          publishFault(faultEvent("job-failed", "error", payload.error.message, clock.nowMs(), {
            requestId: request.id,
            code: "Timeout",
          }));
        }
      },
    });
    late.intake = intake;
    cleanups.push({ what: "close the job intake", run: () => intake.close() });

    const tls = await readTlsFiles(config.mqtt.tls);
    const startedBridge = startMqttBridge({
      url: brokerUrl,
      clientId: config.mqtt.clientId,
      topicPrefix: config.mqtt.topicPrefix,
      nodeId: config.nodeId,
      version: deps.version,
      bootSequence,
      limits,
      onRequest: async (request, reply) => {
        const submission = await intake.submit(request, reply.route);
        log.info("job accepted", { id: request.id, status: submission.status, via: "mqtt" });
      },
      onCommand: async (command) => {
        if (command.kind !== "update") {
          throw new InputError(`cmd/${command.kind} is not supported by version ${deps.version}`);
        }
        const updates = late.updates;
        if (!updates) {
          throw new BusyError("update refused: the service is still starting", { details: { retryAfterS: 5 } });
        }
        await updates.handleCommand(command.payload);
      },
      telemetry: { periodMs: config.telemetry.periodMs, read: () => orchestrator.telemetry() },
      onFault: (event) => metrics.faults.inc({ kind: event.kind }),
      onConnectionChange: (up) => {
        metrics.mqttConnected.set({}, up ? 1 : 0);
        if (up) {
          intake.redeliver().catch((error) => log.warn("redelivery failed", { error }));
          late.updates?.onConnected();
        }
      },
      protocol: config.mqtt.broker.kind === "embedded" ? "3.1.1" : config.mqtt.protocol,
      ...(config.mqtt.username !== undefined ? { username: config.mqtt.username } : {}),
      ...(config.mqtt.password !== undefined ? { password: config.mqtt.password } : {}),
      ...(tls ? { tls } : {}),
      keepaliveS: config.mqtt.keepaliveS,
      connectTimeoutMs: config.mqtt.connectTimeoutMs,
      reconnectMinMs: config.mqtt.reconnectMinMs,
      reconnectMaxMs: config.mqtt.reconnectMaxMs,
      sessionExpiryS: config.mqtt.sessionExpiryS,
      offlineQueueLimit: config.mqtt.offlineQueueLimit,
      clock,
      logger: log.child({ part: "mqtt" }),
    });
    late.bridge = startedBridge;
    cleanups.push({ what: "close the MQTT bridge", run: () => startedBridge.close("shutdown") });
    let stopFor: (reason: string, exitCode: number) => Promise<void> = () => Promise.resolve();
    const updates = createFleetUpdates({
      updater: createUpdater({
        stateDir: config.update.stateDir,
        slotsDir: config.update.slotsDir,
        factoryDir: config.update.factoryDir,
        currentVersion: deps.version,
        publicKeys,
        publisher: {
          status: (e) => updates.publisher.status(e),
          fault: (e) => updates.publisher.fault(e),
          announce: (a) => updates.publisher.announce(a),
        },
        clock,
        maxArtifactBytes: config.update.maxArtifactBytes,
        downloadTimeoutMs: config.update.downloadTimeoutMs,
        ...(config.update.maxManifestAgeMs !== undefined ? { maxManifestAgeMs: config.update.maxManifestAgeMs } : {}),
        healthGate: {
          timeoutMs: config.update.healthGateTimeoutMs,
          intervalMs: config.update.healthGateIntervalMs,
          maxBootAttempts: config.update.maxBootAttempts,
        },
        logger: log.child({ part: "update" }),
      }),
      sink: startedBridge,
      nodeId: config.nodeId,
      clock,
      logger: log.child({ part: "update" }),
      onFault: (event) => hub.recordFault(event),
      onRestartRequired: (reason) => void stopFor(reason, RESTART_EXIT_CODE),
    });
    late.updates = updates;
    // Before the bridge closes (cleanups run in reverse): a running download is aborted and its events flushed.
    cleanups.push({ what: "stop fleet updates", run: () => updates.close() });
    for (const event of pendingFaults.splice(0)) publishFault(event);
    // Jobs journaled by an earlier run are queued now, before any request can arrive.
    const recovered = intake.recover();
    recovered.then(
      (r) => log.info("journal recovered", { replayed: r.replayed, redelivered: r.redelivered }),
      (error) => log.error("journal recovery failed", { error }),
    );

    let draining = false;
    const ready = (): ReadinessReport => {
      if (draining) return { ready: false, reason: "draining: the service is stopping" };
      if (!startedBridge.connected()) return { ready: false, reason: `MQTT broker ${brokerUrl} not connected` };
      if (orchestrator.runtime.latest() === undefined) return { ready: false, reason: "no board sample yet" };
      return { ready: true };
    };

    // Watchdog: the event loop, the sampler's heartbeat, and jobs past their deadline.
    const lag: EventLoopLagMonitor = startEventLoopLagMonitor({ clock, maxLagMs: config.watchdog.maxEventLoopLagMs });
    cleanups.push({ what: "stop the lag monitor", run: () => lag.stop() });
    const systemd = systemdEnv(deps.env, pid);
    const checks = [
      lag.check,
      heartbeatCheck("sampler", {
        clock: orchestrator.runtime.clock,
        lastBeatMs: () => orchestrator.runtime.lastSampleMs(),
        maxAgeMs: config.watchdog.samplerMaxAgeMs,
      }),
      deadlineCheck(() => intake.queue.overdue(), config.watchdog.deadlineGraceMs),
    ];
    const watchdog: Watchdog = startWatchdog({
      clock,
      checks,
      intervalMs: systemd.watchdogIntervalMs ?? config.watchdog.checkIntervalMs,
      notifier,
      logger: log,
      onReport: (report, previous) => {
        if (!report.ok && previous.ok) {
          const failing = report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.reason}`).join("; ");
          publishFault(faultEvent("watchdog", "error", `health checks fail: ${failing}`, clock.nowMs()));
        }
      },
    });
    cleanups.push({ what: "stop the watchdog", run: () => watchdog.stop() });

    const startedAtMs = clock.nowMs();
    const statusOf = () => {
      const q = intake.queue.stats();
      return {
        schemaVersion: 1,
        nodeId: config.nodeId,
        version: deps.version,
        bootSequence,
        startedAtMs,
        uptimeMs: clock.nowMs() - startedAtMs,
        mode: orchestrator.mode,
        policy: orchestrator.policy,
        board: {
          profileId: board.profile.id,
          name: board.profile.name,
          model: board.model,
          simulated: sim !== undefined,
          root: board.root,
          throttleEvents: orchestrator.runtime.throttleEvents(),
        },
        model: {
          dir: config.model.dir,
          source: config.model.source,
          shape: model.shape,
          costShape: orchestrator.costShape,
        },
        units: orchestrator.units(),
        lostSensors: orchestrator.faults.lostSensors(),
        calibration: orchestrator.calibration(),
        jobs: orchestrator.stats(),
        queue: q,
        journal: journal.stats(),
        broker: { url: brokerUrl, ...startedBridge.stats() },
        ready: ready(),
        health: watchdog.health(),
      };
    };

    let busySeen = 0;
    const api: ServiceApi = {
      infer: async (request) => {
        const submission = await intake.submit(request);
        log.info("job accepted", { id: request.id, status: submission.status, via: "http" });
        return submission.reply;
      },
      status: () => statusOf(),
      telemetry: () => orchestrator.telemetry(),
      plan: () => orchestrator.planView(),
      metrics: () => {
        const q = intake.queue.stats();
        metrics.queueJobs.set({ state: "waiting" }, q.waiting);
        metrics.queueJobs.set({ state: "running" }, q.running);
        if (q.rejectedBusy > busySeen) {
          metrics.busyRejections.inc({}, q.rejectedBusy - busySeen);
          busySeen = q.rejectedBusy;
        }
        metrics.mqttConnected.set({}, startedBridge.connected() ? 1 : 0);
        const t = orchestrator.telemetry();
        metrics.zoneTemperatureCelsius.reset();
        for (const [zone, tempC] of Object.entries(t.zones)) metrics.zoneTemperatureCelsius.set({ zone }, tempC);
        if (t.totalPowerW !== null) metrics.boardPowerWatts.set({}, t.totalPowerW);
        const c = orchestrator.calibration().jobs;
        if (c.energyMapePct !== undefined) {
          metrics.calibrationErrorRatio.set({ quantity: "energy" }, c.energyMapePct / 100);
        }
        if (c.latencyMapePct !== undefined) {
          metrics.calibrationErrorRatio.set({ quantity: "latency" }, c.latencyMapePct / 100);
        }
        if (c.tempMaeC !== undefined) metrics.calibrationTemperatureErrorCelsius.set({}, c.tempMaeC);
        return metrics.registry.collect();
      },
      health: (): HealthReport => watchdog.health(),
      ready,
    };

    let httpServer: HttpServer | undefined;
    if (config.http.enabled) {
      const app = createHttpApp(api, {
        limits,
        ...(config.http.token !== undefined ? { token: config.http.token } : {}),
        logger: log.child({ part: "http" }),
      });
      const dashboard = createDashboard(hub, { clock, logger: log.child({ part: "dashboard" }) });
      dashboard.mount(app);
      httpServer = await serveHttp(app, { host: config.http.host, port: config.http.port, logger: log });
      const server = httpServer;
      cleanups.push({
        what: "close the HTTP server",
        run: async () => {
          // The dashboard's event streams first: the server's shutdown waits for open responses to end.
          dashboard.close();
          await server.shutdown();
        },
      });
    }

    const info: ServiceInfo = {
      nodeId: config.nodeId,
      pid,
      bootSequence,
      version: deps.version,
      ...(httpServer ? { httpUrl: httpServer.url } : {}),
      brokerUrl,
      topicPrefix: config.mqtt.topicPrefix,
      stateDir: config.stateDir,
      board: { profileId: board.profile.id, simulated: sim !== undefined, root: board.root },
      modelDir: config.model.dir,
      startedAtMs,
    };
    const infoPath = `${config.stateDir}/${SERVICE_INFO_FILE}`;
    await writeFileAtomic(infoPath, JSON.stringify(info, null, 2) + "\n");
    cleanups.push({ what: "remove the service info file", run: () => Deno.remove(infoPath).catch(() => undefined) });

    await notifier.ready(`serving ${config.nodeId} on ${board.profile.id}`);
    log.info("service ready", {
      nodeId: config.nodeId,
      bootSequence,
      http: httpServer?.url,
      broker: brokerUrl,
      board: board.profile.id,
      simulated: sim !== undefined,
    });

    let stopping: Promise<void> | undefined;
    let resolveStopped!: (exit: ServiceExit) => void;
    const stopped = new Promise<ServiceExit>((resolve) => resolveStopped = resolve);
    const stop = (reason = "shutdown", exitCode = 0): Promise<void> => {
      stopping ??= (async () => {
        draining = true;
        log.info("service stopping", { reason });
        await notifier.stopping(`stopping: ${reason}`);
        const drainTimer = new AbortController();
        const timeout = clock.sleep(deps.drainTimeoutMs ?? 20_000, drainTimer.signal).then(
          () => drainTimer.abort(new Error("drain timeout")),
          () => undefined,
        );
        try {
          await intake.drain(drainTimer.signal);
        } catch {
          log.warn("drain timed out; unfinished jobs stay journaled for the next start");
        } finally {
          drainTimer.abort();
          await timeout;
        }
        await undo();
        log.info("service stopped", { reason, exitCode });
        resolveStopped({ reason, exitCode });
      })();
      return stopping;
    };
    stopFor = stop;
    // This start's update health gate (or the end of an interrupted update) runs while the service serves.
    updates.runStartGate(serviceSelfChecks({
      brokerConnected: () => startedBridge.connected(),
      brokerUrl,
      orchestrator,
      model,
      samplerMaxAgeMs: config.watchdog.samplerMaxAgeMs,
    }));
    deps.signal?.addEventListener("abort", () => stop(describeError(deps.signal!.reason)), { once: true });
    if (deps.signal?.aborted) stop("aborted at start-up");

    return {
      info,
      orchestrator,
      intake,
      bridge: startedBridge,
      api,
      metrics,
      stopped,
      stop: (reason) => stop(reason),
      [Symbol.asyncDispose]: () => stop("disposed"),
    };
  } catch (error) {
    await undo();
    throw error;
  }
}

/**
 * The energy the standard placement would have needed for a job, J: the measured energy scaled by the
 * physics model's ratio of the standard placement's prediction to its post-hoc prediction of what ran.
 * The model's own bias (its calibration error) cancels in the ratio, so a job that ran the standard
 * placement saves nothing, instead of the model's error passing for a saving. `undefined` without a
 * usable prediction.
 */
export function standardEstimateJ(
  result: Pick<JobResult, "energyJ" | "standardEnergyJ" | "predicted">,
): number | undefined {
  const standard = result.standardEnergyJ;
  const asRun = result.predicted.energyJ;
  if (standard === undefined || !(asRun > 0) || !Number.isFinite(standard) || !Number.isFinite(asRun)) return undefined;
  return result.energyJ * standard / asRun;
}

/** The orchestrator's view of an inference request. */
export function jobRequestOf(request: InferRequest): JobRequest {
  return {
    id: request.id,
    task: request.task,
    prompt: request.prompt,
    ...(request.choices ? { choices: request.choices } : {}),
    samples: request.samples,
    maxTokens: request.maxTokens,
    temperature: request.temperature,
    ...(request.sloMs !== undefined ? { sloMs: request.sloMs } : {}),
  };
}
