/** `--cost-shape`: the declared Llama configs under tests/fixtures/cost-shapes and the errors for bad files. */
import assert from "node:assert/strict";
import { isQeilError } from "../../src/core/mod.ts";
import { modelCostShape, readCostShape } from "../../src/eval/mod.ts";

const SHAPES = new URL("../fixtures/cost-shapes/", import.meta.url).pathname;

Deno.test("readCostShape() reads Llama-3.2-1B int4 with the published dimensions and its declared name", async () => {
  const { shape, info } = await readCostShape(`${SHAPES}llama-3.2-1b-int4.json`);
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
    groupSize: 32,
    kvPrecision: "fp16",
  });
  assert.equal(info.source, "file");
  assert.equal(info.name, "Llama-3.2-1B int4");
  assert.equal(info.path, `${SHAPES}llama-3.2-1b-int4.json`);
});

Deno.test("readCostShape() reads Llama-3.1-8B int4 (head_dim from hidden / heads, untied embeddings)", async () => {
  const { shape, info } = await readCostShape(`${SHAPES}llama-3.1-8b-int4.json`);
  assert.equal(shape.layers, 32);
  assert.equal(shape.hiddenSize, 4096);
  assert.equal(shape.intermediateSize, 14336);
  assert.equal(shape.headDim, 128);
  assert.equal(shape.kvHeads, 8);
  assert.equal(shape.tiedEmbeddings, false);
  assert.equal(shape.weightPrecision, "int4");
  assert.equal(info.name, "Llama-3.1-8B int4");
});

Deno.test("readCostShape() names the file and the problem for a missing, non-JSON or non-decoder config", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-cost-shape-" });
  try {
    const cases: [string, string | undefined, RegExp][] = [
      [`${dir}/absent.json`, undefined, /absent\.json does not exist/],
      [`${dir}/broken.json`, "{ not json", /broken\.json is not valid JSON/],
      [
        `${dir}/nolayers.json`,
        JSON.stringify({ hidden_size: 64, num_attention_heads: 4 }),
        /nolayers\.json.*num_hidden_layers/,
      ],
      [dir, undefined, /is a folder/],
    ];
    for (const [path, text, message] of cases) {
      if (text !== undefined) await Deno.writeTextFile(path, text);
      await assert.rejects(readCostShape(path), (error: unknown) => {
        assert.ok(isQeilError(error, "Input"), String(error));
        assert.match((error as Error).message, message);
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readCostShape() names a config without _name after its file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-cost-shape-" });
  try {
    const path = `${dir}/tiny-llama.json`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        model_type: "llama",
        hidden_size: 128,
        intermediate_size: 256,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        vocab_size: 1000,
      }),
    );
    const { info } = await readCostShape(path);
    assert.equal(info.name, "tiny-llama");
    assert.equal(info.weightPrecision, "fp32");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("modelCostShape() describes the real model's own shape", () => {
  const shape = {
    family: "llama",
    mlpMatrices: 3 as const,
    layers: 5,
    hiddenSize: 64,
    intermediateSize: 172,
    heads: 8,
    kvHeads: 4,
    headDim: 8,
    vocabSize: 512,
    maxSeqLen: 512,
    tiedEmbeddings: true,
    weightPrecision: "fp32" as const,
    kvPrecision: "fp32" as const,
  };
  const { info } = modelCostShape(shape, "stories260k");
  assert.deepEqual(info, {
    source: "model",
    name: "stories260k",
    family: "llama",
    layers: 5,
    hiddenSize: 64,
    weightPrecision: "fp32",
  });
});
