import assert from "node:assert/strict";
import fc from "fast-check";
import { isQeilError } from "../../src/core/mod.ts";
import { HfTokenizer, Llama2cTokenizer, loadTokenizer } from "../../src/runtime/mod.ts";
import { golden, GPT2, LLAMA_FP16, STORIES } from "./_models.ts";

const TOK512 = Deno.readFileSync(`${STORIES}/tok512.bin`);

/** llama2.c run.c encode(), transcribed naively (O(n^2) merges) as the reference. */
function referenceEncode(text: string): number[] {
  const view = new DataView(TOK512.buffer, TOK512.byteOffset, TOK512.byteLength);
  const vocab: string[] = [];
  const scores: number[] = [];
  for (let off = 4; off < TOK512.length;) {
    scores.push(view.getFloat32(off, true));
    const len = view.getInt32(off + 4, true);
    vocab.push(String.fromCharCode(...TOK512.subarray(off + 8, off + 8 + len)));
    off += 8 + len;
  }
  const lookup = (s: string) => vocab.indexOf(s);
  const tokens = [1];
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > 0) tokens.push(lookup(" "));
  let buf: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if ((bytes[i] & 0xc0) !== 0x80) buf = [];
    buf.push(bytes[i]);
    if (i + 1 < bytes.length && (bytes[i + 1] & 0xc0) === 0x80 && buf.length < 4) continue;
    const id = lookup(String.fromCharCode(...buf));
    if (id >= 0) tokens.push(id);
    else for (const b of buf) tokens.push(b + 3);
    buf = [];
  }
  for (;;) {
    let best = -1e10, bestId = -1, bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = lookup(vocab[tokens[i]] + vocab[tokens[i + 1]]);
      if (id !== -1 && scores[id] > best) {
        best = scores[id];
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  return tokens;
}

const stories = await loadTokenizer(STORIES, { vocabSize: 512 });

Deno.test("Llama2cTokenizer encodes golden.json's story to its reference ids", () => {
  const g = golden();
  assert.equal(stories.kind, "llama2c");
  assert.deepEqual(stories.encode(g.text), g.token_ids_with_bos);
});

Deno.test("Llama2cTokenizer decodes the golden greedy ids to the golden text, dropping the space after BOS", () => {
  const g = golden();
  assert.equal(stories.decode(g.greedy_from_bos_ids), g.greedy_from_bos_text);
  assert.equal(stories.decode(g.greedy_from_bos_ids.slice(1)).startsWith(" Once"), true);
});

Deno.test("Llama2cTokenizer encodes an empty text to BOS alone, without the dummy-prefix space", () => {
  assert.deepEqual(stories.encode(""), [1]);
  assert.deepEqual(stories.encode("", { bos: false }), []);
  assert.equal(stories.encode("a", { bos: false })[0] !== 1, true);
});

Deno.test("Llama2cTokenizer falls back to byte tokens for characters outside its vocabulary and round-trips them", () => {
  const text = "café 日本 🙂\ttab";
  const ids = stories.encode(text);
  assert.ok(ids.some((id) => id >= 3 && id < 259), "expected byte-fallback ids");
  assert.equal(stories.decode(ids), text);
});

Deno.test("Llama2cTokenizer's heap merge gives run.c's merges on random texts", () => {
  const alphabet = [..."abcdefghijklmnopqrstuvwxyz ,.!?'\"\nTSLé日🙂"];
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 60 }), (text) => {
      assert.deepEqual(stories.encode(text), referenceEncode(text));
    }),
    { numRuns: 150, seed: 4 },
  );
});

Deno.test("Llama2cTokenizer.parse rejects a truncated file, naming it", () => {
  assert.throws(
    () => Llama2cTokenizer.parse(TOK512.subarray(0, 1000), "tok512.bin", 512),
    (e: unknown) =>
      isQeilError(e, "Model") && /tok512\.bin: truncated|tok512\.bin: token \d+ has length/.test(e.message),
  );
});

Deno.test("Llama2cTokenizer.parse rejects a token count that differs from the config's vocab_size", () => {
  assert.throws(
    () => Llama2cTokenizer.parse(TOK512, "tok512.bin", 500),
    (e: unknown) => isQeilError(e, "Model") && /trailing bytes after 500 tokens/.test(e.message),
  );
  assert.throws(
    () => Llama2cTokenizer.parse(TOK512, "tok512.bin", 600),
    (e: unknown) =>
      isQeilError(e, "Model") && /holds 512 tokens but the model config says vocab_size 600/.test(e.message),
  );
});

const TEXTS = ["Hello world", " leading space", "Ünïcödé 日本語 🙂\nnew line  two  spaces", "a", "x\n\n\ty"];

Deno.test("HfTokenizer round-trips text through tiny-random-llama-fp16's Llama tokenizer.json", async () => {
  const tok = await loadTokenizer(LLAMA_FP16);
  assert.ok(tok instanceof HfTokenizer);
  for (const text of TEXTS) assert.equal(tok.decode(tok.encode(text)), text, JSON.stringify(text));
  assert.equal(tok.addBos, true);
  assert.equal(tok.encode("Hello")[0], tok.bosId);
  assert.equal(tok.encode("Hello", { bos: false })[0] !== tok.bosId, true);
  assert.equal(tok.decode([]), "");
});

Deno.test("HfTokenizer round-trips text through tiny-random-gpt2-fp32's GPT-2 tokenizer.json", async () => {
  const tok = await loadTokenizer(GPT2);
  for (const text of TEXTS) assert.equal(tok.decode(tok.encode(text)), text, JSON.stringify(text));
  assert.equal(tok.addBos, false);
  assert.deepEqual(tok.encode("Hello world"), [15496, 995]);
});

Deno.test("loadTokenizer lets the model config's special ids win over the tokenizer files", async () => {
  const tok = await loadTokenizer(GPT2, { bosId: 98, eosId: 98 });
  assert.equal(tok.bosId, 98);
  assert.equal(tok.eosId, 98);
});

Deno.test("loadTokenizer fails with a ModelError naming the folder when it has no tokenizer file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      loadTokenizer(dir),
      (e: unknown) => isQeilError(e, "Model") && e.message.includes(dir) && e.message.includes("tokenizer.json"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadTokenizer reports an invalid tokenizer.json, naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/tokenizer.json`, "{not json");
    await assert.rejects(
      loadTokenizer(dir),
      (e: unknown) =>
        isQeilError(e, "Model") && e.message.includes(`${dir}/tokenizer.json`) && /invalid JSON/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
