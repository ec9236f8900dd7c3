/** Types shared by the extractors, the cascade and the replay evaluation. */

/** Tasks whose answers the extractors know. */
export type VerifyTask = "gsm8k" | "arc_challenge" | "text";

/** Every task, in help-text order. */
export const VERIFY_TASKS: readonly VerifyTask[] = ["gsm8k", "arc_challenge", "text"];

/** How an answer was found, for reports and debugging. */
export type ExtractionMethod =
  /** GSM8K `#### N`. */
  | "strict"
  /** GSM8K last number. */
  | "flexible"
  /** ARC letter after an answer phrase ("The answer is (B)"). */
  | "answer-phrase"
  /** ARC letter leading the text ("B) ...") or standing alone. */
  | "leading-letter"
  /** ARC choice quoted by its text. */
  | "choice-text"
  /** ARC letter in parentheses somewhere in the text. */
  | "parenthesised-letter"
  /** Free text, normalised. */
  | "text"
  /** A gold answer put in canonical form. */
  | "gold";

/**
 * An extracted answer in canonical form (compare answers with ===), or the
 * reason the text holds none. Unextractable samples are expected values, not
 * errors: they count toward the sampling budget but not the vote.
 */
export type Extraction =
  | { ok: true; answer: string; method: ExtractionMethod }
  | { ok: false; reason: string };

/** One ARC answer option as the dataset writes it (labels A-E, or 1-5 in 22 test items). */
export interface ArcChoice {
  label: string;
  text: string;
}
