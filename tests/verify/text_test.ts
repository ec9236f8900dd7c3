import assert from "node:assert/strict";
import { extractAnswer, normalizeFreeText, normalizeGold } from "../../src/verify/mod.ts";

Deno.test("normalizeFreeText() ignores case, punctuation and whitespace but keeps symbols", () => {
  assert.equal(normalizeFreeText("  The  Eiffel-Tower!\n"), "the eiffel tower");
  assert.equal(normalizeFreeText("Don't stop"), "dont stop");
  assert.equal(normalizeFreeText("Don\u2019t stop"), "dont stop");
  assert.equal(normalizeFreeText("ＡＢＣ"), "abc"); // NFKC folds full-width letters
  assert.equal(normalizeFreeText("$5 + 3%"), "$5 + 3"); // % is Unicode punctuation (Po), $ and + are symbols
  assert.equal(normalizeFreeText("Rr", { keepCase: true }), "Rr");
  assert.equal(normalizeFreeText("?!..."), "");
});

Deno.test("extractAnswer(text) takes what follows the last answer phrase, else the whole text", () => {
  assert.deepEqual(extractAnswer("text", "Paris is big. The answer is Paris."), {
    ok: true,
    answer: "paris",
    method: "text",
  });
  assert.deepEqual(extractAnswer("text", "I'd say: answer: New York.\nThanks"), {
    ok: true,
    answer: "new york",
    method: "text",
  });
  assert.deepEqual(extractAnswer("text", "  PARIS "), { ok: true, answer: "paris", method: "text" });
  const a = extractAnswer("text", "The answer is Mount Everest!");
  const b = extractAnswer("text", "mount everest");
  assert.ok(a.ok && b.ok && a.answer === b.answer);
});

Deno.test("extractAnswer(text) marks text that normalises to nothing invalid", () => {
  assert.deepEqual(extractAnswer("text", " ...!? "), { ok: false, reason: "empty text after normalisation" });
  assert.deepEqual(normalizeGold("text", "--"), { ok: false, reason: 'gold "--" is empty after normalisation' });
  assert.deepEqual(normalizeGold("text", "New York"), { ok: true, answer: "new york", method: "gold" });
});
