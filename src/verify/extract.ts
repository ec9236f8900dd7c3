/** Answer extraction by task: the entry the service, the replay and the evaluation use. */
import { extractArc, normalizeArcGold } from "./arc.ts";
import { extractGsm8k, type Gsm8kMode, normalizeGsm8kGold } from "./gsm8k.ts";
import { extractText, normalizeTextGold } from "./text.ts";
import type { ArcChoice, Extraction, VerifyTask } from "./types.ts";

/** Options of {@linkcode extractAnswer}. */
export interface ExtractOptions {
  /**
   * ARC only: the item's choices, as texts in order or the dataset's `{label, text}` objects. They
   * limit the valid letters (3 to 5 choices) and let an answer that quotes a choice's text count.
   * @default undefined (any letter A-E, no matching by text)
   */
  choices?: readonly (string | ArcChoice)[];
  /**
   * GSM8K only: `strict` (lm-eval strict-match, `#### N`), `flexible` (lm-eval flexible-extract,
   * the last number) or `auto` (strict when present, else flexible).
   * @default "auto"
   */
  gsm8kMode?: Gsm8kMode;
}

/**
 * The answer a model's text gives for `task`, in canonical form (GSM8K: a
 * canonical decimal; ARC: a letter A-E; text: normalised text), or the reason
 * there is none.
 * @throws RangeError for malformed ARC choices (a programmer error, not a bad sample)
 */
export function extractAnswer(task: VerifyTask, text: string, options: ExtractOptions = {}): Extraction {
  switch (task) {
    case "gsm8k":
      return extractGsm8k(text, options.gsm8kMode ?? "auto");
    case "arc_challenge":
      return extractArc(text, options.choices);
    case "text":
      return extractText(text);
    default:
      throw new RangeError(`extractAnswer() does not know task "${task as string}"`);
  }
}

/**
 * A gold answer in the same canonical form as {@linkcode extractAnswer}'s
 * (GSM8K: "1,450,000" or a full solution with `####`; ARC: "C" or "3"; text).
 */
export function normalizeGold(
  task: VerifyTask,
  gold: string,
  options: Pick<ExtractOptions, "choices"> = {},
): Extraction {
  switch (task) {
    case "gsm8k":
      return normalizeGsm8kGold(gold);
    case "arc_challenge":
      return normalizeArcGold(gold, options.choices);
    case "text":
      return normalizeTextGold(gold);
    default:
      throw new RangeError(`normalizeGold() does not know task "${task as string}"`);
  }
}
