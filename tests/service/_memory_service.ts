/**
 * A small but real ServiceApi for tests of the transports: a real journal
 * (temp folder), the real intake and queue, real metrics and health checks,
 * and a runner that the test controls (it echoes the prompt upper-cased).
 */
import { BackendError, type Clock, ManualClock } from "../../src/core/mod.ts";
import {
  createJobIntake,
  createServiceMetrics,
  type HealthCheck,
  type InferOutcome,
  type InferRequest,
  type JobIntake,
  type JobJournal,
  type JournaledJob,
  openJournal,
  recordJob,
  type ReplyPayload,
  type ReplyRoute,
  runChecks,
  type ServiceApi,
  type ServiceMetrics,
} from "../../src/service/mod.ts";

/** The in-memory service and the knobs a test turns. */
export interface MemoryService extends AsyncDisposable {
  api: ServiceApi;
  intake: JobIntake;
  journal: JobJournal;
  metrics: ServiceMetrics;
  /** Requests the runner has seen, in order. */
  runs: string[];
  /** Resolves once the runner has started job `id`. */
  started(id: string): Promise<void>;
  /** When set, jobs wait for `release()`. */
  hold: boolean;
  release(): void;
  /** Prompts that make the runner fail with a BackendError. */
  failOn: Set<string>;
  ready: boolean;
  checks: HealthCheck[];
  deliveries: { route: ReplyRoute; payload: ReplyPayload }[];
}

/** Creates the in-memory service over a fresh temp folder. */
export async function createMemoryService(
  options: { capacity?: number; concurrency?: number; clock?: Clock; dir?: string } = {},
): Promise<MemoryService> {
  const clock = options.clock ?? new ManualClock();
  const journal: JobJournal = await openJournal<JournaledJob, ReplyPayload>({
    dir: options.dir ?? await Deno.makeTempDir(),
    clock,
  });
  const metrics = createServiceMetrics();
  const held: (() => void)[] = [];
  const startWaiters = new Map<string, () => void>();
  const service = {
    runs: [] as string[],
    hold: false,
    failOn: new Set<string>(),
    ready: true,
    checks: [] as HealthCheck[],
    deliveries: [] as { route: ReplyRoute; payload: ReplyPayload }[],
    release: () => held.splice(0).forEach((go) => go()),
    started: (id: string) =>
      service.runs.includes(id) ? Promise.resolve() : new Promise<void>((resolve) => startWaiters.set(id, resolve)),
  };
  const run = async (request: InferRequest): Promise<InferOutcome> => {
    service.runs.push(request.id);
    startWaiters.get(request.id)?.();
    if (service.hold) await new Promise<void>((resolve) => held.push(resolve));
    if (service.failOn.has(request.prompt)) throw new BackendError(`unit npu failed on "${request.prompt}"`);
    return {
      answer: request.prompt.toUpperCase(),
      text: request.prompt.toUpperCase(),
      confidence: 0.75,
      samplesUsed: Math.min(2, request.samples),
      stopReason: "confident",
      energyJ: 1.25,
      latencyMs: 40,
      placement: {
        prefillUnit: "cpu_big",
        lanes: [{ segments: [{ unitId: "cpu_big", layerStart: 0, layerEnd: 2 }], samples: 2 }],
        freqLevel: { cpu_big: 3 },
      },
    };
  };
  const intake = createJobIntake({
    journal,
    run,
    deliver: (route, payload) => {
      service.deliveries.push({ route, payload });
      return Promise.resolve();
    },
    capacity: options.capacity ?? 4,
    concurrency: options.concurrency ?? 1,
    deadlineMsFor: () => 60_000,
    clock,
    onSettled: (request, payload) => recordJob(metrics, request, payload),
  });
  await intake.recover();
  const api: ServiceApi = {
    infer: async (request) => (await intake.submit(request)).reply,
    status: () => ({ nodeId: "memory", queue: intake.queue.stats() }),
    telemetry: () => ({ schemaVersion: 1, units: { cpu_big: { tempC: 48.5, powerW: 2.1 } } }),
    plan: () => ({ policy: "balanced", placement: { prefillUnit: "cpu_big" } }),
    metrics: () => {
      const q = intake.queue.stats();
      metrics.queueJobs.set({ state: "waiting" }, q.waiting);
      metrics.queueJobs.set({ state: "running" }, q.running);
      metrics.zoneTemperatureCelsius.set({ zone: "soc" }, 48.5);
      return metrics.registry.collect();
    },
    health: () => runChecks(service.checks),
    ready: () => service.ready ? { ready: true } : { ready: false, reason: "draining" },
  };
  const dispose = async () => {
    service.release();
    await intake.close();
    await journal.close();
  };
  return Object.assign(service, { api, intake, journal, metrics, [Symbol.asyncDispose]: dispose });
}
