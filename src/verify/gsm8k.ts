/**
 * GSM8K answer extraction with lm-evaluation-harness's two filters: strict
 * (`#### N`, first match) and flexible (last number in the text). Both clean
 * the match as its exact-match metric does (commas, `$` and one trailing `.`
 * removed) and then reduce it to a canonical decimal, so "3.50", "3.5" and
 * "$3.5" are the same answer and compare with ===.
 */
import type { Extraction } from "./types.ts";

/** lm-eval gsm8k `strict-match`: `#### (\-?[0-9\.\,]+)`, first match. */
const STRICT_RE = /#### (-?[0-9.,]+)/;
/** lm-eval gsm8k `flexible-extract`: `(-?[$0-9.,]{2,})|(-?[0-9]+)`, last match. */
const FLEXIBLE_RE = /(-?[$0-9.,]{2,})|(-?[0-9]+)/g;
const DECIMAL_RE = /^(-?)(\d*)(?:\.(\d*))?$/;

/** How a GSM8K answer is looked for. */
export type Gsm8kMode = "strict" | "flexible" | "auto";

/**
 * The canonical decimal of a number as written in an answer: commas and `$`
 * removed, one trailing `.` dropped, leading zeros of the integer part and
 * trailing zeros of the fraction removed, `-0` written `0`. Plain string
 * arithmetic, so 20-digit answers stay exact.
 * @returns undefined when `raw` is not a decimal number after cleaning
 */
export function canonicalNumber(raw: string): string | undefined {
  let s = raw.trim().replaceAll(",", "").replaceAll("$", "");
  if (s.endsWith(".")) s = s.slice(0, -1);
  const m = DECIMAL_RE.exec(s);
  if (!m) return undefined;
  const [, sign, intRaw, fracRaw = ""] = m;
  if (intRaw === "" && fracRaw === "") return undefined;
  const intPart = intRaw.replace(/^0+/, "") || "0";
  const fracPart = fracRaw.replace(/0+$/, "");
  const body = fracPart === "" ? intPart : `${intPart}.${fracPart}`;
  return body === "0" ? "0" : `${sign}${body}`;
}

function strict(text: string): Extraction {
  const m = STRICT_RE.exec(text);
  if (!m) return { ok: false, reason: 'no "#### <number>" line' };
  const answer = canonicalNumber(m[1]);
  if (answer === undefined) return { ok: false, reason: `"#### ${m[1]}" is not a number` };
  return { ok: true, answer, method: "strict" };
}

function flexible(text: string): Extraction {
  const matches = [...text.matchAll(FLEXIBLE_RE)];
  // lm-eval takes the last match even when it is only punctuation (".."); walking back to the
  // last match that is a number avoids marking "... is 18. ..." unextractable.
  for (let i = matches.length - 1; i >= 0; i--) {
    const answer = canonicalNumber(matches[i][0]);
    if (answer !== undefined) return { ok: true, answer, method: "flexible" };
  }
  return { ok: false, reason: "no number in the text" };
}

/**
 * A GSM8K answer from a model's text. `auto` (the cascade's default) uses the
 * strict `####` answer when there is one and the last number otherwise.
 */
export function extractGsm8k(text: string, mode: Gsm8kMode = "auto"): Extraction {
  switch (mode) {
    case "strict":
      return strict(text);
    case "flexible":
      return flexible(text);
    case "auto": {
      const s = strict(text);
      return s.ok ? s : flexible(text);
    }
  }
}

/**
 * A GSM8K gold answer in canonical form: either the dataset's full solution
 * (the text after `####`) or the bare number ("1,450,000", "-10", 18).
 */
export function normalizeGsm8kGold(gold: string): Extraction {
  if (gold.includes("####")) return strict(gold);
  const answer = canonicalNumber(gold);
  return answer === undefined
    ? { ok: false, reason: `gold "${gold}" is not a number` }
    : { ok: true, answer, method: "gold" };
}
