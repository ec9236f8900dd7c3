import assert from "node:assert/strict";
import { isQeilError } from "../../src/core/mod.ts";
import { type DecoderModel, evenSegments, type KvCache, loadModel } from "../../src/runtime/mod.ts";
import { copyModel, GPT2, LLAMA_FP16, maxAbsDiff, STORIES } from "./_models.ts";

const stories = await loadModel(STORIES);
const llama = await loadModel(LLAMA_FP16);
const gpt2 = await loadModel(GPT2);
// Sessions are released after the last test of this file (Deno runs them in order).
const all = [stories, llama, gpt2];

/** Logits of a full forward pass over `ids`, and of feeding them one at a time through the KV cache. */
async function fullAndIncremental(model: DecoderModel, ids: number[]) {
  const n = ids.length;
  const full = await model.step({
    batch: 1,
    seqLen: n,
    inputIds: Int32Array.from(ids),
    attentionMask: new Int32Array(n).fill(1),
    positionIds: Int32Array.from(ids, (_, i) => i),
    kv: model.emptyCache(1),
  }, { phase: "prefill", samples: [0] });
  const V = model.shape.vocabSize;
  const incremental = new Float32Array(n * V);
  let kv: KvCache = model.emptyCache(1);
  for (let i = 0; i < n; i++) {
    const out = await model.step({
      batch: 1,
      seqLen: 1,
      inputIds: Int32Array.of(ids[i]),
      attentionMask: new Int32Array(i + 1).fill(1),
      positionIds: Int32Array.of(i),
      kv,
    }, { phase: "decode", samples: [0] });
    incremental.set(out.logits!.data, i * V);
    kv = out.kv;
  }
  assert.equal(kv.pastLength, n);
  return { full: full.logits!.data, incremental };
}

Deno.test("loadModel reads stories260k's shape, I/O names and llama2.c tokenizer", () => {
  assert.deepEqual(stories.shape, {
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
  });
  assert.equal(stories.io.inputIds.type, "int64");
  assert.deepEqual(stories.io.kv.layers[4], {
    past: ["past_key_values.4.key", "past_key_values.4.value"],
    present: ["present.4.key", "present.4.value"],
  });
  assert.equal(stories.tokenizer.kind, "llama2c");
  // EOS 2, and BOS 1 because llama2.c's run.c ends a story at BOS.
  assert.deepEqual(stories.stopTokenIds, [1, 2]);
  assert.deepEqual(stories.segments.map((s) => [s.layerStart, s.layerEnd]), [[0, 5]]);
  assert.deepEqual(stories.warnings, []);
});

Deno.test("loadModel fills genai_config.json's gaps from the graph of tiny-random-llama-fp16 (fp16, external data)", () => {
  assert.equal(llama.shape.weightPrecision, "fp16");
  assert.equal(llama.shape.kvPrecision, "fp16");
  assert.equal(llama.shape.intermediateSize, 64, "MLP width inferred from the gate/up/down weights");
  assert.equal(llama.shape.tiedEmbeddings, false, "separate lm_head");
  assert.equal(llama.io.kv.type, "float16");
  assert.equal(llama.io.logits.type, "float16");
  assert.deepEqual(llama.io.kv.dims, [0, 1, 0, 16]);
  assert.equal(llama.tokenizer.kind, "huggingface");
});

Deno.test("loadModel reads tiny-random-gpt2-fp32's stacked past_N cache and int32 inputs, warning about its tokenizer", () => {
  assert.equal(gpt2.modelFile, `${GPT2}/past.onnx`);
  assert.equal(gpt2.io.inputIds.type, "int32");
  assert.deepEqual(gpt2.io.kv.layers[0], { past: ["past_0"], present: ["present_0"] });
  assert.deepEqual(gpt2.io.kv.dims, [2, 0, 4, 0, 8]);
  assert.equal(gpt2.io.kv.batchAxis, 1);
  assert.equal(gpt2.shape.heads, 4);
  assert.equal(gpt2.shape.hiddenSize, 32);
  assert.equal(gpt2.shape.intermediateSize, 128);
  assert.equal(gpt2.warnings.length, 1);
  assert.match(gpt2.warnings[0], /tokenizer has 50295 tokens but the model only 1000/);
});

const IDS = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315];

Deno.test("KV-cache decoding equals a full forward pass on stories260k within 1e-4", async () => {
  const { full, incremental } = await fullAndIncremental(stories, IDS);
  assert.ok(maxAbsDiff(full, incremental) < 1e-4, `max diff ${maxAbsDiff(full, incremental)}`);
});

Deno.test("KV-cache decoding equals a full forward pass on tiny-random-llama-fp16 within 2e-3 (a few fp16 ulps)", async () => {
  // Logits are fp16 (|x| < 1 here: ulp <= 2^-11 ~ 4.9e-4); the two paths round differently in fp16 attention.
  const { full, incremental } = await fullAndIncremental(llama, [1, 15043, 3186, 29892, 920, 526, 366, 29973]);
  assert.ok(maxAbsDiff(full, incremental) < 2e-3, `max diff ${maxAbsDiff(full, incremental)}`);
});

Deno.test("KV-cache decoding equals a full forward pass on tiny-random-gpt2-fp32 within 1e-4", async () => {
  const { full, incremental } = await fullAndIncremental(gpt2, [98, 5, 17, 400, 999, 3, 250, 61]);
  assert.ok(maxAbsDiff(full, incremental) < 1e-4, `max diff ${maxAbsDiff(full, incremental)}`);
});

Deno.test("a left-padded batch gives each row the logits it has alone (stories260k, gpt2)", async () => {
  for (
    const [model, a, b] of [[stories, IDS, IDS.slice(0, 5)], [gpt2, [98, 5, 17, 400, 999, 3], [98, 7, 8]]] as const
  ) {
    const V = model.shape.vocabSize;
    const S = a.length;
    const pad = S - b.length;
    const ids = new Int32Array(2 * S).fill(model.padTokenId);
    const mask = new Int32Array(2 * S);
    const pos = new Int32Array(2 * S);
    a.forEach((t, j) => (ids[j] = t, mask[j] = 1, pos[j] = j));
    b.forEach((t, j) => (ids[S + pad + j] = t, mask[S + pad + j] = 1, pos[S + pad + j] = j));
    const batch = await model.step(
      { batch: 2, seqLen: S, inputIds: ids, attentionMask: mask, positionIds: pos, kv: model.emptyCache(2) },
      { phase: "prefill", samples: [0, 1] },
    );
    const alone = await fullAndIncremental(model, [...b]);
    const rowB = batch.logits!.data.subarray((S + pad) * V, 2 * S * V);
    assert.ok(
      maxAbsDiff(rowB, alone.full) < 1e-4,
      `${model.dir}: padded row differs by ${maxAbsDiff(rowB, alone.full)}`,
    );
    // One decode step on the padded batch continues both rows correctly.
    const next = await model.step({
      batch: 2,
      seqLen: 1,
      inputIds: Int32Array.of(a[0], b[0]),
      attentionMask: Int32Array.from([...mask.subarray(0, S), 1, ...mask.subarray(S), 1]),
      positionIds: Int32Array.of(S, b.length),
      kv: batch.kv,
    }, { phase: "decode", samples: [0, 1] });
    const extended = await fullAndIncremental(model, [...b, b[0]]);
    assert.ok(maxAbsDiff(next.logits!.data.subarray(V), extended.full.subarray(b.length * V)) < 1e-4);
  }
});

Deno.test("step rejects inputs whose sizes do not match the batch", async () => {
  await assert.rejects(
    stories.step({
      batch: 1,
      seqLen: 2,
      inputIds: Int32Array.of(1),
      attentionMask: Int32Array.of(1, 1),
      positionIds: Int32Array.of(0, 1),
      kv: stories.emptyCache(1),
    }, { phase: "prefill", samples: [0] }),
    RangeError,
  );
});

Deno.test("evenSegments splits layers as evenly as possible, earlier segments taking the remainder", () => {
  assert.deepEqual(evenSegments(5, 3).map((s) => [s.layerStart, s.layerEnd]), [[0, 2], [2, 4], [4, 5]]);
  assert.throws(() => evenSegments(5, 6), RangeError);
});

// ---------------------------------------------------------------- bad folders

async function expectModelError(dir: string, pattern: RegExp, path?: string): Promise<void> {
  await assert.rejects(loadModel(dir), (e: unknown) => {
    assert.ok(isQeilError(e, "Model"), `expected a ModelError, got ${e}`);
    assert.match(e.message, pattern);
    if (path) assert.ok(e.message.includes(path), `"${e.message}" does not name ${path}`);
    return true;
  });
}

async function withCopy(src: string, breakIt: (dir: string) => Promise<void>, check: (dir: string) => Promise<void>) {
  const dir = await copyModel(src);
  try {
    await breakIt(dir);
    await check(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadModel names a missing model.onnx", async () => {
  await withCopy(
    STORIES,
    (d) => Deno.remove(`${d}/model.onnx`),
    (d) => expectModelError(d, /is missing/, `${d}/model.onnx`),
  );
});

Deno.test("loadModel names a folder without any config", async () => {
  await withCopy(
    STORIES,
    (d) => Deno.remove(`${d}/config.json`),
    (d) => expectModelError(d, /neither config\.json nor genai_config\.json/, d),
  );
});

Deno.test("loadModel names a folder without a tokenizer", async () => {
  await withCopy(
    STORIES,
    (d) => Deno.remove(`${d}/tok512.bin`),
    (d) => expectModelError(d, /has none of tokenizer\.json, tok512\.bin/, d),
  );
});

Deno.test("loadModel names a missing or truncated external data file", async () => {
  await withCopy(
    LLAMA_FP16,
    (d) => Deno.remove(`${d}/model.onnx.data`),
    (d) => expectModelError(d, /external data file .* is missing/, `${d}/model.onnx.data`),
  );
  await withCopy(
    LLAMA_FP16,
    (d) => Deno.truncate(`${d}/model.onnx.data`, 1000),
    (d) => expectModelError(d, /has 1000 bytes, the graph needs 2130080/, `${d}/model.onnx.data`),
  );
});

Deno.test("loadModel names a corrupt model.onnx", async () => {
  await withCopy(
    STORIES,
    (d) => Deno.writeFile(`${d}/model.onnx`, Deno.readFileSync(`${STORIES}/model.onnx`).subarray(0, 5000)),
    (d) => expectModelError(d, /model\.onnx/, `${d}/model.onnx`),
  );
  await withCopy(
    STORIES,
    (d) => Deno.writeTextFile(`${d}/model.onnx`, "this is not a protobuf at all, just text"),
    (d) => expectModelError(d, /model\.onnx/, `${d}/model.onnx`),
  );
});

Deno.test("loadModel rejects a config whose shape disagrees with the graph, naming both files", async () => {
  const edit = (change: Record<string, unknown>) => async (d: string) => {
    const config = JSON.parse(await Deno.readTextFile(`${d}/config.json`));
    await Deno.writeTextFile(`${d}/config.json`, JSON.stringify({ ...config, ...change }));
  };
  await withCopy(
    STORIES,
    edit({ n_layers: 4 }),
    (d) => expectModelError(d, /says 4 layers but the graph has KV inputs for 5/, `${d}/config.json`),
  );
  await withCopy(
    STORIES,
    edit({ vocab_size: 600 }),
    (d) => expectModelError(d, /vocab_size 600 but the graph's logits have 512/),
  );
  await withCopy(
    STORIES,
    edit({ n_kv_heads: 8 }),
    (d) => expectModelError(d, /8 KV heads but the graph's past KV has 4/),
  );
  await withCopy(
    STORIES,
    edit({ dim: 128, n_heads: 16 }),
    (d) => expectModelError(d, /hidden size 128 but the embedding matrix is \[512,64\]/),
  );
});

Deno.test("loadModel reports invalid JSON in config.json, naming the file", async () => {
  await withCopy(
    STORIES,
    (d) => Deno.writeTextFile(`${d}/config.json`, "{ n_layers: 5"),
    (d) => expectModelError(d, /invalid JSON/, `${d}/config.json`),
  );
});

Deno.test("a disposed model refuses to step (cleanup of this file's models)", async () => {
  for (const m of all) await m.dispose();
  await assert.rejects(
    stories.step({
      batch: 1,
      seqLen: 1,
      inputIds: Int32Array.of(1),
      attentionMask: Int32Array.of(1),
      positionIds: Int32Array.of(0),
      kv: stories.emptyCache(1),
    }, { phase: "prefill", samples: [0] }),
    /disposed/,
  );
});
