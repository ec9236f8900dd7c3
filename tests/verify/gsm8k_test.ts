import assert from "node:assert/strict";
import { canonicalNumber, extractAnswer, normalizeGold } from "../../src/verify/mod.ts";

const GSM8K_TEST = new URL("../../../shared/data/gsm8k/test.jsonl", import.meta.url);

interface Gsm8kRow {
  question: string;
  answer: string;
}

function loadRows(): Gsm8kRow[] {
  return Deno.readTextFileSync(GSM8K_TEST).split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
}

/** The gold as the dataset writes it: the text after `####` (14 of them with commas, 2 negative). */
function writtenGold(row: Gsm8kRow): string {
  return row.answer.split("####")[1].trim();
}

Deno.test("canonicalNumber() removes commas and $, and compares decimals by value", () => {
  assert.equal(canonicalNumber("1,450,000"), "1450000");
  assert.equal(canonicalNumber("$18"), "18");
  assert.equal(canonicalNumber("-$3"), "-3");
  assert.equal(canonicalNumber("$-3"), "-3");
  assert.equal(canonicalNumber("3.50"), canonicalNumber("3.5"));
  assert.equal(canonicalNumber("3.50"), "3.5");
  assert.equal(canonicalNumber("18.00"), "18");
  assert.equal(canonicalNumber("18."), "18");
  assert.equal(canonicalNumber("007"), "7");
  assert.equal(canonicalNumber(".5"), "0.5");
  assert.equal(canonicalNumber("-0.0"), "0");
  assert.equal(canonicalNumber("-2"), "-2");
  assert.equal(canonicalNumber("123456789012345678901234"), "123456789012345678901234");
  for (const junk of ["", "$", "-", ".", "..", "1.2.3", "--5", "5-3", "abc"]) {
    assert.equal(canonicalNumber(junk), undefined, `"${junk}" is not a number`);
  }
});

Deno.test("extractAnswer(gsm8k) gets every test gold back from its solution, strict and flexible", () => {
  const rows = loadRows();
  assert.equal(rows.length, 1319);
  let withCommas = 0;
  let negative = 0;
  for (const row of rows) {
    const gold = writtenGold(row).replaceAll(",", "");
    if (writtenGold(row).includes(",")) withCommas++;
    if (gold.startsWith("-")) negative++;
    assert.deepEqual(extractAnswer("gsm8k", row.answer, { gsm8kMode: "strict" }), {
      ok: true,
      answer: gold,
      method: "strict",
    });
    // The solution ends with its gold, so the last number is the gold too.
    assert.deepEqual(extractAnswer("gsm8k", row.answer, { gsm8kMode: "flexible" }), {
      ok: true,
      answer: gold,
      method: "flexible",
    });
  }
  assert.equal(withCommas, 14);
  assert.equal(negative, 2);
});

Deno.test("extractAnswer(gsm8k) gets every test gold back from the usual answer formats", () => {
  for (const row of loadRows()) {
    const written = writtenGold(row);
    const gold = normalizeGold("gsm8k", written);
    assert.ok(gold.ok, `gold ${written} must normalise`);
    const formats = [
      `#### ${written}`,
      `Let's think step by step. 2 + 3 = 5 and 10 / 2 = 5.\n#### ${written}`,
      `The answer is ${written}.`,
      `The answer is $${written}.`,
      `So the total is ${written} dollars.`,
      `Answer: ${written}`,
      `$\\boxed{${written}}$`,
      `First 12 * 3 = 36. Then the result is **${written}**.`,
    ];
    for (const text of formats) {
      const got = extractAnswer("gsm8k", text);
      assert.ok(got.ok && got.answer === gold.answer, `${JSON.stringify(text)} gave ${JSON.stringify(got)}`);
    }
  }
});

Deno.test("extractAnswer(gsm8k) auto mode prefers the #### answer over later numbers", () => {
  const text = "#### 42\nCheck: 40 + 2 = 42, and 7 more makes 49";
  assert.deepEqual(extractAnswer("gsm8k", text), { ok: true, answer: "42", method: "strict" });
  assert.deepEqual(extractAnswer("gsm8k", text, { gsm8kMode: "flexible" }), {
    ok: true,
    answer: "49",
    method: "flexible",
  });
});

Deno.test("extractAnswer(gsm8k) follows lm-eval's quirks: first #### match, $ not allowed after ####", () => {
  assert.deepEqual(extractAnswer("gsm8k", "#### 5\n#### 6", { gsm8kMode: "strict" }), {
    ok: true,
    answer: "5",
    method: "strict",
  });
  const dollar = extractAnswer("gsm8k", "#### $18", { gsm8kMode: "strict" });
  assert.equal(dollar.ok, false);
  // auto falls back to the last number, which $ does not hide.
  assert.deepEqual(extractAnswer("gsm8k", "#### $18"), { ok: true, answer: "18", method: "flexible" });
});

Deno.test("extractAnswer(gsm8k) reads decimals, negatives and trailing punctuation", () => {
  const cases: [string, string][] = [
    ["It costs $3.50 in total.", "3.5"],
    ["The temperature fell to -2 degrees.", "-2"],
    ["She ends with 1,234 stickers...", "1234"],
    ["The answer is 18. I hope that helps!", "18"],
    ["5 - 3 = 2", "2"],
    ["Total: 0.750", "0.75"],
  ];
  for (const [text, want] of cases) {
    const got = extractAnswer("gsm8k", text);
    assert.ok(got.ok && got.answer === want, `${JSON.stringify(text)} gave ${JSON.stringify(got)}`);
  }
});

Deno.test("extractAnswer(gsm8k) marks a text without a number invalid with a reason", () => {
  assert.deepEqual(extractAnswer("gsm8k", "I cannot solve this... sorry."), {
    ok: false,
    reason: "no number in the text",
  });
  assert.deepEqual(extractAnswer("gsm8k", "The answer is 12", { gsm8kMode: "strict" }), {
    ok: false,
    reason: 'no "#### <number>" line',
  });
  assert.deepEqual(extractAnswer("gsm8k", ""), { ok: false, reason: "no number in the text" });
});

Deno.test("normalizeGold(gsm8k) accepts a full solution or a bare number and rejects junk", () => {
  assert.deepEqual(normalizeGold("gsm8k", "He pays 2 * 3 = 6\n#### 1,450,000"), {
    ok: true,
    answer: "1450000",
    method: "strict",
  });
  assert.deepEqual(normalizeGold("gsm8k", "-10"), { ok: true, answer: "-10", method: "gold" });
  assert.deepEqual(normalizeGold("gsm8k", "eighteen"), { ok: false, reason: 'gold "eighteen" is not a number' });
});
