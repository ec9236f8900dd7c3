import assert from "node:assert/strict";
import { DatasetError, isQeilError } from "../../src/core/mod.ts";
import { evaluateReplay, parseReplay, type ReplayQuestion, type VerifyTask } from "../../src/verify/mod.ts";

function parse(lines: unknown[], task: VerifyTask = "gsm8k"): ReplayQuestion[] {
  return parseReplay(lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n"), {
    file: "r.jsonl",
    task,
  });
}

function parseError(lines: unknown[], task: VerifyTask = "gsm8k"): DatasetError {
  try {
    parse(lines, task);
  } catch (error) {
    assert.ok(isQeilError(error, "Dataset"), `expected a DatasetError, got ${error}`);
    return error as DatasetError;
  }
  assert.fail("parseReplay() accepted a bad file");
}

Deno.test("parseReplay() extracts answers from text, takes given answers, and normalises golds", () => {
  const qs = parse([
    {
      id: "q1",
      gold: "1,450,000",
      samples: [
        { text: "So he pays 1,450,000 dollars.", meanLogProb: -0.3 },
        { answer: "1450000.00", meanLogProb: -0.4 },
        { answer: 1450000, meanLogProb: -0.5 },
        { answer: null, meanLogProb: -0.9 },
        { text: "no idea", meanLogProb: -1.2 },
      ],
    },
    "",
    { id: 7, gold: -3, samples: [{ text: "#### -3", meanLogProb: 0 }] },
  ]);
  assert.equal(qs.length, 2);
  assert.deepEqual(qs[0], {
    id: "q1",
    gold: "1450000",
    line: 1,
    samples: [
      { index: 0, valid: true, answer: "1450000", meanLogProb: -0.3 },
      { index: 1, valid: true, answer: "1450000", meanLogProb: -0.4 },
      { index: 2, valid: true, answer: "1450000", meanLogProb: -0.5 },
      { index: 3, valid: false, meanLogProb: -0.9 },
      { index: 4, valid: false, meanLogProb: -1.2 },
    ],
  });
  assert.equal(qs[1].id, "7");
  assert.equal(qs[1].gold, "-3");
  assert.equal(qs[1].line, 3);
});

Deno.test("parseReplay() uses ARC choices to map digit labels and quoted choice texts", () => {
  const [q] = parse([
    {
      id: "arc1",
      gold: "2",
      choices: [{ label: "1", text: "melting ice" }, { label: "2", text: "burning wood" }, {
        label: "3",
        text: "a rock",
      }],
      samples: [
        { text: "The answer is 2.", meanLogProb: -0.2 },
        { text: "Burning wood, clearly.", meanLogProb: -0.2 },
        { text: "The answer is D", meanLogProb: -0.2 },
      ],
    },
  ], "arc_challenge");
  assert.equal(q.gold, "B");
  assert.deepEqual(q.samples.map((s) => s.valid && s.answer), ["B", "B", false]);
});

Deno.test("parseReplay() names the file, the line and the problem of a bad line", () => {
  const good = { id: "a", gold: "1", samples: [{ answer: "1", meanLogProb: -1 }] };
  const cases: [unknown[], RegExp, VerifyTask?][] = [
    [[good, "{not json"], /^r\.jsonl:2: not valid JSON/],
    [[good, "[1, 2]"], /^r\.jsonl:2: a line must be a JSON object/],
    [[{ ...good, id: "" }], /^r\.jsonl:1: id must be a non-empty string or a number/],
    [[good, good], /^r\.jsonl:2: id "a" already used on line 1/],
    [[{ ...good, gold: "eighteen" }], /^r\.jsonl:1: gold: gold "eighteen" is not a number/],
    [[{ ...good, gold: null }], /^r\.jsonl:1: gold must be a string or a number/],
    [[{ ...good, samples: [] }], /^r\.jsonl:1: samples must be a non-empty array/],
    [
      [{ ...good, samples: [{ text: "1", answer: "1", meanLogProb: -1 }] }],
      /samples\[0\] must have exactly one of text and answer/,
    ],
    [[{ ...good, samples: [{ meanLogProb: -1 }] }], /samples\[0\] must have exactly one of text and answer/],
    [[{ ...good, samples: [{ answer: "1" }] }], /samples\[0\]\.meanLogProb must be a finite number/],
    [
      [{ ...good, samples: [{ answer: "1", meanLogProb: 0.2 }] }],
      /samples\[0\]\.meanLogProb is 0\.2, but a log-probability cannot be positive/,
    ],
    [
      [{ ...good, samples: [{ answer: ["1"], meanLogProb: -1 }] }],
      /samples\[0\]\.answer must be a string, a number or null/,
    ],
    [[{ ...good, samples: [{ text: 5, meanLogProb: -1 }] }], /samples\[0\]\.text must be a string/],
    [[{ ...good, samples: ["x"] }], /samples\[0\] must be an object/],
    [[{ ...good, choices: ["x", "y"] }], /choices are only meaningful for task arc_challenge/],
    [[{ ...good, gold: "A", choices: ["x"] }], /choices must number 2 to 5, got 1/, "arc_challenge"],
    [
      [{ ...good, gold: "A", choices: [{ label: "Q", text: "x" }, "y"] }],
      /^r\.jsonl:1: ARC choice label "Q"/,
      "arc_challenge",
    ],
    [[{ ...good, gold: "D", choices: ["x", "y", "z"] }], /gold "D" is not one of the choices A, B, C/, "arc_challenge"],
  ];
  for (const [lines, pattern, task] of cases) {
    const e = parseError(lines, task);
    assert.match(e.message, pattern);
    assert.equal(e.details.path, "r.jsonl");
  }
  assert.equal(parseError([good, "{"]).details.line, 2);
  assert.match(parseError(["", "  "]).message, /^r\.jsonl: no questions/);
});

/** Samples from answers with equal log-probs. */
function q(id: string, gold: string, answers: (string | null)[]): ReplayQuestion {
  return {
    id,
    gold,
    line: 1,
    samples: answers.map((a, index) =>
      a === null ? { index, valid: false, meanLogProb: -1 } : { index, valid: true, answer: a, meanLogProb: -1 }
    ),
  };
}

Deno.test("evaluateReplay() compares fixed-k majority, the cascade and ESC on the same questions", () => {
  const questions = [
    // Unanimous: the cascade stops at 3, ESC at 5, majority uses 8.
    q("easy", "1", Array(8).fill("1")),
    // Three wrong then five right: EAC stops unanimous on the wrong "2" after 3; majority@8 is right.
    q("trap", "1", ["2", "2", "2", "1", "1", "1", "1", "1"]),
    // Never extractable: everybody spends the budget and fails.
    q("mute", "1", Array(8).fill(null)),
  ];
  const r = evaluateReplay(questions, { k: 8, escWindow: 5 });
  assert.equal(r.questions, 3);
  assert.equal(r.k, 8);
  assert.equal(r.shortQuestions, 0);
  assert.equal(r.invalidSampleRate, 8 / 24);
  assert.equal(r.majority.accuracy, 2 / 3); // "trap" has 5 right of 8
  assert.equal(r.majority.meanSamples, 8);
  assert.equal(r.cascade.accuracy, 1 / 3);
  assert.equal(r.cascade.meanSamples, (3 + 3 + 8) / 3);
  assert.deepEqual(r.cascade.stopReasons, { unanimous: 2, confident: 0, budget: 1 });
  assert.equal(r.cascade.samplesRatio, (14 / 3) / 8);
  assert.ok(Math.abs(r.cascade.versusMajority.deltaPoints + 100 / 3) < 1e-9);
  assert.equal(r.cascade.versusMajority.bOnly, 1);
  // ESC: easy stops at 5; trap's first window (2 2 2 1 1) is mixed, the rest is cut at 8: plurality "1" (5 of 8).
  assert.equal(r.esc.meanSamples, (5 + 8 + 8) / 3);
  assert.equal(r.esc.accuracy, 2 / 3);
  assert.equal(r.esc.window, 5);
});

Deno.test("evaluateReplay() counts questions recorded with fewer than k samples", () => {
  const r = evaluateReplay([q("short", "1", ["1", "2"]), q("full", "1", Array(4).fill("1"))], { k: 4 });
  assert.equal(r.shortQuestions, 1);
  assert.equal(r.majority.meanSamples, 3);
});

Deno.test("evaluateReplay() fits the temperature when asked for auto, and says when it cannot", () => {
  assert.throws(
    () => evaluateReplay([q("a", "1", ["1", "1", "1"])], { cascade: { temperature: "auto" } }),
    /cannot fit the reliability temperature: only 0 questions/,
  );
  const r = evaluateReplay([q("a", "1", ["1", "1", "1"])], { cascade: { temperature: 0.5, evidence: "reliability" } });
  assert.equal(r.cascade.options.temperature, 0.5);
  assert.equal(r.cascade.options.evidence, "reliability");
  assert.equal(r.cascade.calibration, undefined);
});
