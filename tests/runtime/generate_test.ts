import assert from "node:assert/strict";
import { isQeilError } from "../../src/core/mod.ts";
import {
  type DecoderModel,
  generate,
  type GeneratedSample,
  type GenerateOptions,
  type GenerateRequest,
  loadModel,
  type StepEvent,
} from "../../src/runtime/mod.ts";
import { golden, GPT2, LLAMA_FP16, STORIES, tinyModelDir } from "./_models.ts";

const stories = await loadModel(STORIES);

async function collect(model: DecoderModel, request: GenerateRequest, options: GenerateOptions = {}) {
  const out: GeneratedSample[] = [];
  for await (const s of generate(model, request, options)) out.push(s);
  return out;
}

function recorder() {
  const events: StepEvent[] = [];
  return { events, charger: { charge: (e: StepEvent) => (events.push(e), Promise.resolve()) } };
}

const GREEDY = { prompt: "", samples: 1, maxTokens: 256, temperature: 0, seed: 0 };

Deno.test("greedy decoding from BOS reproduces golden.json's 256-step sample and its first 40 tokens", async () => {
  const g = golden();
  const [sample] = await collect(stories, GREEDY);
  assert.equal(sample.text, g.greedy_256_steps_text);
  assert.equal(sample.finishReason, "length");
  assert.equal(sample.tokenIds.length, 256);
  assert.deepEqual(sample.tokenIds.slice(0, 40), g.greedy_from_bos_ids.slice(1));
  assert.equal(sample.promptTokens, 1);
  assert.equal(sample.logProbs.length, 256);
  assert.ok(sample.logProbs.every((lp) => lp <= 0));
  assert.ok(Math.abs(sample.meanLogProb - sample.logProbs.reduce((a, b) => a + b) / 256) < 1e-12);
});

Deno.test("greedy decoding on a 3-segment pipeline gives the same sample, charging every segment of every step", async () => {
  await using segmented = await stories.withSegments(3);
  const { events, charger } = recorder();
  const [sample] = await collect(segmented, { ...GREEDY, maxTokens: 40 }, { charger });
  assert.deepEqual(sample.tokenIds, golden().greedy_from_bos_ids.slice(1));
  assert.equal(events.length, 3 * 40, "one prefill and 39 decode steps, three segments each");
  assert.deepEqual(events.slice(0, 3).map((e) => [e.phase, e.segment, e.layerStart, e.layerEnd, e.pastLength]), [
    ["prefill", 0, 0, 2, 0],
    ["prefill", 1, 2, 4, 0],
    ["prefill", 2, 4, 5, 0],
  ]);
  assert.deepEqual(events.at(-1), {
    phase: "decode",
    samples: [0],
    batch: 1,
    newTokens: 1,
    pastLength: 39,
    layerStart: 4,
    layerEnd: 5,
    segment: 2,
  });
});

Deno.test("k samples at temperature 0 are all the greedy sample (batched decode equals batch 1)", async () => {
  const samples = await collect(stories, {
    prompt: "Once upon a time",
    samples: 4,
    maxTokens: 48,
    temperature: 0,
    seed: 9,
  });
  const [alone] = await collect(stories, {
    prompt: "Once upon a time",
    samples: 1,
    maxTokens: 48,
    temperature: 0,
    seed: 9,
  });
  assert.equal(samples.length, 4);
  for (const s of samples) assert.deepEqual(s.tokenIds, alone.tokenIds);
});

Deno.test("the same seed gives the same samples, another seed different ones, and sample i does not depend on k", async () => {
  const request = { prompt: "Tom had a dog", samples: 4, maxTokens: 40, temperature: 1, topP: 0.95, seed: 123 };
  const byIndex = (xs: GeneratedSample[]) => xs.sort((a, b) => a.index - b.index).map((s) => s.tokenIds);
  const a = byIndex(await collect(stories, request));
  const b = byIndex(await collect(stories, request));
  const c = byIndex(await collect(stories, { ...request, seed: 124 }));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.equal(new Set(a.map((t) => t.join())).size > 1, true, "samples differ from each other");
  const one = byIndex(await collect(stories, { ...request, samples: 1 }));
  assert.deepEqual(one[0], a[0]);
});

Deno.test("temperature reaches the sampler: near 0 it samples the greedy tokens, at 3 it does not", async () => {
  const base = { prompt: "Once upon a time", samples: 2, maxTokens: 30, seed: 3 };
  const [greedy] = await collect(stories, { ...base, samples: 1, temperature: 0 });
  for (const s of await collect(stories, { ...base, temperature: 1e-3 })) assert.deepEqual(s.tokenIds, greedy.tokenIds);
  for (const s of await collect(stories, { ...base, temperature: 3 })) assert.notDeepEqual(s.tokenIds, greedy.tokenIds);
});

Deno.test("a stop string ends a sample and its text is cut before it", async () => {
  const base = { prompt: "Once upon a time", samples: 1, maxTokens: 60, temperature: 0, seed: 1 };
  const [free] = await collect(stories, base);
  const [stopped] = await collect(stories, { ...base, stop: [" girl", "."] });
  assert.equal(stopped.finishReason, "stop");
  const cut = Math.min(...[" girl", "."].map((s) => free.text.indexOf(s)).filter((i) => i >= 0));
  assert.equal(stopped.text, free.text.slice(0, cut));
  assert.ok(stopped.tokenIds.length < free.tokenIds.length);
  assert.deepEqual(stopped.tokenIds, free.tokenIds.slice(0, stopped.tokenIds.length));
});

Deno.test("finished samples are yielded one by one as they finish and leave the decode batch", async () => {
  const { events, charger } = recorder();
  const samples = await collect(
    stories,
    { prompt: "Once upon a time", samples: 6, maxTokens: 80, temperature: 1, seed: 5, stop: ["."] },
    { charger },
  );
  assert.deepEqual(samples.map((s) => s.index).sort(), [0, 1, 2, 3, 4, 5]);
  const lengths = samples.map((s) => s.tokenIds.length);
  assert.deepEqual(lengths, [...lengths].sort((x, y) => x - y), "yielded in finishing order");
  assert.ok(new Set(lengths).size > 1, "samples finish at different steps");
  assert.deepEqual(events[0].samples, [0, 1, 2, 3, 4, 5]);
  assert.equal(events[0].batch, 1, "the prompt is prefilled once for all samples");
  const P = events[0].newTokens;
  for (const e of events.slice(1)) {
    // Decode step k (past P + k - 1) computes token k + 1: exactly the samples still running after k tokens.
    const k = e.pastLength - P + 1;
    const running = samples.filter((s) => s.tokenIds.length > k).map((s) => s.index).sort();
    assert.deepEqual([...e.samples].sort(), running, `step ${k}`);
    assert.equal(e.batch, e.samples.length);
  }
  assert.equal(events.length, Math.max(...lengths), "decode stops when the last sample finishes");
});

Deno.test("a cancelled sample is yielded as cancelled and is not computed at the next step", async () => {
  const { events, charger } = recorder();
  const cancelled = new Set<number>([2]);
  const samples = await collect(
    stories,
    { prompt: "Lily", samples: 4, maxTokens: 30, temperature: 1, seed: 2 },
    {
      charger,
      cancelled: (i) => cancelled.has(i),
    },
  );
  const two = samples.find((s) => s.index === 2)!;
  assert.equal(two.finishReason, "cancelled");
  assert.equal(two.tokenIds.length, 1, "only the token from the shared prefill");
  assert.equal(samples[0].index, 2, "yielded first");
  for (const e of events.slice(1)) assert.deepEqual(e.samples, [0, 1, 3]);
});

Deno.test("cancelling between yields drops the sample from the batch at the next step", async () => {
  const { events, charger } = recorder();
  const cancelled = new Set<number>();
  const out: GeneratedSample[] = [];
  for await (
    const s of generate(stories, { prompt: "Lily", samples: 3, maxTokens: 40, temperature: 1, seed: 8, stop: ["."] }, {
      charger,
      cancelled: (i) => cancelled.has(i),
    })
  ) {
    out.push(s);
    // Once one sample is in, the caller cancels all the others.
    for (let i = 0; i < 3; i++) cancelled.add(i);
  }
  const first = out[0];
  assert.notEqual(first.finishReason, "cancelled");
  // Samples that finished in the same step as the first keep their reason; the rest are cancelled.
  assert.ok(out.slice(1).every((s) => s.finishReason === "cancelled" || s.tokenIds.length === first.tokenIds.length));
  assert.ok(out.some((s) => s.finishReason === "cancelled"));
  const last = events.at(-1)!;
  assert.equal(last.pastLength, first.promptTokens + first.tokenIds.length - 2, "no step ran after the first finish");
});

Deno.test("aborting the signal rejects generation with its reason and stops charging", async () => {
  const controller = new AbortController();
  const events: StepEvent[] = [];
  const reason = new Error("client went away");
  const charger = {
    charge(e: StepEvent) {
      events.push(e);
      if (events.length === 5) controller.abort(reason);
      return Promise.resolve();
    },
  };
  await assert.rejects(
    collect(stories, { prompt: "", samples: 2, maxTokens: 100, temperature: 1, seed: 1 }, {
      charger,
      signal: controller.signal,
    }),
    (e: unknown) => e === reason,
  );
  assert.equal(events.length, 5);
});

Deno.test("a charger that throws rejects generation with its error before that run happens", async () => {
  const boom = new Error("unit npu failed");
  let calls = 0;
  const charger = {
    charge() {
      calls++;
      return calls === 3 ? Promise.reject(boom) : Promise.resolve();
    },
  };
  await assert.rejects(collect(stories, { ...GREEDY, maxTokens: 20 }, { charger }), (e: unknown) => e === boom);
  assert.equal(calls, 3);
  assert.equal(stories.stats.runs > 0, true);
});

Deno.test("different prompts per sample run as one left-padded batch and match each prompt alone", async () => {
  const prompts = ["Once upon a time, there was", "Tom", "The sun was shining and the birds"];
  const batched = await collect(stories, { prompt: "", prompts, samples: 3, maxTokens: 30, temperature: 0, seed: 0 });
  for (const s of batched) {
    const [alone] = await collect(stories, {
      prompt: prompts[s.index],
      samples: 1,
      maxTokens: 30,
      temperature: 0,
      seed: 0,
    });
    assert.deepEqual(s.tokenIds, alone.tokenIds, `prompt ${s.index}`);
    assert.equal(s.promptTokens, alone.promptTokens);
  }
});

Deno.test("generation runs on fp16 (tiny-random-llama-fp16) and GPT-2 past_N models with the KV cache", async () => {
  await using llama = await loadModel(LLAMA_FP16);
  const samples = await collect(llama, { prompt: "Hello", samples: 3, maxTokens: 12, temperature: 0.7, seed: 3 });
  assert.equal(samples.length, 3);
  assert.ok(samples.every((s) => s.tokenIds.length > 0 && s.logProbs.every(Number.isFinite)));
  // Left padding through genai's fused attention mask gives each prompt its own greedy tokens.
  const prompts = ["Hello there my friend", "Hi"];
  const padded = await collect(llama, { prompt: "", prompts, samples: 2, maxTokens: 8, temperature: 0, seed: 0 });
  for (const s of padded) {
    const [alone] = await collect(llama, {
      prompt: prompts[s.index],
      samples: 1,
      maxTokens: 8,
      temperature: 0,
      seed: 0,
    });
    assert.deepEqual(s.tokenIds, alone.tokenIds);
  }
  await using gpt2 = await loadModel(GPT2);
  const [g] = await collect(gpt2, { prompt: "", samples: 1, maxTokens: 10, temperature: 0, seed: 0 });
  assert.equal(g.promptTokens, 1, "an empty prompt starts from BOS");
  assert.ok(g.tokenIds.every((t) => t < 1000));
});

Deno.test("the tiny model ends samples at its EOS token and leaves EOS out of the text", async () => {
  const dir = await tinyModelDir();
  try {
    await using tiny = await loadModel(dir);
    const samples = await collect(tiny, { prompt: "Hi", samples: 8, maxTokens: 200, temperature: 1, seed: 4 });
    const eos = samples.filter((s) => s.finishReason === "eos");
    assert.ok(eos.length > 0, "some samples end at EOS");
    for (const s of eos) {
      assert.equal(s.tokenIds.at(-1), 257);
      assert.equal(s.text, new TextDecoder().decode(Uint8Array.from(s.tokenIds.slice(0, -1))));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generate rejects invalid requests with an InputError naming the field", async () => {
  const base = { prompt: "x", samples: 1, maxTokens: 5, temperature: 1, seed: 0 };
  const cases: [Partial<GenerateRequest>, string][] = [
    [{ samples: 0 }, "samples"],
    [{ maxTokens: 0 }, "maxTokens"],
    [{ temperature: -1 }, "temperature"],
    [{ topP: 0 }, "topP"],
    [{ topK: 1.5 }, "topK"],
    [{ stop: [""] }, "stop"],
    [{ seed: 0.5 }, "seed"],
    [{ prompts: ["a"], samples: 2 }, "prompts"],
    [{ prompt: "word ".repeat(600) }, "prompt"],
  ];
  for (const [change, field] of cases) {
    await assert.rejects(
      collect(stories, { ...base, ...change }),
      (e: unknown) => isQeilError(e, "Input") && e.details.field === field,
      field,
    );
  }
  await using gpt2 = await loadModel(GPT2);
  await assert.rejects(
    collect(gpt2, { ...base, prompt: "Hello world" }),
    (e: unknown) => isQeilError(e, "Input") && /token 15496, outside the model's vocabulary of 1000/.test(e.message),
  );
});

Deno.test("generation stops at the model's context length", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-tiny-" });
  try {
    const { buildTinyModel } = await import("../../src/runtime/mod.ts");
    await buildTinyModel(dir, { maxSeqLen: 24 });
    await using tiny = await loadModel(dir);
    const [s] = await collect(tiny, { prompt: "Hi", samples: 1, maxTokens: 100, temperature: 0, seed: 0 });
    assert.equal(s.finishReason, "length");
    assert.equal(s.promptTokens + s.tokenIds.length, 24);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await stories.dispose();
  }
});
