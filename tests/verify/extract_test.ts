import assert from "node:assert/strict";
import { extractAnswer, normalizeGold, VERIFY_TASKS, type VerifyTask } from "../../src/verify/mod.ts";

Deno.test("extractAnswer() dispatches on the task", () => {
  const text = "The answer is (B), that is 12 apples.";
  assert.deepEqual(extractAnswer("gsm8k", text), { ok: true, answer: "12", method: "flexible" });
  assert.deepEqual(extractAnswer("arc_challenge", text), { ok: true, answer: "B", method: "answer-phrase" });
  assert.deepEqual(extractAnswer("text", text), { ok: true, answer: "b that is 12 apples", method: "text" });
  assert.deepEqual([...VERIFY_TASKS], ["gsm8k", "arc_challenge", "text"]);
});

Deno.test("extractAnswer() and normalizeGold() reject an unknown task", () => {
  assert.throws(() => extractAnswer("mmlu" as VerifyTask, "A"), /does not know task "mmlu"/);
  assert.throws(() => normalizeGold("mmlu" as VerifyTask, "A"), /does not know task "mmlu"/);
});

Deno.test("normalizeGold() puts golds in the extractors' canonical form", () => {
  assert.deepEqual(normalizeGold("gsm8k", "2,125"), { ok: true, answer: "2125", method: "gold" });
  assert.deepEqual(normalizeGold("arc_challenge", "3"), { ok: true, answer: "C", method: "gold" });
  assert.deepEqual(normalizeGold("arc_challenge", "D", { choices: ["x", "y", "z"] }), {
    ok: false,
    reason: 'gold "D" is not one of the choices A, B, C',
  });
  assert.deepEqual(normalizeGold("arc_challenge", "Z"), { ok: false, reason: 'gold "Z" is not a label A-E or 1-5' });
});
