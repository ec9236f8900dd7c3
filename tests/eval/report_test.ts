import assert from "node:assert/strict";
import {
  buildReport,
  checkTargets,
  type CostShapeInfo,
  describeCostShape,
  type QueryRecord,
} from "../../src/eval/mod.ts";
import type { DecoderShape } from "../../src/core/mod.ts";
import type { ModeName, TaskName } from "../../src/eval/mod.ts";

const COST: CostShapeInfo = {
  source: "file",
  name: "Llama-3.2-1B int4",
  path: "/tmp/llama.json",
  family: "llama",
  layers: 16,
  hiddenSize: 2048,
  weightPrecision: "int4",
};
const HEADER = { board: "sim:rk3588", model: "stories260k", costShape: COST };

function rec(task: TaskName, mode: ModeName, i: number, fields: Partial<QueryRecord>): QueryRecord {
  return {
    task,
    mode,
    id: `${task}/${i}`,
    index: i,
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
    energyJ: 1,
    meteredMs: 1000,
    latencyMs: 1000,
    throttleEvents: 0,
    faultsInjected: 0,
    faultsRecovered: 0,
    ...fields,
  };
}

/** Four GSM8K queries per mode with hand-picked figures. */
function gsmRecords(): QueryRecord[] {
  const out: QueryRecord[] = [];
  const correct = {
    standard: [true, true, false, true],
    qeil: [true, false, true, true],
    greedy: [false, false, true, true],
  };
  const energyJ = { standard: [10, 12, 8, 10], qeil: [2, 3, 2, 3], greedy: [5, 5, 5, 5] };
  const latencyMs = { standard: [100, 200, 300, 400], qeil: [90, 110, 350, 150], greedy: [500, 500, 500, 500] };
  for (const mode of ["standard", "qeil", "greedy"] as const) {
    for (let i = 0; i < 4; i++) {
      out.push(rec("gsm8k", mode, i, {
        correct: correct[mode][i],
        energyJ: energyJ[mode][i],
        meteredMs: latencyMs[mode][i],
        latencyMs: latencyMs[mode][i],
        samplesUsed: mode === "qeil" ? 3 : 8,
        k: 8,
        samplesFinished: mode === "qeil" ? 3 : 8,
        samplesCorrect: 2,
        passAtK: correct[mode][i] ? 1 : 0.5,
        strictMatch: i === 0,
        flexibleMatch: i < 2,
        faultsInjected: mode === "qeil" && i === 0 ? 2 : 0,
        faultsRecovered: mode === "qeil" && i === 0 ? 2 : 0,
      }));
    }
  }
  return out;
}

const SETTINGS = {
  tasks: ["gsm8k" as const],
  modes: ["standard" as const, "greedy" as const, "qeil" as const],
  order: "williams" as const,
};

Deno.test("buildReport() aggregates per-query records into the --json shape", () => {
  const result = buildReport({
    header: HEADER,
    records: gsmRecords(),
    tasks: ["gsm8k"],
    modes: ["standard", "greedy", "qeil"],
    settings: SETTINGS,
  });
  const json = JSON.parse(JSON.stringify(result.report));
  assert.deepEqual(Object.keys(json), ["board", "model", "costShape", "tasks"]);
  assert.deepEqual(Object.keys(json.tasks), ["gsm8k"]);
  assert.deepEqual(Object.keys(json.tasks.gsm8k), ["modes"]);
  assert.deepEqual(Object.keys(json.tasks.gsm8k.modes), ["standard", "greedy", "qeil"]);
  assert.deepEqual(Object.keys(json.tasks.gsm8k.modes.qeil), [
    "accuracy",
    "passAtK",
    "energyJ",
    "joulesPerQuery",
    "avgPowerW",
    "latencyP50Ms",
    "latencyP95Ms",
    "ipw",
    "ipj",
    "samplesMean",
    "throttleEvents",
    "faultsInjected",
    "faultsRecovered",
    "exact_match,strict-match",
    "exact_match,flexible-extract",
  ]);
  const s = result.report.tasks.gsm8k!.modes.standard!;
  // 3 of 4 right; Σ energy 40 J over 1 s of windows; latencies 100..400 ms.
  assert.equal(s.accuracy, 0.75);
  assert.equal(s.energyJ, 40);
  assert.equal(s.joulesPerQuery, 10);
  assert.equal(s.avgPowerW, 40);
  assert.equal(s.latencyP50Ms, 250);
  // Linear: position 3 x 0.95 = 2.85 -> 300 + 0.85 x 100 = 385.
  assert.ok(Math.abs(s.latencyP95Ms - 385) < 1e-9);
  assert.equal(s.ipw, 0.75 / 40);
  assert.equal(s.ipj, 0.075);
  assert.equal(s.passAtK, 0.875);
  assert.equal(s.samplesMean, 8);
  assert.equal(s["exact_match,strict-match"], 0.25);
  assert.equal(s["exact_match,flexible-extract"], 0.5);
  const q = result.report.tasks.gsm8k!.modes.qeil!;
  assert.equal(q.joulesPerQuery, 2.5);
  // qeil windows: 90 + 110 + 350 + 150 = 700 ms for 10 J.
  assert.ok(Math.abs(q.avgPowerW! - 10 / 0.7) < 1e-9);
  assert.equal(q.latencyP50Ms, 130);
  assert.deepEqual([q.faultsInjected, q.faultsRecovered, q.samplesMean], [2, 2, 3]);
  assert.equal(result.settings.percentileMethod, "linear");
});

Deno.test("checkTargets() reports met targets with their figures", () => {
  const result = buildReport({
    header: HEADER,
    records: gsmRecords(),
    tasks: ["gsm8k"],
    modes: ["standard", "greedy", "qeil"],
    settings: SETTINGS,
  });
  const byId = Object.fromEntries(result.targets.map((t) => [t.id, t]));
  assert.deepEqual(result.targets.map((t) => [t.id, t.scope, t.status]), [
    ["energy", "gsm8k", "met"],
    ["latency", "gsm8k", "met"],
    ["accuracy", "gsm8k", "met"],
    ["throttle", "gsm8k", "met"],
    ["answered", "gsm8k", "met"],
  ]);
  assert.equal(byId.energy.figures, "qeil 2.5 J/query, standard 10 J/query: ratio 0.25 (75.0% less)");
  assert.equal(byId.latency.figures, "qeil p50 130 ms, standard p50 250 ms");
  assert.equal(byId.accuracy.figures, "qeil 75.0%, standard 75.0%: +0.0 points");
  assert.equal(byId.answered.figures, "answered: standard 4/4, greedy 4/4, qeil 4/4");
});

Deno.test("checkTargets() says which targets are not met and why", () => {
  const records = gsmRecords().map((r) => {
    if (r.mode !== "qeil") return r;
    if (r.index === 0) return { ...r, energyJ: 9, throttleEvents: 1, correct: false };
    if (r.index === 1) return { ...r, answered: false, error: "TimeoutError: npu hung", latencyMs: 900 };
    return { ...r, latencyMs: 800 };
  });
  const result = buildReport({
    header: HEADER,
    records,
    tasks: ["gsm8k"],
    modes: ["standard", "qeil"],
    settings: SETTINGS,
  });
  const byId = Object.fromEntries(result.targets.map((t) => [t.id, t]));
  assert.equal(byId.energy.status, "not met");
  assert.equal(byId.energy.figures, "qeil 4.25 J/query, standard 10 J/query: ratio 0.425 (57.5% less)");
  assert.equal(byId.latency.status, "not met");
  assert.equal(byId.accuracy.status, "not met");
  // qeil: index 0 now wrong, index 1 still graded false -> correct [false, false, true, true] = 50% vs 75%.
  assert.equal(byId.accuracy.figures, "qeil 50.0%, standard 75.0%: -25.0 points");
  assert.equal(byId.throttle.status, "not met");
  assert.equal(byId.throttle.figures, "qeil 1 event(s), standard 0");
  assert.equal(byId.answered.status, "not met");
  // Records of modes not asked for (greedy here) stay out of the report and the checks.
  assert.equal(
    byId.answered.figures,
    "answered: standard 4/4, qeil 3/4; first failure: gsm8k/1 qeil: TimeoutError: npu hung",
  );
  assert.equal(result.report.tasks.gsm8k!.modes.greedy, undefined);
  assert.equal(result.records.length, 8);
});

Deno.test("checkTargets() holds accuracy within exactly 1 point and pools tasks under 'all'", () => {
  const records: QueryRecord[] = [];
  for (let i = 0; i < 100; i++) {
    records.push(rec("arc_challenge", "standard", i, { correct: i < 50, acc: true, accNorm: false, energyJ: 4 }));
    records.push(rec("arc_challenge", "qeil", i, { correct: i < 51, acc: true, accNorm: true, energyJ: 1 }));
  }
  records.push(rec("wikitext", "standard", 0, { logLikelihood: -100, words: 10, bytes: 50, energyJ: 8 }));
  records.push(rec("wikitext", "qeil", 0, { logLikelihood: -100, words: 10, bytes: 50, energyJ: 3 }));
  const result = buildReport({
    header: HEADER,
    records,
    tasks: ["wikitext", "arc_challenge"],
    modes: ["standard", "qeil"],
    settings: { ...SETTINGS, tasks: ["wikitext", "arc_challenge"] },
  });
  const find = (id: string, scope: string) => result.targets.find((t) => t.id === id && t.scope === scope)!;
  assert.equal(find("accuracy", "arc_challenge").status, "met");
  assert.equal(find("accuracy", "arc_challenge").figures, "qeil 51.0%, standard 50.0%: +1.0 points");
  assert.equal(find("accuracy", "wikitext").status, "not applicable");
  assert.equal(find("energy", "wikitext").status, "not met");
  assert.equal(find("energy", "wikitext").figures, "qeil 3 J/query, standard 8 J/query: ratio 0.375 (62.5% less)");
  // Pooled: qeil (100 + 3) / 101, standard (400 + 8) / 101 -> ratio 103 / 408.
  assert.match(find("energy", "all").figures, /ratio 0.252/);
  assert.equal(find("energy", "all").status, "not met");
  const wiki = result.report.tasks.wikitext!.modes.qeil!;
  assert.equal(wiki.accuracy, null);
  assert.equal(wiki.ipw, null);
  assert.equal(wiki.passAtK, null);
  assert.equal(wiki.word_perplexity, Math.exp(10));
  assert.equal(wiki.bits_per_byte, 2 / Math.LN2);
  assert.equal(result.report.tasks.arc_challenge!.modes.qeil!.acc_norm, 1);
  assert.equal(result.report.tasks.arc_challenge!.modes.standard!.acc_norm, 0);
});

Deno.test("checkTargets() marks comparisons without standard or qeil not applicable", () => {
  const records = gsmRecords().filter((r) => r.mode === "greedy");
  const result = buildReport({ header: HEADER, records, tasks: ["gsm8k"], modes: ["greedy"], settings: SETTINGS });
  assert.deepEqual(result.targets.map((t) => [t.id, t.status]), [
    ["energy", "not applicable"],
    ["latency", "not applicable"],
    ["accuracy", "not applicable"],
    ["throttle", "not applicable"],
    ["answered", "met"],
  ]);
  assert.equal(result.targets[0].figures, "qeil was not run");
});

Deno.test("describeCostShape() states a decoder shape's origin and size", () => {
  const shape: DecoderShape = {
    family: "llama",
    mlpMatrices: 3,
    layers: 5,
    hiddenSize: 64,
    intermediateSize: 172,
    heads: 8,
    kvHeads: 4,
    headDim: 8,
    vocabSize: 512,
    maxSeqLen: 512,
    tiedEmbeddings: true,
    weightPrecision: "fp32",
    kvPrecision: "fp32",
  };
  assert.deepEqual(describeCostShape(shape, { source: "model", name: "stories260k" }), {
    source: "model",
    name: "stories260k",
    family: "llama",
    layers: 5,
    hiddenSize: 64,
    weightPrecision: "fp32",
  });
});

Deno.test("checkTargets() says how much more energy qeil used when it used more", () => {
  const records = [
    rec("gsm8k", "standard", 0, { energyJ: 2, correct: true }),
    rec("gsm8k", "qeil", 0, { energyJ: 3, correct: true }),
  ];
  const [energy] = checkTargets(records, ["gsm8k"], ["standard", "qeil"]);
  assert.equal(energy.status, "not met");
  assert.equal(energy.figures, "qeil 3 J/query, standard 2 J/query: ratio 1.5 (50.0% more)");
});

Deno.test("an unmet target says what the measurements show: units, clocks, energy by rail, stopping, waiting", () => {
  const records: QueryRecord[] = [];
  for (let i = 0; i < 2; i++) {
    records.push(rec("gsm8k", "standard", i, {
      correct: false,
      energyJ: 10,
      energyByRailJ: { board_total: 10, cpu_big: 8 },
      totalRails: ["board_total"],
      latencyMs: 1000,
      execution: { units: ["cpu_big"], freqHz: { cpu_big: 2.4e9 }, deviceMs: 1000, thermalReplans: 0, unitFaults: 0 },
    }));
    records.push(rec("gsm8k", "qeil", i, {
      correct: i === 0,
      energyJ: 5,
      energyByRailJ: { board_total: 5, npu: 1, cpu_big: 0.5 },
      totalRails: ["board_total"],
      latencyMs: 2000,
      samplesUsed: 5,
      k: 5,
      throttleEvents: 1,
      execution: {
        units: ["npu"],
        freqHz: { npu: 7e8 },
        deviceMs: 500,
        stopReason: i === 0 ? "unanimous" : "budget",
        samplesStarted: 5,
        thermalReplans: 2,
        unitFaults: 0,
      },
    }));
  }
  const checks = checkTargets(records, ["gsm8k"], ["standard", "qeil"]);
  const why = (id: string) => checks.find((c) => c.id === id)!.why!;
  assert.match(why("energy"), /standard ran on cpu_big in 2\/2 queries \(median clock 2400 MHz\); qeil on npu in 2\/2/);
  assert.match(why("energy"), /standard 10 J\/query = cpu_big 8 J \(80\.0%\) \+ rest of the board 2 J \(20\.0%\)/);
  assert.match(
    why("energy"),
    /qeil 5 J\/query = npu 1 J \(20\.0%\) \+ cpu_big 0\.5 J \(10\.0%\) \+ rest of the board 3\.5 J/,
  );
  assert.match(why("energy"), /stopped early on 1 of 2 sampled queries \(unanimous 1, budget 1\)/);
  assert.match(why("latency"), /qeil device time p50 500 ms, waiting p50 1500 ms \(75\.0% of the latency/);
  assert.match(why("accuracy"), /right where standard was wrong on 1 queries and wrong where standard was right on 0/);
  assert.match(why("throttle"), /throttle events in qeil's windows of 2 queries .*re-planned 4 time/);
  assert.equal(checks.find((c) => c.id === "answered")!.why, undefined, "a met target needs no why");
});
