import assert from "node:assert/strict";
import { isQeilError } from "../../src/core/mod.ts";
import { decodeModel, encodeModel, externalDataFiles, externalRef } from "../../src/runtime/onnx_graph.ts";
import { LLAMA_FP16, STORIES } from "./_models.ts";

Deno.test("decodeModel reads stories260k's graph and encodeModel writes it back", () => {
  const model = decodeModel(Deno.readFileSync(`${STORIES}/model.onnx`), "model.onnx");
  assert.equal(model.graph!.node!.length, 398);
  const again = decodeModel(encodeModel(model), "again");
  assert.equal(again.graph!.initializer!.length, model.graph!.initializer!.length);
  assert.equal(externalDataFiles(model.graph!).size, 0);
});

Deno.test("decodeModel rejects bytes that are not ONNX, naming the file", () => {
  assert.throws(
    () => decodeModel(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), "broken.onnx"),
    (e: unknown) => isQeilError(e, "Model") && e.message.includes("broken.onnx"),
  );
  // A valid protobuf with no graph.
  assert.throws(
    () => decodeModel(encodeModel({ irVersion: 8 }), "empty.onnx"),
    (e: unknown) => isQeilError(e, "Model") && /no graph/.test(e.message),
  );
});

Deno.test("externalDataFiles lists tiny-random-llama-fp16's model.onnx.data and the bytes its tensors need", () => {
  const model = decodeModel(Deno.readFileSync(`${LLAMA_FP16}/model.onnx`), "model.onnx");
  const files = externalDataFiles(model.graph!);
  assert.deepEqual([...files.keys()], ["model.onnx.data"]);
  const need = files.get("model.onnx.data")!;
  assert.equal(need.requiredBytes, Deno.statSync(`${LLAMA_FP16}/model.onnx.data`).size);
  const emb = model.graph!.initializer!.find((t) => t.name === "model.embed_tokens.weight")!;
  assert.deepEqual(externalRef(emb), { location: "model.onnx.data", offset: 0, length: 1024000 });
});
