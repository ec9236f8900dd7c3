/**
 * GSM8K (OpenAI grade-school math) as lm-evaluation-harness's `gsm8k` task
 * (version 3) reads and scores it: records `{question, answer}` whose gold is
 * the text after `####`; a few-shot prompt of `Question: ...\nAnswer: ...`
 * exemplars from the train split (never test) joined by blank lines; the
 * `strict-match` and `flexible-extract` filters; `exact_match` with
 * `ignore_case` and `regexes_to_ignore` (`,`, `$`, everything up to `#### `, a
 * final `.`).
 */
import { createRng } from "../core/mod.ts";
import { canonicalNumber } from "../verify/mod.ts";
import { datasetError, type FieldSite, objectAt, readJsonLines, stringAt } from "./dataset_file.ts";

/** One GSM8K problem. */
export interface Gsm8kItem {
  /** Position in its file, from 0. */
  index: number;
  /** Line in its file, from 1. */
  line: number;
  question: string;
  /** The full worked solution, ending in `#### N`. */
  answer: string;
  /** The gold number as written after `####` with commas removed (`"1450000"`, `"-10"`). */
  gold: string;
}

/** lm-eval gsm8k `generation_kwargs.until`. */
export const GSM8K_STOP: readonly string[] = ["Question:", "</s>", "<|im_end|>"];

/** Few-shot exemplars by default. lm-eval's gsm8k.yaml says 5; 8 is the common `--num_fewshot 8` setting. */
export const GSM8K_DEFAULT_SHOTS = 8;

/**
 * Reads a GSM8K JSON Lines file.
 * @throws DatasetError naming the file, line and problem (missing field, wrong type, no `####` gold)
 */
export async function loadGsm8k(path: string): Promise<Gsm8kItem[]> {
  const what = "GSM8K file";
  const records = await readJsonLines(what, path);
  return records.map(({ line, value }, index) => {
    const site: FieldSite = { what, path, line };
    const obj = objectAt(value, site);
    const question = stringAt(obj, "question", site);
    const answer = stringAt(obj, "answer", site);
    const marker = answer.lastIndexOf("####");
    if (marker < 0) {
      throw datasetError(what, path, 'field "answer" has no "#### <number>" gold', { line, field: "answer" });
    }
    const gold = answer.slice(marker + 4).trim().replaceAll(",", "");
    if (canonicalNumber(gold) === undefined) {
      throw datasetError(what, path, `the gold after "####" is not a number: ${JSON.stringify(gold)}`, {
        line,
        field: "answer",
      });
    }
    return { index, line, question, answer, gold };
  });
}

/**
 * `shots` exemplars drawn without replacement from `train` by a seeded
 * shuffle: the same seed gives the same exemplars, in the same order.
 * @throws RangeError when `shots` is negative, not an integer or larger than the train set
 */
export function selectFewShot(train: readonly Gsm8kItem[], shots: number, seed: number): Gsm8kItem[] {
  if (!Number.isInteger(shots) || shots < 0) {
    throw new RangeError(`few-shot count must be an integer >= 0, got ${shots}`);
  }
  if (shots > train.length) {
    throw new RangeError(`cannot draw ${shots} few-shot exemplars from ${train.length} train items`);
  }
  const rng = createRng(seed).fork("gsm8k-fewshot");
  const order = train.map((_, i) => i);
  // Partial Fisher-Yates: only the first `shots` positions are drawn.
  for (let i = 0; i < shots; i++) {
    const j = i + rng.int(order.length - i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, shots).map((i) => train[i]);
}

/**
 * lm-eval's few-shot context: each exemplar as `Question: q\nAnswer: a`
 * followed by a blank line, then `Question: {question}\nAnswer:`.
 */
export function gsm8kPrompt(question: string, exemplars: readonly Pick<Gsm8kItem, "question" | "answer">[]): string {
  const shots = exemplars.map((e) => `Question: ${e.question}\nAnswer: ${e.answer}\n\n`).join("");
  return `${shots}Question: ${question}\nAnswer:`;
}

/** lm-eval gsm8k filters. */
export type Gsm8kFilter = "strict-match" | "flexible-extract";

/** What lm-eval's regex filter yields when nothing matches. */
export const LM_EVAL_INVALID = "[invalid]";

const STRICT_RE = /#### (-?[0-9.,]+)/;
const FLEXIBLE_RE = /(-?[$0-9.,]{2,})|(-?[0-9]+)/g;

/**
 * lm-eval's regex filter on one response: `strict-match` takes the first
 * `#### N`; `flexible-extract` the last match of `(-?[$0-9.,]{2,})|(-?[0-9]+)`
 * (its non-empty group), even when that match is only punctuation, as lm-eval does.
 * @returns the matched text, or `[invalid]`
 */
export function gsm8kFilter(response: string, filter: Gsm8kFilter): string {
  if (filter === "strict-match") return STRICT_RE.exec(response)?.[1] ?? LM_EVAL_INVALID;
  const matches = [...response.matchAll(FLEXIBLE_RE)];
  const last = matches.at(-1);
  if (!last) return LM_EVAL_INVALID;
  return last[1] ?? last[2] ?? LM_EVAL_INVALID;
}

/**
 * lm-eval's `regexes_to_ignore` of gsm8k, applied in order. Python's `$`
 * also matches before a final newline, hence `(?=\n?$)`.
 */
const IGNORE_RES: readonly RegExp[] = [/,/g, /\$/g, /^[\s\S]*#### /, /\.(?=\n?$)/];

function exactMatchForm(text: string): string {
  let s = text;
  for (const re of IGNORE_RES) s = s.replace(re, "");
  return s.toLowerCase();
}

/**
 * lm-eval gsm8k `exact_match` of one filtered prediction against the
 * document's full answer (`doc_to_target`): both pass through the same
 * `regexes_to_ignore` and lower-casing, then compare as strings (so `3.50`
 * and `3.5` differ, as in lm-eval).
 */
export function gsm8kExactMatch(filtered: string, answer: string): boolean {
  return exactMatchForm(filtered) === exactMatchForm(answer);
}
