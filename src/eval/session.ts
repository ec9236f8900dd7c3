/**
 * One evaluation run on one board: ONE orchestrator (the service's) over the
 * board, every mode's queries through it in the harness's interleaved order,
 * each query's energy from the HAL's rails (the run's telemetry is fed by the
 * orchestrator's own sampler), latency on the board's clock (the simulated
 * device clock in virtual time, wall time on a real board), and, with
 * `injectFaults`, the seeded fault schedule injected into the simulated board.
 */
import { type DecoderShape, systemClock } from "../core/mod.ts";
import type { Board } from "../hal/mod.ts";
import type { BoardModel } from "../physics/mod.ts";
import type { Policy } from "../pgsam/mod.ts";
import type { Backend, DecoderModel } from "../runtime/mod.ts";
import { createOrchestrator, type Orchestrator, type OrchestratorOptions } from "../service/mod.ts";
import type { SimBoard } from "../sim/mod.ts";
import { createSimFaultInjector, scheduleFaults, simFaultSensors } from "./faults.ts";
import { type ProgressSink, runEvaluation } from "./harness.ts";
import { formatFigure } from "./markdown.ts";
import { paretoPointsFromPlan } from "./plots.ts";
import type { EvalResult, EvalSettings, ReportHeader } from "./report.ts";
import {
  ARC_GENERATIVE_MAX_TOKENS,
  createOrchestratorRunner,
  DEFAULT_SAMPLES,
  DEFAULT_TEMPERATURE,
  GSM8K_MAX_TOKENS,
  type SeenPlan,
} from "./runner.ts";
import { alignToObservations, observedEvery } from "./observe.ts";
import { RunTelemetry, type TelemetryTraces } from "./telemetry.ts";
import type { ModeName, TaskName, TaskQueries } from "./types.ts";
import type { ParetoSet } from "./writers.ts";

/** Options of {@linkcode evaluateOnBoard}. */
export interface BoardEvaluationOptions {
  /** The discovered board (for a simulated one, the HAL's view of its tree). */
  board: Board;
  /** The simulated board behind `board`: work is charged to it and faults go into it. Absent: a real board. */
  sim?: SimBoard;
  /** The model that produces the tokens. */
  model: DecoderModel;
  /** What the report states about board, model and cost shape. */
  header: ReportHeader;
  /** The shape the simulated board is charged for. Simulated boards only. @default the model's shape */
  costShape?: DecoderShape;
  /** qeil's physics to start from (e.g. calibrated on the board). @default the board profile's priors */
  boardModel?: BoardModel;
  /** Real boards: the backend of each unit that has one. @default none */
  backends?: Readonly<Record<string, Backend>>;
  tasks: readonly TaskQueries[];
  modes: readonly ModeName[];
  /** First queries of each task. @default all */
  limit?: number;
  /** Sample budget k. @default 5 */
  samples?: number;
  /** @default 0.7 */
  temperature?: number;
  /** @default gsm8k 256, arc_challenge 32 */
  maxTokens?: { gsm8k?: number; arc_challenge?: number };
  /** Seed of sampling, planning and the fault schedule. */
  seed: number;
  /** Inject the seeded fault schedule (simulated boards only). @default false */
  injectFaults?: boolean;
  /** One query in this many gets a fault. @default 3 */
  faultEvery?: number;
  /** qeil's policy on the Pareto front. @default the orchestrator's ("efficient") */
  policy?: Policy;
  /**
   * More orchestrator options (tests: faster fault handling).
   * @default busyPeriodMs 1000 where the total-power rails carry energy counters, else 200
   */
  orchestrator?: Partial<Omit<OrchestratorOptions, "board" | "sim" | "model" | "costShape" | "boardModel">>;
  /** Settings the report states besides those this function knows. @default none */
  settings?: Pick<EvalSettings, "fewShot" | "board" | "calibration" | "notes">;
  progress?: ProgressSink;
  signal?: AbortSignal;
}

/** A physics model whose job energy predictions miss by more than this (MAPE, %) is called out in the report. */
const MISPREDICTED_PCT = 50;

/** Sampling period while work runs where the total-power rails carry energy counters: the meter is exact at any period. */
const COUNTED_BUSY_PERIOD_MS = 1000;
/** Sampling period while work runs where power is only sampled (INA3221 V x I): the trapezoid needs finer points. */
const SAMPLED_BUSY_PERIOD_MS = 200;

/** True when every rail that gives the board's total power carries an energy counter. */
export function totalRailsCounted(board: Pick<Board, "rails">): boolean {
  const inputs = board.rails.filter((r) => r.role === "input");
  return inputs.length > 0 && inputs.every((r) => r.strategy.kind === "energy" || r.strategy.energyPath !== undefined);
}

/** What a run produced besides the report: the board's traces, the plans, the orchestrator's counters. */
export interface BoardEvaluation {
  result: EvalResult;
  traces: TelemetryTraces;
  /** qeil's Pareto front of the first query of each task it planned. */
  pareto: ParetoSet[];
  stats: ReturnType<Orchestrator["stats"]>;
}

/**
 * Runs the evaluation on one board through one orchestrator and closes it.
 * @throws RangeError for faults on a real board, or the harness's own checks
 */
export async function evaluateOnBoard(options: BoardEvaluationOptions): Promise<BoardEvaluation> {
  const { board, sim, model } = options;
  if (options.injectFaults && !sim) {
    throw new RangeError("fault injection needs a simulated board (qeil will not break a real one on purpose)");
  }
  // The telemetry samples through the orchestrator's own sampler, which hands every sample back to it (onSample).
  const telemetry: RunTelemetry = new RunTelemetry({ sampleNow: () => orchestrator.runtime.sampleNow() });
  // Each HAL sample costs a read of the whole tree: sample no faster than the energy measurement needs.
  const busyPeriodMs = options.orchestrator?.busyPeriodMs ??
    (totalRailsCounted(board) ? COUNTED_BUSY_PERIOD_MS : SAMPLED_BUSY_PERIOD_MS);
  let observed: SimBoard | undefined;
  if (sim) {
    // The orchestrator's sampler looks at the board once per busy period (see observe.ts), on its grid.
    const periodMs = Math.max(sim.stepMs, Math.round(busyPeriodMs / sim.stepMs) * sim.stepMs);
    observed = observedEvery(sim, periodMs);
    await alignToObservations(sim, periodMs);
  }
  const orchestrator: Orchestrator = createOrchestrator({
    busyPeriodMs,
    ...options.orchestrator,
    board,
    ...(observed ? { sim: observed } : {}),
    model,
    ...(options.costShape ? { costShape: options.costShape } : {}),
    ...(options.boardModel ? { boardModel: options.boardModel } : {}),
    ...(options.backends ? { backends: options.backends } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
    seed: options.seed,
    onSample: (sample) => {
      telemetry.add(sample);
      options.orchestrator?.onSample?.(sample);
    },
  });
  try {
    await orchestrator.start();
    const plans = new Map<TaskName, SeenPlan>();
    const samples = options.samples ?? DEFAULT_SAMPLES;
    const temperature = options.temperature ?? DEFAULT_TEMPERATURE;
    const runner = createOrchestratorRunner({
      orchestrator,
      model,
      samples,
      temperature,
      ...(options.maxTokens ? { maxTokens: options.maxTokens } : {}),
      seed: options.seed,
      onPlan: (seen) => {
        if (!plans.has(seen.task)) plans.set(seen.task, seen);
      },
    });
    const selected = options.tasks.flatMap((t) =>
      options.limit === undefined ? t.queries : t.queries.slice(0, options.limit)
    );
    const faults = options.injectFaults && sim
      ? createSimFaultInjector(
        sim,
        scheduleFaults(selected.map((q) => q.id), {
          seed: options.seed,
          sensors: simFaultSensors(sim),
          ...(options.faultEvery !== undefined ? { every: options.faultEvery } : {}),
        }),
      )
      : undefined;
    const result = await runEvaluation({
      tasks: options.tasks,
      modes: options.modes,
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      runner,
      energy: telemetry,
      clock: sim?.clock ?? systemClock,
      ...(faults ? { faults } : {}),
      ...(options.progress ? { progress: options.progress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      header: options.header,
      settings: {
        ...options.settings,
        seed: options.seed,
        samplesK: samples,
        temperature,
        maxTokens: { gsm8k: GSM8K_MAX_TOKENS, arc_challenge: ARC_GENERATIVE_MAX_TOKENS, ...options.maxTokens },
        injectFaults: options.injectFaults ?? false,
        policy: orchestrator.policy,
      },
    });
    const predicted = orchestrator.calibration().jobs;
    result.settings.physics = {
      onlineCalibration: options.orchestrator?.onlineCalibration ?? true,
      jobs: predicted.energyCount,
      ...(predicted.energyMapePct !== undefined ? { energyMapePct: predicted.energyMapePct } : {}),
      ...(predicted.latencyMapePct !== undefined ? { latencyMapePct: predicted.latencyMapePct } : {}),
    };
    // A plan is only as good as the model behind it: say so where qeil missed a target on a model that was off.
    const energyMape = predicted.energyMapePct;
    if (energyMape !== undefined && energyMape > MISPREDICTED_PCT) {
      for (const t of result.targets) {
        if (t.status !== "not met" || (t.id !== "energy" && t.id !== "latency")) continue;
        t.why = `${t.why ?? ""}${t.why ? ". " : ""}The planner's physics missed the measured energy of the run's ` +
          `last ${predicted.energyCount} jobs without a unit fault by ${formatFigure(energyMape)}% (MAPE): qeil ` +
          "chose placements on a model that did not match what was measured (" +
          ((options.orchestrator?.onlineCalibration ?? true)
            ? "the online calibration drifted away from the board, or "
            : "") +
          "the measurement was incomplete: a rail lost during a job is bridged, not read)";
      }
    }
    const pareto: ParetoSet[] = [...plans.values()].map((seen) => ({
      name: `${seen.task} ${seen.queryId}`,
      points: paretoPointsFromPlan(seen.plan),
    }));
    return { result, traces: telemetry.traces(), pareto, stats: orchestrator.stats() };
  } finally {
    await orchestrator.close();
  }
}
