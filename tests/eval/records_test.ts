import assert from "node:assert/strict";
import {
  arcQueries,
  failedRecord,
  gradeOutcome,
  gsm8kQueries,
  type QueryMeasurement,
  wikitextQueries,
} from "../../src/eval/mod.ts";
import type { ArcItem, Gsm8kItem, WikitextArticle } from "../../src/eval/mod.ts";

const MEASURED: QueryMeasurement = {
  energyJ: 2.5,
  perRailJ: { board_total: 2.5 },
  incompleteRails: [],
  totalRails: ["board_total"],
  durationMs: 400,
  throttleEvents: 1,
  samples: 5,
  latencyMs: 410,
};

const GSM: Gsm8kItem = {
  index: 3,
  line: 4,
  question: "How many?",
  answer: "1,000 + 200 = 1,200\n#### 1,200",
  gold: "1200",
};
const TRAIN: Gsm8kItem[] = [{ index: 0, line: 1, question: "Q?", answer: "A\n#### 1", gold: "1" }];
const gsmQuery = gsm8kQueries([GSM], TRAIN, { seed: 1, shots: 1 }).queries[0];

const ARC: ArcItem = {
  id: "arc-1",
  index: 0,
  line: 1,
  stem: "Which is a gas?",
  choices: [
    { label: "1", letter: "A", text: "ice" },
    { label: "2", letter: "B", text: "steam rising" },
    { label: "3", letter: "C", text: "rock" },
  ],
  answerLetter: "B",
  goldIndex: 1,
};
const arcQuery = arcQueries([ARC]).queries[0];

const ARTICLE: WikitextArticle = {
  index: 0,
  line: 2,
  title: "T",
  page: " = T = \n x y \n",
  text: " = T =\nx y\n",
  words: 7,
  whitespaceWords: 5,
  bytes: 16,
};
const wikiQuery = wikitextQueries([ARTICLE]).queries[0];

Deno.test("gradeOutcome() grades GSM8K: selected answer, pass@k over samples, lm-eval exact match of the first", () => {
  const record = gradeOutcome(gsmQuery, "standard", {
    samplesUsed: 4,
    k: 4,
    answer: "1200.0",
    samples: [
      // Out of order on purpose: take_first is the lowest index.
      { index: 2, text: "so 1,200 apples. #### 1200" },
      { index: 0, text: "It is $1,200." },
      { index: 1, text: "#### 1100" },
      { index: 3, text: "I do not know" },
    ],
  }, MEASURED);
  assert.equal(record.correct, true);
  assert.equal(record.samplesFinished, 4);
  assert.equal(record.samplesCorrect, 2);
  // n=4, c=2, k=4 -> 1.
  assert.equal(record.passAtK, 1);
  // First sample "It is $1,200.": no "####" (strict fails), flexible "$1,200." -> "1200" after the ignore rules.
  assert.equal(record.strictMatch, false);
  assert.equal(record.flexibleMatch, true);
  assert.deepEqual(
    [record.task, record.mode, record.id, record.energyJ, record.meteredMs, record.latencyMs, record.throttleEvents],
    ["gsm8k", "standard", "gsm8k/3", 2.5, 400, 410, 1],
  );
  assert.equal(record.answered, true);
});

Deno.test("gradeOutcome() caps pass@k at the samples a mode finished", () => {
  const record = gradeOutcome(gsmQuery, "qeil", {
    samplesUsed: 3,
    k: 8,
    answer: "1100",
    samples: [{ index: 0, text: "#### 1100" }, { index: 1, text: "#### 1200" }],
  }, MEASURED);
  assert.equal(record.correct, false);
  // n=2, c=1, k=min(8, 2)=2 -> 1 - C(1,2)/C(2,2) = 1.
  assert.equal(record.passAtK, 1);
  assert.equal(record.samplesUsed, 3);
  assert.equal(record.k, 8);
  assert.equal(record.strictMatch, false);
  const none = gradeOutcome(gsmQuery, "qeil", { samplesUsed: 1, k: 8, answer: null, samples: [] }, MEASURED);
  assert.equal(none.correct, false);
  assert.equal(none.passAtK, null);
  assert.equal(none.samplesCorrect, null);
});

Deno.test("gradeOutcome() grades ARC: acc and acc_norm from choice log-likelihoods, the generative answer", () => {
  // Lengths 3, 12, 4: raw argmax is "ice" (-3); per char -1, -0.5, -1.25 -> "steam rising".
  const record = gradeOutcome(arcQuery, "greedy", {
    samplesUsed: 2,
    k: 2,
    answer: "B",
    choiceLogLikelihoods: [-3, -6, -5],
    samples: [{ index: 0, text: "The answer is B" }, { index: 1, text: "A" }],
  }, MEASURED);
  assert.equal(record.acc, false);
  assert.equal(record.accNorm, true);
  assert.equal(record.correct, true);
  assert.equal(record.samplesCorrect, 1);
  // n=2, c=1, k=2 -> 1.
  assert.equal(record.passAtK, 1);
  const scoredOnly = gradeOutcome(
    arcQuery,
    "greedy",
    { samplesUsed: 0, k: 0, choiceLogLikelihoods: [-1, -6, -5] },
    MEASURED,
  );
  assert.equal(scoredOnly.correct, null);
  assert.equal(scoredOnly.acc, false);
});

Deno.test("gradeOutcome() carries a WikiText article's log-likelihood with lm-eval's word and byte counts", () => {
  const record = gradeOutcome(wikiQuery, "standard", { samplesUsed: 1, k: 1, logLikelihood: -42 }, MEASURED);
  assert.deepEqual([record.logLikelihood, record.words, record.bytes, record.correct], [-42, 7, 16, null]);
});

Deno.test("gradeOutcome() rejects an outcome that lacks what the task needs", () => {
  assert.throws(() => gradeOutcome(wikiQuery, "qeil", { samplesUsed: 1, k: 1 }, MEASURED), /logLikelihood must be/);
  assert.throws(() => gradeOutcome(gsmQuery, "qeil", { samplesUsed: 1, k: 1 }, MEASURED), /answer is missing/);
  assert.throws(() => gradeOutcome(arcQuery, "qeil", { samplesUsed: 1, k: 1 }, MEASURED), /choiceLogLikelihoods/);
  assert.throws(
    () => gradeOutcome(arcQuery, "qeil", { samplesUsed: 1, k: 1, choiceLogLikelihoods: [-1, -2] }, MEASURED),
    /2 log-likelihoods for 3 choices/,
  );
  assert.throws(
    () => gradeOutcome(wikiQuery, "qeil", { samplesUsed: -1, k: 1, logLikelihood: -1 }, MEASURED),
    /samplesUsed/,
  );
  assert.throws(
    () =>
      gradeOutcome(gsmQuery, "qeil", {
        samplesUsed: 2,
        k: 2,
        answer: null,
        samples: [{ index: 0, text: "a" }, { index: 0, text: "b" }],
      }, MEASURED),
    /distinct integer indices/,
  );
});

Deno.test("failedRecord() marks a query unanswered and wrong where there is a right answer", () => {
  const gsm = failedRecord(gsmQuery, "qeil", "BackendError: npu failed", MEASURED);
  assert.deepEqual([gsm.answered, gsm.correct, gsm.strictMatch, gsm.flexibleMatch, gsm.error], [
    false,
    false,
    false,
    false,
    "BackendError: npu failed",
  ]);
  const wiki = failedRecord(wikiQuery, "qeil", "x", MEASURED);
  assert.equal(wiki.correct, null);
  assert.equal(wiki.logLikelihood, undefined);
  const arc = failedRecord(arcQuery, "qeil", "x", MEASURED);
  assert.deepEqual([arc.acc, arc.accNorm], [false, false]);
  assert.equal(arc.energyJ, 2.5);
});
