/**
 * The harness end to end with a real model: a simple QueryRunner that runs
 * stories260k on the host (rolling log-likelihood, choice scoring, sampled
 * generation with majority vote or the EAC/CSVET/ARDE cascade) and charges
 * every ORT run to a simulated rk3588 through a StepCharger, so the energy
 * the harness measures comes from the simulator's rails.
 */
import assert from "node:assert/strict";
import type { DecoderShape } from "../../src/core/mod.ts";
import { createSampler, discoverBoard } from "../../src/hal/mod.ts";
import { createSimBoard, type SimBoard } from "../../src/sim/mod.ts";
import { decodeWork, prefillWork } from "../../src/physics/mod.ts";
import {
  type DecoderModel,
  generate,
  type GeneratedSample,
  loadModel,
  rollingLogLikelihood,
  scoreContinuations,
  type StepCharger,
} from "../../src/runtime/mod.ts";
import { createCascade, extractAnswer, majorityVote } from "../../src/verify/mod.ts";
import {
  datasetPaths,
  type EvalQuery,
  loadTaskQueries,
  type ModeName,
  type QueryOutcome,
  type QueryRunner,
  runEvaluation,
  RunTelemetry,
  scoreMultipleChoice,
} from "../../src/eval/mod.ts";

const DATA = new URL("../../../shared/data/", import.meta.url).pathname;
const UNIT: Record<ModeName, string> = { standard: "cpu_big", greedy: "gpu", qeil: "cpu_little" };

/** Charges each ORT run's work (from physics, for `shape`) to one simulated unit. */
class SimCharger implements StepCharger {
  constructor(private readonly sim: SimBoard, private readonly shape: DecoderShape, private readonly unitId: string) {}

  async charge(event: Parameters<StepCharger["charge"]>[0], signal?: AbortSignal): Promise<void> {
    const range = { layerStart: 0, layerEnd: this.shape.layers };
    const work = event.phase === "prefill"
      ? prefillWork(this.shape, {
        ...range,
        tokens: event.newTokens,
        batch: event.batch,
        pastTokens: event.pastLength,
        allLogits: true,
      })
      : decodeWork(this.shape, { ...range, context: event.pastLength, batch: event.batch });
    const precision = this.sim.units.find((u) => u.id === this.unitId)!.precisions[0];
    await this.sim.execute(
      [{ unitId: this.unitId, flops: work.flops, bytes: work.bytes, precision }],
      signal ? { signal } : {},
    );
  }
}

/** Runs stories260k on the host; standard and greedy vote over k samples, qeil stops early through the cascade. */
class HostModelRunner implements QueryRunner {
  constructor(private readonly model: DecoderModel, private readonly sim: SimBoard, private readonly k: number) {}

  async run(query: EvalQuery, mode: ModeName, signal: AbortSignal): Promise<QueryOutcome> {
    const charger = new SimCharger(this.sim, this.model.shape, UNIT[mode]);
    switch (query.task) {
      case "wikitext": {
        const r = await rollingLogLikelihood(this.model, query.article.text, { charger, signal });
        return { samplesUsed: 1, k: 1, logLikelihood: r.logLikelihood };
      }
      case "arc_challenge": {
        const scores = await scoreContinuations(
          this.model,
          query.continuations.map((continuation) => ({ context: query.context, continuation })),
          { charger, signal },
        );
        const choices = query.item.choices.map((c) => ({ label: c.letter, text: c.text }));
        const picked = await this.#sample(
          query.generativePrompt,
          query.stop,
          mode,
          charger,
          signal,
          (t) => extractAnswer("arc_challenge", t, { choices }),
        );
        return { ...picked, choiceLogLikelihoods: scores.map((s) => s.logLikelihood) };
      }
      case "gsm8k":
        return await this.#sample(query.prompt, query.stop, mode, charger, signal, (t) => extractAnswer("gsm8k", t));
    }
  }

  async #sample(
    prompt: string,
    stop: readonly string[],
    mode: ModeName,
    charger: StepCharger,
    signal: AbortSignal,
    extract: (text: string) => ReturnType<typeof extractAnswer>,
  ): Promise<QueryOutcome> {
    const request = { prompt, samples: this.k, maxTokens: 12, temperature: 0.9, stop, seed: 42 };
    const finished: GeneratedSample[] = [];
    const toCascade = (s: GeneratedSample) => {
      const e = extract(s.text);
      return { index: s.index, valid: e.ok, ...(e.ok ? { answer: e.answer } : {}), meanLogProb: s.meanLogProb };
    };
    if (mode !== "qeil") {
      for await (const s of generate(this.model, request, { charger, signal })) finished.push(s);
      return {
        samplesUsed: this.k,
        k: this.k,
        answer: majorityVote(finished.map(toCascade)),
        samples: finished.map((s) => ({ index: s.index, text: s.text })),
      };
    }
    const cascade = createCascade({ maxSamples: this.k, minSamples: 2 });
    for await (
      const s of generate(this.model, request, {
        charger,
        signal,
        cancelled: () => cascade.decision !== undefined,
      })
    ) {
      if (s.finishReason === "cancelled") continue;
      finished.push(s);
      cascade.push(toCascade(s));
    }
    const decision = cascade.decision ?? cascade.finish();
    return {
      samplesUsed: decision.samplesUsed,
      k: this.k,
      answer: decision.answer,
      samples: finished.map((s) => ({ index: s.index, text: s.text })),
    };
  }
}

Deno.test("runEvaluation() with stories260k charged to a simulated rk3588 reproduces lm-eval metrics in every mode", async () => {
  await using model = await loadModel(`${DATA}models/stories260k`);
  const root = await Deno.makeTempDir({ prefix: "qeil-eval-model-" });
  await using sim = await createSimBoard({ profileId: "rk3588", root, seed: 21 });
  const board = await discoverBoard(root, { clock: sim.clock });
  const telemetry = new RunTelemetry({ sampleNow: () => sampler.sampleOnce() });
  const sampler = createSampler({ board, periodMs: 100, clock: sim.clock, onSample: (s) => telemetry.add(s) });
  const off = sim.onStep(() => sampler.sampleOnce().then(() => undefined));
  const tasks = await loadTaskQueries({
    paths: datasetPaths(DATA),
    tasks: ["wikitext", "gsm8k", "arc_challenge"],
    seed: 1,
    shots: 0,
  });
  const result = await runEvaluation({
    tasks,
    modes: ["standard", "greedy", "qeil"],
    limit: 1,
    runner: new HostModelRunner(model, sim, 4),
    energy: telemetry,
    clock: sim.clock,
    header: {
      board: "sim:rk3588",
      model: "stories260k",
      costShape: {
        source: "model",
        name: "stories260k",
        family: "llama",
        layers: 5,
        hiddenSize: 64,
        weightPrecision: "fp32",
      },
    },
    settings: { seed: 1, samplesK: 4, fewShot: 0 },
  });
  off();
  const { records, report } = result;
  assert.equal(records.length, 9);
  assert.ok(
    records.every((r) => r.answered && r.energyJ !== null && r.energyJ > 0 && r.latencyMs > 0),
    JSON.stringify(records.map((r) => [r.id, r.mode, r.energyJ, r.latencyMs])),
  );

  // WikiText: every mode scores the same text the same way; the figure matches a direct computation.
  const article = tasks[0].queries[0];
  assert.ok(article.task === "wikitext");
  const direct = await rollingLogLikelihood(model, article.article.text);
  const wiki = report.tasks.wikitext!.modes;
  for (const mode of ["standard", "greedy", "qeil"] as const) {
    assert.ok(
      Math.abs(wiki[mode]!.word_perplexity! - Math.exp(-direct.logLikelihood / article.article.words)) <
        1e-6 * wiki[mode]!.word_perplexity!,
    );
    assert.ok(Math.abs(wiki[mode]!.bits_per_byte! - -direct.logLikelihood / article.article.bytes / Math.LN2) < 1e-9);
  }

  // ARC: acc and acc_norm from the model's own choice scores.
  const arc = tasks[2].queries[0];
  assert.ok(arc.task === "arc_challenge");
  const lls =
    (await scoreContinuations(model, arc.continuations.map((c) => ({ context: arc.context, continuation: c })))).map((
      s,
    ) => s.logLikelihood);
  const expected = scoreMultipleChoice(lls, arc.item.choices.map((c) => c.text), arc.item.goldIndex);
  for (const mode of ["standard", "greedy", "qeil"] as const) {
    assert.equal(report.tasks.arc_challenge!.modes[mode]!.acc, expected.acc ? 1 : 0);
    assert.equal(report.tasks.arc_challenge!.modes[mode]!.acc_norm, expected.accNorm ? 1 : 0);
  }

  // Same seed, same samples: standard and greedy only differ in where the work was charged.
  const gsm = report.tasks.gsm8k!.modes;
  assert.equal(gsm.standard!["exact_match,flexible-extract"], gsm.greedy!["exact_match,flexible-extract"]);
  assert.equal(gsm.standard!.accuracy, gsm.greedy!.accuracy);
  assert.ok(gsm.qeil!.samplesMean <= gsm.standard!.samplesMean);
  assert.ok(gsm.standard!.energyJ! > 0 && gsm.qeil!.energyJ! > 0);
  assert.equal(result.targets.find((t) => t.id === "answered" && t.scope === "all")!.status, "met");
  assert.ok(telemetry.traces().units.length >= 4);
});
