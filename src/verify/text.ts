/**
 * Free-form answers: normalised for exact match (Unicode NFKC, lower case,
 * punctuation dropped, whitespace collapsed), optionally after the last
 * "answer is" / "answer:" phrase so that a sentence around the answer does not
 * split the vote.
 */
import type { Extraction } from "./types.ts";

/** Last "answer is" / "answer:" phrase; the answer is what follows on the same line. */
const ANSWER_TAIL_RE = /\banswer\b\s*(?:is|would be|should be|will be|must be|=|:)\s*:?\s*([^\n]*)/gi;

/**
 * Normalises free text for exact match: NFKC, lower case (unless `keepCase`),
 * apostrophes removed ("don't" = "dont"), other punctuation turned into spaces
 * ("new-york" = "new york"), whitespace collapsed and trimmed. Unicode
 * punctuation (which includes %) goes; symbols ($, +, =) stay.
 */
export function normalizeFreeText(text: string, options: { keepCase?: boolean } = {}): string {
  const nfkc = text.normalize("NFKC");
  return (options.keepCase ? nfkc : nfkc.toLowerCase())
    .replace(/['\u2018\u2019`]/g, "")
    .replace(/\p{P}/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** A free-form answer: the tail of the last answer phrase if there is one, else the whole text. */
export function extractText(text: string): Extraction {
  const tails = [...text.matchAll(ANSWER_TAIL_RE)];
  for (let i = tails.length - 1; i >= 0; i--) {
    const answer = normalizeFreeText(tails[i][1]);
    if (answer !== "") return { ok: true, answer, method: "text" };
  }
  const answer = normalizeFreeText(text);
  return answer === "" ? { ok: false, reason: "empty text after normalisation" } : { ok: true, answer, method: "text" };
}

/** A free-form gold answer in canonical form. */
export function normalizeTextGold(gold: string): Extraction {
  const answer = normalizeFreeText(gold);
  return answer === ""
    ? { ok: false, reason: `gold "${gold}" is empty after normalisation` }
    : { ok: true, answer, method: "gold" };
}
