/**
 * The verification cascade of DESIGN.md section 5, driven by a stream of
 * samples: EAC (early agreement: after n_min valid answers, all agree), CSVET
 * (stop when the posterior probability that the leader beats the runner-up,
 * P(p > 0.5) for p ~ Beta(a + 1, b + 1), reaches tau) and ARDE (when the
 * budget k is spent, elect the answer with the largest sum of reliability
 * weights, the softmax of mean token log-probs over the samples).
 *
 * Those definitions are the defaults. Two options make CSVET use more of what
 * it sees (measured in bench/verify.ts): `evidence: "reliability"` counts
 * log-prob-weighted pseudo-votes instead of votes (pair it with a temperature
 * from `calibrateReliability`), and `horizon: "budget"` asks whether the lead
 * survives the rest of the budget rather than whether it is real.
 */
import { leaderKeepProbability, leaderPosterior } from "./beta.ts";

/** One finished sample, as the runtime yields it and the extractor judged it. */
export interface CascadeSample {
  /** Position of the sample in the request (0-based, unique); ties go to the earliest index. */
  index: number;
  /** An answer could be extracted. Invalid samples count toward the budget, not the vote. */
  valid: boolean;
  /** The canonical answer (from `extractAnswer`); required when `valid`. */
  answer?: string;
  /** Mean token log-probability of the sample's text (nats, <= 0); required finite when `valid`. */
  meanLogProb: number;
}

/** Why the cascade stopped. */
export type StopReason = "unanimous" | "confident" | "budget";

/** One row of the vote table. */
export interface Vote {
  answer: string;
  /** Valid samples that gave this answer. */
  count: number;
  /** Sum of the reliability weights of those samples (all weights sum to 1). */
  weight: number;
  /** Lowest sample index that gave this answer. */
  firstIndex: number;
}

/** The cascade's final answer. */
export interface Decision {
  action: "stop";
  /** The selected answer; null when no sample had an extractable answer. */
  answer: string | null;
  /**
   * Posterior probability that the answer is more frequent than the strongest other, CSVET's
   * P(p > 0.5) under the chosen evidence, in [0, 1]. With horizon `budget` a `confident` stop can
   * report less than tau: it stopped because the lead can no longer be lost within the budget.
   */
  confidence: number;
  /** Samples consumed, valid or not. */
  samplesUsed: number;
  /** Samples with an extractable answer. */
  validSamples: number;
  stopReason: StopReason;
  /** Every answer seen, in the order of the rule that decided (the answer first). */
  votes: Vote[];
}

/** What the caller does next: keep sampling, or stop (and cancel outstanding samples). */
export type CascadeStep = { action: "continue" } | Decision;

/**
 * The evidence CSVET weighs. `count`: a and b are vote counts (DESIGN.md).
 * `reliability`: a and b are reliability-weighted pseudo-counts, n_valid times
 * each answer's share of the softmax weights, so samples with a higher mean
 * log-prob count for more and equal log-probs reduce to plain counts.
 */
export type StopEvidence = "count" | "reliability";

/**
 * What CSVET's stopping probability looks at. `unbounded`: P(p_leader > 0.5),
 * whether the leader is the more likely answer however many samples follow
 * (DESIGN.md). `budget`: the probability that the leader still leads when the
 * budget k is spent ({@linkcode leaderKeepProbability}), which is what fixed-k
 * majority vote would answer; it stops sooner near the end of the budget,
 * where the remaining samples can no longer overturn a lead.
 */
export type StopHorizon = "unbounded" | "budget";

/** Options of {@linkcode createCascade}. */
export interface CascadeOptions {
  /** The budget k: at most this many samples; ARDE elects when they are spent. @default 16 */
  maxSamples?: number;
  /** n_min: no stop before this many samples, and EAC needs this many valid answers. @default min(3, maxSamples) */
  minSamples?: number;
  /** CSVET threshold on P(p_leader > 0.5), in (0.5, 1]. @default 0.95 */
  tau?: number;
  /** Enable EAC (stop `unanimous`). @default true */
  earlyAgreement?: boolean;
  /** Enable CSVET (stop `confident`). @default true */
  sequentialTest?: boolean;
  /** Softmax temperature of the reliability weights, in nats of mean log-prob. @default 1 */
  temperature?: number;
  /** What CSVET counts. @default "count" */
  evidence?: StopEvidence;
  /** What CSVET's probability is about. @default "unbounded" */
  horizon?: StopHorizon;
}

/** A streaming cascade for one question. */
export interface Cascade {
  /**
   * Adds a finished sample. Returns `continue`, or the decision when this
   * sample settles the question or spends the budget. Samples that arrive
   * after the decision (already in flight when the caller cancelled) are
   * ignored and the same decision is returned: the decision is final.
   * @throws RangeError for a malformed sample or a repeated index
   */
  push(sample: CascadeSample): CascadeStep;
  /** Decides with what has arrived (ARDE, stop reason `budget`) unless already decided. */
  finish(): Decision;
  /** The decision, once made. */
  readonly decision: Decision | undefined;
  /** Samples consumed so far. */
  readonly samplesUsed: number;
  /** The options in force, defaults filled in. */
  readonly options: Readonly<Required<CascadeOptions>>;
}

/** The default options (DESIGN.md section 5). */
export const DEFAULT_CASCADE_OPTIONS: Readonly<Required<CascadeOptions>> = Object.freeze({
  maxSamples: 16,
  minSamples: 3,
  tau: 0.95,
  earlyAgreement: true,
  sequentialTest: true,
  temperature: 1,
  evidence: "count",
  horizon: "unbounded",
});

/** Options with defaults filled in, validated. @throws RangeError naming the bad option */
export function resolveCascadeOptions(options: CascadeOptions = {}): Required<CascadeOptions> {
  const o = { ...DEFAULT_CASCADE_OPTIONS };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (o as Record<string, unknown>)[key] = value;
  }
  if (!Number.isInteger(o.maxSamples) || o.maxSamples < 1) {
    throw new RangeError(`cascade maxSamples must be an integer >= 1, got ${o.maxSamples}`);
  }
  // The default n_min yields to a smaller budget; an explicit one that exceeds it is a mistake.
  if (options.minSamples === undefined && Number.isInteger(o.maxSamples)) {
    o.minSamples = Math.min(o.minSamples, o.maxSamples);
  }
  if (!Number.isInteger(o.minSamples) || o.minSamples < 1 || o.minSamples > o.maxSamples) {
    throw new RangeError(
      `cascade minSamples must be an integer in [1, maxSamples=${o.maxSamples}], got ${o.minSamples}`,
    );
  }
  if (!(o.tau > 0.5 && o.tau <= 1)) throw new RangeError(`cascade tau must be in (0.5, 1], got ${o.tau}`);
  if (!(Number.isFinite(o.temperature) && o.temperature > 0)) {
    throw new RangeError(`cascade temperature must be a finite number > 0, got ${o.temperature}`);
  }
  for (const key of ["earlyAgreement", "sequentialTest"] as const) {
    if (typeof o[key] !== "boolean") throw new RangeError(`cascade ${key} must be true or false, got ${o[key]}`);
  }
  if (o.evidence !== "count" && o.evidence !== "reliability") {
    throw new RangeError(`cascade evidence must be "count" or "reliability", got "${o.evidence}"`);
  }
  if (o.horizon !== "unbounded" && o.horizon !== "budget") {
    throw new RangeError(`cascade horizon must be "unbounded" or "budget", got "${o.horizon}"`);
  }
  return o;
}

/**
 * Reliability weights: the softmax of mean token log-probs divided by
 * `temperature`. They sum to 1 (an empty input gives an empty output).
 */
export function reliabilityWeights(meanLogProbs: readonly number[], temperature = 1): number[] {
  if (meanLogProbs.length === 0) return [];
  // Shift by the maximum so exp() never overflows and the largest term is exactly 1.
  const max = Math.max(...meanLogProbs);
  const e = meanLogProbs.map((m) => Math.exp((m - max) / temperature));
  const sum = e.reduce((s, x) => s + x, 0);
  return e.map((x) => x / sum);
}

/** Relative tolerance under which two weight sums count as a tie (float summation order). */
const WEIGHT_TIE = 1e-12;

function weightOrder(a: Vote, b: Vote): number {
  if (Math.abs(a.weight - b.weight) > WEIGHT_TIE * Math.max(a.weight, b.weight)) return b.weight - a.weight;
  return b.count - a.count || a.firstIndex - b.firstIndex;
}

function countOrder(a: Vote, b: Vote): number {
  return b.count - a.count || weightOrder(a, b);
}

/** The vote table of `samples` (valid ones), unsorted. */
export function tallyVotes(samples: readonly CascadeSample[], temperature = 1): Vote[] {
  const valid = samples.filter((s) => s.valid);
  const weights = reliabilityWeights(valid.map((s) => s.meanLogProb), temperature);
  const byAnswer = new Map<string, Vote>();
  valid.forEach((s, i) => {
    const answer = s.answer as string;
    const v = byAnswer.get(answer);
    if (v) {
      v.count++;
      v.weight += weights[i];
      v.firstIndex = Math.min(v.firstIndex, s.index);
    } else {
      byAnswer.set(answer, { answer, count: 1, weight: weights[i], firstIndex: s.index });
    }
  });
  return [...byAnswer.values()];
}

/** ARDE: the vote table ordered by weight, then count, then earliest index (the winner first). */
export function ardeRanking(votes: readonly Vote[]): Vote[] {
  return [...votes].sort(weightOrder);
}

/** Plurality: the vote table ordered by count, then weight, then earliest index. */
export function countRanking(votes: readonly Vote[]): Vote[] {
  return [...votes].sort(countOrder);
}

/** CSVET's a and b for the first two rows of `ranked` under `evidence`. */
function evidenceOf(ranked: readonly Vote[], evidence: StopEvidence, validSamples: number): [number, number] {
  const measure = (v: Vote | undefined) =>
    v === undefined ? 0 : evidence === "count" ? v.count : validSamples * v.weight;
  const a = measure(ranked[0]);
  const b = ranked.slice(1).reduce((m, v) => Math.max(m, measure(v)), 0);
  return [a, b];
}

function checkSample(sample: CascadeSample, seen: Set<number>): void {
  if (!Number.isInteger(sample.index) || sample.index < 0) {
    throw new RangeError(`cascade sample index must be an integer >= 0, got ${sample.index}`);
  }
  if (seen.has(sample.index)) throw new RangeError(`cascade sample index ${sample.index} was already pushed`);
  if (sample.valid) {
    if (typeof sample.answer !== "string" || sample.answer === "") {
      throw new RangeError(`cascade sample ${sample.index} is valid but has no answer`);
    }
    if (!Number.isFinite(sample.meanLogProb)) {
      throw new RangeError(`cascade sample ${sample.index} has a non-finite meanLogProb ${sample.meanLogProb}`);
    }
  }
}

class StreamingCascade implements Cascade {
  readonly options: Readonly<Required<CascadeOptions>>;
  #samples: CascadeSample[] = [];
  #indices = new Set<number>();
  #decision: Decision | undefined;

  constructor(options: CascadeOptions) {
    this.options = Object.freeze(resolveCascadeOptions(options));
  }

  get decision(): Decision | undefined {
    return this.#decision;
  }

  get samplesUsed(): number {
    return this.#samples.length;
  }

  push(sample: CascadeSample): CascadeStep {
    if (this.#decision) return this.#decision;
    checkSample(sample, this.#indices);
    this.#indices.add(sample.index);
    this.#samples.push(sample);
    const o = this.options;
    const n = this.#samples.length;
    if (n >= o.minSamples && (o.earlyAgreement || o.sequentialTest)) {
      const votes = tallyVotes(this.#samples, o.temperature);
      const validSamples = votes.reduce((s, v) => s + v.count, 0);
      if (o.earlyAgreement && votes.length === 1 && validSamples >= o.minSamples) {
        return this.#stop("unanimous", votes, countRanking(votes));
      }
      // With horizon budget the test is degenerate once the budget is spent (any lead is kept): ARDE decides.
      if (o.sequentialTest && votes.length > 0 && (o.horizon === "unbounded" || n < o.maxSamples)) {
        const ranked = o.evidence === "count" ? countRanking(votes) : ardeRanking(votes);
        const [a, b] = evidenceOf(ranked, o.evidence, validSamples);
        const p = o.horizon === "unbounded" ? leaderPosterior(a, b) : leaderKeepProbability(a, b, o.maxSamples - n);
        if (p >= o.tau) return this.#stop("confident", votes, ranked);
      }
    }
    if (n >= o.maxSamples) return this.finish();
    return { action: "continue" };
  }

  finish(): Decision {
    if (this.#decision) return this.#decision;
    const votes = tallyVotes(this.#samples, this.options.temperature);
    return this.#stop("budget", votes, ardeRanking(votes));
  }

  #stop(stopReason: StopReason, votes: readonly Vote[], ranked: Vote[]): Decision {
    const validSamples = votes.reduce((s, v) => s + v.count, 0);
    const [a, b] = evidenceOf(ranked, this.options.evidence, validSamples);
    this.#decision = {
      action: "stop",
      answer: ranked[0]?.answer ?? null,
      confidence: ranked.length === 0 ? 0 : leaderPosterior(a, b),
      samplesUsed: this.#samples.length,
      validSamples,
      stopReason,
      votes: ranked,
    };
    return this.#decision;
  }
}

/** Creates a streaming cascade for one question. @throws RangeError for invalid options */
export function createCascade(options: CascadeOptions = {}): Cascade {
  return new StreamingCascade(options);
}

/**
 * Runs a cascade over recorded samples in order (replay and benchmarks): stops
 * where the streaming cascade would, or decides at the end of the list.
 */
export function runCascade(samples: readonly CascadeSample[], options: CascadeOptions = {}): Decision {
  const cascade = createCascade(options);
  for (const sample of samples) {
    const step = cascade.push(sample);
    if (step.action === "stop") return step;
  }
  return cascade.finish();
}
