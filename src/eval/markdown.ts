/**
 * report.md: what was run (board, model, cost shape, settings), qeil's target
 * checks, and per task the table of standard vs greedy vs qeil with ratios
 * to standard, then the plots and how each figure was computed.
 */
import { ACCURACY_TOLERANCE, ENERGY_RATIO_TARGET, type EvalResult, type ModeReport } from "./report.ts";
import { MODE_NAMES, type ModeName, TASK_NAMES, type TaskName } from "./types.ts";

/** A table cell: pipes and line breaks would break the table. */
function cell(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("|", "\\|").replace(/\r?\n/g, " ");
}

/** A figure with about 4 significant digits. */
export function formatFigure(value: number | null | undefined): string {
  if (value === null || value === undefined) return "n/a";
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e6 || abs < 1e-3) return value.toExponential(3);
  return String(Number(value.toPrecision(4)));
}

interface Row {
  key: string;
  label: string;
  /** Shown as a percentage. */
  percent?: boolean;
}

const COMMON_ROWS: readonly Row[] = [
  { key: "accuracy", label: "accuracy (selected answer)", percent: true },
  { key: "passAtK", label: "pass@k", percent: true },
  { key: "energyJ", label: "energy (J)" },
  { key: "joulesPerQuery", label: "energy per query (J)" },
  { key: "avgPowerW", label: "average power (W)" },
  { key: "latencyP50Ms", label: "latency p50 (ms)" },
  { key: "latencyP95Ms", label: "latency p95 (ms)" },
  { key: "ipw", label: "IPW (accuracy / W)" },
  { key: "ipj", label: "IPJ (accuracy / J per query)" },
  { key: "samplesMean", label: "samples per query (mean)" },
  { key: "throttleEvents", label: "throttle events" },
  { key: "faultsInjected", label: "faults injected" },
  { key: "faultsRecovered", label: "faults recovered" },
];

const TASK_ROWS: Record<TaskName, readonly Row[]> = {
  wikitext: [
    { key: "word_perplexity", label: "word_perplexity" },
    { key: "byte_perplexity", label: "byte_perplexity" },
    { key: "bits_per_byte", label: "bits_per_byte" },
  ],
  gsm8k: [
    { key: "exact_match,strict-match", label: "exact_match,strict-match", percent: true },
    { key: "exact_match,flexible-extract", label: "exact_match,flexible-extract", percent: true },
  ],
  arc_challenge: [
    { key: "acc", label: "acc", percent: true },
    { key: "acc_norm", label: "acc_norm", percent: true },
  ],
};

function shown(value: number | null | undefined, percent: boolean): string {
  if (value === null || value === undefined) return "n/a";
  return percent ? `${(value * 100).toFixed(1)}%` : formatFigure(value);
}

function ratio(value: number | null | undefined, base: number | null | undefined): string {
  if (typeof value !== "number" || typeof base !== "number" || base === 0) return "n/a";
  return `${formatFigure(value / base)}x`;
}

function taskTable(task: TaskName, rows: Partial<Record<ModeName, ModeReport>>): string[] {
  const modes = rows as Partial<Record<ModeName, Record<string, number | null>>>;
  const present = MODE_NAMES.filter((m) => modes[m] !== undefined);
  const base = modes.standard;
  const others = base ? present.filter((m) => m !== "standard") : [];
  const header = ["metric", ...present, ...others.map((m) => `${m} / standard`)];
  const lines = [`| ${header.join(" | ")} |`, `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`];
  for (const row of [...COMMON_ROWS, ...TASK_ROWS[task]]) {
    const values = present.map((m) => modes[m]?.[row.key]);
    const ratios = others.map((m) => ratio(modes[m]?.[row.key], base?.[row.key]));
    lines.push(
      `| ${[row.label, ...values.map((v) => shown(v, row.percent ?? false)), ...ratios].map(cell).join(" | ")} |`,
    );
  }
  return lines;
}

/** Files the markdown links to. */
export interface MarkdownPlots {
  /** Plot files (relative to the report) with a caption each. */
  files: { file: string; caption: string }[];
  /** Plots that were not drawn, and why. */
  missing: string[];
}

/** Renders report.md. */
export function renderMarkdown(result: EvalResult, plots: MarkdownPlots = { files: [], missing: [] }): string {
  const { report, settings, targets } = result;
  const cs = report.costShape;
  const out: string[] = [];
  out.push("# qeil evaluation", "");
  out.push(`- Board: \`${report.board}\``);
  out.push(`- Model: \`${report.model}\``);
  out.push(
    `- Cost shape charged: ${cs.source === "model" ? "the model's own shape" : `declared in \`${cs.path ?? "?"}\``}: ` +
      `${cs.name} (${cs.family}, ${cs.layers} layers, hidden ${cs.hiddenSize}, ${cs.weightPrecision} weights)`,
  );
  out.push(
    `- Tasks: ${settings.tasks.join(", ")}; modes: ${settings.modes.join(", ")}` +
      (settings.limit !== undefined ? `; first ${settings.limit} queries per task` : "; all queries"),
  );
  const extras: string[] = [];
  if (settings.seed !== undefined) extras.push(`seed ${settings.seed}`);
  if (settings.samplesK !== undefined) extras.push(`sample budget k = ${settings.samplesK}`);
  if (settings.fewShot !== undefined) extras.push(`GSM8K ${settings.fewShot}-shot`);
  if (settings.temperature !== undefined) extras.push(`temperature ${settings.temperature}`);
  if (settings.maxTokens !== undefined) {
    const limits = Object.entries(settings.maxTokens).map(([task, n]) => `${task} ${n}`);
    if (limits.length > 0) extras.push(`at most ${limits.join(", ")} new tokens per sample`);
  }
  if (settings.policy !== undefined) extras.push(`qeil policy ${settings.policy}`);
  if (settings.injectFaults !== undefined) {
    extras.push(settings.injectFaults ? "faults injected" : "no faults injected");
  }
  if (extras.length > 0) out.push(`- Settings: ${extras.join(", ")}`);
  const b = settings.board;
  if (b !== undefined) {
    out.push(
      b.simulated
        ? `- Board run: simulated \`${b.profile}\` in virtual time` +
          (b.seed !== undefined ? `, truth seed ${b.seed}` : "") +
          (b.stepMs !== undefined ? `, ${b.stepMs} ms physics steps` : "") +
          "; latencies on the simulated device clock"
        : `- Board run: real \`${b.profile}\`; latencies in wall time`,
    );
  }
  const c = settings.calibration;
  if (c !== undefined) {
    const mape = (x: number | undefined) => (x === undefined ? "n/a" : `${x.toFixed(1)}%`);
    out.push(
      c.source === "calibration-workload"
        ? `- qeil's physics: calibrated on this board before the run, as the service does on first boot ` +
          `(calibration workload, ${formatFigure(c.boardTimeS)} s of board time, in no query's window); ` +
          `prediction error on held-out jobs: energy ${mape(c.before.energyMapePct)} -> ${
            mape(c.after.energyMapePct)
          }, latency ${mape(c.before.latencyMapePct)} -> ${mape(c.after.latencyMapePct)}` +
          (c.notes.length > 0 ? ` (${c.notes.join("; ")})` : "")
        : `- qeil's physics: the board profile's priors (${c.reason})`,
    );
  }
  const ph = settings.physics;
  if (ph !== undefined) {
    const mape = (x: number | undefined) => (x === undefined ? "n/a" : `${formatFigure(x)}%`);
    out.push(
      `- qeil's physics during the run: ${ph.onlineCalibration ? "refitted online" : "kept as calibrated"}; ` +
        `over the run's last ${ph.jobs} jobs without a unit fault its post-hoc prediction missed the measured energy by ${
          mape(ph.energyMapePct)
        } and the latency by ${mape(ph.latencyMapePct)} (MAPE)`,
    );
  }
  for (const note of settings.notes ?? []) out.push(`- Note: ${note}`);
  out.push("");

  out.push("## Targets (qeil against standard)", "");
  if (targets.length === 0) out.push("No target applies to this run.");
  else {
    out.push("| scope | target | status | figures |", "|---|---|---|---|");
    for (const t of targets) {
      const status = t.status === "met" ? "met" : t.status === "not met" ? "**NOT MET**" : "not applicable";
      out.push(`| ${[t.scope, t.target, status, t.figures].map(cell).join(" | ")} |`);
    }
    const unmet = targets.filter((t) => t.status === "not met");
    if (unmet.length > 0) {
      out.push("", "### What the measurements say about unmet targets", "");
      for (const t of unmet) out.push(`- ${t.scope}, ${t.id}: ${t.why ?? "no diagnosis"}`);
    }
  }
  out.push("");

  for (const task of TASK_NAMES) {
    const taskReport = report.tasks[task];
    if (!taskReport) continue;
    out.push(`## ${task}`, "");
    out.push(...taskTable(task, taskReport.modes as Partial<Record<ModeName, ModeReport>>), "");
  }

  if (plots.files.length > 0 || plots.missing.length > 0) {
    out.push("## Plots", "");
    for (const p of plots.files) out.push(`![${cell(p.caption)}](${p.file})`, "");
    for (const m of plots.missing) out.push(`- Not drawn: ${m}`);
    if (plots.missing.length > 0) out.push("");
  }

  out.push("## How the figures are computed", "");
  out.push(
    "- Energy: integrated from the board's power rails by the HAL energy meter over one window per query " +
      "(trapezoid of power, or energy-counter deltas), summed per mode; never a planner's prediction. " +
      "Average power = energy / total window time; J per query = energy / queries.",
    `- Latency: per query on the harness's clock, from the call to the runner to its result; percentiles by ${
      settings.percentileMethod === "linear"
        ? "linear interpolation between closest ranks (numpy's default)"
        : "the nearest-rank method"
    }.`,
    "- Accuracy: the mode's selected answer against the gold (GSM8K numbers in canonical form; ARC letters), " +
      "an unanswered query counted wrong. IPW = accuracy / average power (W); IPJ = accuracy / J per query.",
    "- pass@k: unbiased estimator 1 - C(n-c, k) / C(n, k) per query (Chen et al. 2021), averaged; a mode that " +
      "stopped early with n < k finished samples reports pass@n.",
    "- wikitext: lm-eval `loglikelihood_rolling` per article; word_perplexity = exp(-Σ ll / Σ words), " +
      "byte_perplexity = exp(-Σ ll / Σ bytes), bits_per_byte = -Σ ll / Σ bytes / ln 2, with lm-eval's word count " +
      '`len(re.split(r"\\s+", page))` and UTF-8 bytes of the original article.',
    "- gsm8k: lm-eval `exact_match` of the first sample (take_first) after the `strict-match` (`#### N`) or " +
      "`flexible-extract` (last number) filter, with lm-eval's ignore rules.",
    "- arc_challenge: lm-eval `acc` (argmax of choice log-likelihoods) and `acc_norm` (argmax of log-likelihood " +
      "per character of the choice); accuracy is the generative variant through the sampling cascade.",
    `- Targets: energy per query <= ${ENERGY_RATIO_TARGET} x standard's, p50 latency <= standard's, accuracy within ` +
      `${ACCURACY_TOLERANCE * 100} point, zero throttle events (rising edges of the kernel's passive cooling state) ` +
      "in qeil's windows, every query answered in every mode.",
    "- Order: each query runs all modes back to back, the mode order rotating through a Williams design, so every " +
      "mode sees the same stretch of the board's thermal history.",
  );
  return out.join("\n") + "\n";
}
