import assert from "node:assert/strict";
import { buildReport, type QueryRecord, reportJson, type TelemetryTraces, writeReport } from "../../src/eval/mod.ts";
import { findAll, parseXml } from "./xml_check.ts";

function record(mode: QueryRecord["mode"], i: number, energyJ: number, correct: boolean): QueryRecord {
  return {
    task: "arc_challenge",
    mode,
    id: `arc_challenge/${i}`,
    index: i,
    answered: true,
    correct,
    samplesUsed: 2,
    k: 2,
    samplesFinished: 2,
    samplesCorrect: correct ? 1 : 0,
    passAtK: correct ? 1 : 0,
    energyByRailJ: {},
    totalRails: [],
    faults: [],
    energyJ,
    meteredMs: 500,
    latencyMs: 500,
    throttleEvents: 0,
    faultsInjected: 0,
    faultsRecovered: 0,
    acc: correct,
    accNorm: !correct,
  };
}

function result(board = "sim:rk3588") {
  const records = [
    record("standard", 0, 8, true),
    record("standard", 1, 8, false),
    record("qeil", 0, 1, true),
    record("qeil", 1, 3, false),
  ];
  return buildReport({
    header: {
      board,
      model: "stories260k",
      costShape: {
        source: "file",
        name: "Llama-3.2-1B | int4",
        path: "/configs/llama-1b.json",
        family: "llama",
        layers: 16,
        hiddenSize: 2048,
        weightPrecision: "int4",
      },
    },
    records,
    tasks: ["arc_challenge"],
    modes: ["standard", "qeil"],
    settings: {
      tasks: ["arc_challenge"],
      modes: ["standard", "qeil"],
      order: "williams",
      seed: 7,
      samplesK: 2,
      injectFaults: true,
    },
  });
}

const TRACES: TelemetryTraces = {
  units: [{
    unitId: "npu",
    powerW: [{ tMs: 0, value: 1 }, { tMs: 500, value: 2 }],
    tempC: [{ tMs: 0, value: 40 }, { tMs: 500, value: 41 }],
  }],
  totalPowerW: [{ tMs: 0, value: 4 }, { tMs: 500, value: 5 }],
  trips: [{ type: "passive", tempC: 85, zones: ["soc-thermal"] }],
  throttleEventsMs: [],
};

Deno.test("writeReport() writes report.json, report.md and well-formed SVG plots", async () => {
  const dir = `${await Deno.makeTempDir({ prefix: "qeil-eval-out-" })}/nested/out`;
  const r = result();
  const files = await writeReport(dir, r, {
    traces: TRACES,
    pareto: [{
      name: "arc_challenge/0 <first>",
      points: [
        { energyJ: 1, latencyMs: 10, underutilization: 0.2, role: "front" },
        { energyJ: 1, latencyMs: 10, underutilization: 0.2, role: "chosen" },
      ],
    }],
  });
  assert.deepEqual(files, [
    "energy_accuracy.svg",
    "power.svg",
    "temperature.svg",
    "pareto_arc-challenge-0-first.svg",
    "report.json",
    "report.md",
  ]);
  for (const f of files.filter((f) => f.endsWith(".svg"))) {
    const root = parseXml(await Deno.readTextFile(`${dir}/${f}`));
    assert.equal(root.name, "svg", f);
    assert.ok(findAll(root, (e) => e.name === "title").length === 1, f);
  }
  const json = JSON.parse(await Deno.readTextFile(`${dir}/report.json`));
  assert.deepEqual(Object.keys(json), ["board", "model", "costShape", "tasks", "settings", "targets"]);
  assert.equal(json.tasks.arc_challenge.modes.qeil.joulesPerQuery, 2);
  assert.equal(json.settings.seed, 7);
  assert.equal(json.targets.find((t: { id: string }) => t.id === "energy").status, "met");
  const md = await Deno.readTextFile(`${dir}/report.md`);
  assert.match(md, /- Board: `sim:rk3588`/);
  assert.match(
    md,
    /- Cost shape charged: declared in `\/configs\/llama-1b.json`: Llama-3.2-1B \| int4 \(llama, 16 layers/,
  );
  assert.match(md, /seed 7, sample budget k = 2, faults injected/);
  assert.match(md, /\| metric \| standard \| qeil \| qeil \/ standard \|/);
  // 8 J vs 2 J per query; accuracy 50% both; ratio 0.25x.
  assert.match(md, /\| energy per query \(J\) \| 8 \| 2 \| 0.25x \|/);
  assert.match(md, /\| accuracy \(selected answer\) \| 50.0% \| 50.0% \| 1x \|/);
  assert.match(md, /\| acc_norm \| 50.0% \| 50.0% \| 1x \|/);
  assert.match(
    md,
    /\| arc_challenge \| qeil energy per query <= 0.25 x standard's \| met \| qeil 2 J\/query, standard 8 J\/query/,
  );
  assert.match(md, /!\[Temperature per unit over the run, with trip points\]\(temperature.svg\)/);
  assert.match(md, /percentiles by linear interpolation/);
});

Deno.test("writeReport() says which plots it could not draw", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-eval-out-" });
  const files = await writeReport(dir, result());
  assert.deepEqual(files, ["energy_accuracy.svg", "report.json", "report.md"]);
  const md = await Deno.readTextFile(`${dir}/report.md`);
  assert.match(md, /- Not drawn: power.svg: no power readings were recorded/);
  assert.match(md, /- Not drawn: Pareto front: no plan was recorded/);
});

Deno.test("report.md marks unmet targets and escapes table cells", async () => {
  const r = result("sim:rk3588|x");
  r.targets[0] = { ...r.targets[0], status: "not met", figures: "qeil 3 J/query | standard 4 J/query" };
  const dir = await Deno.makeTempDir({ prefix: "qeil-eval-out-" });
  await writeReport(dir, r);
  const md = await Deno.readTextFile(`${dir}/report.md`);
  assert.match(md, /\*\*NOT MET\*\* \| qeil 3 J\/query \\\| standard 4 J\/query \|/);
});

Deno.test("reportJson() prints exactly the --json object", () => {
  const json = JSON.parse(reportJson(result()));
  assert.deepEqual(Object.keys(json), ["board", "model", "costShape", "tasks"]);
  assert.deepEqual(Object.keys(json.tasks.arc_challenge.modes), ["standard", "qeil"]);
  assert.equal(json.costShape.name, "Llama-3.2-1B | int4");
});
