import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type CascadeSample,
  createCascade,
  type Decision,
  DEFAULT_CASCADE_OPTIONS,
  reliabilityWeights,
  runCascade,
} from "../../src/verify/mod.ts";

/** Samples from answers (null = unextractable), all with the same log-prob unless given. */
function samples(answers: (string | null)[], logProbs?: number[]): CascadeSample[] {
  return answers.map((answer, index) =>
    answer === null
      ? { index, valid: false, meanLogProb: logProbs?.[index] ?? -0.5 }
      : { index, valid: true, answer, meanLogProb: logProbs?.[index] ?? -0.5 }
  );
}

function stopOf(step: ReturnType<ReturnType<typeof createCascade>["push"]>): Decision {
  assert.equal(step.action, "stop");
  return step as Decision;
}

Deno.test("createCascade() defaults follow DESIGN.md: k 16, n_min 3, tau 0.95, count evidence", () => {
  assert.deepEqual(createCascade().options, {
    maxSamples: 16,
    minSamples: 3,
    tau: 0.95,
    earlyAgreement: true,
    sequentialTest: true,
    temperature: 1,
    evidence: "count",
    horizon: "unbounded",
  });
  assert.deepEqual(createCascade().options, DEFAULT_CASCADE_OPTIONS);
});

Deno.test("EAC stops unanimous once n_min valid answers agree", () => {
  const cascade = createCascade();
  const [a, b, c] = samples(["42", "42", "42"]);
  assert.deepEqual(cascade.push(a), { action: "continue" });
  assert.deepEqual(cascade.push(b), { action: "continue" });
  const d = stopOf(cascade.push(c));
  assert.equal(d.answer, "42");
  assert.equal(d.stopReason, "unanimous");
  assert.equal(d.samplesUsed, 3);
  assert.equal(d.validSamples, 3);
  assert.ok(Math.abs(d.confidence - 0.9375) < 1e-12, `3-0 gives P = 15/16, got ${d.confidence}`);
  assert.equal(d.votes.length, 1);
  assert.equal(d.votes[0].count, 3);
  assert.ok(Math.abs(d.votes[0].weight - 1) < 1e-12);
  assert.equal(cascade.decision, d);
});

Deno.test("EAC counts only valid answers: an unextractable sample uses budget but does not vote", () => {
  const d = runCascade(samples(["7", null, "7", "7"]));
  assert.equal(d.stopReason, "unanimous");
  assert.equal(d.samplesUsed, 4);
  assert.equal(d.validSamples, 3);
});

Deno.test("CSVET stops confident at 6 votes to 1 (P = 1 - 9/256) and not at 5 to 1", () => {
  const answers = ["A", "B", "A", "A", "A", "A", "A"];
  const cascade = createCascade();
  for (const s of samples(answers).slice(0, 6)) assert.equal(cascade.push(s).action, "continue");
  const d = stopOf(cascade.push(samples(answers)[6]));
  assert.equal(d.stopReason, "confident");
  assert.equal(d.answer, "A");
  assert.equal(d.samplesUsed, 7);
  assert.ok(Math.abs(d.confidence - (1 - 9 / 256)) < 1e-12);
  assert.deepEqual(d.votes.map((v) => [v.answer, v.count]), [["A", 6], ["B", 1]]);
});

Deno.test("CSVET compares the leader with the strongest other answer only", () => {
  // 6 A against 1 B and 1 C: b = 1, so P(6, 1) > 0.95 stops after the eighth sample.
  const d = runCascade(samples(["A", "B", "C", "A", "A", "A", "A", "A"]));
  assert.equal(d.stopReason, "confident");
  assert.equal(d.samplesUsed, 8);
});

Deno.test("tau 1 and disabled EAC run to the budget and elect with ARDE", () => {
  const d = runCascade(samples(Array(20).fill("9")), { tau: 1, earlyAgreement: false, maxSamples: 10 });
  assert.equal(d.stopReason, "budget");
  assert.equal(d.samplesUsed, 10);
  assert.equal(d.answer, "9");
});

Deno.test("ARDE elects by reliability weight, which can beat a larger count, and says so in its confidence", () => {
  // Five A at mean log-prob -3 against three B at -0.1: weights 5e^-3 vs 3e^-0.1.
  const answers = ["A", "B", "A", "B", "A", "B", "A", "A"];
  const logProbs = answers.map((a) => (a === "A" ? -3 : -0.1));
  const d = runCascade(samples(answers, logProbs), { maxSamples: 8 });
  assert.equal(d.stopReason, "budget");
  assert.equal(d.answer, "B");
  assert.deepEqual(d.votes.map((v) => v.answer), ["B", "A"]);
  const wA = 5 * Math.exp(-3);
  const wB = 3 * Math.exp(-0.1);
  assert.ok(Math.abs(d.votes[0].weight - wB / (wA + wB)) < 1e-12);
  // Count evidence for B (3 against 5) is below one half.
  assert.ok(d.confidence < 0.5, `confidence ${d.confidence}`);
});

Deno.test("ARDE breaks weight ties by count, then by the earliest sample index (not arrival order)", () => {
  const tieByIndex = createCascade({ maxSamples: 2, earlyAgreement: false, sequentialTest: false });
  assert.equal(tieByIndex.push({ index: 1, valid: true, answer: "late", meanLogProb: -1 }).action, "continue");
  const d = stopOf(tieByIndex.push({ index: 0, valid: true, answer: "early", meanLogProb: -1 }));
  assert.equal(d.answer, "early");
  assert.equal(d.stopReason, "budget");
  // Equal total weight (2 x w vs 1 x 2w): the larger count wins.
  const lp = Math.log(2);
  const byCount = runCascade(
    [
      { index: 0, valid: true, answer: "one", meanLogProb: -1 + lp },
      { index: 1, valid: true, answer: "two", meanLogProb: -1 },
      { index: 2, valid: true, answer: "two", meanLogProb: -1 },
    ],
    { maxSamples: 3, earlyAgreement: false, sequentialTest: false },
  );
  assert.equal(byCount.answer, "two");
});

Deno.test("a cascade with no extractable answer ends at the budget with answer null and confidence 0", () => {
  const d = runCascade(samples(Array(16).fill(null)));
  assert.deepEqual(d, {
    action: "stop",
    answer: null,
    confidence: 0,
    samplesUsed: 16,
    validSamples: 0,
    stopReason: "budget",
    votes: [],
  });
  assert.equal(createCascade().finish().samplesUsed, 0);
});

Deno.test("finish() decides early with what arrived, and the decision is final", () => {
  const cascade = createCascade();
  for (const s of samples(["1", "2", "1"])) assert.equal(cascade.push(s).action, "continue");
  const d = cascade.finish();
  assert.equal(d.stopReason, "budget");
  assert.equal(d.answer, "1");
  assert.equal(d.samplesUsed, 3);
  // A sample still in flight when the caller cancelled is ignored.
  assert.equal(cascade.push({ index: 3, valid: true, answer: "2", meanLogProb: -0.1 }), d);
  assert.equal(cascade.samplesUsed, 3);
  assert.equal(cascade.finish(), d);
});

Deno.test("push() rejects malformed samples and repeated indices", () => {
  const cascade = createCascade();
  cascade.push({ index: 0, valid: true, answer: "1", meanLogProb: -1 });
  assert.throws(() => cascade.push({ index: 0, valid: true, answer: "1", meanLogProb: -1 }), /index 0 was already/);
  assert.throws(() => cascade.push({ index: -1, valid: false, meanLogProb: -1 }), /index must be an integer/);
  assert.throws(() => cascade.push({ index: 1.5, valid: false, meanLogProb: -1 }), /index must be an integer/);
  assert.throws(() => cascade.push({ index: 2, valid: true, meanLogProb: -1 }), /valid but has no answer/);
  assert.throws(() => cascade.push({ index: 3, valid: true, answer: "1", meanLogProb: Number.NaN }), /non-finite/);
  // An invalid sample's log-prob does not matter (a zero-token sample has none).
  assert.equal(cascade.push({ index: 4, valid: false, meanLogProb: Number.NaN }).action, "continue");
  assert.equal(cascade.samplesUsed, 2);
});

Deno.test("createCascade() rejects invalid options, naming the option", () => {
  assert.throws(() => createCascade({ maxSamples: 0 }), /maxSamples must be an integer >= 1, got 0/);
  assert.throws(
    () => createCascade({ maxSamples: 4, minSamples: 5 }),
    /minSamples must be an integer in \[1, maxSamples=4\]/,
  );
  assert.equal(createCascade({ maxSamples: 2 }).options.minSamples, 2);
  assert.throws(() => createCascade({ tau: 0.5 }), /tau must be in \(0.5, 1\], got 0.5/);
  assert.throws(() => createCascade({ temperature: 0 }), /temperature must be a finite number > 0/);
  assert.throws(() => createCascade({ evidence: "votes" as "count" }), /evidence must be "count" or "reliability"/);
  assert.throws(() => createCascade({ horizon: "forever" as "budget" }), /horizon must be "unbounded" or "budget"/);
  assert.throws(
    () => createCascade({ earlyAgreement: "yes" as unknown as boolean }),
    /earlyAgreement must be true or false/,
  );
});

Deno.test("reliabilityWeights() is a softmax: sums to 1, shift-invariant, sharper at low temperature", () => {
  const w = reliabilityWeights([-0.2, -0.5, -1.5]);
  assert.ok(Math.abs(w.reduce((s, x) => s + x, 0) - 1) < 1e-15);
  assert.ok(w[0] > w[1] && w[1] > w[2]);
  const shifted = reliabilityWeights([-100.2, -100.5, -101.5]);
  w.forEach((x, i) => assert.ok(Math.abs(x - shifted[i]) < 1e-12));
  assert.ok(reliabilityWeights([-0.2, -0.5], 0.1)[0] > reliabilityWeights([-0.2, -0.5], 1)[0]);
  assert.deepEqual(reliabilityWeights([-1e300, -1e300]), [0.5, 0.5]);
  assert.deepEqual(reliabilityWeights([]), []);
});

Deno.test("reliability evidence changes when CSVET stops: a low-log-prob leader needs more votes", () => {
  // 6 A, 1 B (count evidence stops here). With B far more reliable, the pseudo-counts are not decisive.
  const answers = ["A", "B", "A", "A", "A", "A", "A"];
  const logProbs = answers.map((a) => (a === "A" ? -1.2 : -0.2));
  assert.equal(runCascade(samples(answers, logProbs)).stopReason, "confident");
  const weighted = runCascade(samples(answers, logProbs), { evidence: "reliability", maxSamples: 7 });
  assert.equal(weighted.stopReason, "budget");
});

Deno.test("horizon budget stops a lead that the remaining budget cannot overturn", () => {
  // k = 8: after 7 samples A leads 5 to 2 with one sample left; P(p > 0.5) = 1 - 29/256 < 0.95.
  const answers = ["A", "B", "A", "B", "A", "A", "A", "A"];
  const unbounded = runCascade(samples(answers), { maxSamples: 8, earlyAgreement: false });
  assert.equal(unbounded.stopReason, "budget");
  assert.equal(unbounded.samplesUsed, 8);
  const budget = runCascade(samples(answers), { maxSamples: 8, earlyAgreement: false, horizon: "budget" });
  assert.equal(budget.stopReason, "confident");
  assert.equal(budget.samplesUsed, 7);
  assert.equal(budget.answer, "A");
  // The reported confidence stays CSVET's P(p > 0.5), here below tau.
  assert.ok(Math.abs(budget.confidence - (1 - (1 + 8 + 28) / 256)) < 1e-12);
});

const answerSequence = fc.array(fc.option(fc.constantFrom("A", "B", "C"), { nil: null }), {
  minLength: 1,
  maxLength: 24,
});
const cascadeOptions = fc.record({
  maxSamples: fc.integer({ min: 3, max: 20 }),
  minSamples: fc.integer({ min: 1, max: 3 }),
  tau: fc.constantFrom(0.9, 0.95, 0.99),
});

Deno.test("every decision respects the sample bounds and reports a consistent vote table", () => {
  fc.assert(
    fc.property(answerSequence, cascadeOptions, fc.array(fc.double({ min: -3, max: 0, noNaN: true })), (xs, o, lps) => {
      const list = samples(xs, xs.map((_, i) => lps[i] ?? -0.5));
      const d = runCascade(list, o);
      assert.ok(d.samplesUsed <= o.maxSamples && d.samplesUsed <= list.length);
      if (d.stopReason !== "budget") assert.ok(d.samplesUsed >= o.minSamples);
      if (d.stopReason === "budget") assert.equal(d.samplesUsed, Math.min(o.maxSamples, list.length));
      const used = list.slice(0, d.samplesUsed);
      assert.equal(d.validSamples, used.filter((s) => s.valid).length);
      assert.equal(d.votes.reduce((s, v) => s + v.count, 0), d.validSamples);
      if (d.validSamples > 0) {
        assert.ok(Math.abs(d.votes.reduce((s, v) => s + v.weight, 0) - 1) < 1e-9);
        assert.equal(d.answer, d.votes[0].answer);
      } else assert.equal(d.answer, null);
      assert.ok(d.confidence >= 0 && d.confidence <= 1);
      if (d.stopReason === "confident") assert.ok(d.confidence >= o.tau);
    }),
    { numRuns: 400 },
  );
});

Deno.test("with equal log-probs, reliability evidence makes exactly the count-evidence decisions", () => {
  fc.assert(
    fc.property(answerSequence, cascadeOptions, (xs, o) => {
      const list = samples(xs);
      const weighted = runCascade(list, { ...o, evidence: "reliability" });
      const counted = runCascade(list, o);
      // Pseudo-counts n * (count / n) differ from counts in the last bit, so the confidence may too.
      assert.ok(Math.abs(weighted.confidence - counted.confidence) < 1e-12);
      assert.deepEqual({ ...weighted, confidence: 0 }, { ...counted, confidence: 0 });
    }),
    { numRuns: 300 },
  );
});

Deno.test("more agreement never delays a stop: turning a dissenting vote into the leader's stops no later", () => {
  fc.assert(
    fc.property(answerSequence, cascadeOptions, fc.nat(), (xs, o, pick) => {
      const before = runCascade(samples(xs), o);
      if (before.answer === null || before.stopReason === "budget") return;
      const dissent = xs.map((x, i) => [x, i] as const).filter(([x, i]) =>
        i < before.samplesUsed && x !== null && x !== before.answer
      );
      if (dissent.length === 0) return;
      const changed: (string | null)[] = [...xs];
      changed[dissent[pick % dissent.length][1]] = before.answer;
      const after = runCascade(samples(changed), o);
      assert.ok(after.samplesUsed <= before.samplesUsed, `${xs} -> ${changed}`);
      assert.equal(after.answer, before.answer);
    }),
    { numRuns: 400 },
  );
});

Deno.test("horizon budget never uses more samples than the unbounded test at tau >= 0.9", () => {
  fc.assert(
    fc.property(answerSequence, cascadeOptions, (xs, o) => {
      const list = samples(xs);
      const unbounded = runCascade(list, o);
      const budget = runCascade(list, { ...o, horizon: "budget" });
      assert.ok(budget.samplesUsed <= unbounded.samplesUsed, `${xs}: ${budget.samplesUsed} > ${unbounded.samplesUsed}`);
    }),
    { numRuns: 400 },
  );
});

Deno.test("horizon budget leaves the last sample's decision to ARDE", () => {
  // k = 4: A A B B at equal count; B far more reliable. The budget is spent, so ARDE elects B.
  const d = runCascade(samples(["A", "B", "A", "B"], [-2, -0.1, -2, -0.1]), {
    maxSamples: 4,
    earlyAgreement: false,
    horizon: "budget",
  });
  assert.equal(d.stopReason, "budget");
  assert.equal(d.answer, "B");
  // 3 A, 1 B with the last sample: P(keep) would be 1, but it is the budget that ends it.
  const last = runCascade(samples(["A", "A", "B", "A"], [-2, -2, -0.1, -2]), {
    maxSamples: 4,
    tau: 0.99,
    earlyAgreement: false,
    horizon: "budget",
  });
  assert.equal(last.stopReason, "budget");
  assert.equal(last.samplesUsed, 4);
});
