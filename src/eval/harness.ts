/**
 * The evaluation loop: every query of every task in every mode, in a fixed
 * interleaved order, each call to the runner wrapped in an energy window and
 * timed on the injected clock, the outcome graded, and the report built.
 *
 * Order: within a task, query i runs its modes in row i (mod rows) of a
 * Williams design (a Latin square balanced for first-order carry-over; for an
 * odd number of modes, the square and its mirror). Every mode then runs first,
 * second and last equally often, and follows every other mode equally often,
 * so no mode always meets a board heated by the same predecessor, and all
 * modes see the same stretch of the run's thermal history. Modes are never
 * run in blocks (all standard, then all qeil): the later block would start on
 * a hotter board.
 */
import { type Clock, describeError, isQeilError, systemClock } from "../core/mod.ts";
import { failedRecord, gradeOutcome, type QueryOutcome, type QueryRecord } from "./records.ts";
import { buildReport, type EvalResult, type EvalSettings, type ReportHeader } from "./report.ts";
import type { EnergyProbe } from "./telemetry.ts";
import type { EvalQuery, ModeName, TaskQueries } from "./types.ts";

/** Runs one query in one mode: inference only; the harness measures and grades. */
export interface QueryRunner {
  /**
   * @throws a QeilError (BackendError, TimeoutError, InfeasibleError, ...) when
   *   the query could not be answered: recorded as unanswered, the run goes on;
   *   any other error, or the signal's reason, ends the run
   */
  run(query: EvalQuery, mode: ModeName, signal: AbortSignal): Promise<QueryOutcome>;
}

/**
 * Injects faults while queries run: the same seeded schedule for every mode,
 * so each mode meets the same faults on the same queries.
 */
export interface FaultInjector {
  /** Arms the faults scheduled for this query; called right before the runner (its window is open). */
  arm(query: EvalQuery, mode: ModeName): FaultArming;
}

/** The faults armed for one query. */
export interface FaultArming {
  /** Clears them (called once the runner settled); resolves with the faults that were injected, described. */
  disarm(): Promise<string[]>;
}

/** Receives the loop's progress (see `createProgress`). */
export interface ProgressSink {
  start(total: number): void;
  /** One item done; `detail` names it (`gsm8k/12 qeil`). */
  advance(detail?: string): void;
  finish(): void;
}

/** Options of {@linkcode runEvaluation}. */
export interface RunEvaluationOptions {
  /** Tasks and their queries, in the order to run them. */
  tasks: readonly TaskQueries[];
  /** Modes to compare (at least one, no repeats). */
  modes: readonly ModeName[];
  /** Runs the first `limit` queries of each task (lm-eval `--limit`). @default all */
  limit?: number;
  runner: QueryRunner;
  /** Measures each query's energy window (e.g. a RunTelemetry fed by the HAL sampler). */
  energy: EnergyProbe;
  /** Times each query (a simulated board's virtual clock, or the system clock). @default systemClock */
  clock?: Clock;
  /** Injects faults while queries run (`--inject-faults`). @default none */
  faults?: FaultInjector;
  /** @default none */
  progress?: ProgressSink;
  signal?: AbortSignal;
  /** Board, model and cost shape the report states. */
  header: ReportHeader;
  /** Run settings the report states (seed, sample budget, faults). @default {} */
  settings?: Omit<EvalSettings, "tasks" | "modes" | "limit" | "order">;
}

/**
 * Williams design for `m` treatments: rows of a Latin square in which every
 * ordered pair of adjacent treatments appears equally often (two squares for
 * odd `m`). Row 0 is 0, 1, m-1, 2, m-2, ...; row r adds r modulo m.
 */
export function williamsDesign(m: number): number[][] {
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`Williams design needs m >= 1 treatments, got ${m}`);
  const first: number[] = [0];
  for (let step = 1, lo = 1, hi = m - 1; first.length < m; step++) {
    first.push(step % 2 === 1 ? lo++ : hi--);
  }
  const rows = first.map((_, r) => first.map((t) => (t + r) % m));
  return m % 2 === 1 && m > 1 ? [...rows, ...rows.map((row) => [...row].reverse())] : rows;
}

/** The (task, query, mode) triples in the order the harness runs them. */
export function evaluationOrder(
  tasks: readonly TaskQueries[],
  modes: readonly ModeName[],
  limit?: number,
): { query: EvalQuery; mode: ModeName }[] {
  const design = williamsDesign(modes.length);
  const order: { query: EvalQuery; mode: ModeName }[] = [];
  let row = 0;
  for (const task of tasks) {
    const queries = limit === undefined ? task.queries : task.queries.slice(0, limit);
    for (const query of queries) {
      // The design's row counter runs across tasks so short tasks do not reuse only the first rows.
      for (const t of design[row % design.length]) order.push({ query, mode: modes[t] });
      row++;
    }
  }
  return order;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The evaluation was aborted", "AbortError");
}

/**
 * Runs the evaluation and builds its report.
 * @throws RangeError for no modes, repeated modes, a task listed twice or a bad limit
 * @throws the signal's reason when aborted; a runner's non-domain error
 */
export async function runEvaluation(options: RunEvaluationOptions): Promise<EvalResult> {
  const { tasks, modes, runner, energy, limit } = options;
  if (modes.length === 0) throw new RangeError("runEvaluation needs at least one mode");
  if (new Set(modes).size !== modes.length) throw new RangeError(`modes repeat: ${modes.join(", ")}`);
  const taskNames = tasks.map((t) => t.task);
  if (new Set(taskNames).size !== taskNames.length) throw new RangeError(`tasks repeat: ${taskNames.join(", ")}`);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new RangeError(`limit must be an integer >= 1, got ${limit}`);
  }
  const clock = options.clock ?? systemClock;
  const signal = options.signal ?? new AbortController().signal;
  const order = evaluationOrder(tasks, modes, limit);
  const records: QueryRecord[] = [];
  options.progress?.start(order.length);
  try {
    for (const { query, mode } of order) {
      if (signal.aborted) throw abortReason(signal);
      const label = `${query.id} ${mode}`;
      const window = await energy.begin(label);
      const startMs = clock.monotonicMs();
      const arming = options.faults?.arm(query, mode);
      const settled = await runner.run(query, mode, signal).then(
        (outcome) => ({ outcome }),
        (error: unknown) => ({ error }),
      );
      const latencyMs = clock.monotonicMs() - startMs;
      const faults = arming ? await arming.disarm() : [];
      // Closed whatever the runner did, so the next window starts cleanly.
      const measured = await window.end();
      if ("error" in settled && (signal.aborted || !isQeilError(settled.error))) throw settled.error;
      const measurement = { ...measured, latencyMs, faults };
      records.push(
        "outcome" in settled
          ? gradeOutcome(query, mode, settled.outcome, measurement)
          : failedRecord(query, mode, describeError(settled.error), measurement),
      );
      options.progress?.advance(label);
    }
  } finally {
    options.progress?.finish();
  }
  return buildReport({
    header: options.header,
    records,
    tasks: taskNames,
    modes,
    settings: {
      ...options.settings,
      tasks: taskNames,
      modes: [...modes],
      ...(limit !== undefined ? { limit } : {}),
      order: "williams",
    },
  });
}
