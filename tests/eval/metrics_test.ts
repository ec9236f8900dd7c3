import assert from "node:assert/strict";
import { energyFigures, mean, passAtK, percentile, perplexityMetrics } from "../../src/eval/mod.ts";

function close(actual: number, expected: number, tolerance = 1e-12) {
  assert.ok(Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)), `${actual} != ${expected}`);
}

Deno.test("perplexityMetrics() weights documents by words and bytes as lm-eval does", () => {
  // Two documents: ll -10 over 5 words / 20 bytes, ll -30 over 15 words / 60 bytes.
  const m = perplexityMetrics([
    { logLikelihood: -10, words: 5, bytes: 20 },
    { logLikelihood: -30, words: 15, bytes: 60 },
  ]);
  // Σll = -40, Σwords = 20, Σbytes = 80.
  close(m.word_perplexity, Math.exp(2)); // 7.38905609893065
  close(m.byte_perplexity, Math.exp(0.5)); // 1.6487212707001282
  close(m.bits_per_byte, 0.5 / Math.LN2); // 0.7213475204444817
  close(m.word_perplexity, 7.38905609893065);
  close(m.bits_per_byte, 0.7213475204444817);
  // Σll = -100 over 10 words: exp(10), not the mean of the per-document perplexities (e + e^11) / 2.
  const skewed = perplexityMetrics([
    { logLikelihood: -1, words: 1, bytes: 4 },
    { logLikelihood: -99, words: 9, bytes: 36 },
  ]);
  close(skewed.word_perplexity, Math.exp(10));
  assert.throws(() => perplexityMetrics([]), /no documents/);
  assert.throws(() => perplexityMetrics([{ logLikelihood: 1, words: 1, bytes: 1 }]), /<= 0/);
  assert.throws(() => perplexityMetrics([{ logLikelihood: -1, words: 0, bytes: 1 }]), /> 0/);
});

function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

Deno.test("passAtK() matches hand-computed values of 1 - C(n-c, k) / C(n, k)", () => {
  // n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10 = 0.7.
  close(passAtK(5, 2, 2), 0.7);
  // n=10, c=3, k=1: c/n = 0.3.
  close(passAtK(10, 3, 1), 0.3);
  // n=4, c=1, k=4: every draw holds the right sample.
  assert.equal(passAtK(4, 1, 4), 1);
  assert.equal(passAtK(4, 0, 2), 0);
  assert.equal(passAtK(3, 3, 1), 1);
  // n - c < k: 1 exactly.
  assert.equal(passAtK(5, 4, 2), 1);
  for (let n = 1; n <= 12; n++) {
    for (let c = 0; c <= n; c++) {
      for (let k = 1; k <= n; k++) close(passAtK(n, c, k), 1 - binomial(n - c, k) / binomial(n, k), 1e-12);
    }
  }
});

Deno.test("passAtK() stays finite where the binomials overflow", () => {
  // C(2000, 1000) overflows a double; the product form does not.
  const p = passAtK(2000, 10, 1000);
  assert.ok(Number.isFinite(p) && p > 0.99 && p < 1);
  assert.throws(() => passAtK(5, 6, 1), RangeError);
  assert.throws(() => passAtK(5, 1, 6), RangeError);
  assert.throws(() => passAtK(5, 1, 0), RangeError);
  assert.throws(() => passAtK(5, 1.5, 1), RangeError);
});

Deno.test("percentile() by linear interpolation and by nearest rank", () => {
  const v = [15, 20, 35, 40, 50];
  // Linear (numpy): position (n-1)p: p50 -> 2 -> 35; p95 -> 3.8 -> 40 + 0.8 * 10 = 48; p40 -> 1.6 -> 20 + 0.6*15 = 29.
  close(percentile(v, 50), 35);
  close(percentile(v, 95), 48);
  close(percentile(v, 40), 29);
  close(percentile(v, 0), 15);
  close(percentile(v, 100), 50);
  // Nearest rank: ceil(p n): p50 -> 3rd = 35; p95 -> ceil(4.75) = 5th = 50; p40 -> 2nd = 20; p30 -> ceil(1.5)=2nd = 20.
  assert.equal(percentile(v, 50, "nearest-rank"), 35);
  assert.equal(percentile(v, 95, "nearest-rank"), 50);
  assert.equal(percentile(v, 40, "nearest-rank"), 20);
  assert.equal(percentile(v, 30, "nearest-rank"), 20);
  assert.equal(percentile(v, 0, "nearest-rank"), 15);
  // Order of the input does not matter.
  close(percentile([50, 15, 40, 20, 35], 95), 48);
  close(percentile([7], 95), 7);
  assert.throws(() => percentile([], 50), /empty/);
  assert.throws(() => percentile([1], 101), RangeError);
  assert.throws(() => percentile([1, Number.NaN], 50), /non-finite/);
});

Deno.test("energyFigures() computes J per query, average power, IPW and IPJ", () => {
  // 120 J over 60 s for 40 queries at 75% accuracy.
  const f = energyFigures({ energyJ: 120, durationMs: 60_000, queries: 40, accuracy: 0.75 });
  close(f.joulesPerQuery, 3);
  close(f.avgPowerW!, 2);
  close(f.ipw!, 0.375);
  close(f.ipj!, 0.25);
  const noAccuracy = energyFigures({ energyJ: 10, durationMs: 1000, queries: 1, accuracy: null });
  assert.equal(noAccuracy.ipw, null);
  assert.equal(noAccuracy.ipj, null);
  close(noAccuracy.avgPowerW!, 10);
  const noTime = energyFigures({ energyJ: 0, durationMs: 0, queries: 2, accuracy: 0.5 });
  assert.deepEqual(noTime, { joulesPerQuery: 0, avgPowerW: null, ipw: null, ipj: null });
  assert.throws(() => energyFigures({ energyJ: 1, durationMs: 1, queries: 0, accuracy: 1 }), RangeError);
  assert.throws(() => energyFigures({ energyJ: -1, durationMs: 1, queries: 1, accuracy: 1 }), RangeError);
});

Deno.test("mean() of a sample", () => {
  assert.equal(mean([1, 2, 3, 6]), 3);
  assert.throws(() => mean([]), RangeError);
});
