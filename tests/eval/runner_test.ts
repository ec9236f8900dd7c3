/**
 * The evaluation's runner over the service's orchestrator on a simulated
 * rk3588 in virtual time with stories260k (charged for its own shape: fast):
 * every task in every mode through one orchestrator, the same samples for
 * every mode, lm-eval scores that match a direct computation, and, through
 * evaluateOnBoard, every query answered under injected faults.
 */
import assert from "node:assert/strict";
import { discoverBoard } from "../../src/hal/mod.ts";
import { loadModel, rollingLogLikelihood, scoreContinuations } from "../../src/runtime/mod.ts";
import { createOrchestrator } from "../../src/service/mod.ts";
import { createSimBoard } from "../../src/sim/mod.ts";
import {
  createOrchestratorRunner,
  datasetPaths,
  evaluateOnBoard,
  loadTaskQueries,
  MODE_NAMES,
  type QueryOutcome,
  readCostShape,
} from "../../src/eval/mod.ts";

const DATA = new URL("../../../shared/data/", import.meta.url).pathname;
const STORIES = `${DATA}models/stories260k`;
const LLAMA_1B = new URL("../fixtures/cost-shapes/llama-3.2-1b-int4.json", import.meta.url).pathname;

async function tasks() {
  return await loadTaskQueries({
    paths: datasetPaths(DATA),
    tasks: ["wikitext", "gsm8k", "arc_challenge"],
    seed: 1,
    shots: 0,
  });
}

Deno.test("the runner answers every task in every mode through one orchestrator, each mode as it should run", async () => {
  await using model = await loadModel(STORIES);
  const root = await Deno.makeTempDir({ prefix: "qeil-eval-runner-" });
  try {
    await using sim = await createSimBoard({ profileId: "rk3588", root, seed: 5 });
    const board = await discoverBoard(root, { profileId: "rk3588", clock: sim.clock });
    await using orchestrator = createOrchestrator({ board, sim, model, seed: 5 });
    await orchestrator.start();
    const runner = createOrchestratorRunner({
      orchestrator,
      model,
      samples: 3,
      seed: 9,
      maxTokens: { gsm8k: 20, arc_challenge: 6 },
    });
    const [wiki, gsm, arc] = (await tasks()).map((t) => t.queries[0]);
    const signal = new AbortController().signal;
    const out: Record<string, Record<string, QueryOutcome>> = {};
    for (const query of [wiki, gsm, arc]) {
      out[query.task] = {};
      for (const mode of MODE_NAMES) {
        const before = sim.clock.monotonicMs();
        out[query.task][mode] = await runner.run(query, mode, signal);
        assert.ok(sim.clock.monotonicMs() > before, `${query.id} ${mode} ran on the simulated board`);
      }
    }

    // WikiText: the same rolling log-likelihood in every mode, as a direct computation gives it.
    assert.ok(wiki.task === "wikitext");
    const direct = await rollingLogLikelihood(model, wiki.article.text);
    for (const mode of MODE_NAMES) {
      const o = out.wikitext[mode];
      assert.ok(Math.abs(o.logLikelihood! - direct.logLikelihood) < 1e-6 * Math.abs(direct.logLikelihood));
      assert.equal(o.samplesUsed, 1);
      assert.ok(o.execution!.deviceMs > 0);
    }
    // standard: the default unit at its top clock.
    const top = board.units.find((u) => u.id === "cpu_big")!.availableFreqsHz.at(-1)!;
    assert.deepEqual(out.wikitext.standard.execution!.units, ["cpu_big"]);
    assert.equal(out.wikitext.standard.execution!.freqHz.cpu_big, top);

    // ARC: choice log-likelihoods as scored directly, and the generative variant's samples.
    assert.ok(arc.task === "arc_challenge");
    const scores = await scoreContinuations(
      model,
      arc.continuations.map((c) => ({ context: arc.context, continuation: c })),
    );
    for (const mode of MODE_NAMES) {
      const o = out.arc_challenge[mode];
      assert.deepEqual(o.choiceLogLikelihoods!.map((x) => x.toFixed(6)), scores.map((s) => s.logLikelihood.toFixed(6)));
      assert.equal(o.k, 3);
      assert.ok(o.answer === null || /^[A-E]$/.test(o.answer!), String(o.answer));
    }

    // GSM8K: one seed per query, so every mode drew the same samples; standard and greedy vote over all k.
    const byIndex = new Map(out.gsm8k.standard.samples!.map((s) => [s.index, s.text]));
    assert.equal(out.gsm8k.standard.samples!.length, 3);
    assert.equal(out.gsm8k.standard.samplesUsed, 3);
    assert.equal(out.gsm8k.standard.execution!.stopReason, "budget");
    assert.deepEqual(out.gsm8k.greedy.samples, out.gsm8k.standard.samples);
    assert.equal(out.gsm8k.greedy.answer, out.gsm8k.standard.answer);
    const q = out.gsm8k.qeil;
    assert.ok(q.samplesUsed >= 1 && q.samplesUsed <= 3);
    for (const s of q.samples!) assert.equal(s.text, byIndex.get(s.index), `qeil sample ${s.index} is standard's`);
    assert.ok(["unanimous", "confident", "budget"].includes(q.execution!.stopReason!));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createOrchestratorRunner() rejects a sample budget, temperature or token limit out of range", async () => {
  await using model = await loadModel(STORIES);
  const root = await Deno.makeTempDir({ prefix: "qeil-eval-runner-" });
  try {
    await using sim = await createSimBoard({ profileId: "rk3588", root, seed: 1 });
    const board = await discoverBoard(root, { profileId: "rk3588", clock: sim.clock });
    await using orchestrator = createOrchestrator({ board, sim, model });
    assert.throws(() => createOrchestratorRunner({ orchestrator, model, seed: 1, samples: 0 }), /samples/);
    assert.throws(() => createOrchestratorRunner({ orchestrator, model, seed: 1, temperature: -1 }), /temperature/);
    assert.throws(
      () => createOrchestratorRunner({ orchestrator, model, seed: 1, maxTokens: { gsm8k: 0 } }),
      /maxTokens\.gsm8k/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("with injected unit failures, hangs and sensor losses every query of every mode is still answered", async () => {
  await using model = await loadModel(STORIES);
  const root = await Deno.makeTempDir({ prefix: "qeil-eval-faults-" });
  try {
    await using sim = await createSimBoard({ profileId: "rk3588", root, seed: 2 });
    const board = await discoverBoard(root, { profileId: "rk3588", clock: sim.clock });
    const queries = await tasks();
    // Charged for Llama-3.2-1B so every query spans physics steps (a fault lands at the first step of a query).
    const cost = await readCostShape(LLAMA_1B);
    const { result, stats } = await evaluateOnBoard({
      board,
      sim,
      model,
      header: { board: "sim:rk3588", model: "stories260k", costShape: cost.info },
      costShape: cost.shape,
      tasks: queries,
      modes: MODE_NAMES,
      limit: 1,
      samples: 2,
      maxTokens: { gsm8k: 12, arc_challenge: 4 },
      seed: 2,
      injectFaults: true,
      faultEvery: 1,
    });
    const { records, report, targets } = result;
    assert.equal(records.length, 9);
    assert.ok(records.every((r) => r.answered), JSON.stringify(records.filter((r) => !r.answered)));
    assert.ok(
      records.every((r) => r.faultsInjected === 1 && r.faultsRecovered === 1 && r.faults.length === 1),
      JSON.stringify(records.map((r) => [r.id, r.mode, r.faults])),
    );
    const kinds = new Set(records.flatMap((r) => r.faults.map((f) => f.split(" ")[0])));
    assert.deepEqual(kinds, new Set(["unit-fail", "unit-hang", "sensor-loss"]));
    // Each mode met the same kind of fault on the same query; a unit fault struck the unit doing that mode's work.
    for (const id of new Set(records.map((r) => r.id))) {
      const rows = records.filter((r) => r.id === id);
      const kinds = rows.map((r) => r.faults[0].split(" ")[0]);
      assert.ok(kinds.every((k) => k === kinds[0]), `${id}: ${kinds}`);
      for (const r of rows) {
        const [kind, unit] = r.faults[0].split(" ");
        if (kind === "sensor-loss") continue;
        // The struck unit was at work: the query was re-planned around it and finished elsewhere.
        assert.ok(r.execution!.unitFaults >= 1, `${id} ${r.mode}: ${r.faults[0]} ${JSON.stringify(r.execution)}`);
        assert.ok(!r.execution!.units.includes(unit), `${id} ${r.mode} finished on ${r.execution!.units}`);
      }
    }
    assert.ok(stats.faultsRecovered > 0, "some faults hit a unit at work and were re-planned around");
    for (const task of ["wikitext", "gsm8k", "arc_challenge"] as const) {
      for (const mode of MODE_NAMES) assert.ok(report.tasks[task]!.modes[mode]!.faultsInjected >= 1, `${task} ${mode}`);
    }
    assert.equal(targets.find((t) => t.id === "answered" && t.scope === "all")!.status, "met");
    assert.equal(result.settings.injectFaults, true);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
