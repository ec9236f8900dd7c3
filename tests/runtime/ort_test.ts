import assert from "node:assert/strict";
import { isQeilError } from "../../src/core/mod.ts";
import { createTensor, float16Bits, OrtSession } from "../../src/runtime/ort.ts";
import { LLAMA_FP16, STORIES } from "./_models.ts";

function int64(values: number[], dims: number[]) {
  return createTensor("int64", BigInt64Array.from(values.map(BigInt)), dims);
}

Deno.test("OrtSession reports the inputs and outputs of stories260k", async () => {
  await using session = await OrtSession.create(`${STORIES}/model.onnx`, {}, "stories260k");
  assert.deepEqual(session.inputs.slice(0, 3).map((i) => [i.name, i.type]), [
    ["input_ids", "int64"],
    ["attention_mask", "int64"],
    ["position_ids", "int64"],
  ]);
  assert.equal(session.inputs.length, 3 + 10);
  assert.deepEqual(session.inputs[3].shape, ["batch_size", 4, "past_sequence_length", 8]);
  assert.deepEqual(session.outputs.map((o) => o.name).slice(0, 2), ["logits", "present.0.key"]);
});

Deno.test("OrtSession feeds float16 KV as raw bits and takes its own float16 outputs back as inputs", async () => {
  await using session = await OrtSession.create(`${LLAMA_FP16}/model.onnx`, {}, "llama-fp16");
  const empty = () => createTensor("float16", new Uint16Array(0), [1, 1, 0, 16]);
  const first = await session.run({
    input_ids: int64([1, 15043, 3186], [1, 3]),
    attention_mask: int64([1, 1, 1], [1, 3]),
    position_ids: int64([0, 1, 2], [1, 3]),
    "past_key_values.0.key": empty(),
    "past_key_values.0.value": empty(),
    "past_key_values.1.key": empty(),
    "past_key_values.1.value": empty(),
  });
  assert.equal(first["present.0.key"].type, "float16");
  assert.deepEqual(first["present.0.key"].dims, [1, 1, 3, 16]);
  assert.ok(float16Bits(first["present.0.key"]).some((b) => b !== 0));
  // Present outputs go straight back in as past (Float16Array-backed tensors would crash Deno's N-API).
  const second = await session.run({
    input_ids: int64([29871], [1, 1]),
    attention_mask: int64([1, 1, 1, 1], [1, 4]),
    position_ids: int64([3], [1, 1]),
    "past_key_values.0.key": first["present.0.key"],
    "past_key_values.0.value": first["present.0.value"],
    "past_key_values.1.key": first["present.1.key"],
    "past_key_values.1.value": first["present.1.value"],
  });
  assert.deepEqual(second["present.1.value"].dims, [1, 1, 4, 16]);
  // The cache keeps the first three positions bit for bit.
  const before = float16Bits(first["present.1.value"]);
  const after = float16Bits(second["present.1.value"]);
  assert.deepEqual(after.subarray(0, before.length), before);
});

Deno.test("OrtSession.release waits for the run in flight, and later runs are refused", async () => {
  const session = await OrtSession.create(`${STORIES}/model.onnx`, {}, "stories260k");
  const past = Object.fromEntries(
    Array.from({ length: 10 }, (_, i) => [
      `past_key_values.${i >> 1}.${i % 2 ? "value" : "key"}`,
      createTensor("float32", new Float32Array(0), [1, 4, 0, 8]),
    ]),
  );
  const running = session.run({
    input_ids: int64([1], [1, 1]),
    attention_mask: int64([1], [1, 1]),
    position_ids: int64([0], [1, 1]),
    ...past,
  });
  const released = session.release();
  const out = await running;
  await released;
  assert.deepEqual(out.logits.dims, [1, 1, 512]);
  await assert.rejects(session.run({}), (e: unknown) => isQeilError(e, "Backend") && /released/.test(e.message));
});

Deno.test("OrtSession.create rejects bytes that are not a model with a ModelError naming the label", async () => {
  await assert.rejects(
    OrtSession.create(new TextEncoder().encode("definitely not onnx"), {}, "garbage.onnx"),
    (e: unknown) => isQeilError(e, "Model") && e.message.includes("garbage.onnx") && e.details.path === "garbage.onnx",
  );
});

Deno.test("OrtSession.run reports a bad feed as a BackendError", async () => {
  await using session = await OrtSession.create(`${STORIES}/model.onnx`, {}, "stories260k");
  await assert.rejects(
    session.run({ input_ids: int64([1], [1, 1]) }),
    (e: unknown) => isQeilError(e, "Backend") && /run onnxruntime session/.test(e.message),
  );
});
