import assert from "node:assert/strict";
import { KvCache, type KvSpec } from "../../src/runtime/kv_cache.ts";
import { createTensor, float16Bits } from "../../src/runtime/ort.ts";

const split: KvSpec = {
  layers: [{ past: ["past.0.key", "past.0.value"], present: ["present.0.key", "present.0.value"] }],
  type: "float32",
  dims: [0, 2, 0, 3],
  batchAxis: 0,
  seqAxis: 2,
};
const stacked: KvSpec = {
  layers: [{ past: ["past_0"], present: ["present_0"] }],
  type: "float16",
  dims: [2, 0, 1, 0, 2],
  batchAxis: 1,
  seqAxis: 3,
};

/** A tensor whose element values encode (outer, row, rest) so copies can be checked. */
function filled(spec: KvSpec, batch: number, past: number) {
  const dims = [...spec.dims];
  dims[spec.batchAxis] = batch;
  dims[spec.seqAxis] = past;
  const outer = dims.slice(0, spec.batchAxis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(spec.batchAxis + 1).reduce((a, b) => a * b, 1);
  const data = spec.type === "float16"
    ? new Uint16Array(outer * batch * inner)
    : new Float32Array(outer * batch * inner);
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < batch; r++) {
      for (let i = 0; i < inner; i++) data[(o * batch + r) * inner + i] = o * 1000 + r * 100 + i;
    }
  }
  return createTensor(spec.type, data, dims);
}

Deno.test("KvCache.empty holds zero-length tensors for every past input", () => {
  const cache = KvCache.empty(split, 3);
  assert.equal(cache.pastLength, 0);
  assert.deepEqual(cache.tensor("past.0.key").dims, [3, 2, 0, 3]);
  assert.equal(cache.bytes, 0);
});

Deno.test("KvCache.selectRows drops and repeats rows of [B, H, P, D] caches", () => {
  const cache = KvCache.fromTensors(
    split,
    3,
    2,
    new Map([["past.0.key", filled(split, 3, 2)], ["past.0.value", filled(split, 3, 2)]]),
  );
  const picked = cache.selectRows([2, 0, 0]);
  assert.equal(picked.batch, 3);
  const data = picked.tensor("past.0.key").data as Float32Array;
  const inner = 2 * 2 * 3;
  assert.deepEqual([data[0], data[inner], data[2 * inner]], [200, 0, 0]);
  assert.deepEqual([...data.subarray(0, inner)], Array.from({ length: inner }, (_, i) => 200 + i));
  assert.equal(cache.selectRows([1]).bytes, 2 * inner * 4);
});

Deno.test("KvCache.selectRows keeps the key/value halves of stacked GPT-2 [2, B, H, P, D] float16 caches apart", () => {
  const cache = KvCache.fromTensors(stacked, 2, 3, new Map([["past_0", filled(stacked, 2, 3)]]));
  const bits = float16Bits(cache.selectRows([1]).tensor("past_0"));
  const inner = 1 * 3 * 2;
  // Row 1 of the key half, then row 1 of the value half.
  assert.deepEqual([...bits], [
    ...Array.from({ length: inner }, (_, i) => 100 + i),
    ...Array.from({ length: inner }, (_, i) => 1100 + i),
  ]);
});

Deno.test("KvCache rejects tensors of the wrong shape and rows outside the batch", () => {
  assert.throws(
    () =>
      KvCache.fromTensors(
        split,
        2,
        2,
        new Map([["past.0.key", filled(split, 3, 2)], ["past.0.value", filled(split, 3, 2)]]),
      ),
    RangeError,
  );
  assert.throws(
    () => KvCache.fromTensors(split, 3, 2, new Map([["past.0.key", filled(split, 3, 2)]])),
    /no tensor for past\.0\.value/,
  );
  assert.throws(() => KvCache.empty(split, 2).selectRows([2]), RangeError);
});
