import assert from "node:assert/strict";
import {
  defaultCacheDir,
  ensureTinyModel,
  loadModel,
  TINY_BOS_ID,
  TINY_EOS_ID,
  tinyModelFiles,
  tinyModelName,
} from "../../src/runtime/mod.ts";
import { maxAbsDiff, tinyModelDir } from "./_models.ts";

Deno.test("tinyModelFiles is deterministic: same seed same bytes, another seed other weights", () => {
  const a = tinyModelFiles({ seed: 3 });
  const b = tinyModelFiles({ seed: 3 });
  const c = tinyModelFiles({ seed: 4 });
  assert.deepEqual(a["model.onnx"], b["model.onnx"]);
  assert.equal(a["config.json"], b["config.json"]);
  assert.notDeepEqual(a["model.onnx"], c["model.onnx"]);
  assert.equal(a["model.onnx"].length, c["model.onnx"].length);
});

Deno.test("the tiny model loads as a Llama decoder with GQA, tied embeddings and a byte-level tokenizer", async () => {
  const dir = await tinyModelDir();
  try {
    await using model = await loadModel(dir);
    assert.deepEqual(model.shape, {
      family: "llama",
      mlpMatrices: 3,
      layers: 4,
      hiddenSize: 64,
      intermediateSize: 176,
      heads: 8,
      kvHeads: 4,
      headDim: 8,
      vocabSize: 258,
      maxSeqLen: 512,
      tiedEmbeddings: true,
      weightPrecision: "fp32",
      kvPrecision: "fp32",
    });
    assert.deepEqual(model.io.kv.dims, [0, 4, 0, 8]);
    assert.deepEqual(model.stopTokenIds, [TINY_EOS_ID]);
    const tok = model.tokenizer;
    assert.equal(tok.bosId, TINY_BOS_ID);
    const text = "Grüße, 世界! 🙂\n\ttabs  and spaces";
    const ids = tok.encode(text);
    assert.equal(ids[0], TINY_BOS_ID);
    assert.deepEqual(ids.slice(1), [...new TextEncoder().encode(text)]);
    assert.equal(tok.decode(ids), text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the tiny model's KV-cache decoding equals its full forward pass within 1e-4", async () => {
  const dir = await tinyModelDir();
  try {
    await using model = await loadModel(dir);
    const ids = [TINY_BOS_ID, ...new TextEncoder().encode("Hello, tiny model")];
    const n = ids.length;
    const V = model.shape.vocabSize;
    const full = await model.step({
      batch: 1,
      seqLen: n,
      inputIds: Int32Array.from(ids),
      attentionMask: new Int32Array(n).fill(1),
      positionIds: Int32Array.from(ids, (_, i) => i),
      kv: model.emptyCache(1),
    }, { phase: "prefill", samples: [0] });
    let kv = model.emptyCache(1);
    for (let i = 0; i < n; i++) {
      const out = await model.step({
        batch: 1,
        seqLen: 1,
        inputIds: Int32Array.of(ids[i]),
        attentionMask: new Int32Array(i + 1).fill(1),
        positionIds: Int32Array.of(i),
        kv,
      }, { phase: "decode", samples: [0] });
      kv = out.kv;
      assert.ok(maxAbsDiff(out.logits!.data, full.logits!.data.subarray(i * V, (i + 1) * V)) < 1e-4, `position ${i}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ensureTinyModel builds once into the cache and reuses the folder, also under concurrent calls", async () => {
  const cache = await Deno.makeTempDir({ prefix: "qeil-cache-" });
  try {
    const [a, b] = await Promise.all([ensureTinyModel(cache), ensureTinyModel(cache)]);
    assert.equal(a, `${cache}/${tinyModelName()}`);
    assert.equal(b, a);
    const built = Deno.statSync(`${a}/model.onnx`).mtime!.getTime();
    assert.equal(await ensureTinyModel(cache), a);
    assert.equal(Deno.statSync(`${a}/model.onnx`).mtime!.getTime(), built);
    const leftovers = [...Deno.readDirSync(cache)].map((e) => e.name);
    assert.deepEqual(leftovers, [tinyModelName()]);
    assert.notEqual(await ensureTinyModel(cache, { seed: 1 }), a);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("defaultCacheDir prefers QEIL_CACHE_DIR, then XDG_CACHE_HOME, then HOME", () => {
  assert.equal(defaultCacheDir({ QEIL_CACHE_DIR: "/q", XDG_CACHE_HOME: "/x", HOME: "/h" }), "/q");
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: "/x", HOME: "/h" }), "/x/qeil");
  assert.equal(defaultCacheDir({ HOME: "/h" }), "/h/.cache/qeil");
  assert.equal(defaultCacheDir({}), "/tmp/qeil-cache");
});

Deno.test("tinyModelFiles rejects dimensions that do not divide", () => {
  assert.throws(() => tinyModelFiles({ hiddenSize: 60, heads: 8 }), RangeError);
  assert.throws(() => tinyModelFiles({ heads: 8, kvHeads: 3 }), RangeError);
  assert.throws(() => tinyModelFiles({ layers: 0 }), RangeError);
});
