/**
 * The report model: the `--json` shape of `qeil eval` (board, model, cost
 * shape, then per task and mode the common figures and the task's metrics by
 * their lm-evaluation-harness names), the aggregation that builds it from
 * graded per-query records, and qeil's target checks against standard.
 *
 * lm-eval names: a metric under a filter is `metric,filter` as in lm-eval's
 * results JSON (`exact_match,strict-match`); metrics without a filter
 * (lm-eval's `none`) drop the suffix (`acc`, `word_perplexity`).
 */
import type { DecoderShape, Precision } from "../core/mod.ts";
import { energyFigures, mean, percentile, type PercentileMethod, REPORT_PERCENTILE_METHOD } from "./metrics.ts";
import { perplexityMetrics } from "./metrics.ts";
import type { QueryRecord } from "./records.ts";
import type { ModeName, TaskName } from "./types.ts";

/** Which decoder shape the simulator was charged for. */
export interface CostShapeInfo {
  /** `model`: the real model's own shape; `file`: a declared shape (`--cost-shape FILE`). */
  source: "model" | "file";
  /** Its name (`stories260k`, `Llama-3.2-1B int4`). */
  name: string;
  /** The file it came from, for `file`. */
  path?: string;
  family: string;
  layers: number;
  hiddenSize: number;
  weightPrecision: Precision;
}

/** A cost shape description from a parsed decoder shape. */
export function describeCostShape(
  shape: DecoderShape,
  origin: { source: "model" | "file"; name: string; path?: string },
): CostShapeInfo {
  return {
    source: origin.source,
    name: origin.name,
    ...(origin.path !== undefined ? { path: origin.path } : {}),
    family: shape.family,
    layers: shape.layers,
    hiddenSize: shape.hiddenSize,
    weightPrecision: shape.weightPrecision,
  };
}

/** What the report states about the setup. */
export interface ReportHeader {
  /** Board profile as given (`rk3588`, `sim:jetson-orin-nano`). */
  board: string;
  /** Model name or folder. */
  model: string;
  costShape: CostShapeInfo;
}

/** Figures every task reports per mode. */
export interface ModeMetrics {
  /** Selected-answer accuracy in [0, 1]; null when the task has no answers to grade (WikiText). */
  accuracy: number | null;
  /** Mean unbiased pass@k over the queries; null without samples. */
  passAtK: number | null;
  /** Integrated board energy over the mode's query windows, J. */
  energyJ: number;
  joulesPerQuery: number;
  /** energyJ over the windows' total length, W; null when they cover no time. */
  avgPowerW: number | null;
  latencyP50Ms: number;
  latencyP95Ms: number;
  /** accuracy / avgPowerW, 1/W. */
  ipw: number | null;
  /** accuracy / joulesPerQuery, 1/J. */
  ipj: number | null;
  /** Mean samples started per query. */
  samplesMean: number;
  throttleEvents: number;
  faultsInjected: number;
  faultsRecovered: number;
}

/** lm-eval wikitext metrics (null when no article was scored). */
export interface WikitextMetrics {
  word_perplexity: number | null;
  byte_perplexity: number | null;
  bits_per_byte: number | null;
}

/** lm-eval gsm8k metrics: exact match of the first sample under each filter. */
export interface Gsm8kMetrics {
  "exact_match,strict-match": number;
  "exact_match,flexible-extract": number;
}

/** lm-eval arc_challenge metrics. */
export interface ArcMetrics {
  acc: number;
  acc_norm: number;
}

/** Task metrics by task. */
export interface TaskMetricsByTask {
  wikitext: WikitextMetrics;
  gsm8k: Gsm8kMetrics;
  arc_challenge: ArcMetrics;
}

/** One mode's row of one task. */
export type ModeReport<T extends TaskName = TaskName> = ModeMetrics & TaskMetricsByTask[T];

/** One task's rows. */
export interface TaskReport<T extends TaskName = TaskName> {
  modes: Partial<Record<ModeName, ModeReport<T>>>;
}

/** The `--json` object of `qeil eval`. */
export interface EvalReport {
  board: string;
  model: string;
  costShape: CostShapeInfo;
  tasks: { [T in TaskName]?: TaskReport<T> };
}

/** How the run was set up (report.json and report.md state it; `--json` does not carry it). */
export interface EvalSettings {
  tasks: TaskName[];
  modes: ModeName[];
  /** Queries per task, when limited. */
  limit?: number;
  /** Mode order within a query (see harness.ts). */
  order: "williams";
  seed?: number;
  /** Sample budget k of the generative tasks. */
  samplesK?: number;
  /** GSM8K few-shot exemplars. */
  fewShot?: number;
  injectFaults?: boolean;
}

/** Whether a target holds. */
export type TargetStatus = "met" | "not met" | "not applicable";

/** qeil's promises, checked against standard. */
export type TargetId = "energy" | "latency" | "accuracy" | "throttle" | "answered";

/** One target check with the figures behind it. */
export interface TargetCheck {
  id: TargetId;
  /** A task, or `all` for the run pooled over tasks. */
  scope: TaskName | "all";
  status: TargetStatus;
  /** The target in words. */
  target: string;
  /** The figures, in words. */
  figures: string;
}

/** What a run produced. */
export interface EvalResult {
  report: EvalReport;
  targets: TargetCheck[];
  settings: EvalSettings & { percentileMethod: PercentileMethod };
  records: QueryRecord[];
}

/** qeil's energy per query may be at most this share of standard's. */
export const ENERGY_RATIO_TARGET = 0.25;
/** qeil's accuracy may differ from standard's by at most this (1 point). */
export const ACCURACY_TOLERANCE = 0.01;

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Fraction of `flags` that are true. */
function rate(flags: readonly boolean[]): number {
  return flags.filter(Boolean).length / flags.length;
}

/** Selected-answer accuracy: over records with a gradable answer; null when none has one. */
function accuracyOf(records: readonly QueryRecord[]): number | null {
  if (!records.some((r) => r.answered && r.correct !== null)) return null;
  const graded = records.filter((r) => r.correct !== null);
  return rate(graded.map((r) => r.correct === true));
}

/** The common figures of a set of records (one task and mode, or pooled). */
export function modeMetrics(records: readonly QueryRecord[]): ModeMetrics {
  if (records.length === 0) throw new RangeError("mode metrics of no records");
  const accuracy = accuracyOf(records);
  const withPass = records.filter((r) => r.passAtK !== null).map((r) => r.passAtK as number);
  const energyJ = sum(records.map((r) => r.energyJ));
  const latencies = records.map((r) => r.latencyMs);
  const figures = energyFigures({
    energyJ,
    durationMs: sum(records.map((r) => r.meteredMs)),
    queries: records.length,
    accuracy,
  });
  return {
    accuracy,
    passAtK: withPass.length > 0 ? mean(withPass) : null,
    energyJ,
    joulesPerQuery: figures.joulesPerQuery,
    avgPowerW: figures.avgPowerW,
    latencyP50Ms: percentile(latencies, 50, REPORT_PERCENTILE_METHOD),
    latencyP95Ms: percentile(latencies, 95, REPORT_PERCENTILE_METHOD),
    ipw: figures.ipw,
    ipj: figures.ipj,
    samplesMean: mean(records.map((r) => r.samplesUsed)),
    throttleEvents: sum(records.map((r) => r.throttleEvents)),
    faultsInjected: sum(records.map((r) => r.faultsInjected)),
    faultsRecovered: sum(records.map((r) => r.faultsRecovered)),
  };
}

function taskMetrics<T extends TaskName>(task: T, records: readonly QueryRecord[]): TaskMetricsByTask[T] {
  switch (task) {
    case "wikitext": {
      const docs = records.filter((r) => r.answered && r.logLikelihood !== undefined).map((r) => ({
        logLikelihood: r.logLikelihood as number,
        words: r.words as number,
        bytes: r.bytes as number,
      }));
      const m = docs.length > 0 ? perplexityMetrics(docs) : undefined;
      return {
        word_perplexity: m?.word_perplexity ?? null,
        byte_perplexity: m?.byte_perplexity ?? null,
        bits_per_byte: m?.bits_per_byte ?? null,
      } as TaskMetricsByTask[T];
    }
    case "gsm8k":
      return {
        "exact_match,strict-match": rate(records.map((r) => r.strictMatch === true)),
        "exact_match,flexible-extract": rate(records.map((r) => r.flexibleMatch === true)),
      } as TaskMetricsByTask[T];
    case "arc_challenge":
      return {
        acc: rate(records.map((r) => r.acc === true)),
        acc_norm: rate(records.map((r) => r.accNorm === true)),
      } as TaskMetricsByTask[T];
  }
  throw new RangeError(`no metrics for task "${task as string}"`);
}

/** Inputs of {@linkcode buildReport}. */
export interface BuildReportOptions {
  header: ReportHeader;
  records: readonly QueryRecord[];
  /** Tasks in report order. */
  tasks: readonly TaskName[];
  /** Modes in report order. */
  modes: readonly ModeName[];
  settings: EvalSettings;
}

/** Builds the report and the target checks from graded records (those of the listed tasks and modes). */
export function buildReport(options: BuildReportOptions): EvalResult {
  const { header, tasks, modes } = options;
  const records = options.records.filter((r) => tasks.includes(r.task) && modes.includes(r.mode));
  const report: EvalReport = { board: header.board, model: header.model, costShape: header.costShape, tasks: {} };
  for (const task of tasks) {
    const taskReport: TaskReport = { modes: {} };
    for (const mode of modes) {
      const rows = records.filter((r) => r.task === task && r.mode === mode);
      if (rows.length === 0) continue;
      (taskReport.modes as Record<string, unknown>)[mode] = { ...modeMetrics(rows), ...taskMetrics(task, rows) };
    }
    (report.tasks as Record<string, unknown>)[task] = taskReport;
  }
  return {
    report,
    targets: checkTargets(records, tasks, modes),
    settings: { ...options.settings, percentileMethod: REPORT_PERCENTILE_METHOD },
    records: [...records],
  };
}

function fmt(value: number, digits = 3): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1000 || abs < 0.001) return value.toExponential(digits - 1);
  return Number(value.toPrecision(digits)).toString();
}

function pct(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

/**
 * qeil's targets against standard, per task and pooled over tasks: energy
 * per query at most a quarter of standard's; p50 latency no worse; accuracy
 * within 1 point; zero throttle events in qeil's windows; and every query of
 * every mode answered.
 */
export function checkTargets(
  records: readonly QueryRecord[],
  tasks: readonly TaskName[],
  modes: readonly ModeName[],
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const scopes: (TaskName | "all")[] = tasks.length > 1 ? [...tasks, "all"] : [...tasks];
  for (const scope of scopes) {
    const inScope = records.filter((r) => scope === "all" || r.task === scope);
    if (inScope.length === 0) continue;
    const qeilRows = inScope.filter((r) => r.mode === "qeil");
    const standardRows = inScope.filter((r) => r.mode === "standard");
    const q = qeilRows.length > 0 ? modeMetrics(qeilRows) : undefined;
    const s = standardRows.length > 0 ? modeMetrics(standardRows) : undefined;
    const na = (id: TargetId, target: string, why: string): TargetCheck => ({
      id,
      scope,
      status: "not applicable",
      target,
      figures: why,
    });
    const missing = !q ? "qeil was not run" : !s ? "standard was not run" : undefined;

    const energyTarget = `qeil energy per query <= ${ENERGY_RATIO_TARGET} x standard's`;
    if (missing || !q || !s) checks.push(na("energy", energyTarget, missing ?? ""));
    else if (!(s.joulesPerQuery > 0)) checks.push(na("energy", energyTarget, "standard measured no energy"));
    else {
      const ratio = q.joulesPerQuery / s.joulesPerQuery;
      checks.push({
        id: "energy",
        scope,
        status: ratio <= ENERGY_RATIO_TARGET ? "met" : "not met",
        target: energyTarget,
        figures: `qeil ${fmt(q.joulesPerQuery)} J/query, standard ${fmt(s.joulesPerQuery)} J/query: ratio ${
          fmt(ratio)
        } (${ratio <= 1 ? `${pct(1 - ratio)} less` : `${pct(ratio - 1)} more`})`,
      });
    }

    const latencyTarget = "qeil p50 latency <= standard's";
    if (missing || !q || !s) checks.push(na("latency", latencyTarget, missing ?? ""));
    else {
      checks.push({
        id: "latency",
        scope,
        status: q.latencyP50Ms <= s.latencyP50Ms ? "met" : "not met",
        target: latencyTarget,
        figures: `qeil p50 ${fmt(q.latencyP50Ms)} ms, standard p50 ${fmt(s.latencyP50Ms)} ms`,
      });
    }

    const accuracyTarget = `qeil accuracy within ${ACCURACY_TOLERANCE * 100} point of standard's`;
    if (missing || !q || !s) checks.push(na("accuracy", accuracyTarget, missing ?? ""));
    else if (q.accuracy === null || s.accuracy === null) {
      checks.push(na("accuracy", accuracyTarget, "no graded answers (perplexity task)"));
    } else {
      const delta = q.accuracy - s.accuracy;
      checks.push({
        id: "accuracy",
        scope,
        // A hair of tolerance: 0.51 - 0.50 is 0.010000000000000009 in binary floating point.
        status: Math.abs(delta) <= ACCURACY_TOLERANCE + 1e-12 ? "met" : "not met",
        target: accuracyTarget,
        figures: `qeil ${pct(q.accuracy)}, standard ${pct(s.accuracy)}: ${delta >= 0 ? "+" : ""}${
          (delta * 100).toFixed(1)
        } points`,
      });
    }

    const throttleTarget = "zero thermal throttle events during qeil's queries";
    if (!q) checks.push(na("throttle", throttleTarget, "qeil was not run"));
    else {
      checks.push({
        id: "throttle",
        scope,
        status: q.throttleEvents === 0 ? "met" : "not met",
        target: throttleTarget,
        figures: `qeil ${q.throttleEvents} event(s)` + (s ? `, standard ${s.throttleEvents}` : ""),
      });
    }

    const unanswered = inScope.filter((r) => !r.answered);
    const byMode = modes.filter((mode) => inScope.some((r) => r.mode === mode)).map((mode) => {
      const rows = inScope.filter((r) => r.mode === mode);
      return `${mode} ${rows.filter((r) => r.answered).length}/${rows.length}`;
    });
    checks.push({
      id: "answered",
      scope,
      status: unanswered.length === 0 ? "met" : "not met",
      target: "every query answered in every mode",
      figures: `answered: ${byMode.join(", ")}` +
        (unanswered.length > 0
          ? `; first failure: ${unanswered[0].id} ${unanswered[0].mode}: ${unanswered[0].error ?? "unknown"}`
          : ""),
    });
  }
  return checks;
}
