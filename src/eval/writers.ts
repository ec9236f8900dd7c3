/**
 * `--out DIR` and `--json`: report.json (the `--json` object plus the
 * settings and target checks), report.md, and the SVG plots.
 */
import { renderMarkdown } from "./markdown.ts";
import { energyAccuracyPlot, paretoPlot, type ParetoPoint, tracePlot } from "./plots.ts";
import type { EvalReport, EvalResult, EvalSettings, TargetCheck } from "./report.ts";
import type { TelemetryTraces } from "./telemetry.ts";

/** The `--json` output: exactly the report object. */
export function reportJson(result: EvalResult): string {
  return JSON.stringify(result.report, null, 2) + "\n";
}

/** report.json: the `--json` object with the run's settings and target checks added. */
export interface ReportFile extends EvalReport {
  settings: EvalSettings;
  targets: TargetCheck[];
}

/** The content of report.json. */
export function reportFile(result: EvalResult): ReportFile {
  return { ...result.report, settings: result.settings, targets: result.targets };
}

/** A named set of Pareto points (e.g. the plan of one representative query). */
export interface ParetoSet {
  /** Names the file (`pareto_<name>.svg`) and the subtitle. */
  name: string;
  points: readonly ParetoPoint[];
}

/** Extra inputs of the plots. */
export interface WriteReportOptions {
  /** The board's traces over the run (from RunTelemetry). @default none: no trace plots */
  traces?: TelemetryTraces;
  /** Pareto fronts to plot. @default none */
  pareto?: readonly ParetoSet[];
}

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "plan";
}

/**
 * Writes report.json, report.md and the plots into `dir` (created if
 * missing; existing files of the same names are replaced).
 * @returns the file names written, in writing order
 */
export async function writeReport(
  dir: string,
  result: EvalResult,
  options: WriteReportOptions = {},
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const files = new Map<string, string>();
  const plots: { file: string; caption: string }[] = [];
  const missing: string[] = [];
  const subtitle = `${result.report.board}, ${result.report.model}`;

  files.set("energy_accuracy.svg", energyAccuracyPlot(result.report));
  plots.push({ file: "energy_accuracy.svg", caption: "Energy per query and accuracy per mode" });

  const traces = options.traces;
  for (
    const [kind, file, caption] of [
      ["power", "power.svg", "Power per unit over the run"],
      ["temperature", "temperature.svg", "Temperature per unit over the run, with trip points"],
    ] as const
  ) {
    const has = traces !== undefined &&
      (traces.units.some((u) => (kind === "power" ? u.powerW : u.tempC).length > 0) ||
        (kind === "power" && traces.totalPowerW.length > 0));
    if (!has) {
      missing.push(`${file}: no ${kind} readings were recorded`);
      continue;
    }
    files.set(file, tracePlot(traces, kind, { subtitle }));
    plots.push({ file, caption });
  }

  const sets = options.pareto ?? [];
  if (sets.length === 0) missing.push("Pareto front: no plan was recorded");
  const used = new Set<string>();
  for (const set of sets) {
    if (set.points.length === 0) {
      missing.push(`Pareto front "${set.name}": no points`);
      continue;
    }
    let file = `pareto_${slug(set.name)}.svg`;
    for (let i = 2; used.has(file); i++) file = `pareto_${slug(set.name)}_${i}.svg`;
    used.add(file);
    files.set(file, paretoPlot(set.points, `${set.name}; ${subtitle}`));
    plots.push({ file, caption: `Pareto front: ${set.name}` });
  }

  files.set("report.json", JSON.stringify(reportFile(result), null, 2) + "\n");
  files.set("report.md", renderMarkdown(result, { files: plots, missing }));
  for (const [name, content] of files) await Deno.writeTextFile(`${dir}/${name}`, content);
  return [...files.keys()];
}
