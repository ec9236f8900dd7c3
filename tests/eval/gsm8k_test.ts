import assert from "node:assert/strict";
import { DatasetError } from "../../src/core/mod.ts";
import {
  GSM8K_STOP,
  gsm8kExactMatch,
  gsm8kFilter,
  gsm8kPrompt,
  LM_EVAL_INVALID,
  loadGsm8k,
  selectFewShot,
} from "../../src/eval/mod.ts";

const DATA = new URL("../../../shared/data/gsm8k/", import.meta.url).pathname;

async function tempJsonl(content: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-gsm8k-" });
  await Deno.writeTextFile(`${dir}/test.jsonl`, content);
  return `${dir}/test.jsonl`;
}

const GOOD = JSON.stringify({ question: "What is 2 + 2?", answer: "2 + 2 = 4\n#### 4" });

Deno.test("loadGsm8k() reads the real test and train splits with golds after ####, commas removed", async () => {
  const test = await loadGsm8k(`${DATA}test.jsonl`);
  const train = await loadGsm8k(`${DATA}train.jsonl`);
  assert.equal(test.length, 1319);
  assert.equal(train.length, 7473);
  assert.equal(test[0].gold, "18");
  assert.equal(test[0].line, 1);
  assert.ok(test[0].question.startsWith("Janet\u2019s ducks lay 16 eggs"));
  assert.ok(test.every((t, i) => t.index === i && !t.gold.includes(",")));
  // The README's quirks: 14 golds written with commas, 2 negative.
  const withCommas = test.filter((t) => /#### .*,/.test(t.answer));
  assert.equal(withCommas.length, 14);
  assert.ok(withCommas.some((t) => t.gold === "1450000"));
  assert.deepEqual(test.filter((t) => t.gold.startsWith("-")).map((t) => t.gold).sort(), ["-10", "-3"]);
});

Deno.test("loadGsm8k() names the file, line and field of a bad record", async () => {
  const cases: [string, number, RegExp][] = [
    [`${GOOD}\n${JSON.stringify({ question: "q" })}\n`, 2, /field "answer" is missing/],
    [
      `${GOOD}\n${GOOD}\n${JSON.stringify({ question: 7, answer: "#### 1" })}\n`,
      3,
      /field "question" must be a string, got a number/,
    ],
    [`${JSON.stringify({ question: "q", answer: "no gold here" })}\n`, 1, /no "#### <number>" gold/],
    [`${JSON.stringify({ question: "q", answer: "#### twelve" })}\n`, 1, /not a number: "twelve"/],
    [`${JSON.stringify(["q", "a"])}\n`, 1, /the record must be an object, got an array/],
    [`${JSON.stringify({ question: "  ", answer: "#### 1" })}\n`, 1, /field "question" is blank/],
  ];
  for (const [content, line, problem] of cases) {
    const path = await tempJsonl(content);
    await assert.rejects(loadGsm8k(path), (e: unknown) => {
      assert.ok(e instanceof DatasetError);
      assert.equal(e.details.path, path);
      assert.equal(e.details.line, line);
      assert.match(e.message, /^read GSM8K file /);
      assert.match(e.message, new RegExp(`line ${line}: `));
      assert.match(e.message, problem);
      return true;
    });
  }
});

Deno.test("selectFewShot() draws distinct train exemplars, the same for the same seed", async () => {
  const train = await loadGsm8k(`${DATA}train.jsonl`);
  const a = selectFewShot(train, 8, 7);
  const b = selectFewShot(train, 8, 7);
  const c = selectFewShot(train, 8, 8);
  assert.equal(a.length, 8);
  assert.deepEqual(a.map((x) => x.index), b.map((x) => x.index));
  assert.notDeepEqual(a.map((x) => x.index), c.map((x) => x.index));
  assert.equal(new Set(a.map((x) => x.index)).size, 8);
  assert.ok(a.every((x) => train[x.index] === x));
  assert.deepEqual(selectFewShot(train, 0, 7), []);
  assert.throws(() => selectFewShot(train.slice(0, 3), 4, 1), /cannot draw 4 few-shot exemplars from 3/);
  assert.throws(() => selectFewShot(train, -1, 1), RangeError);
});

Deno.test("gsm8kPrompt() follows lm-eval's Question/Answer few-shot layout", () => {
  const prompt = gsm8kPrompt("How many?", [
    { question: "Q1?", answer: "A1\n#### 1" },
    { question: "Q2?", answer: "A2\n#### 2" },
  ]);
  assert.equal(
    prompt,
    "Question: Q1?\nAnswer: A1\n#### 1\n\nQuestion: Q2?\nAnswer: A2\n#### 2\n\nQuestion: How many?\nAnswer:",
  );
  assert.equal(gsm8kPrompt("Zero-shot?", []), "Question: Zero-shot?\nAnswer:");
  assert.deepEqual([...GSM8K_STOP], ["Question:", "</s>", "<|im_end|>"]);
});

Deno.test("gsm8kFilter() applies lm-eval's strict-match and flexible-extract regexes", () => {
  const text = "She sells 9 eggs for $2 each, making $18.\n#### 18\nThen 1,000 more.";
  assert.equal(gsm8kFilter(text, "strict-match"), "18");
  assert.equal(gsm8kFilter(text, "flexible-extract"), "1,000");
  assert.equal(gsm8kFilter("#### -1,250.50 dollars #### 7", "strict-match"), "-1,250.50");
  assert.equal(gsm8kFilter("no number here", "strict-match"), LM_EVAL_INVALID);
  assert.equal(gsm8kFilter("no number here", "flexible-extract"), LM_EVAL_INVALID);
  // lm-eval takes the last match even when it is only punctuation.
  assert.equal(gsm8kFilter("The answer is 5 ...", "flexible-extract"), "...");
  assert.equal(gsm8kFilter("x 7 y", "flexible-extract"), "7");
});

Deno.test("gsm8kExactMatch() compares as lm-eval does after its ignore rules", () => {
  const answer = "Total is 1,000 + 450,000 = 1,450,000\n#### 1,450,000";
  assert.equal(gsm8kExactMatch("1450000", answer), true);
  assert.equal(gsm8kExactMatch("1,450,000", answer), true);
  assert.equal(gsm8kExactMatch("$1,450,000.", answer), true);
  assert.equal(gsm8kExactMatch("1450001", answer), false);
  // String comparison, not numeric: lm-eval counts 18.00 against 18 as wrong.
  assert.equal(gsm8kExactMatch("18.00", "#### 18"), false);
  assert.equal(gsm8kExactMatch("-10", "x\n#### -10"), true);
  assert.equal(gsm8kExactMatch(LM_EVAL_INVALID, "#### 10"), false);
});
