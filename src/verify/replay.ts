/**
 * Replay evaluation: samples recorded once per question (jsonl) replayed
 * through fixed-k majority vote, the cascade and ESC, so the cascade can be
 * tuned offline. One line per question:
 *
 * ```json
 * {"id": "q1", "gold": "18", "samples": [{"text": "... #### 18", "meanLogProb": -0.41}, {"answer": "17", "meanLogProb": -0.52}]}
 * ```
 *
 * A sample gives either the model's `text` (the task's extractor finds the
 * answer) or an already extracted `answer` (string, number, or null for "no
 * answer"). ARC lines may add the item's `choices` (texts, or the dataset's
 * `{label, text}`) so that letters are checked and quoted choices count.
 */
import { DatasetError } from "../core/mod.ts";
import { escStopping, fixedKMajority } from "./baselines.ts";
import { calibrateReliability, type ReliabilityCalibration } from "./calibration.ts";
import {
  type CascadeOptions,
  type CascadeSample,
  resolveCascadeOptions,
  runCascade,
  type StopReason,
} from "./cascade.ts";
import { extractAnswer, normalizeGold } from "./extract.ts";
import { type MethodSummary, type PairedDelta, pairedDelta, summarizeOutcomes } from "./stats.ts";
import type { ArcChoice, VerifyTask } from "./types.ts";

/** One parsed question. */
export interface ReplayQuestion {
  id: string;
  /** The gold answer in canonical form. */
  gold: string;
  samples: CascadeSample[];
  /** 1-based line of the question in its file. */
  line: number;
}

/** Options of {@linkcode parseReplay}. */
export interface ParseReplayOptions {
  /** The file name, quoted in errors. */
  file: string;
  task: VerifyTask;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseChoices(value: unknown, where: () => string): (string | ArcChoice)[] {
  if (!Array.isArray(value)) throw new DatasetError(`${where()}: choices must be an array`);
  return value.map((c, i) => {
    if (typeof c === "string") return c;
    if (isRecord(c) && typeof c.label === "string" && typeof c.text === "string") {
      return { label: c.label, text: c.text };
    }
    throw new DatasetError(`${where()}: choices[${i}] must be a string or {label, text}`);
  });
}

/**
 * Parses a replay file's text. Blank lines are skipped.
 * @throws DatasetError naming the file, the line and the problem (`details.path`, `details.line`)
 */
export function parseReplay(text: string, options: ParseReplayOptions): ReplayQuestion[] {
  const { file, task } = options;
  const questions: ReplayQuestion[] = [];
  const lineOfId = new Map<string, number>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === "") continue;
    const line = i + 1;
    const bad = (problem: string, cause?: unknown): DatasetError =>
      new DatasetError(`${file}:${line}: ${problem}`, { cause, details: { path: file, line } });
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (error) {
      throw bad(`not valid JSON (${error instanceof Error ? error.message : String(error)})`, error);
    }
    if (!isRecord(record)) throw bad("a line must be a JSON object {id, gold, samples}");
    const { id, gold, samples } = record;
    if (!((typeof id === "string" && id !== "") || (typeof id === "number" && Number.isFinite(id)))) {
      throw bad("id must be a non-empty string or a number");
    }
    const idText = String(id);
    const seen = lineOfId.get(idText);
    if (seen !== undefined) throw bad(`id "${idText}" already used on line ${seen}`);
    lineOfId.set(idText, line);

    let choices: (string | ArcChoice)[] | undefined;
    if (record.choices !== undefined) {
      if (task !== "arc_challenge") throw bad(`choices are only meaningful for task arc_challenge, not ${task}`);
      choices = parseChoices(record.choices, () => `${file}:${line}`);
      if (choices.length < 2 || choices.length > 5) throw bad(`choices must number 2 to 5, got ${choices.length}`);
    }
    if (typeof gold !== "string" && !(typeof gold === "number" && Number.isFinite(gold))) {
      throw bad("gold must be a string or a number");
    }
    let goldAnswer: string;
    try {
      const g = normalizeGold(task, String(gold), { choices });
      if (!g.ok) throw bad(`gold: ${g.reason}`);
      goldAnswer = g.answer;
    } catch (error) {
      if (error instanceof DatasetError) throw error;
      throw bad(error instanceof Error ? error.message : String(error), error);
    }

    if (!Array.isArray(samples) || samples.length === 0) throw bad("samples must be a non-empty array");
    const parsed = samples.map((s, index): CascadeSample => {
      const at = `samples[${index}]`;
      if (!isRecord(s)) throw bad(`${at} must be an object {text | answer, meanLogProb}`);
      const hasText = "text" in s;
      const hasAnswer = "answer" in s;
      if (hasText === hasAnswer) throw bad(`${at} must have exactly one of text and answer`);
      const m = s.meanLogProb;
      if (typeof m !== "number" || !Number.isFinite(m)) throw bad(`${at}.meanLogProb must be a finite number`);
      if (m > 0) throw bad(`${at}.meanLogProb is ${m}, but a log-probability cannot be positive`);
      let source: string | null;
      if (hasText) {
        if (typeof s.text !== "string") throw bad(`${at}.text must be a string`);
        source = s.text;
      } else {
        const a = s.answer;
        if (a !== null && typeof a !== "string" && !(typeof a === "number" && Number.isFinite(a))) {
          throw bad(`${at}.answer must be a string, a number or null`);
        }
        source = a === null ? null : String(a);
      }
      if (source === null) return { index, valid: false, meanLogProb: m };
      const extracted = extractAnswer(task, source, { choices });
      return extracted.ok
        ? { index, valid: true, answer: extracted.answer, meanLogProb: m }
        : { index, valid: false, meanLogProb: m };
    });
    questions.push({ id: idText, gold: goldAnswer, samples: parsed, line });
  }
  if (questions.length === 0) {
    throw new DatasetError(`${file}: no questions (the file is empty)`, { details: { path: file } });
  }
  return questions;
}

/** Options of {@linkcode evaluateReplay}. */
export interface ReplayEvaluationOptions {
  /** Budget k of the majority vote, the cascade and ESC. @default 16 */
  k?: number;
  /**
   * Cascade options (its maxSamples is set to k). A `temperature` of `"auto"`
   * fits it from the questions' own samples without their golds
   * ({@linkcode calibrateReliability}).
   */
  cascade?: Omit<CascadeOptions, "maxSamples" | "temperature"> & { temperature?: number | "auto" };
  /** ESC window size. @default 5 */
  escWindow?: number;
}

/** A method's figures plus its comparison with fixed-k majority. */
export interface ComparedSummary extends MethodSummary {
  /** meanSamples / majority's meanSamples. */
  samplesRatio: number;
  /** Accuracy minus majority's, paired over the questions. */
  versusMajority: PairedDelta;
}

/** What a replay evaluation reports. */
export interface ReplayReport {
  questions: number;
  k: number;
  /** Questions recorded with fewer than k samples (every method stops at what was recorded). */
  shortQuestions: number;
  /** Share of samples with no extractable answer. */
  invalidSampleRate: number;
  majority: MethodSummary;
  cascade: ComparedSummary & {
    options: Required<CascadeOptions>;
    stopReasons: Record<StopReason, number>;
    /** The fitted temperature when `temperature: "auto"` was asked for. */
    calibration?: ReliabilityCalibration;
  };
  esc: ComparedSummary & { window: number };
}

/**
 * Replays every question through fixed-k majority vote, the cascade and ESC.
 * @throws RangeError for invalid options, or when `temperature: "auto"` cannot be fitted
 */
export function evaluateReplay(
  questions: readonly ReplayQuestion[],
  options: ReplayEvaluationOptions = {},
): ReplayReport {
  const k = options.k ?? 16;
  const escWindow = options.escWindow ?? 5;
  const { temperature, ...rest } = options.cascade ?? {};
  let calibration: ReliabilityCalibration | undefined;
  let fixedTemperature: number | undefined;
  if (temperature === "auto") {
    const fit = calibrateReliability(questions.map((q) => ({ samples: q.samples.slice(0, k) })));
    if (!fit.ok) throw new RangeError(`cannot fit the reliability temperature: ${fit.reason}`);
    calibration = fit.value;
    fixedTemperature = fit.value.temperature;
  } else {
    fixedTemperature = temperature;
  }
  const cascadeOptions = resolveCascadeOptions({ ...rest, temperature: fixedTemperature, maxSamples: k });

  const golds = questions.map((q) => q.gold);
  const majorityOutcomes = questions.map((q) => fixedKMajority(q.samples, k));
  const cascadeDecisions = questions.map((q) => runCascade(q.samples.slice(0, k), cascadeOptions));
  const escOutcomes = questions.map((q) => escStopping(q.samples, { window: escWindow, maxSamples: k }));

  const majority = summarizeOutcomes(golds, majorityOutcomes);
  const correctMajority = majorityOutcomes.map((o, i) => o.answer === golds[i]);
  const compare = (outcomes: { answer: string | null; samplesUsed: number }[]): ComparedSummary => {
    const summary = summarizeOutcomes(golds, outcomes);
    return {
      ...summary,
      samplesRatio: summary.meanSamples / majority.meanSamples,
      versusMajority: pairedDelta(outcomes.map((o, i) => o.answer === golds[i]), correctMajority),
    };
  };
  const stopReasons: Record<StopReason, number> = { unanimous: 0, confident: 0, budget: 0 };
  for (const d of cascadeDecisions) stopReasons[d.stopReason]++;
  const totalSamples = questions.reduce((s, q) => s + q.samples.length, 0);
  const invalidSamples = questions.reduce((s, q) => s + q.samples.filter((x) => !x.valid).length, 0);
  return {
    questions: questions.length,
    k,
    shortQuestions: questions.filter((q) => q.samples.length < k).length,
    invalidSampleRate: invalidSamples / totalSamples,
    majority,
    cascade: {
      ...compare(cascadeDecisions),
      options: cascadeOptions,
      stopReasons,
      ...(calibration ? { calibration } : {}),
    },
    esc: { ...compare(escOutcomes), window: escWindow },
  };
}
