import assert from "node:assert/strict";
import { type ArcChoice, arcLabelToLetter, extractAnswer, normalizeGold } from "../../src/verify/mod.ts";

const ARC_TEST = new URL("../../../shared/data/arc/ARC-Challenge-Test.jsonl", import.meta.url);

interface ArcRow {
  id: string;
  question: { stem: string; choices: ArcChoice[] };
  answerKey: string;
}

function loadRows(): ArcRow[] {
  return Deno.readTextFileSync(ARC_TEST).split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
}

function letterOf(text: string, choices?: readonly (string | ArcChoice)[]): string | undefined {
  const got = extractAnswer("arc_challenge", text, { choices });
  return got.ok ? got.answer : undefined;
}

Deno.test("arcLabelToLetter() maps 1-5 to A-E and keeps letters", () => {
  assert.deepEqual(["1", "2", "3", "4", "5"].map(arcLabelToLetter), ["A", "B", "C", "D", "E"]);
  assert.equal(arcLabelToLetter("c"), "C");
  assert.equal(arcLabelToLetter(" D "), "D");
  assert.equal(arcLabelToLetter("F"), undefined);
  assert.equal(arcLabelToLetter("6"), undefined);
  assert.equal(arcLabelToLetter("AB"), undefined);
});

Deno.test("normalizeGold(arc_challenge) maps every test answer key to a letter among its choices", () => {
  const rows = loadRows();
  assert.equal(rows.length, 1172);
  const sizes = new Map<number, number>();
  let numeric = 0;
  for (const row of rows) {
    const choices = row.question.choices;
    sizes.set(choices.length, (sizes.get(choices.length) ?? 0) + 1);
    if (/^[1-5]$/.test(row.answerKey)) numeric++;
    const gold = normalizeGold("arc_challenge", row.answerKey, { choices });
    assert.ok(gold.ok, `${row.id}: ${JSON.stringify(gold)}`);
    const index = choices.findIndex((c) => c.label === row.answerKey);
    assert.equal(gold.answer, "ABCDE"[index], `${row.id}: key ${row.answerKey} is choice ${index}`);
  }
  assert.equal(numeric, 22);
  assert.deepEqual(Object.fromEntries(sizes), { 3: 4, 4: 1165, 5: 3 });
});

Deno.test("extractAnswer(arc_challenge) gets every test gold back from the usual answer formats", () => {
  for (const row of loadRows()) {
    const choices = row.question.choices;
    const gold = normalizeGold("arc_challenge", row.answerKey, { choices });
    assert.ok(gold.ok);
    const letter = gold.answer;
    const text = choices.find((c) => c.label === row.answerKey)!.text;
    const formats = [
      `The answer is (${letter}).`,
      `The answer is ${letter}`,
      `answer: ${letter.toLowerCase()}`,
      `Answer: ${row.answerKey}`,
      `${letter}) ${text}`,
      `(${letter}) ${text}`,
      `${letter}. ${text}`,
      letter,
      `${letter.toLowerCase()}`,
      text,
      `${text}.`,
      `Let me think. ${row.question.stem.slice(0, 60)}... The correct answer is **${letter}**.`,
      `The best answer is ${letter}: ${text}`,
      `I am fairly sure it is "${text}".`,
    ];
    for (const format of formats) {
      assert.equal(letterOf(format, choices), letter, `${row.id}: ${JSON.stringify(format)}`);
    }
  }
});

Deno.test("extractAnswer(arc_challenge) reads digit answers only for items labelled with digits", () => {
  const numericRows = loadRows().filter((r) => /^[1-5]$/.test(r.answerKey));
  assert.equal(numericRows.length, 22);
  for (const row of numericRows) {
    const choices = row.question.choices;
    const want = "ABCDE"[Number(row.answerKey) - 1];
    assert.equal(letterOf(`The answer is ${row.answerKey}.`, choices), want, row.id);
    assert.equal(letterOf(`(${row.answerKey}) ${choices[Number(row.answerKey) - 1].text}`, choices), want, row.id);
  }
  const lettered = [{ label: "A", text: "one" }, { label: "B", text: "two" }, { label: "C", text: "three" }];
  assert.equal(letterOf("The answer is 2", lettered), undefined);
});

Deno.test("extractAnswer(arc_challenge) limits letters to the item's 3 or 5 choices", () => {
  const rows = loadRows();
  const three = rows.find((r) => r.question.choices.length === 3)!;
  const five = rows.find((r) => r.question.choices.length === 5)!;
  const got = extractAnswer("arc_challenge", "The answer is D.", { choices: three.question.choices });
  assert.equal(got.ok, false);
  assert.match(!got.ok ? got.reason : "", /D is not one of the choices A, B, C/);
  assert.equal(letterOf("The answer is E.", five.question.choices), "E");
  // Without choices any of A-E is a letter.
  assert.equal(letterOf("The answer is E."), "E");
});

Deno.test("extractAnswer(arc_challenge) takes the last answer phrase and skips articles and words", () => {
  const choices = ["a plant", "an animal", "a rock", "water"];
  assert.equal(letterOf("At first the answer seemed to be A, but the final answer is C.", choices), "C");
  assert.equal(letterOf("The answer is a rock.", choices), "C");
  assert.equal(letterOf("The answer is a plant", choices), "A");
  assert.equal(letterOf("The answer is (b) because animals move.", choices), "B");
  assert.equal(letterOf("The correct option is D", choices), "D");
  // "answer" followed by words that are not an answer falls through to the quoted choice.
  assert.equal(letterOf("To answer this we need water.", choices), "D");
  assert.equal(letterOf("Answer: e.g. nothing", choices), undefined);
});

Deno.test("extractAnswer(arc_challenge) prefers the longest quoted choice and flags real ambiguity", () => {
  const nested = ["heat", "heat and light", "sound", "motion"];
  assert.equal(letterOf("It gives off heat and light.", nested), "B");
  const both = extractAnswer("arc_challenge", "Either sound or motion.", { choices: nested });
  assert.deepEqual(both, { ok: false, reason: "ambiguous: quotes choices C, D" });
  const parens = extractAnswer("arc_challenge", "Options (A) and (B) look right.");
  assert.deepEqual(parens, { ok: false, reason: "ambiguous: mentions (A), (B)" });
  assert.deepEqual(extractAnswer("arc_challenge", "I think it is (C) here."), {
    ok: true,
    answer: "C",
    method: "parenthesised-letter",
  });
});

Deno.test("extractAnswer(arc_challenge) marks text with no letter or choice invalid", () => {
  assert.deepEqual(extractAnswer("arc_challenge", "I do not know.", { choices: ["x", "y", "z"] }), {
    ok: false,
    reason: "no answer letter or choice text",
  });
  assert.equal(letterOf("A plant grows toward light."), undefined);
  assert.equal(letterOf(""), undefined);
});

Deno.test("extractAnswer(arc_challenge) rejects malformed choices as a programmer error", () => {
  assert.throws(() => extractAnswer("arc_challenge", "A", { choices: ["only one"] }), RangeError);
  assert.throws(() => extractAnswer("arc_challenge", "A", { choices: ["1", "2", "3", "4", "5", "6"] }), RangeError);
  assert.throws(
    () => extractAnswer("arc_challenge", "A", { choices: [{ label: "F", text: "x" }, { label: "A", text: "y" }] }),
    /label "F"/,
  );
  assert.throws(
    () => extractAnswer("arc_challenge", "A", { choices: [{ label: "1", text: "x" }, { label: "A", text: "y" }] }),
    /repeat the letter A/,
  );
});

Deno.test("extractAnswer(arc_challenge) reads a closed letter as a letter even when a choice's text is that letter", () => {
  // Mercury_402547 offers carbon as the choice text "C" (label A); "The answer is C" still means label C.
  const row = loadRows().find((r) => r.id === "Mercury_402547")!;
  assert.equal(letterOf("The answer is C", row.question.choices), "C");
  assert.equal(letterOf("The answer is O_{2}", row.question.choices), "C");
});

Deno.test("extractAnswer(arc_challenge) tells choices apart that differ only in case", () => {
  // Mercury_7238945: alleles R, rr, Rr, RR.
  const row = loadRows().find((r) => r.id === "Mercury_7238945")!;
  assert.equal(letterOf("The offspring must be Rr.", row.question.choices), "C");
  assert.equal(letterOf("The offspring must be RR.", row.question.choices), "D");
});
