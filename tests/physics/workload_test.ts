import assert from "node:assert/strict";
import fc from "fast-check";
import {
  activationTransferBytes,
  decodeWork,
  kvCacheBytes,
  kvHandoffBytes,
  paramCount,
  prefillWork,
  weightsBytes,
} from "../../src/physics/mod.ts";
import { GPT2, LLAMA_1B_INT4, LLAMA_8B } from "./fixtures.ts";

// Hand-computed dimensions of Llama-3.1-8B (h 4096, i 14336, 32 heads of 128, 8 KV heads, V 128256).
const L8 = {
  // Q 4096x4096 + K, V 4096x1024 each + O 4096x4096
  attn: 4096 * 4096 + 2 * 4096 * 1024 + 4096 * 4096, // 41,943,040
  // gate, up, down: 3 x 4096 x 14336
  mlp: 3 * 4096 * 14336, // 176,160,768
  norms: 2 * 4096, // two RMSNorm weights per layer
  embed: 128256 * 4096, // 525,336,576, and the untied LM head again
};
const L8_LINEAR = L8.attn + L8.mlp; // 218,103,808 per layer

Deno.test("paramCount() gives 8.03e9 for Llama-3.1-8B, counted by hand", () => {
  // 32 layers + embedding + untied head + final norm
  const expected = 32 * (L8_LINEAR + L8.norms) + 2 * L8.embed + 4096;
  assert.equal(expected, 8_030_261_248);
  assert.equal(paramCount(LLAMA_8B), expected);
});

Deno.test("paramCount() gives 124.4e6 for GPT-2, counted by hand", () => {
  const perLayer = 768 * 2304 + 2304 + // c_attn (QKV) weight and bias
    768 * 768 + 768 + // c_proj
    768 * 3072 + 3072 + // c_fc
    3072 * 768 + 768 + // mlp c_proj
    2 * 2 * 768; // ln_1, ln_2 (gain and bias)
  const expected = 50257 * 768 + 1024 * 768 + 12 * perLayer + 2 * 768; // wte + wpe + layers + ln_f
  assert.equal(expected, 124_439_808); // the figure Hugging Face reports for `gpt2`
  assert.equal(paramCount(GPT2), expected);
});

Deno.test("paramCount() of layer ranges adds up to the whole, with the untied head on the last range", () => {
  assert.equal(paramCount(LLAMA_8B, { layerEnd: 10 }), 10 * (L8_LINEAR + L8.norms) + L8.embed);
  assert.equal(paramCount(LLAMA_8B, { layerStart: 10 }), 22 * (L8_LINEAR + L8.norms) + L8.embed + 4096);
  assert.equal(
    paramCount(LLAMA_8B, { layerEnd: 10 }) + paramCount(LLAMA_8B, { layerStart: 10 }),
    paramCount(LLAMA_8B),
  );
});

Deno.test("weightsBytes() of fp16 Llama-3.1-8B is 2 bytes per parameter (16.06 GB)", () => {
  assert.equal(weightsBytes(LLAMA_8B), 2 * 8_030_261_248);
});

Deno.test("weightsBytes() of int4 with group 128 stores 0.5 B per weight plus an fp16 scale per group", () => {
  const int4 = { ...LLAMA_8B, weightPrecision: "int4" as const, groupSize: 128 };
  const matrixParams = 32 * L8_LINEAR + 2 * L8.embed; // 8,029,995,008
  const smallParams = 32 * L8.norms + 4096; // norms stay fp16
  const expected = matrixParams * 0.5 + (matrixParams / 128) * 2 + smallParams * 2;
  assert.equal(expected, 4_140_998_656);
  assert.equal(weightsBytes(int4), expected);
});

Deno.test("weightsBytes() of int8 and int4 at group 32 reproduce llama.cpp Q8_0 (8.5 bit) and Q4_0 (4.5 bit)", () => {
  const matrixParams = 16 * (2048 * (2048 + 2 * 512) + 2048 * 2048 + 3 * 2048 * 8192) + 128256 * 2048;
  const smallParams = 16 * 2 * 2048 + 2048;
  assert.equal(weightsBytes(LLAMA_1B_INT4), (matrixParams * 4.5) / 8 + smallParams * 2);
  const int8 = { ...LLAMA_1B_INT4, weightPrecision: "int8" as const };
  assert.equal(weightsBytes(int8), (matrixParams * 8.5) / 8 + smallParams * 2);
  // No group size: the default of 32.
  const noGroup = { ...LLAMA_1B_INT4, groupSize: undefined };
  assert.equal(weightsBytes(noGroup), weightsBytes(LLAMA_1B_INT4));
});

Deno.test("weightsBytes() stores a tied embedding once, or once per end when the layers are split", () => {
  const whole = weightsBytes(GPT2);
  assert.equal(whole, 124_439_808 * 4);
  const wte = 50257 * 768 * 4;
  assert.equal(weightsBytes(GPT2, 0, 6) + weightsBytes(GPT2, 6, 12), whole + wte);
});

Deno.test("kvCacheBytes() of Llama-3.1-8B is 128 KiB per token (GQA: 8 KV heads of 32)", () => {
  // 32 layers x (K + V) x 8 heads x 128 dims x 2 bytes
  assert.equal(kvCacheBytes(LLAMA_8B, { context: 1 }), 32 * 2 * 8 * 128 * 2);
  assert.equal(kvCacheBytes(LLAMA_8B, { context: 8192, batch: 1 }), 2 ** 30);
  assert.equal(kvCacheBytes(LLAMA_8B, { context: 100, batch: 4, layerStart: 8, layerEnd: 16 }), 4 * 100 * 8 * 4096);
  // GPT-2 fp32, no GQA: 12 layers x 2 x 768 x 4 bytes
  assert.equal(kvCacheBytes(GPT2, { context: 1 }), 73_728);
});

Deno.test("decodeWork() of Llama-3.1-8B at context 1023 matches the hand count", () => {
  const c = 1023;
  // Per layer: 2 FLOPs per linear weight, plus QK^T and AV over c + 1 keys: 4 x 32 heads x 128 x 1024.
  const layerFlops = 2 * L8_LINEAR + 4 * 32 * 128 * (c + 1);
  const headFlops = 2 * 4096 * 128256;
  assert.equal(decodeWork(LLAMA_8B, { context: c }).flops, 32 * layerFlops + headFlops);
  assert.equal(32 * layerFlops + headFlops, 15_546_187_776); // ~ 2 x 7.5e9 non-embedding params + attention

  const layerWeights = (L8_LINEAR + L8.norms) * 2;
  const kv = (c + 1) * 2 * 8 * 128 * 2; // read 1023 entries, write 1
  const act = (4 * 4096 + 2 * 4096 + 2 * 1024 + 3 * 14336) * 2; // inputs + outputs of QKV, O, up/gate, down
  const embedRow = 4096 * 2;
  const head = L8.embed * 2 + 4096 * 2 + 128256 * 2; // matrix, final norm, logits
  const bytes = 32 * (layerWeights + kv + act) + embedRow + head;
  assert.equal(decodeWork(LLAMA_8B, { context: c }).bytes, bytes);
  // About 15.15 GB: weights (minus all but one embedding row) dominate.
  assert.ok(Math.abs(bytes - 15.149e9) < 0.01e9, `bytes ${bytes}`);
});

Deno.test("decodeWork() batches share the weight reads; KV and FLOPs scale with the batch", () => {
  const one = decodeWork(LLAMA_8B, { context: 500 });
  const four = decodeWork(LLAMA_8B, { context: 500, batch: 4 });
  assert.equal(four.flops, 4 * one.flops);
  const weightsRead = 32 * (L8_LINEAR + L8.norms) * 2 + L8.embed * 2 + 4096 * 2;
  assert.equal(four.bytes - weightsRead, 4 * (one.bytes - weightsRead));
});

Deno.test("prefillWork() of GPT-2 for 128 tokens matches the hand count", () => {
  const linear = 768 * 2304 + 768 * 768 + 2 * 768 * 3072; // 7,077,888 weights per layer
  const attention = 4 * 12 * 64 * ((128 * 129) / 2); // causal: token t attends to t keys
  const flops = 12 * (2 * linear * 128 + attention) + 2 * 768 * 50257; // logits of the last token only
  assert.equal(flops, 22_124_815_872);
  assert.equal(prefillWork(GPT2, { tokens: 128 }).flops, flops);
  const allLogits = prefillWork(GPT2, { tokens: 128, allLogits: true }).flops;
  assert.equal(allLogits - flops, 127 * 2 * 768 * 50257);
});

Deno.test("prefillWork() of one token after c cached equals decodeWork() at context c", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 4000 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 0, max: 31 }),
      fc.integer({ min: 1, max: 32 }),
      (c, batch, a, len) => {
        const layerStart = Math.min(a, 31);
        const layerEnd = Math.min(32, layerStart + len);
        const p = prefillWork(LLAMA_8B, { tokens: 1, pastTokens: c, batch, layerStart, layerEnd });
        const d = decodeWork(LLAMA_8B, { context: c, batch, layerStart, layerEnd });
        assert.equal(p.flops, d.flops);
        assert.equal(p.bytes, d.bytes);
      },
    ),
  );
});

Deno.test("decodeWork() of adjacent layer ranges adds up to the whole range", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 11 }), fc.integer({ min: 0, max: 1000 }), (cut, c) => {
      const whole = decodeWork(GPT2, { context: c });
      const a = decodeWork(GPT2, { context: c, layerEnd: cut });
      const b = decodeWork(GPT2, { context: c, layerStart: cut });
      assert.ok(Math.abs(a.flops + b.flops - whole.flops) <= 1e-9 * whole.flops);
      assert.ok(Math.abs(a.bytes + b.bytes - whole.bytes) <= 1e-9 * whole.bytes);
    }),
  );
});

Deno.test("decodeWork() grows with the context; decode at batch 1 is memory-bound (intensity ~ 1 FLOP/byte at fp16)", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 100000 }), (c) => {
      const a = decodeWork(LLAMA_8B, { context: c });
      const b = decodeWork(LLAMA_8B, { context: c + 1 });
      assert.ok(b.flops > a.flops && b.bytes > a.bytes);
    }),
  );
  const w = decodeWork(LLAMA_8B, { context: 100 });
  assert.ok(w.flops / w.bytes > 0.9 && w.flops / w.bytes < 1.1);
});

Deno.test("kvHandoffBytes() reads the prompt cache once and writes it per sample, nothing when already in place", () => {
  // Llama-3.1-8B, 128-token prompt, layers [8, 16) to a batch of 4: (1 + 4) x 128 x 8 layers x 4096 B
  assert.equal(
    kvHandoffBytes(LLAMA_8B, { promptTokens: 128, batch: 4, layerStart: 8, layerEnd: 16 }),
    5 * 128 * 8 * 4096,
  );
  assert.equal(kvHandoffBytes(LLAMA_8B, { promptTokens: 128, batch: 1, onPrefillUnit: true }), 0);
  assert.equal(kvHandoffBytes(LLAMA_8B, { promptTokens: 128, batch: 2, onPrefillUnit: true }), 3 * 128 * 32 * 4096);
});

Deno.test("activationTransferBytes() is batch x tokens x hidden x activation bytes", () => {
  assert.equal(activationTransferBytes(LLAMA_8B, { tokens: 1, batch: 4 }), 4 * 4096 * 2);
  assert.equal(activationTransferBytes(GPT2, { tokens: 10 }), 10 * 768 * 4);
});

Deno.test("workload functions reject empty or out-of-range layer ranges and bad counts", () => {
  assert.throws(() => decodeWork(GPT2, { context: 0, layerStart: 5, layerEnd: 5 }), RangeError);
  assert.throws(() => decodeWork(GPT2, { context: 0, layerEnd: 13 }), /within \[0, 12\)/);
  assert.throws(() => prefillWork(GPT2, { tokens: 0 }), /tokens must be an integer >= 1/);
  assert.throws(() => decodeWork(GPT2, { context: -1 }), /context/);
  assert.throws(() => kvCacheBytes(GPT2, { context: 1, batch: 1.5 }), /batch/);
  assert.throws(() => weightsBytes(GPT2, 3, 2), RangeError);
});
