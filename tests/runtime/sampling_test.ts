import assert from "node:assert/strict";
import fc from "fast-check";
import { createRng, isQeilError } from "../../src/core/mod.ts";
import { argmax, logSumExp, Sampler } from "../../src/runtime/mod.ts";

function softmax(logits: number[], temperature = 1): number[] {
  const max = Math.max(...logits);
  const e = logits.map((x) => Math.exp((x - max) / temperature));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

Deno.test("argmax takes the lowest id on ties and reads at an offset", () => {
  assert.equal(argmax([1, 3, 3, 2], 0, 4), 1);
  assert.equal(argmax([9, 9, 0, 5, 5], 2, 3), 1);
});

Deno.test("Sampler greedy picks the argmax and reports its log-softmax probability", () => {
  const logits = [0.5, 2, -1, 2, 1];
  const pick = new Sampler(5).pick(logits, 0, { temperature: 0 }, createRng(1));
  assert.equal(pick.token, 1);
  assert.ok(Math.abs(pick.logProb - Math.log(softmax(logits)[1])) < 1e-12);
  assert.ok(Math.abs(logSumExp(logits, 0, 5) - Math.log(logits.reduce((a, x) => a + Math.exp(x), 0))) < 1e-12);
});

Deno.test("Sampler gives the same tokens for the same seed and different ones for another seed", () => {
  const logits = Array.from({ length: 50 }, (_, i) => Math.sin(i));
  const draw = (seed: number) => {
    const rng = createRng(seed);
    const s = new Sampler(50);
    return Array.from({ length: 40 }, () => s.pick(logits, 0, { temperature: 1.5 }, rng).token);
  };
  assert.deepEqual(draw(7), draw(7));
  assert.notDeepEqual(draw(7), draw(8));
});

Deno.test("Sampler draws tokens with the tempered softmax frequencies", () => {
  const logits = [2, 1, 0, -1];
  const p = softmax(logits, 0.7);
  const counts = [0, 0, 0, 0];
  const rng = createRng(11);
  const s = new Sampler(4);
  const n = 20000;
  for (let i = 0; i < n; i++) counts[s.pick(logits, 0, { temperature: 0.7 }, rng).token]++;
  // 5 standard errors of a binomial proportion.
  counts.forEach((c, v) =>
    assert.ok(Math.abs(c / n - p[v]) < 5 * Math.sqrt(p[v] * (1 - p[v]) / n), `token ${v}: ${c / n} vs ${p[v]}`)
  );
});

Deno.test("Sampler top-k keeps only the k likeliest tokens", () => {
  fc.assert(
    fc.property(
      fc.array(fc.float({ min: -5, max: 5, noNaN: true }), { minLength: 2, maxLength: 40 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer(),
      (logits, k, seed) => {
        const token = new Sampler(logits.length).pick(logits, 0, { temperature: 1, topK: k }, createRng(seed)).token;
        const better = logits.filter((x, i) => x > logits[token] || (x === logits[token] && i < token)).length;
        assert.ok(better < k, `token ${token} has ${better} tokens ranked above it with k ${k}`);
      },
    ),
    { numRuns: 300, seed: 2 },
  );
});

Deno.test("Sampler top-p keeps the smallest set of likeliest tokens reaching p", () => {
  fc.assert(
    fc.property(
      fc.array(fc.float({ min: -5, max: 5, noNaN: true }), { minLength: 2, maxLength: 40 }),
      fc.double({ min: 0.05, max: 0.99, noNaN: true }),
      fc.integer(),
      (logits, topP, seed) => {
        const p = softmax(logits);
        const token = new Sampler(logits.length).pick(logits, 0, { temperature: 1, topP }, createRng(seed)).token;
        // Probability of the tokens ranked strictly above the chosen one must be below p.
        const t = logits[token];
        const above = p.reduce((a, q, i) => (logits[i] > t || (logits[i] === t && i < token) ? a + q : a), 0);
        assert.ok(above < topP + 1e-12, `mass above token ${token} is ${above} >= ${topP}`);
      },
    ),
    { numRuns: 300, seed: 3 },
  );
});

Deno.test("Sampler with a tiny top-p or top-k 1 is greedy, and top-k applies before top-p", () => {
  const logits = [0.1, 3, 2.9, -2];
  const s = new Sampler(4);
  for (let seed = 0; seed < 30; seed++) {
    assert.equal(s.pick(logits, 0, { temperature: 1, topP: 1e-6 }, createRng(seed)).token, 1);
    assert.equal(s.pick(logits, 0, { temperature: 5, topK: 1 }, createRng(seed)).token, 1);
    // k = 2 leaves {1, 2} with mass ~0.52/0.48; p = 0.5 then keeps token 1 alone.
    assert.equal(s.pick(logits, 0, { temperature: 1, topK: 2, topP: 0.5 }, createRng(seed)).token, 1);
  }
  const seen = new Set<number>();
  for (let seed = 0; seed < 60; seed++) {
    seen.add(s.pick(logits, 0, { temperature: 1, topK: 2, topP: 0.6 }, createRng(seed)).token);
  }
  assert.deepEqual([...seen].sort(), [1, 2]);
});

Deno.test("Sampler rejects non-finite logits with a ModelError", () => {
  assert.throws(
    () => new Sampler(3).pick([0, Number.NaN, 1], 0, { temperature: 0 }, createRng(1)),
    (e: unknown) => isQeilError(e, "Model") && /non-finite/.test(e.message),
  );
});
