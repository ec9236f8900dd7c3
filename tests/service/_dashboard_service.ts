/**
 * A service on a simulated board for the dashboard's tests, until the
 * orchestrator exists: a realtime simulated board discovered and sampled by
 * the HAL, every sample pushed into a real `DashboardHub`; each request goes
 * through the real journal and intake, is planned with PGSAM on the state the
 * HAL reads and runs the planned prefill and decode work on the simulator;
 * its energy comes from the HAL's rails (the energy meter), and prediction
 * error is measured against it. A unit whose work throws is marked failed,
 * the job is re-planned on the healthy units and retried; failed units are
 * probed every sample and come back through probation.
 *
 * What it does not do (the orchestrator's job): no language model (the answer
 * echoes the prompt upper-cased and every sample of the budget is "drawn"), no
 * DVFS (the simulator's governors pick the clocks), no calibration of the model.
 */
import { createRng, type DecoderShape, isQeilError, type Rng, systemClock } from "../../src/core/mod.ts";
import { type Board, createSampler, discoverBoard, EnergyMeter, type Sample, type Sampler } from "../../src/hal/mod.ts";
import {
  type BoardModel,
  type BoardState,
  createBoardModel,
  decodeWork,
  type Job,
  type JobOutcome,
  type Placement,
  predictionError,
  prefillWork,
} from "../../src/physics/mod.ts";
import { type Plan, plan } from "../../src/pgsam/mod.ts";
import { createSimBoard, type SimBoard } from "../../src/sim/mod.ts";
import {
  createDashboardHub,
  createJobIntake,
  type DashboardFeed,
  type DashboardHub,
  dashboardPlan,
  faultEvent,
  type InferOutcome,
  type InferRequest,
  type JobIntake,
  type JournaledJob,
  openJournal,
  type ReplyPayload,
  type ServiceApi,
} from "../../src/service/mod.ts";

/** What the dashboard's end-to-end test needs of a service (the real service will provide the same). */
export interface DashboardTestService extends AsyncDisposable {
  api: ServiceApi;
  feed: DashboardFeed;
  /** The unit the next job's prefill will run on (a unit the current plan uses). */
  unitInUse(): string;
  /** Makes every piece of work on the unit fail from now on. */
  injectUnitFault(unitId: string): void;
  /** Undoes `injectUnitFault`; the unit comes back after it passes its probes. */
  clearUnitFault(unitId: string): void;
}

/** Options of `createSimDashboardService`. */
export interface SimDashboardServiceOptions {
  /** @default "rk3588" */
  profileId?: string;
  /** Seed of the simulated board and of the planner. @default 7 */
  seed?: number;
  /** Telemetry period, ms. @default 250 */
  periodMs?: number;
  /** Probes a failed unit must pass in a row to be healthy again. @default 3 */
  probationProbes?: number;
}

/** An 8-layer int8 Llama-style decoder: small enough that a job takes tens of simulated ms. */
const SHAPE: DecoderShape = {
  family: "llama",
  mlpMatrices: 3,
  layers: 8,
  hiddenSize: 512,
  intermediateSize: 1408,
  heads: 8,
  kvHeads: 4,
  headDim: 64,
  vocabSize: 32000,
  maxSeqLen: 2048,
  tiedEmbeddings: true,
  weightPrecision: "int8",
  groupSize: 32,
  kvPrecision: "fp16",
};
/** The job the page's plan shows before any request arrives. */
const REFERENCE_JOB: Job = { shape: SHAPE, promptTokens: 64, genTokens: 16, samples: 4 };
const PLAN_OPTIONS = { policy: "balanced", maxEvaluations: 150, frequencyLevels: 3 } as const;
const WORK_TIMEOUT_MS = 5_000;
const PROBE_TIMEOUT_MS = 2_000;

/** The board state the HAL's sample shows, with the units the fault manager allows. */
function stateOf(model: BoardModel, sample: Sample, healthyUnits: string[]): BoardState {
  const zoneIds = new Set(model.zones.map((z) => z.id));
  const tempsC: Record<string, number> = {};
  for (const t of sample.thermal) {
    if (!t.ok || t.zone === undefined || !zoneIds.has(t.zone)) continue;
    tempsC[t.zone] = Math.max(tempsC[t.zone] ?? -Infinity, t.tempC);
  }
  const maxFreqHz: Record<string, number> = {};
  for (const u of healthyUnits) {
    const cap = sample.units[u]?.maxFreqHz;
    if (cap?.ok) maxFreqHz[u] = cap.value;
  }
  const memAvailableBytes = sample.memory.ok ? sample.memory.value.availableBytes : 0.8 * model.memoryTotalBytes;
  return { tempsC, ambientC: model.ambientC, memAvailableBytes, healthyUnits, maxFreqHz };
}

/** The unit an error from the simulator blames, if it blames one. */
function blamedUnit(error: unknown): string | undefined {
  if (isQeilError(error, "Backend") && typeof error.details.unitId === "string") return error.details.unitId;
  if (isQeilError(error, "Timeout") && Array.isArray(error.details.unitIds)) {
    const [first] = error.details.unitIds;
    if (typeof first === "string") return first;
  }
  return undefined;
}

/** Starts the service on a fresh simulated board in a temp folder. */
export async function createSimDashboardService(
  options: SimDashboardServiceOptions = {},
): Promise<DashboardTestService> {
  const profileId = options.profileId ?? "rk3588";
  const seed = options.seed ?? 7;
  const periodMs = options.periodMs ?? 250;
  const probationProbes = options.probationProbes ?? 3;
  const clock = systemClock;
  const root = await Deno.makeTempDir({ prefix: "qeil-dashboard-" });
  const cleanups: (() => PromiseLike<void> | void)[] = [() => Deno.remove(root, { recursive: true })];
  const dispose = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    const sim: SimBoard = await createSimBoard({ profileId, root, seed, timeMode: "realtime", stepMs: 100 });
    cleanups.push(() => sim[Symbol.asyncDispose]());
    const board: Board = await discoverBoard(root, { profileId, clock: sim.clock });
    sim.start();
    cleanups.push(() => sim.stop());
    const model = createBoardModel(board.profile.priors);
    const hub: DashboardHub = createDashboardHub({ board, nodeId: `sim-${profileId}`, periodMs, clock });
    const rng: Rng = createRng(seed);
    const meter = new EnergyMeter();
    const outcomes: JobOutcome[] = [];
    const standardEnergyJ = new Map<string, number>();
    const probesPassed = new Map<string, number>();
    let latest: Sample | undefined;
    const sampleWaiters: (() => void)[] = [];

    const healthyUnits = () => board.units.map((u) => u.id).filter((u) => hub.health(u).state === "healthy");
    const planJob = (job: Job): Plan => {
      if (!latest) throw new Error("no telemetry sample yet");
      return plan(model, stateOf(model, latest, healthyUnits()), job, PLAN_OPTIONS, rng);
    };
    const showPlan = (job: Job, result: Plan) => hub.setPlan(dashboardPlan(model, job, result, clock.nowMs()));

    const markFailed = (unitId: string, error: unknown, requestId?: string) => {
      const message = (error as Error).message;
      const was = hub.health(unitId).state;
      probesPassed.delete(unitId);
      hub.setHealth(unitId, "failed", message);
      if (was !== "failed") {
        hub.recordFault(
          faultEvent("unit-failed", "error", message, clock.nowMs(), {
            unitId,
            code: isQeilError(error) ? error.code : "Internal",
            ...(requestId ? { requestId } : {}),
          }),
        );
      }
    };

    /** Each failed or probation unit runs a small piece of work; enough passes in a row bring it back. */
    const probe = async () => {
      for (const info of board.units) {
        const { state } = hub.health(info.id);
        if (state === "healthy") continue;
        try {
          await sim.execute([{ unitId: info.id, flops: 1e8, bytes: 1e6, precision: SHAPE.weightPrecision }], {
            timeoutMs: PROBE_TIMEOUT_MS,
          });
        } catch (error) {
          if (blamedUnit(error) !== info.id) throw error;
          markFailed(info.id, error);
          continue;
        }
        const passed = (probesPassed.get(info.id) ?? 0) + 1;
        probesPassed.set(info.id, passed);
        if (passed < probationProbes) {
          hub.setHealth(info.id, "probation", `passed ${passed} of ${probationProbes} probes`);
          if (state === "failed") {
            hub.recordFault(
              faultEvent("unit-probation", "info", `unit ${info.id} answers probes again`, clock.nowMs(), {
                unitId: info.id,
              }),
            );
          }
        } else {
          probesPassed.delete(info.id);
          hub.setHealth(info.id, "healthy", `recovered after ${probationProbes} probes`);
          hub.recordFault(
            faultEvent("unit-recovered", "info", `unit ${info.id} passed ${probationProbes} probes`, clock.nowMs(), {
              unitId: info.id,
            }),
          );
          showPlan(REFERENCE_JOB, planJob(REFERENCE_JOB));
        }
      }
    };

    const sampler: Sampler = createSampler({
      board,
      periodMs,
      clock,
      onSample: async (sample) => {
        latest = sample;
        meter.add(sample);
        hub.recordSample(sample);
        for (const wake of sampleWaiters.splice(0)) wake();
        await probe();
      },
    });
    await sampler.sampleOnce();
    showPlan(REFERENCE_JOB, planJob(REFERENCE_JOB));
    sampler.start();
    cleanups.push(async () => {
      await sampler.stop();
      for (const wake of sampleWaiters.splice(0)) wake();
    });
    const nextSample = () => new Promise<void>((resolve) => sampleWaiters.push(resolve));

    const execute = async (placement: Placement, job: Job) => {
      const precision = job.shape.weightPrecision;
      const prefill = prefillWork(job.shape, { tokens: job.promptTokens, batch: 1 });
      await sim.execute([{ unitId: placement.prefillUnit, ...prefill, precision }], { timeoutMs: WORK_TIMEOUT_MS });
      const items = placement.lanes.flatMap((lane) =>
        lane.segments.map((s) => {
          let flops = 0;
          let bytes = 0;
          // The prefill gave the first token; genTokens - 1 decode steps follow.
          for (let step = 0; step < job.genTokens - 1; step++) {
            const w = decodeWork(job.shape, {
              context: job.promptTokens + step,
              batch: lane.samples,
              layerStart: s.layerStart,
              layerEnd: s.layerEnd,
            });
            flops += w.flops;
            bytes += w.bytes;
          }
          return { unitId: s.unitId, flops, bytes, precision };
        })
      );
      if (items.length > 0) await sim.execute(items, { timeoutMs: WORK_TIMEOUT_MS });
    };

    const run = async (request: InferRequest): Promise<InferOutcome> => {
      const startMs = performance.now();
      const job: Job = {
        shape: SHAPE,
        promptTokens: Math.max(1, Math.ceil(new TextEncoder().encode(request.prompt).length / 4)),
        genTokens: request.maxTokens,
        samples: request.samples,
      };
      const window = meter.begin(request.id);
      for (let attempt = 1;; attempt++) {
        const planned = planJob(job);
        showPlan(job, planned);
        const workStartMs = performance.now();
        try {
          await execute(planned.chosen.placement, job);
        } catch (error) {
          const unitId = blamedUnit(error);
          if (unitId === undefined || attempt >= 3) throw error;
          markFailed(unitId, error, request.id);
          continue;
        }
        const workMs = performance.now() - workStartMs;
        // The window closes at a sample taken after the work ended.
        await nextSample();
        const energy = window.end();
        outcomes.push({
          predicted: { energyJ: planned.chosen.prediction.energyJ, latencyMs: planned.chosen.prediction.latencyMs },
          measured: { energyJ: energy.energyJ, latencyMs: workMs },
        });
        hub.setCalibration(predictionError(outcomes));
        standardEnergyJ.set(request.id, planned.standard.prediction.energyJ);
        const text = request.prompt.toUpperCase();
        return {
          answer: text,
          text,
          confidence: 1,
          samplesUsed: request.samples,
          stopReason: "budget",
          energyJ: energy.energyJ,
          latencyMs: performance.now() - startMs,
          placement: planned.chosen.placement,
        };
      }
    };

    const journal = await openJournal<JournaledJob, ReplyPayload>({ dir: `${root}/journal`, clock });
    cleanups.push(() => journal.close());
    const intake: JobIntake = createJobIntake({
      journal,
      run,
      deliver: () => Promise.resolve(),
      capacity: 8,
      concurrency: 1,
      deadlineMsFor: () => 60_000,
      clock,
      onSettled: (request, payload) => {
        const base = {
          id: request.id,
          task: request.task,
          samplesMax: request.samples,
          finishedAtMs: clock.nowMs(),
        };
        if (payload.ok) {
          const standard = standardEnergyJ.get(request.id);
          hub.recordJob({
            ...base,
            ok: true,
            answer: payload.answer,
            samplesUsed: payload.samplesUsed,
            stopReason: payload.stopReason,
            energyJ: payload.energyJ,
            latencyMs: payload.latencyMs,
            ...(standard !== undefined ? { standardEnergyJ: standard } : {}),
          });
        } else {
          hub.recordJob({
            ...base,
            ok: false,
            answer: null,
            samplesUsed: 0,
            stopReason: null,
            energyJ: null,
            latencyMs: 0,
            error: { code: payload.error.code, message: payload.error.message },
          });
          hub.recordFault(
            faultEvent("job-failed", "error", payload.error.message, clock.nowMs(), {
              requestId: request.id,
              code: payload.error.code,
            }),
          );
        }
      },
    });
    cleanups.push(() => intake.close());
    await intake.recover();

    const api: ServiceApi = {
      infer: async (request) => (await intake.submit(request)).reply,
      status: () => ({ nodeId: `sim-${profileId}`, queue: intake.queue.stats() }),
      telemetry: () => latest ?? null,
      plan: () => hub.snapshot().plan,
      metrics: () => [],
      health: () => ({ ok: true, checks: [] }),
      ready: () => ({ ready: true }),
    };
    return {
      api,
      feed: hub,
      unitInUse: () => {
        const current = hub.snapshot().plan;
        if (!current) throw new Error("no plan yet");
        return current.chosen.placement.prefillUnit;
      },
      injectUnitFault: (unitId) => sim.inject({ kind: "unit-fail", unitId }),
      clearUnitFault: (unitId) => sim.clear({ kind: "unit-fail", unitId }),
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}
