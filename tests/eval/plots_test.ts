import assert from "node:assert/strict";
import { createRng, parseDecoderShape } from "../../src/core/mod.ts";
import { getProfile } from "../../src/hal/mod.ts";
import { createBoardModel } from "../../src/physics/mod.ts";
import { plan } from "../../src/pgsam/mod.ts";
import {
  buildReport,
  decimate,
  energyAccuracyPlot,
  paretoPlot,
  type ParetoPoint,
  paretoPointsFromPlan,
  type QueryRecord,
  type TelemetryTraces,
  tracePlot,
  underutilizationColour,
} from "../../src/eval/mod.ts";
import { allText, findAll, parseXml, type XmlElement } from "./xml_check.ts";

const STORIES = new URL("../../../shared/data/models/stories260k/config.json", import.meta.url).pathname;

function record(
  task: QueryRecord["task"],
  mode: QueryRecord["mode"],
  energyJ: number,
  correct: boolean | null,
): QueryRecord {
  return {
    task,
    mode,
    id: `${task}/0`,
    index: 0,
    answered: true,
    correct,
    samplesUsed: 1,
    k: 1,
    samplesFinished: 0,
    samplesCorrect: null,
    passAtK: null,
    energyByRailJ: {},
    totalRails: [],
    faults: [],
    energyJ,
    meteredMs: 1000,
    latencyMs: 1000,
    throttleEvents: 0,
    faultsInjected: 0,
    faultsRecovered: 0,
    ...(task === "wikitext" ? { logLikelihood: -10, words: 5, bytes: 20 } : {}),
    ...(task === "arc_challenge" ? { acc: true, accNorm: false } : {}),
    ...(task === "gsm8k" ? { strictMatch: true, flexibleMatch: true } : {}),
  };
}

function report(board = "sim:rk3588") {
  const records = [
    record("wikitext", "standard", 12, null),
    record("wikitext", "qeil", 3, null),
    record("gsm8k", "standard", 8, true),
    record("gsm8k", "greedy", 6, false),
    record("gsm8k", "qeil", 2, true),
  ];
  return buildReport({
    header: {
      board,
      model: "stories<260k>",
      costShape: {
        source: "model",
        name: "stories & co",
        family: "llama",
        layers: 5,
        hiddenSize: 64,
        weightPrecision: "fp32",
      },
    },
    records,
    tasks: ["wikitext", "gsm8k"],
    modes: ["standard", "greedy", "qeil"],
    settings: { tasks: ["wikitext", "gsm8k"], modes: ["standard", "greedy", "qeil"], order: "williams" },
  }).report;
}

function bySeries(root: XmlElement, name: string): XmlElement[] {
  return findAll(root, (e) => e.attributes["data-series"] === name);
}

Deno.test("energyAccuracyPlot() draws one bar per task and mode, with patterns, values and a legend", () => {
  const svg = energyAccuracyPlot(report());
  const root = parseXml(svg);
  const bars = findAll(root, (e) => e.attributes.class === "bar");
  // Energy: wikitext standard + qeil, gsm8k x3; accuracy: gsm8k x3 (wikitext has none: "n/a" labels).
  assert.equal(bars.length, 5 + 3);
  const energyOf = (task: string, mode: string) =>
    bars.filter((b) => b.attributes["data-task"] === task && b.attributes["data-series"] === mode).map((b) =>
      Number(b.attributes["data-value"])
    );
  assert.deepEqual(energyOf("gsm8k", "qeil"), [2, 100]);
  assert.deepEqual(energyOf("gsm8k", "greedy"), [6, 0]);
  assert.deepEqual(energyOf("wikitext", "standard"), [12]);
  // Bars of a taller value are taller.
  const height = (task: string, mode: string) =>
    Number(
      bars.find((b) => b.attributes["data-task"] === task && b.attributes["data-series"] === mode)!.attributes.height,
    );
  assert.ok(height("wikitext", "standard") > height("gsm8k", "standard"));
  assert.ok(Math.abs(height("gsm8k", "standard") / height("gsm8k", "qeil") - 4) < 0.05);
  // Greedy and qeil are hatched, not only coloured.
  assert.equal(bars.find((b) => b.attributes["data-series"] === "greedy")!.attributes.fill, "url(#fill-greedy)");
  assert.ok(findAll(root, (e) => e.name === "pattern").length === 2);
  const texts = allText(root);
  assert.ok(
    texts.includes("standard (solid)") && texts.includes("greedy (diagonal hatching)") &&
      texts.includes("qeil (cross-hatching)"),
  );
  assert.ok(texts.includes("n/a"));
  // Names with XML specials are escaped in the document, intact once parsed.
  assert.ok(svg.includes("stories&lt;260k&gt;") && svg.includes("stories &amp; co"));
  assert.ok(texts.some((t) => t.includes("model stories<260k>")));
});

Deno.test("energyAccuracyPlot() refuses a report without rows", () => {
  const empty = { ...report(), tasks: {} };
  assert.throws(() => energyAccuracyPlot(empty), RangeError);
});

function traces(): TelemetryTraces {
  const series = (f: (i: number) => number) => Array.from({ length: 50 }, (_, i) => ({ tMs: i * 1000, value: f(i) }));
  return {
    units: [
      { unitId: "cpu_big", powerW: series((i) => 2 + (i % 5)), tempC: series((i) => 40 + i) },
      { unitId: "npu", powerW: series(() => 0.5), tempC: series((i) => 38 + i / 2) },
      { unitId: "gpu", powerW: [], tempC: [] },
    ],
    totalPowerW: series((i) => 5 + (i % 5)),
    trips: [
      { type: "active", tempC: 60, zones: ["soc-thermal"] },
      { type: "passive", tempC: 85, zones: ["soc-thermal"] },
      { type: "critical", tempC: 115, zones: ["soc-thermal"] },
    ],
    throttleEventsMs: [30_000, 41_000],
  };
}

Deno.test("tracePlot() draws temperature per unit with trip lines and throttle events", () => {
  const root = parseXml(tracePlot(traces(), "temperature", { subtitle: "sim:rk3588 <virtual>" }));
  const series = findAll(root, (e) => e.attributes.class === "series").map((e) => e.attributes["data-series"]);
  // The unit without readings is left out rather than drawn empty.
  assert.deepEqual(series, ["cpu_big", "npu"]);
  const dashes = findAll(root, (e) => e.attributes.class === "series").map((g) =>
    g.children[0].attributes["stroke-dasharray"]
  );
  assert.notEqual(dashes[0], dashes[1]);
  assert.deepEqual(bySeries(root, "trip-passive-85").length, 1);
  assert.deepEqual(bySeries(root, "trip-critical-115").length, 1);
  // Only passive and critical trips are lines to respect.
  assert.equal(bySeries(root, "trip-active-60").length, 0);
  assert.equal(bySeries(root, "throttle")[0].children.length, 2);
  const texts = allText(root);
  assert.ok(texts.includes("passive trip 85 \u00b0C"));
  assert.ok(texts.includes("sim:rk3588 <virtual>"));
  assert.ok(texts.includes("temperature (\u00b0C)"));
  assert.ok(texts.includes("throttle event"));
  // Axis reaches the critical trip.
  const ticks = findAll(root, (e) => e.attributes.class === "tick").map((e) => Number(e.text));
  assert.ok(Math.max(...ticks) >= 115);
});

Deno.test("tracePlot() draws power per unit and the board total", () => {
  const root = parseXml(tracePlot(traces(), "power"));
  const series = findAll(root, (e) => e.attributes.class === "series").map((e) => e.attributes["data-series"]);
  assert.deepEqual(series, ["cpu_big", "npu", "board total"]);
  assert.equal(findAll(root, (e) => e.attributes.class === "trip").length, 0);
  const path = bySeries(root, "cpu_big")[0].children[0].attributes.d;
  assert.equal(path.match(/[ML]/g)!.length, 50);
  assert.throws(() => tracePlot({ ...traces(), units: [], totalPowerW: [] }, "power"), /no power readings/);
});

Deno.test("decimate() keeps each bucket's extremes in time order", () => {
  const points = Array.from({ length: 1000 }, (_, i) => ({ tMs: i, value: i === 537 ? 99 : Math.sin(i / 10) }));
  const kept = decimate(points, 100);
  assert.ok(kept.length <= 100);
  assert.ok(kept.some((p) => p.value === 99));
  assert.ok(kept.every((p, i) => i === 0 || p.tMs > kept[i - 1].tMs));
  assert.equal(decimate(points.slice(0, 10), 100).length, 10);
});

Deno.test("paretoPlot() draws a real PGSAM front, the chosen point and the baselines", () => {
  const priors = getProfile("rk3588").priors;
  const model = createBoardModel(priors);
  const shape = parseDecoderShape(JSON.parse(Deno.readTextFileSync(STORIES)), STORIES);
  const state = {
    tempsC: {},
    ambientC: model.ambientC,
    memAvailableBytes: 4e9,
    healthyUnits: [...model.unitIds],
    maxFreqHz: {},
  };
  const result = plan(
    model,
    state,
    { shape, promptTokens: 64, genTokens: 32, samples: 4 },
    { maxEvaluations: 300 },
    createRng(1),
  );
  const points = paretoPointsFromPlan(result);
  assert.equal(points.filter((p) => p.role === "front").length, result.front.length);
  const root = parseXml(paretoPlot(points, "gsm8k/0 on rk3588"));
  assert.equal(bySeries(root, "front")[0].children.length, result.front.length);
  for (const role of ["chosen", "standard", "greedy"]) assert.equal(bySeries(root, role)[0].children.length, 1, role);
  const texts = allText(root);
  for (
    const label of [
      "Pareto front",
      "chosen (policy)",
      "standard",
      "greedy (QEIL v1)",
      "underutilisation (colour and size)",
    ]
  ) {
    assert.ok(texts.includes(label), label);
  }
  assert.equal(findAll(root, (e) => e.name === "linearGradient").length, 1);
});

Deno.test("paretoPlot() shows underutilisation as colour and marker size", () => {
  const points: ParetoPoint[] = [
    { energyJ: 1, latencyMs: 30, underutilization: 0, role: "front" },
    { energyJ: 2, latencyMs: 20, underutilization: 1, role: "front" },
    { energyJ: 3, latencyMs: 10, underutilization: 0.5, role: "chosen", label: "a<b>" },
  ];
  const root = parseXml(paretoPlot(points));
  const [low, high] = bySeries(root, "front")[0].children;
  assert.equal(low.attributes.fill, underutilizationColour(0));
  assert.equal(high.attributes.fill, underutilizationColour(1));
  assert.ok(Number(high.attributes.r) > Number(low.attributes.r));
  assert.equal(underutilizationColour(0), "#fde725");
  assert.equal(underutilizationColour(1), "#440154");
  assert.equal(underutilizationColour(0.5), "#21918c");
  assert.throws(() => paretoPlot([]), RangeError);
  assert.throws(
    () => paretoPlot([{ energyJ: Number.NaN, latencyMs: 1, underutilization: 0, role: "front" }]),
    /non-finite/,
  );
});
