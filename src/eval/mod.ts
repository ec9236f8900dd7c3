/**
 * The evaluation harness; imports core, hal, sim, physics, pgsam, runtime, verify and service through their
 * mod.ts; reads dataset files and writes reports.
 *
 * Dataset loaders (GSM8K, ARC-Challenge, WikiText raw) with lm-evaluation-
 * harness prompts and metrics; the harness loop that runs every query in
 * every mode through a {@linkcode QueryRunner} in a fixed interleaved order,
 * measuring each query's energy from the board's rails and its latency; the
 * runner over the service's orchestrator (standard, greedy, qeil on one
 * board); declared cost shapes; seeded fault injection; the report model
 * (`--json`), target checks with what the measurements say when one is not
 * met, report.md and SVG plots; a terminal progress bar.
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
  type QueryExecution,
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
  type BoardSetting,
  buildReport,
  type BuildReportOptions,
  type CalibrationSetting,
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
  type PhysicsSetting,
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
  type FaultArming,
  type FaultInjector,
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
export { type CostShape, modelCostShape, readCostShape } from "./cost_shape.ts";
export {
  ARC_GENERATIVE_MAX_TOKENS,
  createOrchestratorRunner,
  DEFAULT_SAMPLES,
  DEFAULT_TEMPERATURE,
  GSM8K_MAX_TOKENS,
  type OrchestratorRunnerOptions,
  type SeenPlan,
} from "./runner.ts";
export {
  createSimFaultInjector,
  describeFault,
  type FaultScheduleOptions,
  type FaultSensor,
  type ScheduledFault,
  scheduleFaults,
  simFaultSensors,
} from "./faults.ts";
export { type BoardEvaluation, type BoardEvaluationOptions, evaluateOnBoard, totalRailsCounted } from "./session.ts";
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
