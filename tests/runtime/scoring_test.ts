import assert from "node:assert/strict";
import { isQeilError } from "../../src/core/mod.ts";
import {
  loadModel,
  rollingLogLikelihood,
  rollingWindows,
  scoreContinuation,
  scoreContinuations,
  scoreTokens,
  type StepEvent,
} from "../../src/runtime/mod.ts";
import { golden, STORIES } from "./_models.ts";

const stories = await loadModel(STORIES);

Deno.test("rolling log-likelihood of golden.json's story gives its teacher-forced mean NLL 0.815217 (+-1e-3)", async () => {
  const g = golden();
  const score = await rollingLogLikelihood(stories, g.text);
  assert.equal(score.tokens, g.token_ids_with_bos.length - 1);
  assert.equal(score.windows, 1);
  const meanNll = -score.logLikelihood / score.tokens;
  assert.ok(Math.abs(meanNll - g.mean_nll_nats_teacher_forced) < 1e-3, `mean NLL ${meanNll}`);
});

Deno.test("rollingWindows predicts every token exactly once with lm-eval's disjoint windows", () => {
  const tokens = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
  assert.deepEqual(rollingWindows(tokens, 1, 4), [
    { context: [1], continuation: [10, 11, 12, 13] },
    { context: [13], continuation: [14, 15, 16, 17] },
    { context: [15, 16, 17], continuation: [18, 19] },
  ]);
  for (const maxLen of [1, 3, 7, 10, 50]) {
    const windows = rollingWindows(tokens, 1, maxLen);
    assert.deepEqual(windows.flatMap((w) => w.continuation), tokens);
    for (const w of windows) assert.ok(w.context.length + w.continuation.length - 1 <= maxLen);
  }
  assert.deepEqual(rollingWindows([], 1, 4), []);
});

Deno.test("short rolling windows score the same text in more windows, with less context and a higher NLL", async () => {
  const g = golden();
  const full = await rollingLogLikelihood(stories, g.text);
  const short = await rollingLogLikelihood(stories, g.text, { window: 16, batchSize: 3 });
  assert.equal(short.tokens, full.tokens);
  assert.equal(short.windows, Math.ceil(full.tokens / 16));
  assert.ok(short.logLikelihood < full.logLikelihood);
  // The same windows scored one by one give the same sum.
  const windows = rollingWindows(stories.tokenizer.encode(g.text, { bos: false }), 1, 16);
  const one = await scoreTokens(stories, windows, { batchSize: 1 });
  const sum = one.reduce((a, s) => a + s.logLikelihood, 0);
  assert.ok(Math.abs(sum - short.logLikelihood) < 1e-3, `${sum} vs ${short.logLikelihood}`);
});

Deno.test("scoreContinuation flags the model's greedy continuation and scores an unlikely one lower", async () => {
  const likely = await scoreContinuation(stories, "Once upon a time,", " there was a little girl named Lily.");
  const unlikely = await scoreContinuation(stories, "Once upon a time,", " the purple volcano ate seven clocks.");
  assert.equal(likely.greedy, true);
  assert.equal(unlikely.greedy, false);
  assert.ok(likely.logLikelihood > unlikely.logLikelihood);
  assert.ok(likely.logLikelihood < 0);
  assert.equal(likely.tokens > 0, true);
});

Deno.test("scoreContinuation moves the context's trailing space into the continuation, as lm-eval does", async () => {
  const a = await scoreContinuation(stories, "Once upon a time, ", "there was");
  const b = await scoreContinuation(stories, "Once upon a time,", " there was");
  assert.deepEqual(a, b);
});

Deno.test("batched scoring of ARC-style choices equals scoring them one at a time, charging one prefill per batch", async () => {
  const context = "Question: What do plants need to grow?\nAnswer:";
  const choices = [" sunlight and water", " rocks", " loud music", " a bicycle", " snow"];
  const events: StepEvent[] = [];
  const charger = { charge: (e: StepEvent) => (events.push(e), Promise.resolve()) };
  const batched = await scoreContinuations(stories, choices.map((c) => ({ context, continuation: c })), {
    batchSize: 4,
    charger,
  });
  assert.deepEqual(events.map((e) => [e.phase, e.batch]), [["prefill", 4], ["prefill", 1]]);
  assert.deepEqual(events.flatMap((e) => e.samples).sort(), [0, 1, 2, 3, 4]);
  for (const [i, choice] of choices.entries()) {
    const alone = await scoreContinuation(stories, context, choice);
    assert.ok(Math.abs(alone.logLikelihood - batched[i].logLikelihood) < 1e-4, `choice ${i}`);
    assert.equal(alone.tokens, batched[i].tokens);
    assert.equal(alone.greedy, batched[i].greedy);
  }
});

Deno.test("a context longer than the model's is truncated from the left", async () => {
  const long = "Tom ran to the park. ".repeat(120);
  const score = await scoreContinuation(stories, long, " He was happy.");
  assert.ok(Number.isFinite(score.logLikelihood));
  assert.ok(stories.tokenizer.encode(long).length > 512);
});

Deno.test("scoring rejects empty continuations and windows outside the model's context", async () => {
  await assert.rejects(scoreContinuation(stories, "abc", ""), (e: unknown) => isQeilError(e, "Input"));
  await assert.rejects(
    rollingLogLikelihood(stories, "text", { window: 513 }),
    (e: unknown) => isQeilError(e, "Input") && e.details.field === "window",
  );
  assert.deepEqual(await rollingLogLikelihood(stories, ""), { logLikelihood: 0, tokens: 0, windows: 0 });
  await stories.dispose();
});
