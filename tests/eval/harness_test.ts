import assert from "node:assert/strict";
import { createSampler, discoverBoard } from "../../src/hal/mod.ts";
import { createSimBoard, type SimBoard } from "../../src/sim/mod.ts";
import {
  createProgress,
  datasetPaths,
  type EvalQuery,
  evaluationOrder,
  loadTaskQueries,
  type ModeName,
  type QueryOutcome,
  type QueryRunner,
  runEvaluation,
  RunTelemetry,
  type TaskQueries,
  williamsDesign,
} from "../../src/eval/mod.ts";

const DATA = new URL("../../../shared/data/", import.meta.url).pathname;
const HEADER = {
  board: "sim:rk3588",
  model: "scripted",
  costShape: {
    source: "model" as const,
    name: "scripted",
    family: "llama",
    layers: 5,
    hiddenSize: 64,
    weightPrecision: "fp32" as const,
  },
};

Deno.test("williamsDesign() is a Latin square balanced for first-order carry-over", () => {
  for (let m = 1; m <= 6; m++) {
    const rows = williamsDesign(m);
    assert.equal(rows.length, m % 2 === 1 && m > 1 ? 2 * m : m);
    for (const row of rows) assert.deepEqual([...row].sort(), [...Array(m).keys()]);
    // Every treatment in every position equally often.
    for (let p = 0; p < m; p++) {
      const counts = new Array(m).fill(0);
      for (const row of rows) counts[row[p]]++;
      assert.ok(counts.every((c) => c === rows.length / m), `m=${m} position ${p}: ${counts}`);
    }
    // Every ordered pair (a then b) equally often.
    const pairs = new Map<string, number>();
    for (const row of rows) {
      for (let i = 1; i < m; i++) {
        pairs.set(`${row[i - 1]}>${row[i]}`, (pairs.get(`${row[i - 1]}>${row[i]}`) ?? 0) + 1);
      }
    }
    if (m > 1) {
      assert.equal(pairs.size, m * (m - 1));
      assert.equal(new Set(pairs.values()).size, 1);
    }
  }
  assert.deepEqual(williamsDesign(3), [[0, 1, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0], [0, 2, 1], [1, 0, 2]]);
  assert.throws(() => williamsDesign(0), RangeError);
});

Deno.test("evaluationOrder() interleaves modes per query and applies the limit per task", async () => {
  const tasks = await loadTaskQueries({
    paths: datasetPaths(DATA),
    tasks: ["gsm8k", "arc_challenge"],
    seed: 1,
    shots: 0,
  });
  const order = evaluationOrder(tasks, ["standard", "greedy", "qeil"], 2);
  assert.deepEqual(order.map((o) => `${o.query.id} ${o.mode}`), [
    "gsm8k/0 standard",
    "gsm8k/0 greedy",
    "gsm8k/0 qeil",
    "gsm8k/1 greedy",
    "gsm8k/1 qeil",
    "gsm8k/1 standard",
    "arc_challenge/Mercury_7175875 qeil",
    "arc_challenge/Mercury_7175875 standard",
    "arc_challenge/Mercury_7175875 greedy",
    "arc_challenge/Mercury_SC_409171 qeil",
    "arc_challenge/Mercury_SC_409171 greedy",
    "arc_challenge/Mercury_SC_409171 standard",
  ]);
});

/** Units each mode's work runs on in the scripted runner. */
const UNIT: Record<ModeName, string> = { standard: "cpu_big", greedy: "gpu", qeil: "cpu_little" };

/**
 * A deterministic runner: each query is a fixed amount of work on a
 * simulated unit chosen by mode, and answers are right for even-numbered
 * queries. Optionally fails one call with an injected unit failure.
 */
class ScriptedSimRunner implements QueryRunner {
  readonly calls: { id: string; mode: ModeName; enteredMs: number; leftMs: number }[] = [];
  constructor(
    private readonly sim: SimBoard,
    private readonly failOn?: { id: string; mode: ModeName },
  ) {}

  async run(query: EvalQuery, mode: ModeName, signal: AbortSignal): Promise<QueryOutcome> {
    const enteredMs = this.sim.clock.monotonicMs();
    const unitId = UNIT[mode];
    const precision = this.sim.units.find((u) => u.id === unitId)!.precisions[0];
    const fail = this.failOn?.id === query.id && this.failOn.mode === mode;
    if (fail) this.sim.inject({ kind: "unit-fail", unitId });
    try {
      await this.sim.execute([{ unitId, flops: 4e9 * (1 + (query.index % 3)), bytes: 2e8, precision }], { signal });
    } finally {
      if (fail) this.sim.clear({ kind: "unit-fail", unitId });
    }
    this.calls.push({ id: query.id, mode, enteredMs, leftMs: this.sim.clock.monotonicMs() });
    const right = query.index % 2 === 0;
    switch (query.task) {
      case "wikitext":
        return { samplesUsed: 1, k: 1, logLikelihood: -2 * query.article.words };
      case "gsm8k": {
        const answer = right ? query.item.gold : "-1";
        return {
          samplesUsed: 2,
          k: 2,
          answer,
          samples: [{ index: 0, text: `#### ${answer}` }, { index: 1, text: "#### -1" }],
        };
      }
      case "arc_challenge": {
        const lls = query.item.choices.map((_, i) => (i === query.item.goldIndex) === right ? -1 : -5);
        return { samplesUsed: 1, k: 1, answer: right ? query.item.answerLetter : "Z", choiceLogLikelihoods: lls };
      }
    }
  }
}

async function simSetup(seed: number) {
  const root = await Deno.makeTempDir({ prefix: "qeil-eval-harness-" });
  const sim = await createSimBoard({ profileId: "rk3588", root, seed });
  const board = await discoverBoard(root, { clock: sim.clock });
  const telemetry = new RunTelemetry({ sampleNow: () => sampler.sampleOnce() });
  const sampler = createSampler({ board, periodMs: 100, clock: sim.clock, onSample: (s) => telemetry.add(s) });
  const off = sim.onStep(() => sampler.sampleOnce().then(() => undefined));
  return {
    sim,
    telemetry,
    async [Symbol.asyncDispose]() {
      off();
      await sim[Symbol.asyncDispose]();
    },
  };
}

async function smallTasks(): Promise<TaskQueries[]> {
  return await loadTaskQueries({
    paths: datasetPaths(DATA),
    tasks: ["wikitext", "gsm8k", "arc_challenge"],
    seed: 5,
    shots: 2,
  });
}

Deno.test("runEvaluation() runs every query in every mode on a simulated board and builds the report", async () => {
  await using setup = await simSetup(11);
  const runner = new ScriptedSimRunner(setup.sim);
  const lines: string[] = [];
  const result = await runEvaluation({
    tasks: await smallTasks(),
    modes: ["standard", "greedy", "qeil"],
    limit: 2,
    runner,
    energy: setup.telemetry,
    clock: setup.sim.clock,
    progress: createProgress({ write: (t) => void lines.push(t), isTerminal: false, clock: setup.sim.clock }),
    header: HEADER,
    settings: { seed: 5, samplesK: 2, fewShot: 2 },
  });
  const { records, report } = result;
  assert.equal(records.length, 3 * 2 * 3);
  // The runner saw the harness's interleaved order.
  assert.deepEqual(runner.calls.map((c) => `${c.id} ${c.mode}`), records.map((r) => `${r.id} ${r.mode}`));
  assert.deepEqual(runner.calls.slice(0, 3).map((c) => c.mode), ["standard", "greedy", "qeil"]);
  assert.deepEqual(runner.calls.slice(3, 6).map((c) => c.mode), ["greedy", "qeil", "standard"]);
  runner.calls.forEach((call, i) => {
    const r = records[i];
    // Latency is the simulated time the call took, read from the injected (virtual) clock.
    assert.equal(r.latencyMs, call.leftMs - call.enteredMs);
    assert.ok(r.latencyMs > 0 && r.energyJ! > 0 && r.meteredMs > 0, JSON.stringify(r));
    // The energy window spans the call, give or take a physics step at each end.
    assert.ok(Math.abs(r.meteredMs - r.latencyMs) <= 200, `${r.meteredMs} vs ${r.latencyMs}`);
    assert.equal(r.answered, true);
  });
  for (const task of ["wikitext", "gsm8k", "arc_challenge"] as const) {
    for (const mode of ["standard", "greedy", "qeil"] as const) {
      const row = report.tasks[task]!.modes[mode]!;
      const rows = records.filter((r) => r.task === task && r.mode === mode);
      assert.equal(row.energyJ, rows.reduce((s, r) => s + r.energyJ!, 0));
      assert.equal(row.joulesPerQuery, row.energyJ! / 2);
      assert.ok(row.avgPowerW! > 0);
    }
  }
  // Query 0 right, query 1 wrong in every mode.
  assert.equal(report.tasks.gsm8k!.modes.qeil!.accuracy, 0.5);
  assert.equal(report.tasks.arc_challenge!.modes.greedy!.acc, 0.5);
  assert.equal(report.tasks.arc_challenge!.modes.greedy!.accuracy, 0.5);
  assert.equal(report.tasks.gsm8k!.modes.standard!["exact_match,strict-match"], 0.5);
  // WikiText: ll = -2 x words for each article: word perplexity e^2 exactly.
  assert.ok(Math.abs(report.tasks.wikitext!.modes.standard!.word_perplexity! - Math.exp(2)) < 1e-9);
  assert.equal(result.targets.find((t) => t.id === "answered" && t.scope === "all")!.status, "met");
  assert.equal(result.settings.limit, 2);
  assert.deepEqual(result.settings.modes, ["standard", "greedy", "qeil"]);
  assert.equal(lines.at(-1)?.startsWith("eval: 18/18 100%"), true);
});

Deno.test("runEvaluation() records a query whose unit failed as unanswered and goes on", async () => {
  await using setup = await simSetup(12);
  const tasks = await loadTaskQueries({ paths: datasetPaths(DATA), tasks: ["gsm8k"], seed: 5, shots: 0 });
  const runner = new ScriptedSimRunner(setup.sim, { id: "gsm8k/1", mode: "qeil" });
  const result = await runEvaluation({
    tasks,
    modes: ["standard", "qeil"],
    limit: 3,
    runner,
    energy: setup.telemetry,
    clock: setup.sim.clock,
    header: HEADER,
  });
  assert.equal(result.records.length, 6);
  const failed = result.records.filter((r) => !r.answered);
  assert.equal(failed.length, 1);
  assert.equal(failed[0].id, "gsm8k/1");
  assert.equal(failed[0].mode, "qeil");
  assert.match(failed[0].error!, /cpu_little/);
  const answered = result.targets.find((t) => t.id === "answered")!;
  assert.equal(answered.status, "not met");
  assert.match(answered.figures, /qeil 2\/3; first failure: gsm8k\/1 qeil: /);
});

Deno.test("runEvaluation() stops on a runner bug and on abort", async () => {
  await using setup = await simSetup(13);
  const tasks = await loadTaskQueries({ paths: datasetPaths(DATA), tasks: ["arc_challenge"], seed: 5 });
  const buggy: QueryRunner = {
    run: () => Promise.reject(new TypeError("runner bug")),
  };
  await assert.rejects(
    runEvaluation({
      tasks,
      modes: ["qeil"],
      limit: 2,
      runner: buggy,
      energy: setup.telemetry,
      clock: setup.sim.clock,
      header: HEADER,
    }),
    /runner bug/,
  );
  const controller = new AbortController();
  const runner = new ScriptedSimRunner(setup.sim);
  const stopping: QueryRunner = {
    run: async (query, mode, signal) => {
      const outcome = await runner.run(query, mode, signal);
      if (runner.calls.length === 2) controller.abort(new Error("user stopped"));
      return outcome;
    },
  };
  const lines: string[] = [];
  await assert.rejects(
    runEvaluation({
      tasks,
      modes: ["standard", "qeil"],
      runner: stopping,
      energy: setup.telemetry,
      clock: setup.sim.clock,
      header: HEADER,
      signal: controller.signal,
      progress: createProgress({ write: (t) => void lines.push(t), isTerminal: true, clock: setup.sim.clock }),
    }),
    /user stopped/,
  );
  assert.equal(runner.calls.length, 2);
  // The progress bar was closed with a newline even though the run stopped.
  assert.equal(lines.at(-1), "\n");
});

Deno.test("runEvaluation() refuses bad settings", async () => {
  const runner: QueryRunner = { run: () => Promise.reject(new Error("not reached")) };
  const energy = new RunTelemetry({ sampleNow: () => Promise.resolve() });
  const base = { tasks: [], runner, energy, header: HEADER };
  await assert.rejects(runEvaluation({ ...base, modes: [] }), /at least one mode/);
  await assert.rejects(runEvaluation({ ...base, modes: ["qeil", "qeil"] }), /modes repeat/);
  await assert.rejects(runEvaluation({ ...base, modes: ["qeil"], limit: 0 }), /limit must be an integer >= 1/);
  const t: TaskQueries = { task: "gsm8k", queries: [] };
  await assert.rejects(runEvaluation({ ...base, tasks: [t, t], modes: ["qeil"] }), /tasks repeat/);
  // Nothing to run: an empty report, no window opened.
  const empty = await runEvaluation({ ...base, tasks: [t], modes: ["qeil"] });
  assert.deepEqual(empty.report.tasks, { gsm8k: { modes: {} } });
});
