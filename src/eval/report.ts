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
  /** Integrated board energy over the mode's query windows, J; null when the board has no total-power rail. */
  energyJ: number | null;
  joulesPerQuery: number | null;
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
  /** Sampling temperature of the generative tasks. */
  temperature?: number;
  /** Most new tokens per sample of each generative task (a query's are also capped by the model's context). */
  maxTokens?: { gsm8k?: number; arc_challenge?: number };
  /** The board the run used. */
  board?: BoardSetting;
  /** Where qeil's physics came from. */
  calibration?: CalibrationSetting;
  /** The member of the Pareto front qeil runs (`energy`, `latency`, `balanced`). */
  policy?: string;
  /** How well the planner's physics predicted the run's jobs (every mode's), measured after the run. */
  physics?: PhysicsSetting;
  /** What else a reader must know to read the figures. */
  notes?: string[];
}

/** The board of a run. */
export interface BoardSetting {
  /** A simulated board (virtual time) or a real one. */
  simulated: boolean;
  profile: string;
  /** Seed of the simulated board's hidden truth. */
  seed?: number;
  /** Physics step of the simulated board, ms. */
  stepMs?: number;
  /** What latencies are: the simulated device clock, or wall time on a real board. */
  latencyClock: "simulated-device" | "wall";
}

/** The planner's physics during the run. */
export interface PhysicsSetting {
  /** The model was refitted online from the board's measurements (else it stayed as calibrated before the run). */
  onlineCalibration: boolean;
  /** Jobs whose prediction was compared with the measurement (the orchestrator keeps the last 200). */
  jobs: number;
  /** Post-hoc predicted vs measured job energy, MAPE %. */
  energyMapePct?: number;
  /** Post-hoc predicted vs measured job latency, MAPE %. */
  latencyMapePct?: number;
}

/** Where qeil's physics came from: a calibration run on the board before the evaluation, or the priors. */
export type CalibrationSetting =
  | {
    source: "calibration-workload";
    /** Board time the calibration took (before the evaluation, in no query's window), s. */
    boardTimeS: number;
    /** Prediction error on held-out jobs with the priors and after calibration. */
    before: { energyMapePct?: number; latencyMapePct?: number };
    after: { energyMapePct?: number; latencyMapePct?: number };
    notes: string[];
  }
  | { source: "priors"; reason: string };

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
  /** For a target not met: what the measurements say about why. */
  why?: string;
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
  // One window without a total-power rail leaves the mode's energy unknown, not smaller.
  const measured = records.every((r) => r.energyJ !== null);
  const energyJ = measured ? sum(records.map((r) => r.energyJ as number)) : null;
  const latencies = records.map((r) => r.latencyMs);
  const figures = energyJ === null
    ? { joulesPerQuery: null, avgPowerW: null, ipw: null, ipj: null }
    : energyFigures({ energyJ, durationMs: sum(records.map((r) => r.meteredMs)), queries: records.length, accuracy });
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
  // Latencies of long jobs run to 10^6 ms: plain digits read better than exponents below that.
  if (abs >= 1e6 || abs < 0.001) return value.toExponential(digits - 1);
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
    else if (q.joulesPerQuery === null || s.joulesPerQuery === null) {
      checks.push(na("energy", energyTarget, "energy not measured: the board has no rail that gives its total power"));
    } else if (!(s.joulesPerQuery > 0)) checks.push(na("energy", energyTarget, "standard measured no energy"));
    else {
      const ratio = q.joulesPerQuery / s.joulesPerQuery;
      const met = ratio <= ENERGY_RATIO_TARGET;
      checks.push({
        id: "energy",
        scope,
        status: met ? "met" : "not met",
        target: energyTarget,
        figures: `qeil ${fmt(q.joulesPerQuery)} J/query, standard ${fmt(s.joulesPerQuery)} J/query: ratio ${
          fmt(ratio)
        } (${ratio <= 1 ? `${pct(1 - ratio)} less` : `${pct(ratio - 1)} more`})`,
        ...(met ? {} : { why: whyEnergy(qeilRows, standardRows) }),
      });
    }

    const latencyTarget = "qeil p50 latency <= standard's";
    if (missing || !q || !s) checks.push(na("latency", latencyTarget, missing ?? ""));
    else {
      const met = q.latencyP50Ms <= s.latencyP50Ms;
      checks.push({
        id: "latency",
        scope,
        status: met ? "met" : "not met",
        target: latencyTarget,
        figures: `qeil p50 ${fmt(q.latencyP50Ms)} ms, standard p50 ${fmt(s.latencyP50Ms)} ms`,
        ...(met ? {} : { why: whyLatency(qeilRows, standardRows) }),
      });
    }

    const accuracyTarget = `qeil accuracy within ${ACCURACY_TOLERANCE * 100} point of standard's`;
    if (missing || !q || !s) checks.push(na("accuracy", accuracyTarget, missing ?? ""));
    else if (q.accuracy === null || s.accuracy === null) {
      checks.push(na("accuracy", accuracyTarget, "no graded answers (perplexity task)"));
    } else {
      const delta = q.accuracy - s.accuracy;
      // A hair of tolerance: 0.51 - 0.50 is 0.010000000000000009 in binary floating point.
      const met = Math.abs(delta) <= ACCURACY_TOLERANCE + 1e-12;
      checks.push({
        id: "accuracy",
        scope,
        status: met ? "met" : "not met",
        ...(met ? {} : { why: whyAccuracy(qeilRows, standardRows) }),
        target: accuracyTarget,
        figures: `qeil ${pct(q.accuracy)}, standard ${pct(s.accuracy)}: ${delta >= 0 ? "+" : ""}${
          (delta * 100).toFixed(1)
        } points`,
      });
    }

    const throttleTarget = "zero thermal throttle events during qeil's queries";
    if (!q) checks.push(na("throttle", throttleTarget, "qeil was not run"));
    else {
      const met = q.throttleEvents === 0;
      checks.push({
        id: "throttle",
        scope,
        status: met ? "met" : "not met",
        target: throttleTarget,
        figures: `qeil ${q.throttleEvents} event(s)` + (s ? `, standard ${s.throttleEvents}` : ""),
        ...(met ? {} : { why: whyThrottle(qeilRows) }),
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
      ...(unanswered.length === 0 ? {} : { why: whyUnanswered(unanswered) }),
    });
  }
  return checks;
}

// ---- why a target was not met: what the measurements say -----------------------------------------------------

function median(values: readonly number[]): number {
  return percentile(values, 50, REPORT_PERCENTILE_METHOD);
}

/** Units the rows ran on: in how many queries each, and its median clock. */
function unitsSummary(rows: readonly QueryRecord[]): string {
  const withExecution = rows.filter((r) => r.execution !== undefined);
  if (withExecution.length === 0) return "placements not reported";
  const byUnit = new Map<string, { queries: number; freqsHz: number[] }>();
  for (const r of withExecution) {
    for (const unit of r.execution!.units) {
      const e = byUnit.get(unit) ?? { queries: 0, freqsHz: [] };
      e.queries++;
      const f = r.execution!.freqHz[unit];
      if (f !== undefined) e.freqsHz.push(f);
      byUnit.set(unit, e);
    }
  }
  return [...byUnit].sort((a, b) => b[1].queries - a[1].queries).map(([unit, e]) =>
    `${unit} in ${e.queries}/${withExecution.length} queries` +
    (e.freqsHz.length > 0 ? ` (median clock ${Math.round(median(e.freqsHz) / 1e6)} MHz)` : "")
  ).join(", ");
}

/** Energy per query by rail: the metered sub-rails and the rest of the board (base, DRAM, conversion). */
function railSummary(rows: readonly QueryRecord[]): string {
  const measured = rows.filter((r) => r.energyJ !== null);
  if (measured.length === 0) return "not measured";
  const n = measured.length;
  const total = sum(measured.map((r) => r.energyJ as number));
  const parts = new Map<string, number>();
  for (const r of measured) {
    for (const [rail, j] of Object.entries(r.energyByRailJ)) {
      if (r.totalRails.includes(rail)) continue;
      parts.set(rail, (parts.get(rail) ?? 0) + j);
    }
  }
  const share = (j: number) => (total > 0 ? ` (${pct(j / total)})` : "");
  const listed = [...parts].sort((a, b) => b[1] - a[1]).filter(([, j]) => j > 0.005 * total);
  const rest = total - sum([...parts.values()]);
  const items = listed.map(([rail, j]) => `${rail} ${fmt(j / n)} J${share(j)}`);
  if (parts.size > 0) items.push(`rest of the board ${fmt(Math.max(0, rest) / n)} J${share(Math.max(0, rest))}`);
  return `${fmt(total / n)} J/query` + (items.length > 0 ? ` = ${items.join(" + ")}` : "");
}

/** How sampling stopped, over the rows that sampled. */
function stopSummary(rows: readonly QueryRecord[]): string | undefined {
  const sampled = rows.filter((r) => r.execution?.stopReason !== undefined);
  if (sampled.length === 0) return undefined;
  const counts = new Map<string, number>();
  for (const r of sampled) counts.set(r.execution!.stopReason!, (counts.get(r.execution!.stopReason!) ?? 0) + 1);
  const reasons = [...counts].map(([reason, c]) => `${reason} ${c}`).join(", ");
  const early = sampled.filter((r) => r.execution!.stopReason !== "budget").length;
  return `the cascade stopped early on ${early} of ${sampled.length} sampled queries (${reasons}); ` +
    `${fmt(mean(sampled.map((r) => r.samplesUsed)))} of k = ${fmt(mean(sampled.map((r) => r.k)))} samples used, ` +
    `${fmt(mean(sampled.map((r) => r.execution!.samplesStarted ?? r.samplesUsed)))} started`;
}

/** Device time against waiting (cooling before a job, fault deadlines) in the rows' latencies. */
function waitSummary(rows: readonly QueryRecord[]): string | undefined {
  const timed = rows.filter((r) => r.execution !== undefined);
  if (timed.length === 0) return undefined;
  const device = timed.map((r) => r.execution!.deviceMs);
  const waiting = timed.map((r) => Math.max(0, r.latencyMs - r.execution!.deviceMs));
  const total = sum(timed.map((r) => r.latencyMs));
  return `device time p50 ${fmt(median(device))} ms, waiting p50 ${fmt(median(waiting))} ms ` +
    `(${total > 0 ? pct(sum(waiting) / total) : "0%"} of the latency: cooling before a job, fault deadlines)`;
}

function whyEnergy(q: readonly QueryRecord[], s: readonly QueryRecord[]): string {
  const parts = [
    `standard ran on ${unitsSummary(s)}; qeil on ${unitsSummary(q)}`,
    `energy by rail: standard ${railSummary(s)}; qeil ${railSummary(q)}`,
  ];
  const stops = stopSummary(q);
  if (stops) parts.push(`qeil: ${stops}`);
  const waits = waitSummary(q);
  if (waits) parts.push(`qeil ${waits}`);
  return parts.join(". ");
}

function whyLatency(q: readonly QueryRecord[], s: readonly QueryRecord[]): string {
  const parts = [`standard ran on ${unitsSummary(s)}; qeil on ${unitsSummary(q)}`];
  const qw = waitSummary(q);
  const sw = waitSummary(s);
  if (qw) parts.push(`qeil ${qw}`);
  if (sw) parts.push(`standard ${sw}`);
  return parts.join(". ");
}

function whyAccuracy(q: readonly QueryRecord[], s: readonly QueryRecord[]): string {
  const standardById = new Map(s.map((r) => [r.id, r]));
  let qeilOnly = 0;
  let standardOnly = 0;
  let earlyDiffer = 0;
  for (const r of q) {
    const other = standardById.get(r.id);
    if (!other || r.correct === null || other.correct === null || r.correct === other.correct) continue;
    if (r.correct) qeilOnly++;
    else standardOnly++;
    if (r.execution?.stopReason !== undefined && r.execution.stopReason !== "budget") earlyDiffer++;
  }
  return `the modes drew the same samples (same seed per query); qeil was right where standard was wrong on ` +
    `${qeilOnly} queries and wrong where standard was right on ${standardOnly}; the cascade had stopped early on ` +
    `${earlyDiffer} of those`;
}

function whyThrottle(q: readonly QueryRecord[]): string {
  const hit = q.filter((r) => r.throttleEvents > 0);
  const replans = sum(q.map((r) => r.execution?.thermalReplans ?? 0));
  return `throttle events in qeil's windows of ${hit.length} queries (first: ${
    hit.slice(0, 3).map((r) => r.id).join(", ")
  }); qeil re-planned ${replans} time(s) for heat`;
}

function whyUnanswered(rows: readonly QueryRecord[]): string {
  const byMode = new Map<string, number>();
  for (const r of rows) byMode.set(r.mode, (byMode.get(r.mode) ?? 0) + 1);
  const withFaults = rows.filter((r) => r.faultsInjected > 0).length;
  return `${rows.length} unanswered (${[...byMode].map(([m, c]) => `${m} ${c}`).join(", ")}); ` +
    `${withFaults} of them had an injected fault`;
}
