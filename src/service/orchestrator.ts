/**
 * The orchestrator: runs one inference job on the board, from request to
 * result. Plan (PGSAM on the calibrated model and the state the HAL reads,
 * or a baseline placement) -> apply the clocks through the HAL -> generate
 * samples on the chosen units (on a simulated board the tokens come from the
 * host CPU while every step is charged to the simulated units the placement
 * names; on a real board each lane runs on its unit's backend) -> stream
 * finished samples through the verification cascade -> cancel the rest on a
 * decision -> result with the energy the HAL's meter integrated over the
 * job's window. Measurements feed the calibration; unit faults are re-planned
 * around and retried; a zone heading for its passive trip makes the job
 * re-plan (and the board cool) before the kernel would throttle.
 *
 * Samples: by default all k decode as one batch, streamed to the cascade as
 * they finish, the rest cancelled at its decision. Drawing them in waves (a
 * first wave of the cascade's n_min, more only when asked) is an option; it
 * was measured to lose on memory-bound decode (bench/service.ts --waves): a
 * batch of k costs little more than a batch of n_min, while every extra wave
 * pays a prefill and another pass over the weights. The `standard` and
 * `greedy` modes take the majority vote of all k samples (fixed-k
 * self-consistency, as a user without qeil would).
 *
 * Jobs run one at a time: a placement spans the whole board, so two jobs at
 * once would fight over its clocks and blur each other's energy windows.
 */
import {
  type Clock,
  createRng,
  type DecoderShape,
  hashString,
  InfeasibleError,
  isQeilError,
  type Logger,
  type Rng,
  systemClock,
} from "../core/mod.ts";
import type { Actuators, Board, MeterWindow, Sample } from "../hal/mod.ts";
import { createActuators } from "../hal/mod.ts";
import {
  type BoardModel,
  type BoardState,
  createBoardModel,
  decodeWork,
  type Job,
  type Placement,
  predict,
  type Prediction,
  prefillWork,
  unitPowerW,
  weightsBytes,
} from "../physics/mod.ts";
import { type Plan, type PlannedPlacement, type Policy, standardPlacement } from "../pgsam/mod.ts";
import {
  type Backend,
  type DecoderModel,
  generate,
  type GeneratedSample,
  promptTokens,
  type StepCharger,
} from "../runtime/mod.ts";
import type { SimBoard } from "../sim/mod.ts";
import {
  type CascadeOptions,
  createCascade,
  type Decision,
  extractAnswer,
  leaderPosterior,
  majorityVote,
  tallyVotes,
  type Vote,
} from "../verify/mod.ts";
import { type BoardRuntime, createBoardRuntime } from "./board_runtime.ts";
import { type CalibrationReport, type Calibrator, createCalibrator, type FailedWork } from "./calibrator.ts";
import {
  CALIBRATED_DEADLINE_FACTOR,
  createSimCharger,
  type SimCharger,
  type SimChargerOptions,
  ThermalGuardError,
  unitFaultOf,
} from "./charger.ts";
import type { WorkRecord } from "./observations.ts";
import { createDvfsController, type DvfsController } from "./dvfs.ts";
import { createFaultManager, type FaultManager, type UnitHealthStatus } from "./fault_manager.ts";
import {
  boardStateOf,
  type Choice,
  createPlanner,
  type OrchestratorMode,
  type Planner,
  TRIAL_REFAIL_PROBABILITY,
} from "./planner.ts";
import type { FaultEvent, InferOutcome, StopReason, Task } from "./schema.ts";

export type { OrchestratorMode } from "./planner.ts";

/** How samples are drawn in qeil mode. */
export type WavePolicy = "adaptive" | "all";

/** A job as the orchestrator takes it: an inference request, plus what the evaluation harness needs. */
export interface JobRequest {
  id: string;
  task: Task;
  prompt: string;
  /** Answer choices (ARC). */
  choices?: readonly string[];
  /** Sample budget k. */
  samples: number;
  maxTokens: number;
  temperature: number;
  sloMs?: number;
  /** Texts that end a sample. @default none */
  stop?: readonly string[];
  /** Sampling seed. @default derived from the orchestrator's seed and the request id */
  seed?: number;
}

/** Options of one `runJob` call. */
export interface RunJobOptions {
  /** Aborts the job (deadline, cancellation). */
  signal?: AbortSignal;
  /** @default the orchestrator's mode */
  mode?: OrchestratorMode;
}

/** One finished sample of a job. */
export interface JobSample {
  /** Index in the job (0-based, in the order samples were drawn; retried samples get new indices). */
  index: number;
  text: string;
  /** The extracted answer, or null. */
  answer: string | null;
  finishReason: GeneratedSample["finishReason"];
  tokens: number;
  meanLogProb: number;
}

/** What was measured about a job, and how. */
export interface JobMeasurement {
  /**
   * What `latencyMs` is: `simulated-device` (time the simulated units spent on
   * the job's work, each step's makespan) or `wall` (host wall time).
   */
  latencyClock: "simulated-device" | "wall";
  /** Host wall time of the whole job (planning, clock changes, generation), ms. */
  wallMs: number;
  /** The HAL meter's window, ms. */
  energyWindowMs: number;
  /** Rails whose readings failed inside the window (their gaps were bridged). */
  incompleteRails: string[];
  /** Highest reading of each zone during the job, °C. */
  peakTempC: Record<string, number>;
}

/** The outcome of a job: the result payload's fields and what the evaluation and dashboard want besides. */
export interface JobResult extends InferOutcome {
  id: string;
  mode: OrchestratorMode;
  task: Task;
  /** The sample budget k. */
  k: number;
  /** Samples started (finished, cancelled, or lost to a unit fault): the compute spent. */
  samplesStarted: number;
  /** Finished samples, in index order. */
  samples: JobSample[];
  votes: Vote[];
  waves: number;
  /** The physics model's post-hoc prediction of the job as it ran (realised token counts), summed over waves. */
  predicted: { energyJ: number; latencyMs: number; peakTempC: Record<string, number> };
  /** Energy the standard placement was predicted to need for the same job (the saving baseline), J. */
  standardEnergyJ?: number;
  measurement: JobMeasurement;
  /** Unit faults the job recovered from (re-planned and retried). */
  faultsRecovered: number;
  /** Times the job re-planned because a zone neared its trip. */
  thermalReplans: number;
  /** Placements were answered from the plan cache (every wave). */
  planCached: boolean;
}

/** Options of `createOrchestrator`. */
export interface OrchestratorOptions {
  /** The discovered board. For a simulated one, the HAL's view of its tree. */
  board: Board;
  /** The simulated board behind `board`: work is charged to it. Absent: a real board. */
  sim?: SimBoard;
  /** The model that produces the tokens. */
  model: DecoderModel;
  /**
   * The shape the simulated board is charged for and the planner plans for,
   * e.g. a larger declared model whose tokens the small real model stands in
   * for. Simulated boards only. @default the model's shape
   */
  costShape?: DecoderShape;
  /** @default "qeil" */
  mode?: OrchestratorMode;
  /** Which member of the Pareto front qeil runs. @default "efficient" */
  policy?: Policy;
  /** The DVFS knobs. @default created for the board (read-only when `readOnlyActuators`), disposed with the orchestrator */
  actuators?: Actuators;
  /** Never write a knob (record intents only). @default false */
  readOnlyActuators?: boolean;
  /** @default the simulated board's clock, else the system clock */
  clock?: Clock;
  /** Seed of the planner and of sampling seeds derived from request ids. @default 0 */
  seed?: number;
  /** The physics model to start from. @default from the board profile's priors */
  boardModel?: BoardModel;
  /**
   * Refit the physics model online from what the board measures. `false` keeps the starting model (e.g.
   * one calibrated at first boot) for planning, while the calibration report still compares its predictions
   * with the measurements. @default true
   */
  onlineCalibration?: boolean;
  /**
   * How qeil draws samples. `all`: the k samples decode as one batch and are
   * cancelled when the cascade decides; `adaptive`: a first wave of n_min
   * samples, then waves of `waveSamples` while the cascade asks for more.
   * @default "all" (measured by bench/service.ts --waves: decode is memory-bound, so a batch of k costs
   *   little more than a batch of n_min, while every extra wave pays a prefill and the weight traffic again)
   */
  waves?: WavePolicy;
  /** Samples per wave after the first in adaptive mode. @default 2 */
  waveSamples?: number;
  /** Cascade options (the budget is the request's samples). @default the cascade's defaults */
  cascade?: Omit<CascadeOptions, "maxSamples">;
  /** Fault handling. */
  faults?: {
    /** @default 60000 */
    probationMs?: number;
    /** @default 0.5 */
    probationShare?: number;
    /** Re-plans of a job after unit faults. @default 2 */
    maxRetries?: number;
    /** Chance a unit on probation fails again, for the planner's trials beyond its limits. @default TRIAL_REFAIL_PROBABILITY */
    trialRefailProbability?: number;
    /** @default 3 */
    probationJobs?: number;
    /**
     * Longest a job waits (the board idling) for a failed unit to return on probation when no usable unit can
     * run it, ms. @default probationMs
     */
    maxUnitWaitMs?: number;
  };
  /**
   * A simulated work item's deadline: `factor` times its predicted duration
   * (`calibratedFactor` times once calibration has timed enough items of its
   * unit in its regime), at least `minMs` (simulated ms). @default 20, 5, 2000 ms
   */
  itemDeadline?: { factor?: number; calibratedFactor?: number; minMs?: number };
  /** Sampling period while idle (the telemetry period), ms. @default 1000 */
  telemetryPeriodMs?: number;
  /** Sampling period while a job runs, ms. @default telemetryPeriodMs / 5 */
  busyPeriodMs?: number;
  /** PGSAM budget and space. @default 600 evaluations */
  pgsam?: { maxEvaluations?: number; maxLanes?: number; maxSegmentsPerLane?: number; frequencyLevels?: number };
  /** A cached plan older than this is redone, ms. @default 60000 */
  planTtlMs?: number;
  /** Thermal protection. */
  thermal?: {
    /** The step guard sits this share of the planning margin below the passive trip. @default 0.5 */
    guardMarginShare?: number;
    /** Longest wait for the board to cool before a job runs anyway, ms. @default 60000 */
    cooldownMaxMs?: number;
    /** A rising temperature trend is projected this far ahead when planning, s. @default 10 */
    trendHorizonS?: number;
    /** Thermal re-plans of one job before its guard is lifted. @default 4 */
    maxReplans?: number;
  };
  /**
   * Real boards: the backend each placeable unit runs on. Units without one
   * are never planned on. Ignored for simulated boards (every unit runs on the
   * host and is charged to the simulator). @default none (no unit placeable)
   */
  backends?: Readonly<Record<string, Backend>>;
  /**
   * Release every pinned clock after a job when no other job waits (the board idles at its governor's
   * clocks). @default true
   */
  releaseAfterJob?: boolean;
  /** Tells whether more jobs wait outside the orchestrator (the service's queue): clocks then stay set. @default none */
  moreWork?: () => boolean;
  /** @default no logging */
  logger?: Logger;
  /** Receives every fault event (publish it on the `fault` topic). */
  onFault?: (event: FaultEvent) => void;
  /** Receives every finished job (dashboard, metrics). */
  onJob?: (result: JobResult) => void;
  /** Receives every sample after the orchestrator has used it. */
  onSample?: (sample: Sample) => void;
}

/** A unit as the status API shows it. */
export interface UnitStatus extends UnitHealthStatus {
  kind: string;
  label: string;
  /** A backend runs it (simulated boards: every unit, charged to the simulator). */
  placeable: boolean;
  /** Clock pinned by the service now, Hz. */
  pinnedFreqHz?: number;
}

/** The compact telemetry message (`telemetry` topic, `/v1/telemetry`). */
export interface TelemetryPayload {
  schemaVersion: 1;
  timestampMs: number;
  units: Record<string, {
    tempC: number | null;
    powerW: number | null;
    freqHz: number | null;
    load: number | null;
    health: UnitHealthStatus["state"];
    /** Of the unit in the current plan (null when the plan does not use it). */
    dasi: number | null;
    cpq: number | null;
    phi: number | null;
  }>;
  totalPowerW: number | null;
  throttled: boolean;
  /** Zones by logical id, °C. */
  zones: Record<string, number>;
}

/** The `/v1/plan` view. */
export interface PlanView {
  policy: Policy;
  /** Wall-clock time it was planned, ms since the epoch; null before the first job. */
  plannedAtMs: number | null;
  job: Job | null;
  state: BoardState | null;
  evaluations: number;
  stoppedBy: string | null;
  front: PlannedPlacement[];
  chosen: PlannedPlacement | null;
  standard: PlannedPlacement | null;
  greedy: PlannedPlacement | null;
}

/** Work charged like a job but made by the caller (log-likelihood scoring), for `runCharged`. */
export interface ChargedRequest {
  id: string;
  /** Tokens per scored sequence the planner plans the prefill for (e.g. context + continuation). */
  promptTokens: number;
}

/** What `runCharged` measured. */
export interface ChargedResult<T> {
  /** What `work` returned. */
  value: T;
  mode: OrchestratorMode;
  /** The placement whose prefill unit ran the work. */
  placement: Placement;
  /** Board energy over the window, J (the HAL's meter). */
  energyJ: number;
  latencyMs: number;
  measurement: JobMeasurement;
  faultsRecovered: number;
}

/** The orchestrator. */
export interface Orchestrator extends AsyncDisposable {
  readonly board: Board;
  readonly sim: SimBoard | undefined;
  readonly runtime: BoardRuntime;
  readonly faults: FaultManager;
  readonly calibrator: Calibrator;
  readonly mode: OrchestratorMode;
  readonly policy: Policy;
  readonly costShape: DecoderShape;
  /** Starts sampling; resolves once the first sample is in. */
  start(): Promise<void>;
  /**
   * Runs one job to its result.
   * @throws InputError for a prompt the model cannot take; InfeasibleError when no unit can run it;
   *   the last unit fault once `maxRetries` re-plans are spent; the signal's reason when aborted
   */
  runJob(request: JobRequest, options?: RunJobOptions): Promise<JobResult>;
  /**
   * Runs `work` with the charger of the placement the mode picks for a
   * prefill-only job (the runtime's scoring functions take it as
   * `options.charger`), with the same clocks, energy window, calibration and
   * fault handling as a job. `work` may run again after a unit fault.
   */
  runCharged<T>(
    request: ChargedRequest,
    work: (charger: StepCharger, signal: AbortSignal | undefined) => Promise<T>,
    options?: RunJobOptions,
  ): Promise<ChargedResult<T>>;
  /** The board state the planner would see now. */
  boardState(): BoardState;
  /** Every unit's health and placeability. */
  units(): UnitStatus[];
  telemetry(): TelemetryPayload;
  planView(): PlanView;
  calibration(): CalibrationReport;
  /** The latest choice (mode, placement, its prediction). */
  currentChoice(): Choice | undefined;
  /** Jobs finished, failed. */
  stats(): { jobs: number; failed: number; faultsRecovered: number; thermalReplans: number; plansComputed: number };
  /** Waits for the running job, releases clocks, stops sampling (the model and the simulator belong to the caller). */
  close(): Promise<void>;
}

/** Zones of the thermal trend, seconds of history. */
const TREND_WINDOW_S = 10;
/** A cool-down gives up when the hottest zone fell by less than MIN_COOLING_K over this window, ms. */
const COOLING_WINDOW_MS = 10_000;
const MIN_COOLING_K = 0.3;

interface WaveRecord {
  model: BoardModel;
  state: BoardState;
  placement: Placement;
  samples: number;
  maxTokens: number;
}

class JobOrchestrator implements Orchestrator {
  readonly board: Board;
  readonly sim: SimBoard | undefined;
  readonly runtime: BoardRuntime;
  readonly faults: FaultManager;
  readonly calibrator: Calibrator;
  readonly mode: OrchestratorMode;
  readonly policy: Policy;
  readonly costShape: DecoderShape;
  readonly #o: OrchestratorOptions;
  readonly #clock: Clock;
  readonly #planner: Planner;
  readonly #dvfs: DvfsController;
  readonly #actuators: Actuators;
  readonly #ownActuators: boolean;
  readonly #rng: Rng;
  readonly #placeable: Set<string>;
  readonly #laneModels = new Map<string, Promise<DecoderModel>>();
  #lock: Promise<void> = Promise.resolve();
  /** Jobs submitted and not finished (running or waiting for the board). */
  #pending = 0;
  #closed = false;
  #choice: Choice | undefined;
  #trend: { tS: number; temps: Record<string, number> }[] = [];
  #jobPeak: Record<string, number> | undefined;
  #stats = { jobs: 0, failed: 0, faultsRecovered: 0, thermalReplans: 0 };

  constructor(options: OrchestratorOptions) {
    this.#o = options;
    this.board = options.board;
    this.sim = options.sim;
    this.mode = options.mode ?? "qeil";
    this.policy = options.policy ?? "efficient";
    if (options.costShape && !options.sim) {
      throw new RangeError(
        "createOrchestrator(): costShape is for simulated boards (a real board runs the real model)",
      );
    }
    this.costShape = options.costShape ?? options.model.shape;
    this.#clock = options.clock ?? options.sim?.clock ?? systemClock;
    this.#rng = createRng(options.seed ?? 0);
    const initial = options.boardModel ?? createBoardModel(options.board.profile.priors);
    const found = new Set(options.board.units.map((u) => u.id));
    this.#placeable = new Set(
      initial.unitIds.filter((u) => found.has(u) && (options.sim !== undefined || options.backends?.[u] !== undefined)),
    );
    this.faults = createFaultManager({
      unitIds: initial.unitIds,
      clock: this.#clock,
      probationMs: options.faults?.probationMs ?? 60_000,
      probationShare: options.faults?.probationShare ?? 0.5,
      ...(options.faults?.probationJobs !== undefined ? { probationJobs: options.faults.probationJobs } : {}),
      onEvent: (event) => {
        options.logger?.info("fault event", { kind: event.kind, message: event.message, unitId: event.unitId });
        options.onFault?.(event);
      },
    });
    const periodMs = options.telemetryPeriodMs ?? 1000;
    const calibrator = createCalibrator({
      model: initial,
      board: options.board,
      periodMs,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.calibrator = options.onlineCalibration === false ? frozenCalibrator(calibrator) : calibrator;
    this.runtime = createBoardRuntime({
      board: options.board,
      ...(options.sim ? { sim: options.sim } : {}),
      clock: this.#clock,
      idlePeriodMs: periodMs,
      ...(options.busyPeriodMs !== undefined ? { busyPeriodMs: options.busyPeriodMs } : {}),
      onSample: (sample, info) => this.#onSample(sample, info.onGrid),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.#planner = createPlanner({
      policy: this.policy,
      pgsam: { maxEvaluations: 600, ...options.pgsam },
      planTtlMs: options.planTtlMs ?? 60_000,
      nowMs: () => this.#clock.monotonicMs(),
      probationTrial: {
        // A trial that hangs is caught at the calibrated deadline.
        lossFactor: options.itemDeadline?.calibratedFactor ?? CALIBRATED_DEADLINE_FACTOR,
        refailProbability: options.faults?.trialRefailProbability ?? TRIAL_REFAIL_PROBABILITY,
      },
    });
    this.#ownActuators = options.actuators === undefined;
    this.#actuators = options.actuators ?? createActuators(options.board, { readOnly: options.readOnlyActuators });
    this.#dvfs = createDvfsController({
      board: options.board,
      actuators: this.#actuators,
      model: () => this.calibrator.model,
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  async start(): Promise<void> {
    await this.runtime.start();
  }

  runJob(request: JobRequest, options: RunJobOptions = {}): Promise<JobResult> {
    return this.#serialised(
      "runJob",
      () =>
        this.#run(request.id, options, (mode, signal, wallStart) => this.#execute(request, mode, signal, wallStart)),
    );
  }

  runCharged<T>(
    request: ChargedRequest,
    work: (charger: StepCharger, signal: AbortSignal | undefined) => Promise<T>,
    options: RunJobOptions = {},
  ): Promise<ChargedResult<T>> {
    return this.#serialised(
      "runCharged",
      () =>
        this.#run(
          request.id,
          options,
          (mode, signal, wallStart) => this.#executeCharged(request, work, mode, signal, wallStart),
        ),
    );
  }

  /** Runs jobs one at a time on the board, in call order. */
  #serialised<T>(what: string, body: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new RangeError(`${what}(): the orchestrator is closed`));
    this.#pending++;
    const run = this.#lock.then(body).finally(() => this.#pending--);
    this.#lock = run.then(() => {}, () => {});
    return run;
  }

  boardState(): BoardState {
    return this.#state().state;
  }

  units(): UnitStatus[] {
    const pinned = this.#dvfs.pinned();
    return this.faults.status().map((s) => {
      const m = this.calibrator.model.units[s.unitId];
      return {
        ...s,
        kind: m.kind,
        label: m.label,
        placeable: this.#placeable.has(s.unitId),
        ...(pinned[s.unitId] !== undefined ? { pinnedFreqHz: pinned[s.unitId] } : {}),
      };
    });
  }

  telemetry(): TelemetryPayload {
    const sample = this.runtime.latest();
    const health = new Map(this.faults.status().map((s) => [s.unitId, s.state]));
    const perUnit = this.#choice?.prediction.perUnit ?? {};
    const units: TelemetryPayload["units"] = {};
    for (const id of this.calibrator.model.unitIds) {
      const u = sample?.units[id];
      const p = perUnit[id];
      const used = this.#choice !== undefined && usedUnitsOf(this.#choice.placement).has(id);
      units[id] = {
        tempC: u?.tempC.ok ? round(u.tempC.value, 1) : null,
        powerW: u?.powerW.ok ? round(u.powerW.value, 3) : null,
        freqHz: u?.curFreqHz.ok ? u.curFreqHz.value : null,
        load: u?.utilization.ok ? round(u.utilization.value, 3) : null,
        health: health.get(id) ?? "healthy",
        dasi: used && p ? round(p.dasi, 4) : null,
        cpq: used && p && Number.isFinite(p.cpq) ? round(p.cpq, 4) : null,
        phi: used && p ? round(p.phi, 4) : null,
      };
    }
    const zones: Record<string, number> = {};
    for (const t of sample?.thermal ?? []) {
      if (t.ok && t.zone !== undefined) zones[t.zone] = Math.max(zones[t.zone] ?? -Infinity, round(t.tempC, 1));
    }
    return {
      schemaVersion: 1,
      timestampMs: sample?.timestampMs ?? this.#clock.nowMs(),
      units,
      totalPowerW: sample?.totalPowerW.ok ? round(sample.totalPowerW.value, 3) : null,
      throttled: sample?.throttled ?? false,
      zones,
    };
  }

  planView(): PlanView {
    const latest = this.#planner.latest();
    const plan: Plan | undefined = latest?.plan;
    return {
      policy: this.policy,
      plannedAtMs: latest ? this.#clock.nowMs() - (this.#clock.monotonicMs() - latest.atMs) : null,
      job: latest?.job ?? null,
      state: latest?.state ?? null,
      evaluations: plan?.evaluations ?? 0,
      stoppedBy: plan?.stoppedBy ?? null,
      front: plan?.front ?? [],
      chosen: plan?.chosen ?? null,
      standard: plan?.standard ?? null,
      greedy: plan?.greedy ?? null,
    };
  }

  calibration(): CalibrationReport {
    return this.calibrator.report();
  }

  currentChoice(): Choice | undefined {
    return this.#choice;
  }

  stats() {
    return { ...this.#stats, plansComputed: this.#planner.computed };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#lock;
    await this.#dvfs.releaseAll();
    await this.runtime.stop();
    if (this.#ownActuators) await this.#actuators[Symbol.asyncDispose]();
    const lanes = await Promise.allSettled(this.#laneModels.values());
    for (const m of lanes) if (m.status === "fulfilled") await m.value.dispose();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- state -------------------------------------------------------------------------------------------------

  #onSample(sample: Sample, onGrid: boolean): void {
    for (const t of sample.thermal) this.faults.sensor(`thermal:${t.name}`, t.ok, t.ok ? undefined : t.reason);
    for (const r of sample.power) this.faults.sensor(`rail:${r.name}`, r.ok, r.ok ? undefined : r.reason);
    this.faults.sensor("memory", sample.memory.ok, sample.memory.ok ? undefined : sample.memory.reason);
    this.calibrator.observeSample(sample, onGrid);
    const temps: Record<string, number> = {};
    for (const t of sample.thermal) {
      if (t.ok && t.zone !== undefined) temps[t.zone] = Math.max(temps[t.zone] ?? -Infinity, t.tempC);
    }
    if (this.#jobPeak) {
      for (const [z, v] of Object.entries(temps)) this.#jobPeak[z] = Math.max(this.#jobPeak[z] ?? -Infinity, v);
    }
    if (onGrid) {
      const tS = sample.monotonicMs / 1000;
      this.#trend.push({ tS, temps });
      while (this.#trend.length > 0 && this.#trend[0].tS < tS - TREND_WINDOW_S) this.#trend.shift();
    }
    this.#o.onSample?.(sample);
  }

  /**
   * Least-squares slope of each zone over the trend window, K/s. Only over at
   * least half the window: over a second or two, sensor noise (and the
   * quantisation of a 1 °C sensor) would pass for a steep trend.
   */
  #trendKPerS(): Record<string, number> {
    const out: Record<string, number> = {};
    if (this.#trend.length < 5) return out;
    if (this.#trend.at(-1)!.tS - this.#trend[0].tS < TREND_WINDOW_S / 2) return out;
    const zones = new Set(this.#trend.flatMap((p) => Object.keys(p.temps)));
    for (const z of zones) {
      const pts = this.#trend.filter((p) => p.temps[z] !== undefined).map((p) => [p.tS, p.temps[z]]);
      if (pts.length < 5) continue;
      const mt = pts.reduce((a, p) => a + p[0], 0) / pts.length;
      const mv = pts.reduce((a, p) => a + p[1], 0) / pts.length;
      let num = 0;
      let den = 0;
      for (const [t, v] of pts) {
        num += (t - mt) * (v - mv);
        den += (t - mt) ** 2;
      }
      if (den > 0) out[z] = num / den;
    }
    return out;
  }

  #state(): { state: BoardState; notes: string[] } {
    const sample = this.runtime.latest();
    const usable = this.faults.usableUnits().filter((u) => this.#placeable.has(u));
    return boardStateOf({
      model: this.calibrator.model,
      sample,
      lastGoodZones: this.runtime.lastGoodZoneTempsC(),
      usableUnits: usable,
      capHz: (u) => this.#dvfs.capHz(u, sample),
      // A real board already holds the served model in its memory; a simulated board's meminfo does not.
      heldBytes: this.sim ? 0 : weightsBytes(this.#o.model.shape),
      trendKPerS: this.#trendKPerS(),
      trendHorizonS: this.#o.thermal?.trendHorizonS ?? 10,
    });
  }

  /** Passive trip of each logical zone: the lowest the HAL reports, else the model's prior. */
  #tripsC(): Record<string, number> {
    const trips: Record<string, number> = {};
    for (const z of this.calibrator.model.zones) if (z.passiveTripC !== undefined) trips[z.id] = z.passiveTripC;
    for (const t of this.runtime.latest()?.thermal ?? []) {
      if (t.zone === undefined) continue;
      for (const trip of t.trips) {
        if (trip.type !== "passive") continue;
        trips[t.zone] = Math.min(trips[t.zone] ?? Infinity, trip.tempC);
      }
    }
    return trips;
  }

  /** Zones at or above `trip - marginC` in the latest sample (last good values stand in for lost ones). */
  #hotZones(marginC: number): { zone: string; tempC: number; limitC: number }[] {
    const trips = this.#tripsC();
    const temps: Record<string, number> = {};
    for (const [z, g] of Object.entries(this.runtime.lastGoodZoneTempsC())) temps[z] = g.value;
    const hot: { zone: string; tempC: number; limitC: number }[] = [];
    for (const [zone, tripC] of Object.entries(trips)) {
      const t = temps[zone];
      if (t !== undefined && t >= tripC - marginC) hot.push({ zone, tempC: t, limitC: tripC - marginC });
    }
    return hot;
  }

  /**
   * Lets the board idle until every zone is 1 K below its planning limit
   * (trip - margin), the budget is spent, or the hottest zone stops cooling
   * (an ambient that keeps the idle board near its trip: waiting longer would
   * not help, and the planner's coolest placement is all that is left).
   */
  async #coolDown(signal: AbortSignal | undefined, requestId: string, announced: { done: boolean }): Promise<void> {
    const budgetMs = this.#o.thermal?.cooldownMaxMs ?? 60_000;
    const margin = this.calibrator.model.thermalMarginC + 1;
    const startMs = this.#clock.monotonicMs();
    let hot = this.#hotZones(margin);
    if (hot.length === 0) return;
    if (!announced.done) {
      announced.done = true;
      this.faults.report(
        "thermal-replan",
        "info",
        `letting the board cool before job ${requestId} runs: ${
          hot.map((h) => `${h.zone} ${h.tempC.toFixed(1)} °C (limit ${(h.limitC + 1).toFixed(1)} °C)`).join(", ")
        }`,
        { requestId },
      );
    }
    await this.#dvfs.releaseAll();
    const hottest = () => Math.max(...hot.map((h) => h.tempC - h.limitC));
    const history: { tMs: number; excess: number }[] = [{ tMs: startMs, excess: hottest() }];
    while (hot.length > 0 && this.#clock.monotonicMs() - startMs < budgetMs) {
      await this.runtime.idle(Math.min(1000, this.runtime.idlePeriodMs), signal);
      await this.runtime.sampleNow();
      hot = this.#hotZones(margin);
      if (hot.length === 0) break;
      const nowMs = this.#clock.monotonicMs();
      history.push({ tMs: nowMs, excess: hottest() });
      const before = history.find((h) => h.tMs >= nowMs - COOLING_WINDOW_MS);
      if (before && nowMs - history[0].tMs >= COOLING_WINDOW_MS && before.excess - hottest() < MIN_COOLING_K) break;
    }
  }

  // ---- jobs --------------------------------------------------------------------------------------------------

  async #run<T>(
    id: string,
    options: RunJobOptions,
    body: (mode: OrchestratorMode, signal: AbortSignal | undefined, wallStart: number) => Promise<T>,
  ): Promise<T> {
    const mode = options.mode ?? this.mode;
    const signal = options.signal;
    signal?.throwIfAborted();
    const wallStart = performance.now();
    const release = this.runtime.busy();
    try {
      return await body(mode, signal, wallStart);
    } catch (error) {
      this.#stats.failed++;
      if (!(signal?.aborted)) {
        this.faults.report("job-failed", "error", `job ${id} failed: ${errorMessage(error)}`, {
          requestId: id,
          code: isQeilError(error) ? error.code : "Internal",
        });
      }
      throw error;
    } finally {
      release();
      this.#jobPeak = undefined;
      // With the next job already waiting, its plan will set the clocks anyway.
      const waiting = this.#pending > 1 || (this.#o.moreWork?.() ?? false);
      if ((this.#o.releaseAfterJob ?? true) && !waiting) await this.#dvfs.releaseAll();
    }
  }

  async #execute(request: JobRequest, mode: OrchestratorMode, signal: AbortSignal | undefined, wallStart: number) {
    const k = request.samples;
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`runJob(): samples must be an integer >= 1, got ${k}`);
    const prompt = promptTokens(this.#o.model, request.prompt);
    const useCascade = mode === "qeil";
    const cascade = useCascade ? createCascade({ ...this.#o.cascade, maxSamples: k }) : undefined;
    const minSamples = cascade?.options.minSamples ?? k;
    const baseSeed = request.seed ?? (hashString(`${this.#o.seed ?? 0}/${request.id}`) >>> 1);
    const maxRetries = this.#o.faults?.maxRetries ?? 2;
    const maxReplans = this.#o.thermal?.maxReplans ?? 4;
    const guardShare = this.#o.thermal?.guardMarginShare ?? 0.5;

    await this.runtime.sampleNow();
    this.#jobPeak = {};
    const window = this.runtime.meter.begin(`job ${request.id}`);
    const finished: JobSample[] = [];
    const waves: WaveRecord[] = [];
    const usedUnits = new Set<string>();
    let nextIndex = 0;
    let decided: Decision | undefined;
    let deviceMs = 0;
    let faultsRecovered = 0;
    let unitFaults = 0;
    const failedInJob = new Set<string>();
    let thermalReplans = 0;
    let allCached = true;

    const announced = { done: false };
    while (decided === undefined && finished.length < k) {
      signal?.throwIfAborted();
      const remaining = k - finished.length;
      let size = remaining;
      if (useCascade && (this.#o.waves ?? "all") === "adaptive") {
        size = finished.length < minSamples
          ? Math.min(remaining, minSamples - finished.length)
          : Math.min(remaining, this.#o.waveSamples ?? 2);
      }
      // A board near its trip cools first (the planner's constraint starts from the current temperatures).
      // Thermal protection is part of qeil; the baselines run as a user without it would (the kernel throttles).
      if (mode === "qeil" && thermalReplans < maxReplans) await this.#coolDown(signal, request.id, announced);
      const model = this.calibrator.model;
      const job: Job = {
        shape: this.costShape,
        promptTokens: prompt.length,
        genTokens: request.maxTokens,
        samples: size,
        ...(request.sloMs !== undefined ? { sloMs: request.sloMs } : {}),
      };
      const { choice, state } = await this.#choose(mode, model, job, request.id, signal, failedInJob);
      this.#choice = choice;
      allCached &&= choice.cached;
      const freqHz = await this.#dvfs.apply(choice.placement, this.runtime.latest());
      for (const u of usedUnitsOf(choice.placement)) usedUnits.add(u);
      const base = nextIndex;
      nextIndex += size;
      const guardOn = mode === "qeil" && thermalReplans < maxReplans;
      const record: WaveRecord = { model, state, placement: choice.placement, samples: size, maxTokens: 0 };
      waves.push(record);
      let wave: WaveRun | undefined;
      try {
        wave = this.#wave({
          request,
          size,
          seed: (baseSeed + base * 7919) >>> 0,
          placement: choice.placement,
          freqHz,
          promptTokens: prompt.length,
          signal,
          cancelled: () => decided !== undefined,
          guard: guardOn ? () => this.#guard(guardShare) : undefined,
        });
        for await (const s of wave.samples) {
          if (s.finishReason === "cancelled") continue;
          record.maxTokens = Math.max(record.maxTokens, s.tokenIds.length);
          const extraction = extractAnswer(request.task, s.text, request.choices ? { choices: request.choices } : {});
          const sample: JobSample = {
            index: base + s.index,
            text: s.text,
            answer: extraction.ok ? extraction.answer : null,
            finishReason: s.finishReason,
            tokens: s.tokenIds.length,
            meanLogProb: s.meanLogProb,
          };
          finished.push(sample);
          if (cascade && decided === undefined) {
            const step = cascade.push({
              index: sample.index,
              valid: extraction.ok,
              ...(extraction.ok ? { answer: extraction.answer } : {}),
              meanLogProb: s.meanLogProb,
            });
            if (step.action === "stop") decided = step;
          }
        }
      } catch (error) {
        if (signal?.aborted) throw signal.reason ?? error;
        const fault = unitFaultOf(error);
        if (fault) {
          unitFaults++;
          failedInJob.add(fault.unitId);
          this.faults.unitFault(fault.unitId, fault.kind, fault.reason, request.id);
          if (unitFaults > maxRetries) throw error;
          this.#o.logger?.warn("re-planning a job around a unit fault", { id: request.id, unitId: fault.unitId });
          continue;
        }
        if (error instanceof ThermalGuardError) {
          thermalReplans++;
          this.#stats.thermalReplans++;
          this.faults.report(
            "thermal-replan",
            "warning",
            `job ${request.id}: ${error.message}; re-planning the remaining samples`,
            { requestId: request.id },
          );
          continue;
        }
        throw error;
      } finally {
        if (wave) {
          // The work done before a fault was measured too: it counts toward latency and calibration.
          deviceMs += wave.deviceMs();
          this.calibrator.observeTimings(wave.records);
        }
      }
    }
    if (unitFaults > 0) {
      faultsRecovered = unitFaults;
      this.#stats.faultsRecovered += unitFaults;
    }

    const { energyJ, energyWindowMs, incompleteRails } = await this.#closeWindow(window);
    const peakTempC = this.#jobPeak ?? {};
    const wallMs = performance.now() - wallStart;

    const decision = decided ?? cascade?.finish();
    let answer: string | null;
    let confidence: number;
    let stopReason: StopReason;
    let votes: Vote[];
    const cascadeSamples = finished.map((s) => ({
      index: s.index,
      valid: s.answer !== null,
      ...(s.answer !== null ? { answer: s.answer } : {}),
      meanLogProb: s.meanLogProb,
    }));
    if (decision) {
      answer = decision.answer;
      confidence = decision.confidence;
      stopReason = decision.stopReason;
      votes = decision.votes;
    } else {
      answer = majorityVote(cascadeSamples);
      votes = tallyVotes(cascadeSamples).sort((a, b) => b.count - a.count || a.firstIndex - b.firstIndex);
      const a = votes[0]?.count ?? 0;
      const b = votes[1]?.count ?? 0;
      confidence = votes.length === 0 ? 0 : leaderPosterior(a, b);
      stopReason = "budget";
    }
    const from = finished.find((s) => s.answer !== null && s.answer === answer) ?? finished[0];
    const samplesUsed = decision?.samplesUsed ?? finished.length;

    const predicted = this.#posthoc(waves, prompt.length, energyWindowMs);
    const standardEnergyJ = this.#standardEnergyJ(waves, prompt.length, k, finished, energyWindowMs - deviceMs);
    const latencyMs = this.sim ? deviceMs : wallMs;
    // The prediction error is the model's on jobs that ran as planned: a unit fault adds work (a hang spins
    // until its deadline, re-planned waves) that no placement's prediction is meant to contain.
    if (unitFaults === 0) {
      this.calibrator.recordOutcome({
        predicted: { energyJ: predicted.energyJ, latencyMs: predicted.latencyMs, peakTempC: predicted.peakTempC },
        measured: { energyJ, latencyMs, peakTempC },
      });
    }
    this.faults.jobSucceeded(usedUnits);
    this.#stats.jobs++;
    const lastPlacement = waves.at(-1)!.placement;
    const result: JobResult = {
      id: request.id,
      mode,
      task: request.task,
      answer,
      text: from?.text ?? "",
      confidence: Math.min(1, Math.max(0, confidence)),
      samplesUsed: Math.max(1, samplesUsed),
      stopReason,
      energyJ: Math.max(0, energyJ),
      latencyMs: Math.max(0, latencyMs),
      placement: lastPlacement,
      k,
      samplesStarted: nextIndex,
      samples: [...finished].sort((a, b) => a.index - b.index),
      votes,
      waves: waves.length,
      predicted: { energyJ: predicted.energyJ, latencyMs: predicted.latencyMs, peakTempC: predicted.peakTempC },
      ...(standardEnergyJ !== undefined ? { standardEnergyJ } : {}),
      measurement: {
        latencyClock: this.sim ? "simulated-device" : "wall",
        wallMs,
        energyWindowMs,
        incompleteRails,
        peakTempC,
      },
      faultsRecovered,
      thermalReplans,
      planCached: allCached,
    };
    this.#o.onJob?.(result);
    return result;
  }

  /**
   * Runs `work` (log-likelihood scoring, or anything that makes prefill-phase
   * ORT runs) with its runs charged to the prefill unit of the placement the
   * mode picks for a prefill-only job of `promptTokens` tokens, measured like
   * a job; a unit fault re-plans and runs `work` again (it must be repeatable).
   */
  async #executeCharged<T>(
    request: ChargedRequest,
    work: (charger: StepCharger, signal: AbortSignal | undefined) => Promise<T>,
    mode: OrchestratorMode,
    signal: AbortSignal | undefined,
    wallStart: number,
  ): Promise<ChargedResult<T>> {
    if (!Number.isInteger(request.promptTokens) || request.promptTokens < 1) {
      throw new RangeError(`runCharged(): promptTokens must be an integer >= 1, got ${request.promptTokens}`);
    }
    const maxRetries = this.#o.faults?.maxRetries ?? 2;
    await this.runtime.sampleNow();
    this.#jobPeak = {};
    const window = this.runtime.meter.begin(`charged ${request.id}`);
    let deviceMs = 0;
    let unitFaults = 0;
    const failedInJob = new Set<string>();
    let value: T;
    let choice: Choice;
    for (;;) {
      signal?.throwIfAborted();
      const model = this.calibrator.model;
      const job: Job = { shape: this.costShape, promptTokens: request.promptTokens, genTokens: 1, samples: 1 };
      choice = (await this.#choose(mode, model, job, request.id, signal, failedInJob)).choice;
      this.#choice = choice;
      const freqHz = await this.#dvfs.apply(choice.placement, this.runtime.latest());
      const records: WorkRecord[] = [];
      const onRecord = (record: WorkRecord) => {
        records.push(record);
        this.calibrator.addRecord(record);
      };
      const wallBefore = this.#clock.monotonicMs();
      let sim: SimCharger | undefined;
      let charger: StepCharger & { flush?(): void };
      if (this.sim) {
        sim = createSimCharger({
          sim: this.sim,
          model: () => this.calibrator.model,
          costShape: this.costShape,
          realLayers: this.#o.model.shape.layers,
          placement: choice.placement,
          promptTokens: request.promptTokens,
          freqHz,
          onRecord,
          hold: () => this.calibrator.hold(),
          prefillOnly: true,
          ...this.#deadlineOptions(),
        });
        charger = sim;
      } else {
        const unit = choice.placement.prefillUnit;
        charger = hostCharger(
          [{ unitId: unit, layerStart: 0, layerEnd: this.#o.model.shape.layers }],
          this.#o.model.shape,
          freqHz,
          this.#clock,
          onRecord,
          () => this.calibrator.hold(),
        );
      }
      try {
        value = await work(charger, signal);
        break;
      } catch (error) {
        if (signal?.aborted) throw signal.reason ?? error;
        const fault = unitFaultOf(error);
        if (!fault) throw error;
        unitFaults++;
        failedInJob.add(fault.unitId);
        this.faults.unitFault(fault.unitId, fault.kind, fault.reason, request.id);
        if (unitFaults > maxRetries) throw error;
      } finally {
        charger.flush?.();
        deviceMs += sim ? sim.deviceMs : this.#clock.monotonicMs() - wallBefore;
        this.calibrator.observeTimings(records);
      }
    }
    const { energyJ, energyWindowMs, incompleteRails } = await this.#closeWindow(window);
    const wallMs = performance.now() - wallStart;
    this.faults.jobSucceeded(usedUnitsOf(choice.placement));
    this.#stats.jobs++;
    if (unitFaults > 0) this.#stats.faultsRecovered += unitFaults;
    return {
      value,
      mode,
      placement: choice.placement,
      energyJ: Math.max(0, energyJ),
      latencyMs: this.sim ? deviceMs : wallMs,
      measurement: {
        latencyClock: this.sim ? "simulated-device" : "wall",
        wallMs,
        energyWindowMs,
        incompleteRails,
        peakTempC: this.#jobPeak ?? {},
      },
      faultsRecovered: unitFaults,
    };
  }

  /** The simulated charger's deadline options from `itemDeadline` (the charger's defaults where unset). */
  #deadlineOptions(): Pick<SimChargerOptions, "deadlineFactor" | "calibratedDeadlineFactor" | "minDeadlineMs"> {
    const d = this.#o.itemDeadline ?? {};
    return {
      ...(d.factor !== undefined ? { deadlineFactor: d.factor } : {}),
      ...(d.calibratedFactor !== undefined ? { calibratedDeadlineFactor: d.calibratedFactor } : {}),
      ...(d.minMs !== undefined ? { minDeadlineMs: d.minMs } : {}),
    };
  }

  /**
   * Samples the board once more and closes a job's energy window. A job that
   * took no time on the board's clock (nothing charged) spent no measurable
   * energy: zeros, not an error.
   */
  async #closeWindow(
    window: MeterWindow,
  ): Promise<{ energyJ: number; energyWindowMs: number; incompleteRails: string[] }> {
    await this.runtime.sampleNow();
    try {
      const measured = window.end();
      return {
        energyJ: measured.energyJ,
        energyWindowMs: measured.durationMs,
        incompleteRails: measured.incompleteRails,
      };
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      return { energyJ: 0, energyWindowMs: 0, incompleteRails: [] };
    }
  }

  /**
   * The placement of a job (or of a wave of it) in `mode`, with the state it was planned for. Faults can
   * leave no healthy unit that runs the job's weights: when the only ones left are on probation, the job
   * runs on them anyway (an answer from a unit on probation beats none); when every such unit is failed,
   * the board idles until the first of them returns on probation, at most `faults.maxUnitWaitMs`; when that
   * unit's (doubled) delay ends later, it is brought back on probation at once instead. Units that failed
   * earlier in this job (`failedInJob`) are the last to be waited for or brought back.
   * @throws InfeasibleError when no unit can run the job even then
   */
  async #choose(
    mode: OrchestratorMode,
    model: BoardModel,
    job: Job,
    requestId: string,
    signal: AbortSignal | undefined,
    failedInJob: ReadonlySet<string> = new Set(),
  ): Promise<{ choice: Choice; state: BoardState }> {
    const startMs = this.#clock.monotonicMs();
    const maxWaitMs = this.#o.faults?.maxUnitWaitMs ?? this.#o.faults?.probationMs ?? 60_000;
    let early = false;
    for (;;) {
      const state = this.#state().state;
      const probation = this.faults.probation();
      const inputs = { job, state, probation, epoch: this.calibrator.epoch };
      let failure: unknown;
      try {
        const choice = runnable(model, this.#planner.choose(mode, model, inputs, this.#rng), job);
        if (choice.trial) {
          this.faults.report(
            "unit-probation",
            "info",
            `job ${requestId} runs on units on probation beyond their limits, as a trial: ${choice.trial.why}`,
            { unitId: choice.trial.units[0], requestId },
          );
        }
        return { choice, state };
      } catch (error) {
        if (!isQeilError(error, "Infeasible")) throw error;
        failure = error;
      }
      if (probation.units.size > 0) {
        try {
          const choice = runnable(
            model,
            this.#planner.choose(mode, model, { ...inputs, probation: NO_PROBATION }, this.#rng),
            job,
          );
          this.faults.report(
            "unit-probation",
            "warning",
            `job ${requestId} runs on units still on probation (${[...probation.units].join(", ")}): ` +
              "no healthy unit can run it",
            { requestId },
          );
          return { choice, state };
        } catch (error) {
          if (!isQeilError(error, "Infeasible")) throw error;
          failure = error;
        }
      }
      // Every unit that could run it is failed: wait for the first to return on probation.
      const precision = job.shape.weightPrecision;
      const nowMs = this.#clock.monotonicMs();
      const returns = this.faults.status()
        .filter((u) => u.state === "failed" && u.returnsAtMs !== undefined && this.#placeable.has(u.unitId))
        .filter((u) => (model.units[u.unitId]?.peakOpsPerS[precision] ?? 0) > 0)
        // A unit that already failed this job comes last: its fault may still be there.
        .sort((a, b) =>
          Number(failedInJob.has(a.unitId)) - Number(failedInJob.has(b.unitId)) || a.returnsAtMs! - b.returnsAtMs!
        );
      if (returns.length === 0) throw failure;
      const nextMs = returns[0].returnsAtMs!;
      if (nextMs - startMs > maxWaitMs) {
        // The first unit back would come too late for this job (its delay doubles with each fault): rather
        // than refuse every job until then, bring it back on probation now. A job fails only if that fails too.
        if (early) throw failure;
        early = true;
        this.faults.returnEarly(
          returns[0].unitId,
          `job ${requestId}: no other unit can run it, and its delay ends in ${Math.round(nextMs - nowMs)} ms`,
        );
        continue;
      }
      await this.runtime.idle(Math.max(0, nextMs - nowMs) + 1, signal);
      await this.runtime.sampleNow();
    }
  }

  /** Throws ThermalGuardError when a zone reached `trip - share * margin` (checked before each decode step). */
  #guard(share: number): void {
    const hot = this.#hotZones(share * this.calibrator.model.thermalMarginC);
    if (hot.length > 0) {
      const h = hot.sort((a, b) => (b.tempC - b.limitC) - (a.tempC - a.limitC))[0];
      throw new ThermalGuardError(h.zone, h.tempC, h.limitC);
    }
  }

  /**
   * The model's prediction of the job as it ran: each wave with its realised
   * token count, plus the board's idle power over the part of the energy window
   * not covered by predicted work (planning, host compute, clock changes).
   */
  #posthoc(waves: WaveRecord[], promptLength: number, windowMs: number) {
    let energyJ = 0;
    let latencyMs = 0;
    const peakTempC: Record<string, number> = {};
    for (const w of waves) {
      const gen = Math.max(1, w.maxTokens);
      let p: Prediction;
      try {
        p = predict(w.model, w.state, {
          shape: this.costShape,
          promptTokens: promptLength,
          genTokens: gen,
          samples: w.samples,
        }, w.placement);
      } catch {
        continue;
      }
      energyJ += p.energyJ;
      latencyMs += p.latencyMs;
      for (const [z, t] of Object.entries(p.peakTempC)) peakTempC[z] = Math.max(peakTempC[z] ?? -Infinity, t);
    }
    const gapMs = Math.max(0, windowMs - latencyMs);
    if (gapMs > 0 && waves.length > 0) energyJ += this.#idlePowerW(waves.at(-1)!.state) * gapMs / 1000;
    return { energyJ, latencyMs, peakTempC };
  }

  /** Board power with nothing running, W: base power plus every unit that cannot be gated, idling at its lowest clock. */
  #idlePowerW(state: BoardState): number {
    const model = this.calibrator.model;
    let w = model.basePowerW;
    for (const id of model.unitIds) {
      const u = model.units[id];
      if (u.powerGateable) continue;
      const zone = model.zones.find((z) => z.id === u.thermalZone);
      const tempC = state.tempsC[u.thermalZone] ?? state.ambientC + (zone?.ambientOffsetK ?? 0);
      w += unitPowerW(u, { activity: 0, freqHz: u.opps[0].freqHz, tempC });
    }
    return w;
  }

  /**
   * The standard placement's predicted energy for the whole job (k samples, the realised token count), J,
   * plus the idle board over the part of the measured window that was not device work (planning, host
   * compute), which the standard run would have spent too.
   */
  #standardEnergyJ(
    waves: WaveRecord[],
    promptLength: number,
    k: number,
    finished: JobSample[],
    hostMs: number,
  ): number | undefined {
    const first = waves[0];
    if (first === undefined) return undefined;
    const job: Job = {
      shape: this.costShape,
      promptTokens: promptLength,
      genTokens: Math.max(1, ...finished.map((s) => s.tokens)),
      samples: k,
    };
    try {
      const p = predict(first.model, first.state, job, standardPlacement(first.model, job));
      return p.energyJ + this.#idlePowerW(first.state) * Math.max(0, hostMs) / 1000;
    } catch {
      return undefined;
    }
  }

  /** Runs one wave: a batched generation charged to the simulator, or lanes on their backends (real board). */
  #wave(spec: WaveSpec): WaveRun {
    return this.sim ? this.#simWave(spec) : this.#hostWave(spec);
  }

  #simWave(spec: WaveSpec): WaveRun {
    const records: WorkRecord[] = [];
    const charger: SimCharger = createSimCharger({
      sim: this.sim!,
      model: () => this.calibrator.model,
      costShape: this.costShape,
      realLayers: this.#o.model.shape.layers,
      placement: spec.placement,
      promptTokens: spec.promptTokens,
      freqHz: spec.freqHz,
      onRecord: (record) => {
        records.push(record);
        this.calibrator.addRecord(record);
      },
      hold: () => this.calibrator.hold(),
      ...this.#deadlineOptions(),
      ...(spec.guard ? { guard: spec.guard } : {}),
    });
    const samples = generate(this.#o.model, {
      prompt: spec.request.prompt,
      samples: spec.size,
      maxTokens: spec.request.maxTokens,
      temperature: spec.request.temperature,
      ...(spec.request.stop ? { stop: spec.request.stop } : {}),
      seed: spec.seed,
    }, {
      charger,
      cancelled: () => spec.cancelled(),
      ...(spec.signal ? { signal: spec.signal } : {}),
    });
    return { samples, deviceMs: () => charger.deviceMs, records };
  }

  /**
   * A real board: each lane is a generation of its samples on a model whose
   * segments run on the lane's units' backends; lanes run concurrently. Each
   * lane prefills on its own first unit (the placement's prefill unit is not
   * honoured separately: generation cannot move a KV cache between backends).
   */
  #hostWave(spec: WaveSpec): WaveRun {
    const lanes = spec.placement.lanes;
    const records: WorkRecord[] = [];
    const clock = this.#clock;
    const startedMs = clock.monotonicMs();
    const shape = this.#o.model.shape;
    const onRecord = (record: WorkRecord) => {
      records.push(record);
      this.calibrator.addRecord(record);
    };
    const hold = () => this.calibrator.hold();
    const laneModel = (segments: Placement["lanes"][number]["segments"]) => this.#laneModel(segments);
    const run = async function* (): AsyncGenerator<GeneratedSample> {
      let offset = 0;
      const iterators = lanes.map((lane, l) => {
        const laneOffset = offset;
        offset += lane.samples;
        return (async function* () {
          const m = await laneModel(lane.segments);
          const charger = hostCharger(lane.segments, shape, spec.freqHz, clock, onRecord, hold);
          try {
            for await (
              const s of generate(m, {
                prompt: spec.request.prompt,
                samples: lane.samples,
                maxTokens: spec.request.maxTokens,
                temperature: spec.request.temperature,
                ...(spec.request.stop ? { stop: spec.request.stop } : {}),
                seed: (spec.seed + l * 104729) >>> 0,
              }, {
                charger,
                cancelled: () => spec.cancelled(),
                ...(spec.signal ? { signal: spec.signal } : {}),
              })
            ) {
              yield { ...s, index: laneOffset + s.index };
            }
          } finally {
            charger.flush();
          }
        })();
      });
      yield* mergeAsync(iterators);
    };
    return { samples: run(), deviceMs: () => clock.monotonicMs() - startedMs, records };
  }

  /** The model for a lane's segments on their units' backends (cached per layout). */
  #laneModel(segments: Placement["lanes"][number]["segments"]): Promise<DecoderModel> {
    const key = segments.map((s) => `${s.unitId}[${s.layerStart},${s.layerEnd})`).join(">");
    let m = this.#laneModels.get(key);
    if (!m) {
      const backends = this.#o.backends ?? {};
      m = this.#o.model.withSegments(
        segments.map((s) => ({ layerStart: s.layerStart, layerEnd: s.layerEnd, backend: backends[s.unitId] })),
      );
      this.#laneModels.set(key, m);
      m.catch(() => this.#laneModels.delete(key));
    }
    return m;
  }
}

/** What a wave needs. */
interface WaveSpec {
  request: JobRequest;
  size: number;
  seed: number;
  placement: Placement;
  freqHz: Record<string, number>;
  promptTokens: number;
  signal: AbortSignal | undefined;
  cancelled: () => boolean;
  guard: (() => void) | undefined;
}

/** A running wave. */
interface WaveRun {
  samples: AsyncIterable<GeneratedSample>;
  /** Device time so far, ms. */
  deviceMs(): number;
  /** Records of the work executed so far. */
  records: WorkRecord[];
}

/**
 * A StepCharger for a real board: executes nothing (the backend does the
 * work) but times each ORT run (from its charge to the next, or the end) and
 * records its FLOPs and bytes on the unit of the segment, for the calibration.
 */
function hostCharger(
  segments: Placement["lanes"][number]["segments"],
  shape: DecoderShape,
  freqHz: Record<string, number>,
  clock: Clock,
  onRecord: (record: WorkRecord) => void,
  hold: () => (failed?: FailedWork) => void,
): StepCharger & { flush(): void } {
  let pending: Omit<WorkRecord, "endMs"> | undefined;
  let release: (() => void) | undefined;
  const close = () => {
    if (!pending) return;
    try {
      onRecord({ ...pending, endMs: clock.monotonicMs() });
    } finally {
      pending = undefined;
      release?.();
      release = undefined;
    }
  };
  return {
    charge(event) {
      close();
      const seg = segments.find((s) => s.layerStart <= event.layerStart && event.layerStart < s.layerEnd) ??
        segments[0];
      const range = { layerStart: event.layerStart, layerEnd: event.layerEnd };
      const w = event.phase === "prefill"
        ? prefillWork(shape, { tokens: event.newTokens, batch: event.batch, ...range })
        : decodeWork(shape, { context: event.pastLength, batch: event.batch, ...range });
      release = hold();
      pending = {
        unitId: seg.unitId,
        precision: shape.weightPrecision,
        flops: w.flops,
        bytes: w.bytes,
        freqHz: freqHz[seg.unitId] ?? 0,
        startMs: clock.monotonicMs(),
      };
      return Promise.resolve();
    },
    flush: close,
  };
}

/** Merges async iterators, yielding values as they arrive; the first error ends the merge. */
async function* mergeAsync<T>(iterators: AsyncIterator<T>[]): AsyncGenerator<T> {
  const pending = new Map<number, Promise<{ i: number; r: IteratorResult<T> }>>();
  const next = (i: number) => pending.set(i, iterators[i].next().then((r) => ({ i, r })));
  iterators.forEach((_, i) => next(i));
  try {
    while (pending.size > 0) {
      const { i, r } = await Promise.race(pending.values());
      if (r.done) pending.delete(i);
      else {
        next(i);
        yield r.value;
      }
    }
  } finally {
    for (const [i] of pending) await iterators[i].return?.().catch(() => undefined);
  }
}

/** A calibration feed whose model never changes: it only keeps the jobs' prediction error. */
function frozenCalibrator(feed: Calibrator): Calibrator {
  const model = feed.model;
  return {
    get model() {
      return model;
    },
    get epoch() {
      return 0;
    },
    observeSample: () => {},
    addRecord: () => {},
    hold: () => () => {},
    observeTimings: () => {},
    recordOutcome: (outcome) => feed.recordOutcome(outcome),
    report: () => feed.report(),
  };
}

/** Probation limits that limit nothing. */
const NO_PROBATION = { units: new Set<string>(), maxSamples: (samples: number) => samples };

/**
 * The choice, when every unit of its placement computes the job's weight precision.
 * @throws InfeasibleError naming the units that cannot (a fallback onto whatever unit is left)
 */
function runnable(model: BoardModel, choice: Choice, job: Job): Choice {
  const precision = job.shape.weightPrecision;
  const unable = [...usedUnitsOf(choice.placement)].filter((u) => !((model.units[u]?.peakOpsPerS[precision] ?? 0) > 0));
  if (unable.length > 0) {
    throw new InfeasibleError(`no usable unit can run ${precision} weights: ${unable.join(", ")} cannot`, {
      details: { units: unable },
    });
  }
  return choice;
}

function usedUnitsOf(p: Placement): Set<string> {
  return new Set([p.prefillUnit, ...p.lanes.flatMap((l) => l.segments.map((s) => s.unitId))]);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Creates the orchestrator; call `start()` before the first job. */
export function createOrchestrator(options: OrchestratorOptions): Orchestrator {
  return new JobOrchestrator(options);
}

/** The result payload's fields of a job result. */
export function outcomeOf(result: JobResult): InferOutcome {
  return {
    answer: result.answer,
    text: result.text,
    confidence: result.confidence,
    samplesUsed: result.samplesUsed,
    stopReason: result.stopReason,
    energyJ: result.energyJ,
    latencyMs: result.latencyMs,
    placement: result.placement,
  };
}
