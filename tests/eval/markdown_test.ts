import assert from "node:assert/strict";
import { buildReport, formatFigure, type QueryRecord, renderMarkdown } from "../../src/eval/mod.ts";
import type { ModeName } from "../../src/eval/mod.ts";

function records(modes: readonly ModeName[]): QueryRecord[] {
  return modes.map((mode, i) => ({
    task: "wikitext",
    mode,
    id: "wikitext/0",
    index: 0,
    answered: true,
    correct: null,
    samplesUsed: 1,
    k: 1,
    samplesFinished: 0,
    samplesCorrect: null,
    passAtK: null,
    energyByRailJ: {},
    totalRails: [],
    faults: [],
    energyJ: 10 * (i + 1),
    meteredMs: 2000,
    latencyMs: 2000,
    throttleEvents: 0,
    faultsInjected: 0,
    faultsRecovered: 0,
    logLikelihood: -200,
    words: 100,
    bytes: 400,
  }));
}

function markdown(modes: ModeName[]): string {
  return renderMarkdown(buildReport({
    header: {
      board: "rk3588",
      model: "/models/m",
      costShape: { source: "model", name: "m", family: "llama", layers: 2, hiddenSize: 8, weightPrecision: "fp16" },
    },
    records: records(modes),
    tasks: ["wikitext"],
    modes,
    settings: { tasks: ["wikitext"], modes, order: "williams", limit: 1 },
  }));
}

Deno.test("renderMarkdown() puts modes side by side with ratios to standard", () => {
  const md = markdown(["standard", "greedy", "qeil"]);
  assert.match(md, /\| metric \| standard \| greedy \| qeil \| greedy \/ standard \| qeil \/ standard \|/);
  assert.match(md, /\| energy per query \(J\) \| 10 \| 20 \| 30 \| 2x \| 3x \|/);
  // ll -200 over 100 words: e^2 = 7.389; over 400 bytes: bits per byte 0.5 / ln 2 = 0.7213.
  assert.match(md, /\| word_perplexity \| 7.389 \| 7.389 \| 7.389 \| 1x \| 1x \|/);
  assert.match(md, /\| bits_per_byte \| 0.7213 \| 0.7213 \| 0.7213 \| 1x \| 1x \|/);
  assert.match(md, /\| accuracy \(selected answer\) \| n\/a \| n\/a \| n\/a \| n\/a \| n\/a \|/);
  assert.match(md, /first 1 queries per task/);
  assert.match(md, /\| wikitext \| qeil accuracy within 1 point of standard's \| not applicable \|/);
});

Deno.test("renderMarkdown() leaves out ratios when standard was not run", () => {
  const md = markdown(["greedy", "qeil"]);
  assert.match(md, /\| metric \| greedy \| qeil \|\n/);
  assert.match(
    md,
    /\| wikitext \| qeil energy per query <= 0.25 x standard's \| not applicable \| standard was not run \|/,
  );
});

Deno.test("formatFigure() keeps about four significant digits", () => {
  assert.equal(formatFigure(null), "n/a");
  assert.equal(formatFigure(0), "0");
  assert.equal(formatFigure(1234.5678), "1235");
  assert.equal(formatFigure(0.000012345), "1.234e-5");
  assert.equal(formatFigure(2_500_000), "2.500e+6");
});
