/**
 * What a runner reports for one query (inference only) and the graded
 * per-query record the reports are built from. Grading happens here, in one
 * place for every mode: answers are compared with the gold by the same code,
 * lm-eval metrics are computed from the raw outputs.
 */
import { extractAnswer, normalizeGold } from "../verify/mod.ts";
import { scoreMultipleChoice } from "./arc.ts";
import { gsm8kExactMatch, gsm8kFilter } from "./gsm8k.ts";
import { passAtK } from "./metrics.ts";
import type { ProbeMeasurement } from "./telemetry.ts";
import type { EvalQuery, ModeName, TaskName } from "./types.ts";

/** One finished sample of a generative query. */
export interface SampleText {
  /** Sample index (0-based, the order samples were drawn in). */
  index: number;
  text: string;
}

/** How a mode ran one query: what the report's diagnosis of an unmet target reads. */
export interface QueryExecution {
  /** Units the query's work ran on (prefill and decode lanes), in first-use order. */
  units: string[];
  /** Clock each used unit ran at in the last placement, Hz. */
  freqHz: Record<string, number>;
  /** Time the units spent on the query's work, ms of the device clock (the rest of its latency was waiting). */
  deviceMs: number;
  /** How sampling stopped (generative tasks): early agreement, confidence, or the budget spent. */
  stopReason?: "unanimous" | "confident" | "budget";
  /** Samples started, those cancelled at the decision included. */
  samplesStarted?: number;
  /** Times the query was re-planned because a zone neared its trip. */
  thermalReplans: number;
  /** Unit faults (a unit that threw or hung) the query was re-planned around. */
  unitFaults: number;
}

/**
 * What running one query in one mode produced. Energy and latency are not
 * part of it: the harness measures them around the call.
 */
export interface QueryOutcome {
  /**
   * Samples the answer was decided on: all k for a fixed-k vote, the cascade's count when it stopped early
   * (samples it cancelled then are in `execution.samplesStarted`, their compute in the measured energy).
   */
  samplesUsed: number;
  /** The sample budget k of this query. */
  k: number;
  /**
   * GSM8K and the ARC generative variant: the answer the mode selected (a
   * number, or a letter A-E), or null when it found none. WikiText: absent.
   */
  answer?: string | null;
  /** GSM8K and the ARC generative variant: the finished samples' texts. */
  samples?: readonly SampleText[];
  /** ARC: the log-likelihood of each continuation, in choice order, nats. */
  choiceLogLikelihoods?: readonly number[];
  /** WikiText: the article's summed token log-likelihood, nats. */
  logLikelihood?: number;
  /** Faults the runner itself injected while this query ran (the harness adds those it injected). @default 0 */
  faultsInjected?: number;
  /** Of those, faults the service recovered from (the query still answered). @default 0 */
  faultsRecovered?: number;
  /** How the mode ran it. @default not reported */
  execution?: QueryExecution;
}

/** A graded query. */
export interface QueryRecord {
  task: TaskName;
  mode: ModeName;
  id: string;
  index: number;
  /** The runner returned an outcome (false: it failed with a domain error, see `error`). */
  answered: boolean;
  error?: string;
  /** The selected answer matches the gold; null when there is no selected answer to grade (WikiText, ARC without the generative variant). */
  correct: boolean | null;
  samplesUsed: number;
  k: number;
  /** Finished samples with a text. */
  samplesFinished: number;
  /** Of those, samples whose extracted answer matches the gold; null without samples. */
  samplesCorrect: number | null;
  /** pass@k of this query (k capped at the finished samples); null without samples. */
  passAtK: number | null;
  /** Integrated board energy over the query's window, J; null when the board has no total-power rail. */
  energyJ: number | null;
  /** Energy per rail over the window, J. */
  energyByRailJ: Record<string, number>;
  /** The rails that make up the board total (the others in `energyByRailJ` are its sub-rails). */
  totalRails: string[];
  /** Length of the query's energy window, ms. */
  meteredMs: number;
  /** From the call to the runner to its result, ms of the harness's clock. */
  latencyMs: number;
  throttleEvents: number;
  /** Faults injected while the query ran. */
  faultsInjected: number;
  /** Of those, faults after which the query was still answered (all of them, or none when it was not). */
  faultsRecovered: number;
  /** The faults injected while the query ran, described. */
  faults: string[];
  /** How the mode ran it, when the runner said. */
  execution?: QueryExecution;
  /** WikiText: the article's summed log-likelihood, words and bytes. */
  logLikelihood?: number;
  words?: number;
  bytes?: number;
  /** GSM8K: lm-eval `exact_match` of the first finished sample under each filter. */
  strictMatch?: boolean;
  flexibleMatch?: boolean;
  /** ARC: lm-eval `acc` and `acc_norm`. */
  acc?: boolean;
  accNorm?: boolean;
}

/** Measurements the harness took around one query. */
export interface QueryMeasurement extends ProbeMeasurement {
  latencyMs: number;
  /** Faults the harness injected while the query ran, described. @default none */
  faults?: readonly string[];
}

function nonNegativeInt(value: unknown, name: string, query: EvalQuery): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new TypeError(
      `runner outcome for ${query.id}: ${name} must be an integer >= 0, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function base(query: EvalQuery, mode: ModeName, m: QueryMeasurement) {
  return {
    task: query.task,
    mode,
    id: query.id,
    index: query.index,
    energyJ: m.energyJ,
    energyByRailJ: { ...m.perRailJ },
    totalRails: [...m.totalRails],
    meteredMs: m.durationMs,
    latencyMs: m.latencyMs,
    throttleEvents: m.throttleEvents,
    faults: [...(m.faults ?? [])],
  };
}

/** Grades generated samples: how many finished, how many are right, pass@k. */
function gradeSamples(
  query: EvalQuery,
  outcome: QueryOutcome,
  isCorrect: (text: string) => boolean,
  k: number,
): Pick<QueryRecord, "samplesFinished" | "samplesCorrect" | "passAtK"> {
  const samples = outcome.samples;
  if (samples === undefined || samples.length === 0) {
    return { samplesFinished: 0, samplesCorrect: null, passAtK: null };
  }
  const indices = new Set<number>();
  for (const s of samples) {
    if (!Number.isInteger(s.index) || s.index < 0 || typeof s.text !== "string" || indices.has(s.index)) {
      throw new TypeError(`runner outcome for ${query.id}: samples need distinct integer indices and texts`);
    }
    indices.add(s.index);
  }
  const n = samples.length;
  const c = samples.filter((s) => isCorrect(s.text)).length;
  // A mode that stopped early drew fewer than k samples: its pass@k is over what it drew (pass@n).
  return { samplesFinished: n, samplesCorrect: c, passAtK: passAtK(n, c, Math.min(Math.max(1, k), n)) };
}

/**
 * Grades a runner's outcome against the query's gold.
 * @throws TypeError when the outcome lacks what its task needs (a runner bug, not a query failure)
 */
export function gradeOutcome(
  query: EvalQuery,
  mode: ModeName,
  outcome: QueryOutcome,
  measurement: QueryMeasurement,
): QueryRecord {
  const samplesUsed = nonNegativeInt(outcome.samplesUsed, "samplesUsed", query);
  const k = nonNegativeInt(outcome.k, "k", query);
  const injectedByHarness = measurement.faults?.length ?? 0;
  // Faults the harness injected were survived: the runner answered.
  const faultsInjected = nonNegativeInt(outcome.faultsInjected ?? 0, "faultsInjected", query) + injectedByHarness;
  const faultsRecovered = nonNegativeInt(outcome.faultsRecovered ?? 0, "faultsRecovered", query) + injectedByHarness;
  if (faultsRecovered > faultsInjected) {
    throw new TypeError(
      `runner outcome for ${query.id}: faultsRecovered (${faultsRecovered}) exceeds faultsInjected (${faultsInjected})`,
    );
  }
  const common = {
    ...base(query, mode, measurement),
    answered: true,
    samplesUsed,
    k,
    faultsInjected,
    faultsRecovered,
    ...(outcome.execution ? { execution: outcome.execution } : {}),
  };
  switch (query.task) {
    case "wikitext": {
      const ll = outcome.logLikelihood;
      if (typeof ll !== "number" || !Number.isFinite(ll) || ll > 0) {
        throw new TypeError(`runner outcome for ${query.id}: logLikelihood must be a finite number <= 0, got ${ll}`);
      }
      return {
        ...common,
        correct: null,
        samplesFinished: 0,
        samplesCorrect: null,
        passAtK: null,
        logLikelihood: ll,
        words: query.article.words,
        bytes: query.article.bytes,
      };
    }
    case "gsm8k": {
      const gold = query.item.gold;
      const answer = outcome.answer;
      if (answer === undefined) {
        throw new TypeError(`runner outcome for ${query.id}: answer is missing (null for none)`);
      }
      const goldForm = normalizeGold("gsm8k", gold);
      const goldAnswer = goldForm.ok ? goldForm.answer : undefined;
      const matches = (a: string | null) => a !== null && goldAnswer !== undefined && sameNumber(a, goldAnswer);
      const samples = [...(outcome.samples ?? [])].sort((a, b) => a.index - b.index);
      const first = samples[0]?.text ?? "";
      return {
        ...common,
        correct: matches(answer),
        ...gradeSamples(query, outcome, (text) => {
          const e = extractAnswer("gsm8k", text);
          return e.ok && matches(e.answer);
        }, k),
        // lm-eval take_first: the first sample's response under each filter.
        strictMatch: samples.length > 0 && gsm8kExactMatch(gsm8kFilter(first, "strict-match"), query.item.answer),
        flexibleMatch: samples.length > 0 && gsm8kExactMatch(gsm8kFilter(first, "flexible-extract"), query.item.answer),
      };
    }
    case "arc_challenge": {
      const lls = outcome.choiceLogLikelihoods;
      if (!Array.isArray(lls)) {
        throw new TypeError(`runner outcome for ${query.id}: choiceLogLikelihoods is missing`);
      }
      const texts = query.item.choices.map((c) => c.text);
      const mc = scoreMultipleChoice(lls, texts, query.item.goldIndex);
      const choices = query.item.choices.map((c) => ({ label: c.letter, text: c.text }));
      const gold = query.item.answerLetter;
      const answer = outcome.answer;
      return {
        ...common,
        correct: answer === undefined ? null : answer !== null && answer.trim().toUpperCase() === gold,
        ...gradeSamples(query, outcome, (text) => {
          const e = extractAnswer("arc_challenge", text, { choices });
          return e.ok && e.answer === gold;
        }, k),
        acc: mc.acc,
        accNorm: mc.accNorm,
      };
    }
  }
}

/** Two GSM8K answers name the same number (canonical forms: "3.50" and "3.5" agree). */
function sameNumber(a: string, goldCanonical: string): boolean {
  const n = normalizeGold("gsm8k", a);
  return n.ok && n.answer === goldCanonical;
}

/**
 * The record of a query whose runner failed with a domain error: not
 * answered, graded wrong wherever there is a right answer.
 */
export function failedRecord(
  query: EvalQuery,
  mode: ModeName,
  error: string,
  measurement: QueryMeasurement,
): QueryRecord {
  const record: QueryRecord = {
    ...base(query, mode, measurement),
    answered: false,
    error,
    correct: query.task === "wikitext" ? null : false,
    samplesUsed: 0,
    k: 0,
    samplesFinished: 0,
    samplesCorrect: null,
    passAtK: null,
    faultsInjected: measurement.faults?.length ?? 0,
    faultsRecovered: 0,
  };
  if (query.task === "gsm8k") Object.assign(record, { strictMatch: false, flexibleMatch: false });
  if (query.task === "arc_challenge") Object.assign(record, { acc: false, accNorm: false });
  return record;
}
