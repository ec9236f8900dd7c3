import assert from "node:assert/strict";
import { isQeilError } from "../../src/core/mod.ts";
import { analyseGraph } from "../../src/runtime/decoder_graph.ts";
import { decodeModel } from "../../src/runtime/mod.ts";
import { GPT2, LLAMA_FP16, STORIES } from "./_models.ts";

const read = (path: string) => decodeModel(Deno.readFileSync(path), path);

Deno.test("analyseGraph reads stories260k's I/O, KV layout and shape facts from the graph alone", () => {
  const facts = analyseGraph(read(`${STORIES}/model.onnx`), "stories", undefined);
  assert.deepEqual(facts.io.inputIds, { name: "input_ids", type: "int64" });
  assert.deepEqual(facts.io.logits, { name: "logits", type: "float32" });
  assert.equal(facts.io.kvLayers.length, 5);
  assert.deepEqual(facts.io.kvInfo, { type: "float32", dims: ["batch_size", 4, "past_sequence_length", 8] });
  assert.deepEqual(facts.known, {
    layers: 5,
    kvPrecision: "fp32",
    kvHeads: 4,
    headDim: 8,
    vocabSize: 512,
    hiddenSize: 64,
    heads: 8,
    intermediateSize: 172,
    weightPrecision: "fp32",
    // llama2.c exports the classifier as a separate transposed copy; the config says the weights are tied.
    tiedEmbeddings: false,
  });
  assert.deepEqual(facts.embeddingDims, [512, 64]);
});

Deno.test("analyseGraph follows genai_config's name patterns (GPT-2 past_%d) and sees fp16 weights", () => {
  const genai = { inputs: { past_names: "past_%d" }, outputs: { present_names: "present_%d" } };
  const gpt2 = analyseGraph(read(`${GPT2}/past.onnx`), "gpt2", genai);
  assert.deepEqual(gpt2.io.kvLayers[4], { past: ["past_4"], present: ["present_4"] });
  assert.equal(gpt2.io.inputIds.type, "int32");
  const llama = analyseGraph(read(`${LLAMA_FP16}/model.onnx`), "llama", undefined);
  assert.equal(llama.known.weightPrecision, "fp16");
  assert.equal(llama.known.kvPrecision, "fp16");
});

Deno.test("analyseGraph names inputs it cannot feed and KV layers without outputs", () => {
  const extra = read(`${STORIES}/model.onnx`);
  extra.graph!.input!.push({ name: "token_type_ids", type: { tensorType: { elemType: 7 } } });
  assert.throws(
    () => analyseGraph(extra, "extra.onnx", undefined),
    (e: unknown) => isQeilError(e, "Model") && /extra\.onnx: has input "token_type_ids"/.test(e.message),
  );
  const missing = read(`${STORIES}/model.onnx`);
  missing.graph!.output = missing.graph!.output!.filter((o) => o.name !== "present.3.value");
  assert.throws(
    () => analyseGraph(missing, "missing.onnx", undefined),
    (e: unknown) =>
      isQeilError(e, "Model") && /layer 3 has a past value input but no present value output/.test(e.message),
  );
  const noKv = read(`${STORIES}/model.onnx`);
  noKv.graph!.input = noKv.graph!.input!.filter((i) => !i.name!.startsWith("past"));
  assert.throws(() => analyseGraph(noKv, "nokv.onnx", undefined), /not a KV-cache decoder/);
});
