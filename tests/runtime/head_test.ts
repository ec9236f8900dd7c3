import assert from "node:assert/strict";
import { createRng, isQeilError } from "../../src/core/mod.ts";
import { addSamplingHead, HEAD } from "../../src/runtime/head.ts";
import { type DecoderModel, loadModel, logSumExp, Sampler } from "../../src/runtime/mod.ts";
import { encodeModel } from "../../src/runtime/onnx_graph.ts";
import { createTensor, OrtSession } from "../../src/runtime/ort.ts";
import { GPT2, LLAMA_FP16, maxAbsDiff, STORIES } from "./_models.ts";

function softmax(row: ArrayLike<number>, inverseTemperature: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]);
  const out = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp((row[i] - max) * inverseTemperature);
  return out.map((x) => x / sum);
}

/**
 * @param tolerance how far the head's float32 logits may be from the graph's own logits output: exact for
 * fp32; for fp16 ORT folds the head's Cast into the lm_head MatMul, which then skips the fp16 rounding of
 * its output (a few fp16 ulps at these magnitudes).
 */
async function checkHead(model: DecoderModel, ids: number[], tolerance = 1e-6) {
  const n = ids.length;
  const input = () => ({
    batch: 2,
    seqLen: n,
    inputIds: Int32Array.from([...ids, ...ids.slice().reverse()]),
    attentionMask: new Int32Array(2 * n).fill(1),
    positionIds: Int32Array.from([...ids, ...ids], (_, i) => i % n),
    kv: model.emptyCache(2),
  });
  const V = model.shape.vocabSize;
  const full = await model.step(input(), { phase: "prefill", samples: [0, 1] });
  const last = await model.step(input(), {
    phase: "prefill",
    samples: [0, 1],
    head: { kind: "last", inverseTemperature: 1.25 },
  });
  assert.equal(last.logits, undefined);
  for (let r = 0; r < 2; r++) {
    const offset = (r * n + n - 1) * V;
    const row = full.logits!.data.subarray(offset, offset + V);
    assert.ok(maxAbsDiff(last.last!.logits.subarray(r * V, (r + 1) * V), row) < tolerance);
    const lse = logSumExp(last.last!.logits, r * V, V);
    assert.ok(Math.abs(last.last!.logSumExp[r] - lse) < 1e-4, `lse ${last.last!.logSumExp[r]} vs ${lse}`);
    assert.ok(Math.abs(full.logits!.logSumExp[r * n + n - 1] - logSumExp(row, 0, V)) < 1e-4);
    const probs = softmax(last.last!.logits.subarray(r * V, (r + 1) * V), 1.25);
    assert.ok(maxAbsDiff(last.last!.probs!.subarray(r * V, (r + 1) * V), probs) < 1e-6);
  }
  // Without an inverse temperature the softmax is not fetched.
  const greedy = await model.step(input(), { phase: "prefill", samples: [0, 1], head: { kind: "last" } });
  assert.equal(greedy.last!.probs, undefined);
}

Deno.test("the sampling head matches log-sum-exp and tempered softmax computed in TypeScript (opset 17 fp32)", async () => {
  await using model = await loadModel(STORIES);
  await checkHead(model, [1, 403, 407, 261]);
});

Deno.test("the sampling head casts fp16 logits to float32 (tiny-random-llama-fp16)", async () => {
  await using model = await loadModel(LLAMA_FP16);
  await checkHead(model, [1, 15043, 3186], 5e-4);
});

Deno.test("the sampling head works on opset 11 graphs (tiny-random-gpt2-fp32)", async () => {
  await using model = await loadModel(GPT2);
  await checkHead(model, [98, 5, 17]);
});

Deno.test("the sampling head uses axes inputs on opset 18 graphs", async () => {
  const V = 6;
  const model = addSamplingHead(
    {
      irVersion: 8,
      opsetImport: [{ domain: "", version: 18 }],
      graph: {
        name: "identity",
        node: [{ opType: "Identity", input: ["x"], output: ["logits"], name: "id" }],
        input: [{
          name: "x",
          type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 2 }, { dimValue: V }] } } },
        }],
        output: [{ name: "logits", type: { tensorType: { elemType: 1 } } }],
      },
    },
    { name: "logits", type: "float32" },
    "identity.onnx",
  );
  await using session = await OrtSession.create(encodeModel(model), {}, "identity.onnx");
  const x = Float32Array.of(0, 1, 2, 3, 4, 5, 1, -1, 0.5, 2, 0, 3);
  const out = await session.run({
    x: createTensor("float32", x, [1, 2, V]),
    [HEAD.inverseTemperature]: createTensor("float32", Float32Array.of(0.5), [1]),
  }, [HEAD.lastLogits, HEAD.lastLogSumExp, HEAD.lastProbs, HEAD.logSumExp]);
  const lastRow = x.subarray(V);
  assert.deepEqual([...out[HEAD.lastLogits].data as Float32Array], [...lastRow]);
  assert.ok(Math.abs((out[HEAD.lastLogSumExp].data as Float32Array)[0] - logSumExp(lastRow, 0, V)) < 1e-5);
  assert.ok(maxAbsDiff(out[HEAD.lastProbs].data as Float32Array, softmax(lastRow, 0.5)) < 1e-6);
  assert.ok(Math.abs((out[HEAD.logSumExp].data as Float32Array)[0] - logSumExp(x, 0, V)) < 1e-5);
});

Deno.test("addSamplingHead refuses graphs older than opset 10", () => {
  assert.throws(
    () =>
      addSamplingHead(
        { irVersion: 3, opsetImport: [{ domain: "", version: 9 }], graph: { node: [], output: [] } },
        { name: "logits", type: "float32" },
        "old.onnx",
      ),
    (e: unknown) => isQeilError(e, "Model") && /old\.onnx: default-domain opset 9/.test(e.message),
  );
});

Deno.test("Sampler.pickRow with the head's softmax draws what Sampler.pick draws from raw logits", () => {
  const logits = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i * 0.7) * 3);
  const probs = Float32Array.from(softmax(logits, 1 / 0.9));
  const lse = logSumExp(logits, 0, 64);
  const s = new Sampler(64);
  for (let seed = 0; seed < 50; seed++) {
    const params = { temperature: 0.9, topP: 0.8, topK: 20 };
    const a = s.pick(logits, 0, params, createRng(seed));
    const b = s.pickRow(logits, 0, lse, probs, params, createRng(seed));
    assert.equal(a.token, b.token);
    assert.ok(Math.abs(a.logProb - b.logProb) < 1e-9);
  }
  assert.throws(() => s.pickRow(logits, 0, lse, undefined, { temperature: 1 }, createRng(1)), RangeError);
});
