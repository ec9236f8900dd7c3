/**
 * ARC-Challenge as lm-evaluation-harness's `arc_challenge` task reads and
 * scores it: records `{id, question: {stem, choices: [{text, label}]},
 * answerKey}` with 3 to 5 choices labelled A-E or 1-5 (mapped to A-E); the
 * context `Question: {stem}\nAnswer:` and the continuations ` {choice text}`;
 * `acc` is the argmax of the choice log-likelihoods and `acc_norm` the argmax
 * of each divided by its choice's length in characters (lm-eval's
 * `completion_len`, Python `len()` of the choice text: code points).
 */
import { arcLabelToLetter } from "../verify/mod.ts";
import { arrayAt, datasetError, type FieldSite, objectAt, readJsonLines, stringAt } from "./dataset_file.ts";

/** One answer option. */
export interface ArcOption {
  /** The label as the file writes it (`"C"` or `"3"`). */
  label: string;
  /** The label as a letter A-E. */
  letter: string;
  text: string;
}

/** One ARC question. */
export interface ArcItem {
  /** The dataset's id (`Mercury_7175875`). */
  id: string;
  /** Position in its file, from 0. */
  index: number;
  /** Line in its file, from 1. */
  line: number;
  stem: string;
  choices: ArcOption[];
  /** The correct choice as a letter A-E. */
  answerLetter: string;
  /** Position of the correct choice in `choices` (lm-eval's `doc_to_target`). */
  goldIndex: number;
}

/** Fewest and most choices an item may have. */
export const ARC_MIN_CHOICES = 3;
export const ARC_MAX_CHOICES = 5;

/** Generation in the generative variant ends at the first line break. */
export const ARC_GENERATIVE_STOP: readonly string[] = ["\n"];

/**
 * Reads an ARC JSON Lines file.
 * @throws DatasetError naming the file, line and problem (missing field, wrong
 *   type, a label that is not A-E or 1-5, repeated labels, 3 to 5 choices, an
 *   answer key that is no choice's label, a repeated id)
 */
export async function loadArc(path: string): Promise<ArcItem[]> {
  const what = "ARC file";
  const records = await readJsonLines(what, path);
  const seen = new Map<string, number>();
  return records.map(({ line, value }, index) => {
    const site: FieldSite = { what, path, line };
    const obj = objectAt(value, site);
    const id = stringAt(obj, "id", site);
    const firstLine = seen.get(id);
    if (firstLine !== undefined) {
      throw datasetError(what, path, `id ${JSON.stringify(id)} repeats the one on line ${firstLine}`, {
        line,
        field: "id",
      });
    }
    seen.set(id, line);
    const question = objectAt(obj.question, site, "question");
    const stem = stringAt(question, "stem", site, "question.stem");
    const rawChoices = arrayAt(question, "choices", site, "question.choices");
    if (rawChoices.length < ARC_MIN_CHOICES || rawChoices.length > ARC_MAX_CHOICES) {
      throw datasetError(
        what,
        path,
        `"question.choices" must hold ${ARC_MIN_CHOICES} to ${ARC_MAX_CHOICES} choices, got ${rawChoices.length}`,
        { line, field: "question.choices" },
      );
    }
    const choices = rawChoices.map((raw, i): ArcOption => {
      const field = `question.choices[${i}]`;
      const choice = objectAt(raw, site, field);
      const text = stringAt(choice, "text", site, `${field}.text`);
      const label = stringAt(choice, "label", site, `${field}.label`);
      const letter = arcLabelToLetter(label);
      if (letter === undefined) {
        throw datasetError(what, path, `"${field}.label" must be A-E or 1-5, got ${JSON.stringify(label)}`, {
          line,
          field: `${field}.label`,
        });
      }
      return { label, letter, text };
    });
    const letters = choices.map((c) => c.letter);
    const repeated = letters.find((l, i) => letters.indexOf(l) !== i);
    if (repeated !== undefined) {
      throw datasetError(what, path, `two choices have the label ${repeated}`, { line, field: "question.choices" });
    }
    const answerKey = stringAt(obj, "answerKey", site);
    // lm-eval: choices.label.index(answerKey), i.e. the key as written; then as a letter for "1"-"5" keys.
    let goldIndex = choices.findIndex((c) => c.label === answerKey);
    if (goldIndex < 0) goldIndex = choices.findIndex((c) => c.letter === arcLabelToLetter(answerKey));
    if (goldIndex < 0) {
      throw datasetError(
        what,
        path,
        `"answerKey" ${JSON.stringify(answerKey)} is not one of the labels ${choices.map((c) => c.label).join(", ")}`,
        { line, field: "answerKey" },
      );
    }
    return { id, index, line, stem, choices, answerLetter: choices[goldIndex].letter, goldIndex };
  });
}

/** lm-eval arc_challenge `doc_to_text`. */
export function arcContext(item: Pick<ArcItem, "stem">): string {
  return `Question: ${item.stem}\nAnswer:`;
}

/** lm-eval arc_challenge continuations: the target delimiter `" "` then each choice's text. */
export function arcContinuations(item: Pick<ArcItem, "choices">): string[] {
  return item.choices.map((c) => ` ${c.text}`);
}

/** The generative variant's prompt: the question, each choice after its letter, then `Answer:`. */
export function arcGenerativePrompt(item: Pick<ArcItem, "stem" | "choices">): string {
  const options = item.choices.map((c) => `${c.letter}. ${c.text}`).join("\n");
  return `Question: ${item.stem}\n${options}\nAnswer:`;
}

/** lm-eval's `completion_len` of a choice: Python `len(text)`, in code points. */
export function choiceLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** lm-eval multiple-choice scores of one item. */
export interface MultipleChoiceScore {
  /** Index of the largest log-likelihood (the first on ties, as numpy's argmax). */
  pred: number;
  /** Index of the largest log-likelihood per character. */
  predNorm: number;
  acc: boolean;
  accNorm: boolean;
}

function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * lm-eval `acc` and `acc_norm` of one item from the log-likelihoods of its
 * continuations (in choice order).
 * @throws RangeError when the counts differ or a log-likelihood is not a finite number
 */
export function scoreMultipleChoice(
  logLikelihoods: readonly number[],
  choiceTexts: readonly string[],
  goldIndex: number,
): MultipleChoiceScore {
  if (logLikelihoods.length !== choiceTexts.length) {
    throw new RangeError(`${logLikelihoods.length} log-likelihoods for ${choiceTexts.length} choices`);
  }
  if (logLikelihoods.length === 0) throw new RangeError("no choices to score");
  if (logLikelihoods.some((v) => !Number.isFinite(v))) {
    throw new RangeError(`choice log-likelihoods must be finite numbers, got ${JSON.stringify(logLikelihoods)}`);
  }
  const pred = argmax(logLikelihoods);
  const predNorm = argmax(logLikelihoods.map((ll, i) => ll / choiceLength(choiceTexts[i])));
  return { pred, predNorm, acc: pred === goldIndex, accNorm: predNorm === goldIndex };
}
