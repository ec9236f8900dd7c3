import assert from "node:assert/strict";
import { ModelError, parseDecoderShape } from "../../src/core/mod.ts";

Deno.test("parseDecoderShape() reads a Hugging Face Llama config with int4 quantisation", () => {
  const shape = parseDecoderShape({
    model_type: "llama",
    hidden_size: 2048,
    intermediate_size: 8192,
    num_hidden_layers: 16,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    head_dim: 64,
    vocab_size: 128256,
    max_position_embeddings: 131072,
    tie_word_embeddings: true,
    torch_dtype: "bfloat16",
    quantization_config: { bits: 4, group_size: 128 },
  }, "llama-3.2-1b.json");
  assert.deepEqual(shape, {
    family: "llama",
    mlpMatrices: 3,
    layers: 16,
    hiddenSize: 2048,
    intermediateSize: 8192,
    heads: 32,
    kvHeads: 8,
    headDim: 64,
    vocabSize: 128256,
    maxSeqLen: 131072,
    tiedEmbeddings: true,
    weightPrecision: "int4",
    groupSize: 128,
    kvPrecision: "fp16",
  });
});

Deno.test("parseDecoderShape() reads GPT-2 with its defaults", () => {
  const shape = parseDecoderShape({
    model_type: "gpt2",
    n_embd: 768,
    n_layer: 12,
    n_head: 12,
    n_positions: 1024,
    vocab_size: 50257,
  }, "gpt2.json");
  assert.equal(shape.intermediateSize, 3072);
  assert.equal(shape.mlpMatrices, 2);
  assert.equal(shape.headDim, 64);
  assert.equal(shape.kvHeads, 12);
  assert.equal(shape.tiedEmbeddings, true);
  assert.equal(shape.weightPrecision, "fp32");
});

Deno.test("parseDecoderShape() reads the stories260k llama2.c config", async () => {
  const json = JSON.parse(
    await Deno.readTextFile(new URL("../../../shared/data/models/stories260k/config.json", import.meta.url)),
  );
  const shape = parseDecoderShape(json, "config.json");
  assert.equal(shape.layers, 5);
  assert.equal(shape.hiddenSize, 64);
  assert.equal(shape.intermediateSize, 172);
  assert.equal(shape.kvHeads, 4);
  assert.equal(shape.headDim, 8);
  assert.equal(shape.vocabSize, 512);
  assert.equal(shape.tiedEmbeddings, true);
});

Deno.test("parseDecoderShape() reads genai_config.json with graph-inferred sizes", async () => {
  const json = JSON.parse(
    await Deno.readTextFile(
      new URL("../../../shared/data/models/tiny-random-llama-fp16/genai_config.json", import.meta.url),
    ),
  );
  const shape = parseDecoderShape(json, "genai_config.json", { intermediateSize: 64, weightPrecision: "fp16" });
  assert.equal(shape.layers, 2);
  assert.equal(shape.headDim, 16);
  assert.equal(shape.vocabSize, 32000);
  assert.equal(shape.intermediateSize, 64);
  assert.equal(shape.weightPrecision, "fp16");
});

Deno.test("parseDecoderShape() names the file and field that are wrong", () => {
  assert.throws(
    () => parseDecoderShape({ hidden_size: 64, num_attention_heads: 4, num_hidden_layers: "2" }, "cfg.json"),
    (e: unknown) => e instanceof ModelError && e.details.field === "num_hidden_layers" && /cfg\.json/.test(e.message),
  );
  assert.throws(() => parseDecoderShape([], "x.json"), ModelError);
  assert.throws(
    () =>
      parseDecoderShape({
        hidden_size: 64,
        intermediate_size: 1,
        num_hidden_layers: 1,
        num_attention_heads: 6,
        num_key_value_heads: 4,
        vocab_size: 3,
      }, "g.json"),
    /not a multiple/,
  );
});
