/**
 * The report's plots as self-contained SVG: energy and accuracy per mode
 * (grouped bars), power and temperature traces per unit over the run with
 * trip lines (line charts), and the Pareto front with the chosen points
 * (scatter). Every series differs by more than colour: bar hatching, line
 * dash patterns and marker shapes, and a legend names each.
 */
import type { Plan } from "../pgsam/mod.ts";
import {
  axes,
  DASHES,
  el,
  formatTick,
  type Frame,
  legend,
  type LegendEntry,
  marker,
  MARKERS,
  type MarkerShape,
  niceTicks,
  num,
  PALETTE,
  scale,
  svgDocument,
  text,
} from "./svg.ts";
import type { EvalReport, ModeMetrics } from "./report.ts";
import type { TelemetryTraces, TracePoint } from "./telemetry.ts";
import { MODE_NAMES, type ModeName, TASK_NAMES, type TaskName } from "./types.ts";

/** How each mode's bars look: a colour and a fill pattern, so print and colour-blind readers can tell them apart. */
const MODE_STYLE: Record<ModeName, { colour: string; pattern: string; description: string }> = {
  standard: { colour: PALETTE[0], pattern: "solid", description: "solid" },
  greedy: { colour: PALETTE[1], pattern: "hatch", description: "diagonal hatching" },
  qeil: { colour: PALETTE[2], pattern: "cross", description: "cross-hatching" },
};

function modePatternDefs(): string {
  const defs: string[] = [];
  for (const mode of MODE_NAMES) {
    const { colour, pattern } = MODE_STYLE[mode];
    if (pattern === "solid") continue;
    const lines = pattern === "hatch"
      ? [el("path", { d: "M0 8L8 0M-2 2L2 -2M6 10L10 6", stroke: colour, "stroke-width": 2.2 })]
      : [
        el("path", { d: "M0 4H8M4 0V8", stroke: colour, "stroke-width": 2 }),
      ];
    defs.push(el("pattern", { id: `fill-${mode}`, width: 8, height: 8, patternUnits: "userSpaceOnUse" }, [
      el("rect", { x: 0, y: 0, width: 8, height: 8, fill: "#ffffff" }),
      ...lines,
    ]));
  }
  return el("defs", {}, defs);
}

function modeFill(mode: ModeName): string {
  return MODE_STYLE[mode].pattern === "solid" ? MODE_STYLE[mode].colour : `url(#fill-${mode})`;
}

function modeSwatch(mode: ModeName): string {
  return el("rect", {
    x: 0,
    y: 0,
    width: 24,
    height: 12,
    fill: modeFill(mode),
    stroke: MODE_STYLE[mode].colour,
    "stroke-width": 1.5,
  });
}

interface BarPanelOptions {
  frame: Frame;
  title: string;
  yTitle: string;
  tasks: readonly TaskName[];
  modes: readonly ModeName[];
  value: (task: TaskName, mode: ModeName) => number | null | undefined;
  label: (value: number) => string;
}

function barPanel(o: BarPanelOptions): string {
  const values = o.tasks.flatMap((t) => o.modes.map((m) => o.value(t, m))).filter((v): v is number =>
    typeof v === "number"
  );
  const { ticks, max } = niceTicks(0, Math.max(0, ...values), 5);
  const y = scale(0, max, o.frame.y + o.frame.height, o.frame.y);
  const groupPx = o.frame.width / Math.max(1, o.tasks.length);
  const barPx = Math.min(36, (groupPx * 0.8) / Math.max(1, o.modes.length));
  const parts: string[] = [
    text(o.title, {
      x: o.frame.x + o.frame.width / 2,
      y: o.frame.y - 14,
      "text-anchor": "middle",
      "font-size": 14,
      "font-weight": "bold",
    }),
    axes({
      frame: o.frame,
      yTicks: ticks.map((v) => ({ value: v, label: formatTick(v) })),
      yScale: y,
      xTitle: "task",
      yTitle: o.yTitle,
    }),
  ];
  o.tasks.forEach((task, ti) => {
    const groupX = o.frame.x + ti * groupPx + (groupPx - barPx * o.modes.length) / 2;
    parts.push(
      text(task, {
        x: o.frame.x + ti * groupPx + groupPx / 2,
        y: o.frame.y + o.frame.height + 18,
        "text-anchor": "middle",
        class: "group",
      }),
    );
    o.modes.forEach((mode, mi) => {
      const v = o.value(task, mode);
      const x = groupX + mi * barPx;
      if (v === undefined) return;
      if (v === null) {
        parts.push(
          text("n/a", {
            x: x + barPx / 2,
            y: o.frame.y + o.frame.height - 6,
            "text-anchor": "middle",
            "font-size": 10,
            "data-series": mode,
          }),
        );
        return;
      }
      const top = y(v);
      parts.push(el("rect", {
        x: x + 1,
        y: top,
        width: barPx - 2,
        height: Math.max(0, o.frame.y + o.frame.height - top),
        fill: modeFill(mode),
        stroke: MODE_STYLE[mode].colour,
        "stroke-width": 1.5,
        class: "bar",
        "data-series": mode,
        "data-task": task,
        "data-value": v,
      }));
      parts.push(text(o.label(v), { x: x + barPx / 2, y: top - 4, "text-anchor": "middle", "font-size": 10 }));
    });
  });
  return el("g", { class: "panel" }, parts);
}

/** Modes and tasks present in a report, in report order. */
function present(report: EvalReport): { tasks: TaskName[]; modes: ModeName[] } {
  const tasks = TASK_NAMES.filter((t) => report.tasks[t] !== undefined);
  const modes = MODE_NAMES.filter((m) => tasks.some((t) => report.tasks[t]?.modes[m] !== undefined));
  return { tasks, modes };
}

function modeRow(report: EvalReport, task: TaskName, mode: ModeName): ModeMetrics | undefined {
  return report.tasks[task]?.modes[mode];
}

/**
 * Energy per query and accuracy per mode, grouped by task (two panels).
 * @throws RangeError when the report has no rows
 */
export function energyAccuracyPlot(report: EvalReport): string {
  const { tasks, modes } = present(report);
  if (tasks.length === 0 || modes.length === 0) throw new RangeError("energy/accuracy plot of a report without rows");
  const panelW = 330;
  // Two panels, then the legend to their right, clear of the bars.
  const legendX = 80 + panelW + 110 + panelW + 30;
  const width = legendX + 230;
  const height = 420;
  const energyPanel = barPanel({
    frame: { x: 80, y: 50, width: panelW, height: 290 },
    title: "Energy per query",
    yTitle: "energy per query (J)",
    tasks,
    modes,
    value: (t, m) => modeRow(report, t, m)?.joulesPerQuery,
    label: formatTick,
  });
  const accuracyPanel = barPanel({
    frame: { x: 80 + panelW + 110, y: 50, width: panelW, height: 290 },
    title: "Selected-answer accuracy",
    yTitle: "accuracy (%)",
    tasks,
    modes,
    value: (t, m) => {
      const row = modeRow(report, t, m);
      return row === undefined ? undefined : row.accuracy === null ? null : row.accuracy * 100;
    },
    label: (v) => `${v.toFixed(1)}`,
  });
  const entries: LegendEntry[] = modes.map((m) => ({
    swatch: modeSwatch(m),
    label: `${m} (${MODE_STYLE[m].description})`,
  }));
  return svgDocument(
    width,
    height,
    `Energy and accuracy per mode: ${report.board}, ${report.model}`,
    `Grouped bars per task for modes ${modes.join(", ")}. Energy is integrated from the board's power rails; ` +
      `cost shape ${report.costShape.name} (${report.costShape.source}).`,
    [
      modePatternDefs(),
      energyPanel,
      accuracyPanel,
      legend(legendX, 50, entries, "mode"),
      text(`board ${report.board} | model ${report.model} | cost shape ${report.costShape.name}`, {
        x: 10,
        y: height - 10,
        "font-size": 10,
        fill: "#444444",
      }),
    ],
  );
}

/**
 * At most about `maxPoints` points: the series cut into buckets, each kept as
 * its lowest and highest point in time order, so peaks (a trip crossing)
 * survive the thinning.
 */
export function decimate(points: readonly TracePoint[], maxPoints: number): TracePoint[] {
  if (points.length <= maxPoints) return [...points];
  const buckets = Math.max(1, Math.floor(maxPoints / 2));
  const size = points.length / buckets;
  const out: TracePoint[] = [];
  for (let b = 0; b < buckets; b++) {
    const slice = points.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    if (slice.length === 0) continue;
    let lo = slice[0];
    let hi = slice[0];
    for (const p of slice) {
      if (p.value < lo.value) lo = p;
      if (p.value > hi.value) hi = p;
    }
    if (lo === hi) out.push(lo);
    else out.push(...(lo.tMs <= hi.tMs ? [lo, hi] : [hi, lo]));
  }
  return out;
}

function lineSwatch(i: number, shape: MarkerShape): string {
  const colour = PALETTE[i % PALETTE.length];
  return el("g", {}, [
    el("line", {
      x1: 0,
      y1: 6,
      x2: 24,
      y2: 6,
      stroke: colour,
      "stroke-width": 2,
      "stroke-dasharray": DASHES[i % DASHES.length],
    }),
    marker(shape, 12, 6, 3.5, { fill: colour, stroke: "#ffffff", "stroke-width": 0.8 }),
  ]);
}

/** Which trace to plot. */
export type TraceKind = "power" | "temperature";

/** Options of {@linkcode tracePlot}. */
export interface TracePlotOptions {
  /** Subtitle naming the run (board, model). @default "" */
  subtitle?: string;
  /** Points kept per series. @default 600 */
  maxPoints?: number;
}

/**
 * Power (W) or temperature (°C) per unit over the run; temperature with the
 * zones' passive and critical trip lines, and throttle events marked.
 * @throws RangeError when no unit has a point of that kind
 */
export function tracePlot(traces: TelemetryTraces, kind: TraceKind, options: TracePlotOptions = {}): string {
  const maxPoints = options.maxPoints ?? 600;
  const series = traces.units
    .map((u) => ({ name: u.unitId, points: decimate(kind === "power" ? u.powerW : u.tempC, maxPoints) }))
    .filter((s) => s.points.length > 0);
  if (kind === "power" && traces.totalPowerW.length > 0) {
    series.push({ name: "board total", points: decimate(traces.totalPowerW, maxPoints) });
  }
  if (series.length === 0) throw new RangeError(`no ${kind} readings to plot`);
  const trips = kind === "temperature" ? traces.trips.filter((t) => t.type === "passive" || t.type === "critical") : [];
  const all = series.flatMap((s) => s.points);
  const tMax = Math.max(...all.map((p) => p.tMs)) / 1000;
  const values = [...all.map((p) => p.value), ...trips.map((t) => t.tempC)];
  const lowest = kind === "power" ? 0 : Math.min(...values);
  const yAxis = niceTicks(lowest, Math.max(...values), 6);
  const xAxis = niceTicks(0, tMax > 0 ? tMax : 1, 8);
  const width = 900;
  const height = 440;
  const frame: Frame = { x: 80, y: 50, width: 600, height: 310 };
  const x = scale(xAxis.min, xAxis.max, frame.x, frame.x + frame.width);
  const y = scale(yAxis.min, yAxis.max, frame.y + frame.height, frame.y);
  const parts: string[] = [
    axes({
      frame,
      xTicks: xAxis.ticks.map((v) => ({ value: v, label: formatTick(v) })),
      xScale: x,
      yTicks: yAxis.ticks.map((v) => ({ value: v, label: formatTick(v) })),
      yScale: y,
      xTitle: "time since the first sample (s)",
      yTitle: kind === "power" ? "power (W)" : "temperature (\u00b0C)",
    }),
  ];
  const entries: LegendEntry[] = [];
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const shape = MARKERS[i % MARKERS.length];
    const d = s.points.map((p, j) => `${j === 0 ? "M" : "L"}${num(x(p.tMs / 1000))} ${num(y(p.value))}`).join("");
    const markers: string[] = [];
    // A marker every ~40 px of the line's length in points, offset per series so markers do not stack.
    const every = Math.max(1, Math.floor(s.points.length / 15));
    for (let j = Math.floor((every * i) / series.length); j < s.points.length; j += every) {
      const p = s.points[j];
      markers.push(
        marker(shape, x(p.tMs / 1000), y(p.value), 3.5, { fill: colour, stroke: "#ffffff", "stroke-width": 0.8 }),
      );
    }
    parts.push(el("g", { class: "series", "data-series": s.name }, [
      el("path", {
        d,
        fill: "none",
        stroke: colour,
        "stroke-width": 1.6,
        "stroke-dasharray": DASHES[i % DASHES.length],
      }),
      ...markers,
    ]));
    entries.push({ swatch: lineSwatch(i, shape), label: s.name });
  });
  for (const trip of trips) {
    const ty = y(trip.tempC);
    const colour = trip.type === "critical" ? "#B00000" : "#D55E00";
    parts.push(el("g", { class: "trip", "data-series": `trip-${trip.type}-${trip.tempC}` }, [
      el("line", {
        x1: frame.x,
        y1: ty,
        x2: frame.x + frame.width,
        y2: ty,
        stroke: colour,
        "stroke-width": 1.4,
        "stroke-dasharray": "6 3 1 3",
      }),
      // Labelled at the left end: temperatures start low, so the label rarely sits on a trace there.
      text(`${trip.type} trip ${formatTick(trip.tempC)} \u00b0C`, {
        x: frame.x + 6,
        y: ty - 4,
        fill: colour,
        "font-size": 10,
      }),
    ]));
  }
  if (trips.length > 0) {
    entries.push({
      swatch: el("line", {
        x1: 0,
        y1: 6,
        x2: 24,
        y2: 6,
        stroke: "#D55E00",
        "stroke-width": 1.4,
        "stroke-dasharray": "6 3 1 3",
      }),
      label: "trip point",
    });
  }
  if (traces.throttleEventsMs.length > 0) {
    const ticks = traces.throttleEventsMs.map((tMs) =>
      marker("triangle", x(tMs / 1000), frame.y + 6, 5, { fill: "#B00000" })
    );
    parts.push(el("g", { class: "throttle-events", "data-series": "throttle" }, ticks));
    entries.push({ swatch: marker("triangle", 12, 6, 5, { fill: "#B00000" }), label: "throttle event" });
  }
  const title = kind === "power" ? "Power per unit over the run" : "Temperature per unit over the run";
  return svgDocument(
    width,
    height,
    title,
    `${title}${options.subtitle ? ` (${options.subtitle})` : ""}: ${series.map((s) => s.name).join(", ")}` +
      (trips.length > 0 ? `; trip points ${trips.map((t) => `${t.type} ${t.tempC} \u00b0C`).join(", ")}` : ""),
    [
      text(title, {
        x: frame.x + frame.width / 2,
        y: 28,
        "text-anchor": "middle",
        "font-size": 15,
        "font-weight": "bold",
      }),
      ...(options.subtitle
        ? [
          text(options.subtitle, {
            x: frame.x + frame.width / 2,
            y: 44,
            "text-anchor": "middle",
            "font-size": 11,
            fill: "#444444",
          }),
        ]
        : []),
      ...parts,
      legend(frame.x + frame.width + 16, frame.y, entries, kind === "power" ? "series" : "unit"),
    ],
  );
}

/** What a Pareto point is. */
export type ParetoRole = "front" | "chosen" | "standard" | "greedy";

/** A placement on the energy-latency plane. */
export interface ParetoPoint {
  energyJ: number;
  latencyMs: number;
  /** Device underutilisation in [0, 1] (PGSAM's third objective). */
  underutilization: number;
  role: ParetoRole;
  /** Placement key or description. */
  label?: string;
}

/** The front, the chosen placement and the two baselines of a plan, as predicted by physics. */
export function paretoPointsFromPlan(plan: Plan): ParetoPoint[] {
  const point = (p: Plan["chosen"], role: ParetoRole): ParetoPoint => ({
    energyJ: p.prediction.energyJ,
    latencyMs: p.prediction.latencyMs,
    underutilization: p.prediction.underutilization,
    role,
    label: p.key,
  });
  return [
    ...plan.front.map((p) => point(p, "front")),
    point(plan.chosen, "chosen"),
    point(plan.standard, "standard"),
    point(plan.greedy, "greedy"),
  ];
}

/** Viridis stops, from low to high underutilisation. */
const VIRIDIS = ["#fde725", "#5ec962", "#21918c", "#3b528b", "#440154"];

/** Colour of underutilisation u in [0, 1] on the viridis ramp. */
export function underutilizationColour(u: number): string {
  const t = Math.min(1, Math.max(0, u)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(t));
  const f = t - i;
  const parse = (hex: string) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
  const a = parse(VIRIDIS[i]);
  const b = parse(VIRIDIS[i + 1]);
  return `#${a.map((c, k) => Math.round(c + (b[k] - c) * f).toString(16).padStart(2, "0")).join("")}`;
}

const ROLE_SHAPE: Record<ParetoRole, MarkerShape> = {
  front: "circle",
  chosen: "star",
  standard: "square",
  greedy: "triangle",
};

const ROLE_LABEL: Record<ParetoRole, string> = {
  front: "Pareto front",
  chosen: "chosen (policy)",
  standard: "standard",
  greedy: "greedy (QEIL v1)",
};

function markerRadius(u: number): number {
  return 3.5 + 6 * Math.min(1, Math.max(0, u));
}

/**
 * The Pareto front on energy (x) and latency (y), the chosen point and the
 * baselines by marker shape; underutilisation as colour and marker size.
 * @throws RangeError for no points or a point with non-finite figures
 */
export function paretoPlot(points: readonly ParetoPoint[], subtitle = ""): string {
  if (points.length === 0) throw new RangeError("Pareto plot of no points");
  for (const p of points) {
    if (![p.energyJ, p.latencyMs, p.underutilization].every(Number.isFinite)) {
      throw new RangeError(`Pareto point ${p.label ?? p.role} has non-finite figures`);
    }
  }
  const width = 900;
  const height = 460;
  const frame: Frame = { x: 90, y: 50, width: 580, height: 330 };
  const xAxis = niceTicks(Math.min(...points.map((p) => p.energyJ)), Math.max(...points.map((p) => p.energyJ)), 6);
  const yAxis = niceTicks(Math.min(...points.map((p) => p.latencyMs)), Math.max(...points.map((p) => p.latencyMs)), 6);
  const x = scale(xAxis.min, xAxis.max, frame.x, frame.x + frame.width);
  const y = scale(yAxis.min, yAxis.max, frame.y + frame.height, frame.y);
  const parts: string[] = [
    axes({
      frame,
      xTicks: xAxis.ticks.map((v) => ({ value: v, label: formatTick(v) })),
      xScale: x,
      yTicks: yAxis.ticks.map((v) => ({ value: v, label: formatTick(v) })),
      yScale: y,
      xTitle: "predicted energy per query (J)",
      yTitle: "predicted latency (ms)",
    }),
  ];
  // No line joins the front: it is non-dominated in three objectives (underutilisation too), so its
  // projection on energy and latency zig-zags and a line would suggest a trade-off curve that is not there.
  // Front first, then the highlighted points on top.
  const order: ParetoRole[] = ["front", "standard", "greedy", "chosen"];
  for (const role of order) {
    const group = points.filter((p) => p.role === role).map((p) =>
      marker(ROLE_SHAPE[role], x(p.energyJ), y(p.latencyMs), markerRadius(p.underutilization), {
        fill: underutilizationColour(p.underutilization),
        stroke: role === "front" ? "#333333" : "#000000",
        "stroke-width": role === "front" ? 0.8 : 2,
        "data-underutilization": p.underutilization,
      })
    );
    if (group.length > 0) parts.push(el("g", { class: "points", "data-series": role }, group));
  }
  const roles = order.filter((r) => points.some((p) => p.role === r));
  const entries: LegendEntry[] = roles.map((r) => ({
    swatch: marker(ROLE_SHAPE[r], 12, 6, 5, {
      fill: "#bbbbbb",
      stroke: "#000000",
      "stroke-width": r === "front" ? 0.8 : 2,
    }),
    label: ROLE_LABEL[r],
  }));
  const legendX = frame.x + frame.width + 20;
  const stops = VIRIDIS.map((c, i) => el("stop", { offset: `${(i / (VIRIDIS.length - 1)) * 100}%`, "stop-color": c }));
  const barY = frame.y + 140;
  const colourBar = el("g", { class: "colour-scale" }, [
    el("defs", {}, [el("linearGradient", { id: "underutilization", x1: 0, y1: 0, x2: 1, y2: 0 }, stops)]),
    text("underutilisation (colour and size)", { x: legendX, y: barY - 8, "font-size": 11 }),
    el("rect", { x: legendX, y: barY, width: 160, height: 12, fill: "url(#underutilization)", stroke: "#666666" }),
    ...[0, 0.5, 1].map((u) =>
      el("g", {}, [
        text(String(u), { x: legendX + 160 * u, y: barY + 26, "text-anchor": "middle", "font-size": 10 }),
        marker("circle", legendX + 160 * u, barY + 44, markerRadius(u), {
          fill: underutilizationColour(u),
          stroke: "#333333",
        }),
      ])
    ),
  ]);
  return svgDocument(
    width,
    height,
    "Pareto front of placements",
    `Predicted energy and latency of the placements on the Pareto front, the chosen one and the baselines` +
      (subtitle ? ` (${subtitle})` : "") + `; underutilisation shown by colour and marker size.`,
    [
      text("Pareto front of placements", {
        x: frame.x + frame.width / 2,
        y: 28,
        "text-anchor": "middle",
        "font-size": 15,
        "font-weight": "bold",
      }),
      ...(subtitle
        ? [
          text(subtitle, {
            x: frame.x + frame.width / 2,
            y: 44,
            "text-anchor": "middle",
            "font-size": 11,
            fill: "#444444",
          }),
        ]
        : []),
      ...parts,
      legend(legendX, frame.y, entries, "placement"),
      colourBar,
    ],
  );
}
