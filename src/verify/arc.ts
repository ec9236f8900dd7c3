/**
 * ARC answer extraction: a letter A-E from free text. Labels 1-5 (22 items of
 * the ARC-Challenge test set) map to A-E as lm-evaluation-harness does; items
 * have 3 to 5 choices, so the valid letters come from the choices when they
 * are given. Tried in order: the letter after the last answer phrase ("The
 * answer is (B)", "answer: c"), a letter leading the text ("B) ..."), a choice
 * quoted by its text, a single letter in parentheses.
 */
import { normalizeFreeText } from "./text.ts";
import type { ArcChoice, Extraction, ExtractionMethod } from "./types.ts";

const LETTERS = ["A", "B", "C", "D", "E"] as const;

/**
 * The letter of an ARC label: "A"-"E" (any case) as is, "1"-"5" as A-E.
 * @returns undefined for anything else
 */
export function arcLabelToLetter(label: string): string | undefined {
  const s = label.trim().toUpperCase();
  if (/^[A-E]$/.test(s)) return s;
  if (/^[1-5]$/.test(s)) return LETTERS[Number(s) - 1];
  return undefined;
}

/** Choices resolved to letters; without choices any of A-E is accepted. */
interface ResolvedChoices {
  letters: string[];
  /** Normalised choice texts by letter (empty when only letters are known). */
  texts: Map<string, string>;
  /** The same with case kept: alleles "Rr" and "RR" differ only in case. */
  casedTexts: Map<string, string>;
  /** The item writes its labels as digits, so "answer is 2" means B. */
  numericLabels: boolean;
}

function resolveChoices(choices: readonly (string | ArcChoice)[] | undefined): ResolvedChoices {
  if (choices === undefined) {
    return { letters: [...LETTERS], texts: new Map(), casedTexts: new Map(), numericLabels: false };
  }
  if (choices.length < 2 || choices.length > LETTERS.length) {
    throw new RangeError(`ARC choices must number 2 to 5, got ${choices.length}`);
  }
  const letters: string[] = [];
  const texts = new Map<string, string>();
  const casedTexts = new Map<string, string>();
  let numericLabels = false;
  choices.forEach((choice, i) => {
    let letter: string | undefined;
    let text: string;
    if (typeof choice === "string") {
      letter = LETTERS[i];
      text = choice;
    } else {
      letter = arcLabelToLetter(choice.label);
      if (letter === undefined) throw new RangeError(`ARC choice label "${choice.label}" is not A-E or 1-5`);
      if (/^\s*[1-5]\s*$/.test(choice.label)) numericLabels = true;
      text = choice.text;
    }
    if (letters.includes(letter)) throw new RangeError(`ARC choices repeat the letter ${letter}`);
    letters.push(letter);
    const normalised = normalizeFreeText(text);
    if (normalised !== "") texts.set(letter, normalised);
    const cased = normalizeFreeText(text, { keepCase: true });
    if (cased !== "") casedTexts.set(letter, cased);
  });
  return { letters, texts, casedTexts, numericLabels };
}

/** What may follow a letter that ends its token: nothing, or closing punctuation then a space or the end. */
const ENDS_TOKEN_RE = /^(?:$|[.,;:!?)\]*]+(?:\s|$))/;

type Candidate = { letter: string } | { invalid: string } | undefined;

/** Maps one captured token (a letter, or a digit when labels are digits) to a choice. */
function tokenToChoice(token: string, resolved: ResolvedChoices): Candidate {
  const upper = token.toUpperCase();
  let letter: string | undefined;
  if (/^[A-E]$/.test(upper)) letter = upper;
  else if (/^[1-5]$/.test(upper) && resolved.numericLabels) letter = LETTERS[Number(upper) - 1];
  if (letter === undefined) return undefined;
  if (!resolved.letters.includes(letter)) {
    return { invalid: `answer ${token} is not one of the choices ${resolved.letters.join(", ")}` };
  }
  return { letter };
}

/**
 * True when a bare letter followed by `rest` stands alone as an answer: at the
 * end, before punctuation that ends it ("c.", "B,"), or before a space; a
 * lower-case letter before a word is an article ("a plant"), not an answer.
 */
function standsAlone(rest: string, lowerCase: boolean): boolean {
  if (ENDS_TOKEN_RE.test(rest)) return true;
  if (!/^\s/.test(rest)) return false;
  return !lowerCase || !/^\s+\p{L}/u.test(rest);
}

const ANSWER_PHRASE_RE =
  /\b(?:answer|(?:correct|best|right|final) (?:option|choice))\b\s*(?:is|would be|should be|will be|must be|=|:)?\s*[:-]?/gi;
const BRACKETED_RE = /^\s*(?:option|choice|letter)?\s*[([]\s*([A-Ea-e1-9])\s*[)\]]/i;
const BARE_RE = /^\s*(?:option|choice|letter)?\s*([A-Ea-e1-9])/i;

/** A choice quoted at the start of `region` (longest text wins: "heat" vs "heat and light"). */
function choiceAtStart(region: string, resolved: ResolvedChoices): string | undefined {
  const normalised = normalizeFreeText(region);
  let best: { letter: string; length: number } | undefined;
  for (const [letter, text] of resolved.texts) {
    if ((normalised === text || normalised.startsWith(`${text} `)) && (!best || text.length > best.length)) {
      best = { letter, length: text.length };
    }
  }
  return best?.letter;
}

/** The answer in the text that follows an answer phrase. */
function parseAnswerRegion(region: string, resolved: ResolvedChoices): Candidate {
  const bracketed = BRACKETED_RE.exec(region);
  if (bracketed) {
    const c = tokenToChoice(bracketed[1], resolved);
    if (c) return c;
  }
  const bare = BARE_RE.exec(region);
  const token = bare?.[1];
  const rest = bare ? region.slice(bare.index + bare[0].length) : "";
  // A letter closed by punctuation or the end ("C", "c.") is a letter even when a choice's text is "C".
  if (token !== undefined && ENDS_TOKEN_RE.test(rest)) {
    const c = tokenToChoice(token, resolved);
    if (c) return c;
  }
  const quoted = choiceAtStart(region, resolved);
  if (quoted) return { letter: quoted };
  if (token !== undefined && standsAlone(rest, token !== token.toUpperCase())) return tokenToChoice(token, resolved);
  return undefined;
}

/** Choices whose text the whole answer quotes; a choice inside a longer quoted choice does not count. */
function quotedChoices(text: string, resolved: ResolvedChoices, keepCase: boolean): string[] {
  const padded = ` ${normalizeFreeText(text, { keepCase })} `;
  const found = [...(keepCase ? resolved.casedTexts : resolved.texts)].filter(([, t]) => padded.includes(` ${t} `));
  return found
    .filter(([, t]) => !found.some(([, other]) => other !== t && ` ${other} `.includes(` ${t} `)))
    .map(([letter]) => letter);
}

function found(letter: string, method: ExtractionMethod): Extraction {
  return { ok: true, answer: letter, method };
}

/**
 * An ARC answer letter (A-E) from a model's text.
 * @param choices the item's choices (texts in order, or the dataset's `{label, text}`); they limit
 *   the valid letters and let an answer that quotes a choice's text count. Without them any of A-E
 *   is accepted and digits are not.
 * @throws RangeError for malformed choices (fewer than 2, more than 5, bad or repeated labels)
 */
export function extractArc(text: string, choices?: readonly (string | ArcChoice)[]): Extraction {
  const resolved = resolveChoices(choices);
  const clean = text.replaceAll("**", "");
  const phrases = [...clean.matchAll(ANSWER_PHRASE_RE)];
  for (let i = phrases.length - 1; i >= 0; i--) {
    const start = phrases[i].index + phrases[i][0].length;
    const end = clean.indexOf("\n", start);
    const candidate = parseAnswerRegion(clean.slice(start, end < 0 ? undefined : end), resolved);
    if (candidate === undefined) continue;
    return "letter" in candidate ? found(candidate.letter, "answer-phrase") : { ok: false, reason: candidate.invalid };
  }

  const digits = resolved.numericLabels ? "1-5" : "";
  const leading = new RegExp(`^\\s*(?:[([]([A-Ea-e${digits}])[)\\]]|([A-E${digits}])[.:)])(?:\\s|$)`).exec(clean) ??
    new RegExp(`^\\s*[([]?([A-Ea-e${digits}])[)\\]]?\\.?\\s*$`).exec(clean);
  if (leading) {
    const candidate = tokenToChoice(leading[1] ?? leading[2], resolved);
    if (candidate) {
      return "letter" in candidate
        ? found(candidate.letter, "leading-letter")
        : { ok: false, reason: candidate.invalid };
    }
  }

  const quoted = quotedChoices(clean, resolved, false);
  if (quoted.length === 1) return found(quoted[0], "choice-text");
  if (quoted.length > 1) {
    // Case decides between choices that differ only in case ("Rr" vs "RR").
    const cased = quotedChoices(clean, resolved, true);
    if (cased.length === 1) return found(cased[0], "choice-text");
  }

  const parenthesised = new Set(
    [...clean.matchAll(new RegExp(`\\(([A-E${digits}])\\)`, "g"))]
      .map((m) => tokenToChoice(m[1], resolved))
      .filter((c): c is { letter: string } => c !== undefined && "letter" in c)
      .map((c) => c.letter),
  );
  if (parenthesised.size === 1) return found([...parenthesised][0], "parenthesised-letter");

  if (quoted.length > 1) return { ok: false, reason: `ambiguous: quotes choices ${quoted.join(", ")}` };
  if (parenthesised.size > 1) {
    return { ok: false, reason: `ambiguous: mentions (${[...parenthesised].join("), (")})` };
  }
  return { ok: false, reason: "no answer letter or choice text" };
}

/** An ARC gold answer key ("C", or "2" for B) as a letter, checked against the choices when given. */
export function normalizeArcGold(gold: string, choices?: readonly (string | ArcChoice)[]): Extraction {
  const letter = arcLabelToLetter(gold);
  if (letter === undefined) return { ok: false, reason: `gold "${gold}" is not a label A-E or 1-5` };
  const resolved = resolveChoices(choices);
  if (!resolved.letters.includes(letter)) {
    return { ok: false, reason: `gold "${gold}" is not one of the choices ${resolved.letters.join(", ")}` };
  }
  return { ok: true, answer: letter, method: "gold" };
}
