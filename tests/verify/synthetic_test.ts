import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import { generateSyntheticItems, resolveSyntheticOptions } from "../../src/verify/mod.ts";

Deno.test("generateSyntheticItems() is reproducible from its seed", () => {
  const a = generateSyntheticItems(createRng(11), { items: 50 });
  const b = generateSyntheticItems(createRng(11), { items: 50 });
  const c = generateSyntheticItems(createRng(12), { items: 50 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

Deno.test("generateSyntheticItems() mixes easy and hard questions as configured", () => {
  const items = generateSyntheticItems(createRng(3), { items: 2000 });
  const easy = items.filter((i) => i.kind === "easy");
  assert.ok(Math.abs(easy.length / items.length - 0.5) < 0.05, `easy share ${easy.length / items.length}`);
  for (const item of items) {
    const [lo, hi] = item.kind === "easy" ? [0.8, 0.98] : [0.3, 0.8];
    assert.ok(item.topProbability >= lo && item.topProbability <= hi);
    assert.equal(item.samples.length, 40);
    assert.deepEqual(item.samples.map((s) => s.index), [...Array(40).keys()]);
    if (item.kind === "easy") assert.equal(item.correctProbability, item.topProbability);
    assert.ok(item.samples.every((s) => s.meanLogProb <= 0));
  }
  // About 20% of hard questions have a wrong dominant answer.
  const hard = items.filter((i) => i.kind === "hard");
  const wrongTop = hard.filter((i) => i.correctProbability < i.topProbability).length / hard.length;
  assert.ok(Math.abs(wrongTop - 0.2) < 0.05, `wrong-top share ${wrongTop}`);
});

Deno.test("generateSyntheticItems() draws answers at their probabilities and marks some unextractable", () => {
  const items = generateSyntheticItems(createRng(5), { items: 1500, samplesPerItem: 40 });
  let expectedGold = 0;
  let observedGold = 0;
  let valid = 0;
  let invalid = 0;
  for (const item of items) {
    const v = item.samples.filter((s) => s.valid);
    valid += v.length;
    invalid += item.samples.length - v.length;
    expectedGold += v.length * item.correctProbability;
    observedGold += v.filter((s) => s.answer === item.gold).length;
  }
  assert.ok(Math.abs(observedGold / expectedGold - 1) < 0.02, `gold draws ${observedGold} vs ${expectedGold}`);
  // Invalid rate ~ U(0, 0.15): about 7.5% of samples.
  assert.ok(Math.abs(invalid / (valid + invalid) - 0.075) < 0.01, `invalid share ${invalid / (valid + invalid)}`);
});

Deno.test("generateSyntheticItems() gives correct samples a slightly higher mean log-prob", () => {
  const items = generateSyntheticItems(createRng(9), { items: 1000, logProbGapNats: 0.1, logProbNoiseNats: 0.2 });
  let diffSum = 0;
  let n = 0;
  for (const item of items) {
    const right = item.samples.filter((s) => s.valid && s.answer === item.gold).map((s) => s.meanLogProb);
    const wrong = item.samples.filter((s) => s.valid && s.answer !== item.gold).map((s) => s.meanLogProb);
    if (right.length === 0 || wrong.length === 0) continue;
    diffSum += right.reduce((a, b) => a + b, 0) / right.length - wrong.reduce((a, b) => a + b, 0) / wrong.length;
    n++;
  }
  const gap = diffSum / n;
  assert.ok(gap > 0.07 && gap < 0.13, `gap ${gap}`);
});

Deno.test("resolveSyntheticOptions() rejects impossible settings", () => {
  assert.throws(() => resolveSyntheticOptions({ items: 0 }), /items must be/);
  assert.throws(() => resolveSyntheticOptions({ items: 5, hardTopProbability: [0.5, 0.3] }), /hardTopProbability/);
  assert.throws(() => resolveSyntheticOptions({ items: 5, wrongAnswers: [0, 2] }), /wrongAnswers/);
  assert.equal(resolveSyntheticOptions({ items: 5 }).samplesPerItem, 40);
});
