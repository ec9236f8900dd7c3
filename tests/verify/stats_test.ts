import assert from "node:assert/strict";
import { correctness, pairedDelta, summarizeOutcomes } from "../../src/verify/mod.ts";

Deno.test("summarizeOutcomes() gives accuracy and mean samples with standard errors", () => {
  const s = summarizeOutcomes(["1", "2", "3", "4"], [
    { answer: "1", samplesUsed: 3 },
    { answer: "2", samplesUsed: 5 },
    { answer: "9", samplesUsed: 3 },
    { answer: null, samplesUsed: 5 },
  ]);
  assert.equal(s.accuracy, 0.5);
  assert.equal(s.accuracySe, Math.sqrt(0.25 / 4));
  assert.equal(s.meanSamples, 4);
  // Sample sd of [3, 5, 3, 5] is sqrt(4/3); the SE divides by sqrt(4).
  assert.ok(Math.abs(s.meanSamplesSe - Math.sqrt(4 / 3) / 2) < 1e-15);
});

Deno.test("correctness() rejects mismatched or empty lists", () => {
  assert.throws(() => correctness(["1"], []), RangeError);
  assert.throws(() => correctness([], []), RangeError);
});

Deno.test("pairedDelta() reports the paired difference in points and who won where", () => {
  const d = pairedDelta([true, true, false, true], [true, false, false, false]);
  assert.equal(d.deltaPoints, 50);
  assert.equal(d.aOnly, 2);
  assert.equal(d.bOnly, 0);
  // Differences [0, 1, 0, 1]: sd sqrt(1/3), SE sqrt(1/3)/2, in points.
  assert.ok(Math.abs(d.sePoints - (100 * Math.sqrt(1 / 3)) / 2) < 1e-12);
  assert.deepEqual(pairedDelta([true], [true]), { deltaPoints: 0, sePoints: 0, aOnly: 0, bOnly: 0 });
  assert.throws(() => pairedDelta([true], [true, false]), RangeError);
});
