import assert from "node:assert/strict";
import { isQeilError } from "../../src/core/mod.ts";
import {
  decodeModel,
  type DecoderModel,
  evenSegments,
  type KvCache,
  loadModel,
  OrtCpuBackend,
  splitDecoder,
} from "../../src/runtime/mod.ts";
import { GPT2, LLAMA_FP16, maxAbsDiff, STORIES, tinyModelDir } from "./_models.ts";

/** Logits of a prefill of `ids` then one decode step through the KV cache. */
async function prefillAndDecode(model: DecoderModel, ids: number[], next: number) {
  const n = ids.length;
  const prefill = await model.step({
    batch: 1,
    seqLen: n,
    inputIds: Int32Array.from(ids),
    attentionMask: new Int32Array(n).fill(1),
    positionIds: Int32Array.from(ids, (_, i) => i),
    kv: model.emptyCache(1),
  }, { phase: "prefill", samples: [0] });
  const kv: KvCache = prefill.kv;
  const decode = await model.step({
    batch: 1,
    seqLen: 1,
    inputIds: Int32Array.of(next),
    attentionMask: new Int32Array(n + 1).fill(1),
    positionIds: Int32Array.of(n),
    kv,
  }, { phase: "decode", samples: [0] });
  return { prefill: prefill.logits!.data, decode: decode.logits!.data };
}

async function checkAllSplits(dir: string, ids: number[], next: number, tolerance: number) {
  await using whole = await loadModel(dir);
  const reference = await prefillAndDecode(whole, ids, next);
  for (let count = 1; count <= whole.shape.layers; count++) {
    await using split = await whole.withSegments(count);
    assert.equal(split.segments.length, count);
    const got = await prefillAndDecode(split, ids, next);
    const diff = Math.max(maxAbsDiff(got.prefill, reference.prefill), maxAbsDiff(got.decode, reference.decode));
    assert.ok(diff <= tolerance, `${count} segments: max diff ${diff}`);
  }
}

Deno.test("chained segments give stories260k's logits within 1e-4 for 1 to 5 segments (prefill and decode)", async () => {
  await checkAllSplits(STORIES, [1, 403, 407, 261, 378, 432], 383, 1e-4);
});

Deno.test("chained segments give tiny-random-llama-fp16's logits within 1e-4 for 1 to 2 segments", async () => {
  await checkAllSplits(LLAMA_FP16, [1, 15043, 3186, 29892], 920, 1e-4);
});

Deno.test("chained segments give tiny-random-gpt2-fp32's logits within 1e-4 for 1 to 5 segments", async () => {
  await checkAllSplits(GPT2, [98, 5, 17, 400], 999, 1e-4);
});

Deno.test("chained segments give the tiny model's logits within 1e-4 for 1 to 4 segments", async () => {
  const dir = await tinyModelDir();
  try {
    await checkAllSplits(dir, [256, 72, 105, 33], 10, 1e-4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stories260k is cut on the residual stream: one activation between layers", () => {
  const model = decodeModel(Deno.readFileSync(`${STORIES}/model.onnx`), "stories260k");
  const io = {
    inputIds: { name: "input_ids" },
    logits: { name: "logits" },
    kv: {
      layers: Array.from({ length: 5 }, (_, l) => ({
        past: [`past_key_values.${l}.key`, `past_key_values.${l}.value`],
        present: [`present.${l}.key`, `present.${l}.value`],
      })),
    },
  };
  const parts = splitDecoder(model, io, evenSegments(5, 5));
  assert.deepEqual(parts.map((p) => p.carriedIn.length), [0, 1, 1, 1, 1]);
  // The residual Add after layer 0's MLP: it feeds layer 1's RMSNorm (x * x) and layer 1's residual Add.
  const consumers = model.graph!.node!.filter((n) => n.input!.includes(parts[1].carriedIn[0]));
  assert.ok(consumers.some((n) => n.opType === "Mul" && n.input![0] === n.input![1]));
  assert.ok(consumers.some((n) => n.opType === "Add"));
  assert.deepEqual(parts[4].carriedOut, []);
  assert.deepEqual(parts[0].contextInputs, ["input_ids", "attention_mask", "position_ids"]);
  assert.deepEqual(parts[2].pastInputs, ["past_key_values.2.key", "past_key_values.2.value"]);
});

Deno.test("tiny-random-llama-fp16 is cut at layer 1's fused skip-norm: normed input and residual", async () => {
  await using split = await loadModel(LLAMA_FP16, { segments: 2 });
  const carried = split.segments[1].inputs.filter((n) => n.startsWith("/model"));
  assert.deepEqual(carried, ["/model/layers.1/input_layernorm/output_0", "/model/layers.1/input_layernorm/output_3"]);
  // Layer 1's mask subgraph read the shape of layer 0's past; the segment reads its own layer's instead.
  assert.ok(!split.segments[1].inputs.includes("past_key_values.0.key"));
});

Deno.test("segments run on their own backends", async () => {
  const a = new OrtCpuBackend({ name: "unit-a" });
  const b = new OrtCpuBackend({ name: "unit-b" });
  await using split = await loadModel(STORIES, {
    segments: [{ layerStart: 0, layerEnd: 1, backend: a }, { layerStart: 1, layerEnd: 5, backend: b }],
  });
  assert.deepEqual(split.segments.map((s) => [s.layerStart, s.layerEnd, s.backend]), [[0, 1, "unit-a"], [
    1,
    5,
    "unit-b",
  ]]);
});

Deno.test("segments must be contiguous ranges covering every layer", async () => {
  await assert.rejects(
    loadModel(STORIES, { segments: [{ layerStart: 0, layerEnd: 2 }, { layerStart: 3, layerEnd: 5 }] }),
    RangeError,
  );
  await assert.rejects(loadModel(STORIES, { segments: [{ layerStart: 0, layerEnd: 4 }] }), RangeError);
  await assert.rejects(loadModel(STORIES, { segments: 6 }), RangeError);
});

Deno.test("splitDecoder refuses a graph whose later layer reads an earlier layer's cache", () => {
  const model = decodeModel(Deno.readFileSync(`${STORIES}/model.onnx`), "stories260k");
  // Rewire layer 3's key concat to take layer 0's past: layers 3+ can no longer be separated from layer 0.
  const concat = model.graph!.node!.find((n) => n.output![0] === "present.3.key")!;
  concat.input = ["past_key_values.0.key", concat.input![1]];
  const io = {
    inputIds: { name: "input_ids" },
    logits: { name: "logits" },
    kv: {
      layers: Array.from({ length: 5 }, (_, l) => ({
        past: [`past_key_values.${l}.key`, `past_key_values.${l}.value`],
        present: [`present.${l}.key`, `present.${l}.value`],
      })),
    },
  };
  assert.throws(
    () => splitDecoder(model, io, evenSegments(5, 2), { label: "tampered.onnx" }),
    (e: unknown) => isQeilError(e, "Model") && e.message.includes("tampered.onnx"),
  );
});
