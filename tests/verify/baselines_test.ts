import assert from "node:assert/strict";
import { type CascadeSample, escStopping, fixedKMajority, majorityVote } from "../../src/verify/mod.ts";

function samples(answers: (string | null)[]): CascadeSample[] {
  return answers.map((answer, index) =>
    answer === null ? { index, valid: false, meanLogProb: -1 } : { index, valid: true, answer, meanLogProb: -1 }
  );
}

Deno.test("majorityVote() takes the plurality of valid answers, ties to the earliest, ignoring log-probs", () => {
  assert.equal(majorityVote(samples(["B", "A", "A", null, null, null])), "A");
  assert.equal(majorityVote(samples(["B", "A", "A", "B"])), "B");
  const reliableA: CascadeSample[] = [
    { index: 0, valid: true, answer: "B", meanLogProb: -5 },
    { index: 1, valid: true, answer: "A", meanLogProb: -0.01 },
  ];
  assert.equal(majorityVote(reliableA), "B");
  assert.equal(majorityVote(samples([null, null])), null);
  assert.equal(majorityVote([]), null);
});

Deno.test("fixedKMajority() votes over the first k samples, or all when fewer were recorded", () => {
  const list = samples(["A", "A", "B", "B", "B"]);
  assert.deepEqual(fixedKMajority(list, 2), { answer: "A", samplesUsed: 2 });
  assert.deepEqual(fixedKMajority(list, 5), { answer: "B", samplesUsed: 5 });
  assert.deepEqual(fixedKMajority(list, 40), { answer: "B", samplesUsed: 5 });
  assert.throws(() => fixedKMajority(list, 0), RangeError);
});

Deno.test("escStopping() stops after the first unanimous window and votes over everything drawn", () => {
  const list = samples(["A", "B", "B", "A", "B", "C", "C", "C", "C", "C", "A", "A"]);
  // Window 1 (A B B A B) is mixed; window 2 (C C C C C) is unanimous: stop at 10, plurality C (5) over B (3).
  assert.deepEqual(escStopping(list, { window: 5, maxSamples: 40 }), { answer: "C", samplesUsed: 10 });
  assert.deepEqual(escStopping(list, { window: 5, maxSamples: 7 }), { answer: "B", samplesUsed: 7 });
  // The default window is 5.
  assert.equal(escStopping(samples(Array(12).fill("Z")), { maxSamples: 40 }).samplesUsed, 5);
});

Deno.test("escStopping() does not call a window with an unextractable sample unanimous", () => {
  const list = samples(["A", "A", null, "A", "A", "A", "A", "A", "A", "A"]);
  assert.deepEqual(escStopping(list, { window: 5, maxSamples: 10 }), { answer: "A", samplesUsed: 10 });
  assert.throws(() => escStopping(list, { window: 0, maxSamples: 10 }), /window >= 1/);
  assert.throws(() => escStopping(list, { window: 5, maxSamples: 0 }), /maxSamples >= 1/);
});
