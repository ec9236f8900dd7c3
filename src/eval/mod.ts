/**
 * The evaluation harness; imports core, hal (energy meter, sample types),
 * pgsam (plan types), verify (answer extraction) through their mod.ts; reads
 * dataset files and writes reports.
 *
 * Dataset loaders (GSM8K, ARC-Challenge, WikiText raw) with lm-evaluation-
 * harness prompts and metrics; the harness loop that runs every query in
 * every mode through a {@linkcode QueryRunner} in a fixed interleaved order,
 * measuring each query's energy from the board's rails and its latency; the
 * report model (`--json`), target checks, report.md and SVG plots; a
 * terminal progress bar.
 * @module
 */
export {
  type ArcQuery,
  type EvalQuery,
  type Gsm8kQuery,
  isModeName,
  isTaskName,
  MODE_NAMES,
  type ModeName,
  TASK_NAMES,
  type TaskName,
  type TaskQueries,
  type WikitextQuery,
} from "./types.ts";
export { type FieldSite, type JsonLine, readJsonLines, readTextLines, type TextLines } from "./dataset_file.ts";
export {
  GSM8K_DEFAULT_SHOTS,
  GSM8K_STOP,
  gsm8kExactMatch,
  type Gsm8kFilter,
  gsm8kFilter,
  type Gsm8kItem,
  gsm8kPrompt,
  LM_EVAL_INVALID,
  loadGsm8k,
  selectFewShot,
} from "./gsm8k.ts";
export {
  ARC_GENERATIVE_STOP,
  ARC_MAX_CHOICES,
  ARC_MIN_CHOICES,
  arcContext,
  arcContinuations,
  arcGenerativePrompt,
  type ArcItem,
  type ArcOption,
  choiceLength,
  loadArc,
  type MultipleChoiceScore,
  scoreMultipleChoice,
} from "./arc.ts";
export {
  isTitleLine,
  lmEvalWordCount,
  loadWikitext,
  splitWikitextArticles,
  whitespaceWordCount,
  type WikitextArticle,
  wikitextDetokenize,
} from "./wikitext.ts";
export {
  arcQueries,
  type DatasetPaths,
  datasetPaths,
  gsm8kQueries,
  type Gsm8kQueryOptions,
  loadTaskQueries,
  type LoadTaskQueriesOptions,
  wikitextQueries,
} from "./queries.ts";
export {
  type DocumentLogLikelihood,
  type EnergyFigures,
  energyFigures,
  type EnergyTotals,
  mean,
  passAtK,
  percentile,
  type PercentileMethod,
  type PerplexityMetrics,
  perplexityMetrics,
  REPORT_PERCENTILE_METHOD,
} from "./metrics.ts";
export {
  failedRecord,
  gradeOutcome,
  type QueryMeasurement,
  type QueryOutcome,
  type QueryRecord,
  type SampleText,
} from "./records.ts";
export {
  type EnergyProbe,
  type ProbeMeasurement,
  type ProbeWindow,
  RunTelemetry,
  type RunTelemetryOptions,
  type TelemetryTraces,
  type TracePoint,
  type TripLine,
} from "./telemetry.ts";
export {
  ACCURACY_TOLERANCE,
  type ArcMetrics,
  buildReport,
  type BuildReportOptions,
  checkTargets,
  type CostShapeInfo,
  describeCostShape,
  ENERGY_RATIO_TARGET,
  type EvalReport,
  type EvalResult,
  type EvalSettings,
  type Gsm8kMetrics,
  type ModeMetrics,
  modeMetrics,
  type ModeReport,
  type ReportHeader,
  type TargetCheck,
  type TargetId,
  type TargetStatus,
  type TaskMetricsByTask,
  type TaskReport,
  type WikitextMetrics,
} from "./report.ts";
export {
  evaluationOrder,
  type ProgressSink,
  type QueryRunner,
  runEvaluation,
  type RunEvaluationOptions,
  williamsDesign,
} from "./harness.ts";
export {
  createProgress,
  formatDuration,
  type ProgressFigures,
  progressFigures,
  type ProgressOptions,
  stderrProgress,
} from "./progress.ts";
export { escapeXml } from "./svg.ts";
export {
  decimate,
  energyAccuracyPlot,
  paretoPlot,
  type ParetoPoint,
  paretoPointsFromPlan,
  type ParetoRole,
  type TraceKind,
  tracePlot,
  type TracePlotOptions,
  underutilizationColour,
} from "./plots.ts";
export { formatFigure, type MarkdownPlots, renderMarkdown } from "./markdown.ts";
export {
  type ParetoSet,
  type ReportFile,
  reportFile,
  reportJson,
  writeReport,
  type WriteReportOptions,
} from "./writers.ts";
