/**
 * Hand-written SVG: escaping, elements, "nice" axis ticks, number labels,
 * a colour-blind-safe palette (Okabe-Ito) and the marker shapes and dash
 * patterns that keep series apart without colour.
 */

/** Escapes text and attribute values for XML. */
export function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

/** Attribute values: numbers are rounded to 2 decimals, undefined is left out. */
export type Attrs = Record<string, string | number | undefined>;

function attrText(attrs: Attrs): string {
  return Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(typeof v === "number" ? num(v) : String(v))}"`)
    .join("");
}

/** A number as SVG writes it: at most 2 decimals, no `-0`. */
export function num(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`SVG coordinate must be finite, got ${value}`);
  const r = Math.round(value * 100) / 100;
  return Object.is(r, -0) ? "0" : String(r);
}

/** An element; `children` are already-serialised markup. */
export function el(name: string, attrs: Attrs = {}, children: readonly string[] = []): string {
  return children.length === 0
    ? `<${name}${attrText(attrs)}/>`
    : `<${name}${attrText(attrs)}>${children.join("")}</${name}>`;
}

/** A text element; `content` is escaped. */
export function text(content: string, attrs: Attrs = {}): string {
  return `<text${attrText(attrs)}>${escapeXml(content)}</text>`;
}

/** The whole document: XML declaration, `<svg>` root with a title and a description. */
export function svgDocument(
  widthPx: number,
  heightPx: number,
  title: string,
  description: string,
  body: readonly string[],
): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n` +
    el("svg", {
      xmlns: "http://www.w3.org/2000/svg",
      width: widthPx,
      height: heightPx,
      viewBox: `0 0 ${num(widthPx)} ${num(heightPx)}`,
      "font-family": "DejaVu Sans, Arial, sans-serif",
      "font-size": 12,
      role: "img",
    }, [
      `<title>${escapeXml(title)}</title>`,
      `<desc>${escapeXml(description)}</desc>`,
      el("rect", { x: 0, y: 0, width: widthPx, height: heightPx, fill: "#ffffff" }),
      ...body,
    ]) + "\n";
}

/** Okabe-Ito colours (distinguishable with the common colour-vision deficiencies). */
export const PALETTE: readonly string[] = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#CC79A7",
  "#D55E00",
  "#56B4E9",
  "#000000",
  "#F0E442",
];

/** Dash patterns, one per series (solid first). */
export const DASHES: readonly (string | undefined)[] = [undefined, "8 4", "2 3", "10 3 2 3", "4 4", "12 2 2 2 2 2"];

/** Marker shapes, one per series. */
export type MarkerShape = "circle" | "square" | "triangle" | "diamond" | "cross" | "star";
export const MARKERS: readonly MarkerShape[] = ["circle", "square", "triangle", "diamond", "cross", "star"];

/** A marker of `shape` centred at (x, y) with radius `r`. */
export function marker(shape: MarkerShape, x: number, y: number, r: number, attrs: Attrs = {}): string {
  switch (shape) {
    case "circle":
      return el("circle", { cx: x, cy: y, r, ...attrs });
    case "square":
      return el("rect", { x: x - r * 0.85, y: y - r * 0.85, width: r * 1.7, height: r * 1.7, ...attrs });
    case "triangle":
      return el("path", {
        d: `M${num(x)} ${num(y - r)}L${num(x + r)} ${num(y + r * 0.8)}L${num(x - r)} ${num(y + r * 0.8)}Z`,
        ...attrs,
      });
    case "diamond":
      return el("path", {
        d: `M${num(x)} ${num(y - r * 1.2)}L${num(x + r)} ${num(y)}L${num(x)} ${num(y + r * 1.2)}L${num(x - r)} ${
          num(y)
        }Z`,
        ...attrs,
      });
    case "cross": {
      const a = r * 0.35;
      return el("path", {
        d: `M${num(x - a)} ${num(y - r)}H${num(x + a)}V${num(y - a)}H${num(x + r)}V${num(y + a)}H${num(x + a)}V${
          num(y + r)
        }H${num(x - a)}V${num(y + a)}H${num(x - r)}V${num(y - a)}H${num(x - a)}Z`,
        ...attrs,
      });
    }
    case "star": {
      const points: string[] = [];
      for (let i = 0; i < 10; i++) {
        const radius = i % 2 === 0 ? r * 1.3 : r * 0.55;
        const angle = -Math.PI / 2 + (i * Math.PI) / 5;
        points.push(`${num(x + radius * Math.cos(angle))} ${num(y + radius * Math.sin(angle))}`);
      }
      return el("path", { d: `M${points.join("L")}Z`, ...attrs });
    }
  }
}

/**
 * About `count` evenly spaced ticks on 1-2-5 steps covering [min, max]
 * (Heckbert's "nice numbers"). A degenerate range is widened around its value.
 */
export function niceTicks(min: number, max: number, count = 5): { ticks: number[]; min: number; max: number } {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    throw new RangeError(`axis range must be finite, got ${min}..${max}`);
  }
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const nice = (x: number, round: boolean) => {
    const exp = Math.floor(Math.log10(x));
    const f = x / 10 ** exp;
    const nf = round ? (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) : (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10);
    return nf * 10 ** exp;
  };
  const step = nice(nice(max - min, false) / Math.max(1, count - 1), true);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push(Math.round(v / step) * step);
  return { ticks: ticks.map((t) => Number(t.toPrecision(12))), min: lo, max: hi };
}

/** A tick or value label: 3 significant digits, exponent form outside [0.001, 100000). */
export function formatTick(value: number): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 100_000 || abs < 0.001) return value.toExponential(1);
  return String(Number(value.toPrecision(3)));
}

/** Linear map from a data range to a pixel range. */
export function scale(domainMin: number, domainMax: number, rangeMin: number, rangeMax: number): (v: number) => number {
  const span = domainMax - domainMin;
  return (v) => rangeMin + (span === 0 ? 0.5 : (v - domainMin) / span) * (rangeMax - rangeMin);
}

/** A plot area in pixels. */
export interface Frame {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Options of {@linkcode axes}. */
export interface AxesOptions {
  frame: Frame;
  xTicks?: readonly { value: number; label: string }[];
  yTicks: readonly { value: number; label: string }[];
  xScale?: (v: number) => number;
  yScale: (v: number) => number;
  xTitle: string;
  yTitle: string;
  /** Draws light horizontal grid lines at the y ticks. @default true */
  grid?: boolean;
}

/** Axis lines, ticks, tick labels, grid and axis titles. */
export function axes(options: AxesOptions): string {
  const { frame, yScale } = options;
  const parts: string[] = [];
  const bottom = frame.y + frame.height;
  for (const t of options.yTicks) {
    const y = yScale(t.value);
    if (options.grid ?? true) {
      parts.push(
        el("line", { x1: frame.x, y1: y, x2: frame.x + frame.width, y2: y, stroke: "#dddddd", "stroke-width": 1 }),
      );
    }
    parts.push(el("line", { x1: frame.x - 5, y1: y, x2: frame.x, y2: y, stroke: "#000000" }));
    parts.push(text(t.label, { x: frame.x - 8, y: y + 4, "text-anchor": "end", class: "tick" }));
  }
  if (options.xTicks && options.xScale) {
    for (const t of options.xTicks) {
      const x = options.xScale(t.value);
      parts.push(el("line", { x1: x, y1: bottom, x2: x, y2: bottom + 5, stroke: "#000000" }));
      parts.push(text(t.label, { x, y: bottom + 18, "text-anchor": "middle", class: "tick" }));
    }
  }
  parts.push(el("line", { x1: frame.x, y1: frame.y, x2: frame.x, y2: bottom, stroke: "#000000", "stroke-width": 1.2 }));
  parts.push(
    el("line", {
      x1: frame.x,
      y1: bottom,
      x2: frame.x + frame.width,
      y2: bottom,
      stroke: "#000000",
      "stroke-width": 1.2,
    }),
  );
  parts.push(
    text(options.xTitle, {
      x: frame.x + frame.width / 2,
      y: bottom + 38,
      "text-anchor": "middle",
      class: "axis-title",
    }),
  );
  const cy = frame.y + frame.height / 2;
  parts.push(text(options.yTitle, {
    x: frame.x - 52,
    y: cy,
    "text-anchor": "middle",
    transform: `rotate(-90 ${num(frame.x - 52)} ${num(cy)})`,
    class: "axis-title",
  }));
  return el("g", { class: "axes" }, parts);
}

/** One legend entry: a swatch (already drawn at the origin, about 24 x 12 px) and its label. */
export interface LegendEntry {
  swatch: string;
  label: string;
}

/** A legend box at (x, y): entries stacked vertically. */
export function legend(x: number, y: number, entries: readonly LegendEntry[], title?: string): string {
  const rowPx = 18;
  const width = 40 + Math.max(title ? title.length * 7 : 0, ...entries.map((e) => e.label.length * 6.6));
  const height = 8 + (title ? rowPx : 0) + entries.length * rowPx;
  const parts: string[] = [
    el("rect", { x: 0, y: 0, width, height, fill: "#ffffff", "fill-opacity": 0.9, stroke: "#999999" }),
  ];
  let row = 0;
  if (title) {
    parts.push(text(title, { x: 6, y: 15, "font-weight": "bold" }));
    row++;
  }
  for (const e of entries) {
    const top = 4 + row * rowPx;
    parts.push(el("g", { transform: `translate(6 ${num(top + 3)})` }, [e.swatch]));
    parts.push(text(e.label, { x: 36, y: top + 13 }));
    row++;
  }
  return el("g", { class: "legend", transform: `translate(${num(x)} ${num(y)})` }, parts);
}
