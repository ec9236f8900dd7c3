/**
 * Seeded synthetic questions for studying the cascade without a model: each
 * item has an answer distribution (easy items with a dominant answer, hard
 * ones spread out, some sometimes-wrong majorities), a rate of unextractable
 * samples, and mean log-probs where correct samples sit slightly higher than
 * wrong ones, as real samplers show. Every parameter is an option so a study
 * can print what it assumed.
 */
import type { Rng } from "../core/mod.ts";
import type { CascadeSample } from "./cascade.ts";

/** A closed interval [min, max]. */
export type Range = readonly [min: number, max: number];

/** Options of {@linkcode generateSyntheticItems}. */
export interface SyntheticOptions {
  /** Number of questions. */
  items: number;
  /** Samples recorded per question (the largest budget studied). @default 40 */
  samplesPerItem?: number;
  /** Share of easy questions. @default 0.5 */
  easyFraction?: number;
  /** Probability of the dominant answer on easy questions (among extractable samples). @default [0.8, 0.98] */
  easyTopProbability?: Range;
  /** Probability of the dominant answer on hard questions. @default [0.3, 0.8] */
  hardTopProbability?: Range;
  /** Share of hard questions whose dominant answer is wrong (a shared misconception). @default 0.2 */
  hardWrongTopFraction?: number;
  /** Per-question probability that a sample has no extractable answer. @default [0, 0.15] */
  invalidRate?: Range;
  /** Number of distinct wrong answers per question (raised when needed to keep the top dominant). @default [2, 6] */
  wrongAnswers?: Range;
  /** Mean log-prob of correct samples minus that of wrong ones, in nats. @default 0.1 */
  logProbGapNats?: number;
  /** Per-sample standard deviation of mean log-prob, in nats. @default 0.2 */
  logProbNoiseNats?: number;
  /** Spread of the per-question base mean log-prob, in nats (around -0.6). @default 0.2 */
  questionLogProbSpreadNats?: number;
}

/** One synthetic question with its recorded samples. */
export interface SyntheticItem {
  id: string;
  gold: string;
  kind: "easy" | "hard";
  /** Probability of the dominant answer among extractable samples. */
  topProbability: number;
  /** Probability of the correct answer among extractable samples. */
  correctProbability: number;
  invalidRate: number;
  samples: CascadeSample[];
}

const DEFAULTS = {
  samplesPerItem: 40,
  easyFraction: 0.5,
  easyTopProbability: [0.8, 0.98] as Range,
  hardTopProbability: [0.3, 0.8] as Range,
  hardWrongTopFraction: 0.2,
  invalidRate: [0, 0.15] as Range,
  wrongAnswers: [2, 6] as Range,
  logProbGapNats: 0.1,
  logProbNoiseNats: 0.2,
  questionLogProbSpreadNats: 0.2,
};

/** The options in force, defaults filled in (for printing alongside results). */
export function resolveSyntheticOptions(options: SyntheticOptions): Required<SyntheticOptions> {
  const o = {
    ...DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as Required<
    SyntheticOptions
  >;
  if (!Number.isInteger(o.items) || o.items < 1) throw new RangeError(`items must be an integer >= 1, got ${o.items}`);
  if (!Number.isInteger(o.samplesPerItem) || o.samplesPerItem < 1) {
    throw new RangeError(`samplesPerItem must be an integer >= 1, got ${o.samplesPerItem}`);
  }
  for (const key of ["easyTopProbability", "hardTopProbability", "invalidRate"] as const) {
    const [lo, hi] = o[key];
    if (!(lo >= 0 && lo <= hi && hi < 1)) {
      throw new RangeError(`${key} must satisfy 0 <= min <= max < 1, got [${lo}, ${hi}]`);
    }
  }
  const [wLo, wHi] = o.wrongAnswers;
  if (!Number.isInteger(wLo) || !Number.isInteger(wHi) || wLo < 1 || wLo > wHi) {
    throw new RangeError(`wrongAnswers must be integers 1 <= min <= max, got [${wLo}, ${wHi}]`);
  }
  return o;
}

/** Splits `mass` into `parts` shares (flat Dirichlet), each below `cap` (rejection, then an even split). */
function splitBelow(rng: Rng, mass: number, parts: number, cap: number): number[] {
  for (let attempt = 0; attempt < 200; attempt++) {
    const e = Array.from({ length: parts }, () => -Math.log(1 - rng.next()));
    const sum = e.reduce((s, x) => s + x, 0);
    const shares = e.map((x) => (mass * x) / sum);
    if (Math.max(...shares) < cap) return shares;
  }
  // parts is chosen so that an even split is always below the cap.
  return Array.from({ length: parts }, () => mass / parts);
}

function pick(rng: Rng, probabilities: readonly number[]): number {
  let u = rng.next();
  for (let i = 0; i < probabilities.length; i++) {
    u -= probabilities[i];
    if (u < 0) return i;
  }
  return probabilities.length - 1;
}

/**
 * Generates `options.items` seeded questions. Answers are strings: the gold is
 * `"0"`, wrong answers `"1"`, `"2"`, ... Samples come in index order; a budget
 * k uses the first k.
 */
export function generateSyntheticItems(rng: Rng, options: SyntheticOptions): SyntheticItem[] {
  const o = resolveSyntheticOptions(options);
  const items: SyntheticItem[] = [];
  for (let q = 0; q < o.items; q++) {
    const r = rng.fork(q);
    const kind = r.next() < o.easyFraction ? "easy" : "hard";
    const [tLo, tHi] = kind === "easy" ? o.easyTopProbability : o.hardTopProbability;
    const top = r.uniform(tLo, tHi);
    const wrongTop = kind === "hard" && r.next() < o.hardWrongTopFraction;
    // Answers besides the top: all but one of 1 + wrongCount, raised until each can stay below the top.
    const wrongCount = o.wrongAnswers[0] + r.int(o.wrongAnswers[1] - o.wrongAnswers[0] + 1);
    const others = Math.max(wrongCount, Math.floor((1 - top) / top) + 1);
    const rest = splitBelow(r, 1 - top, others, top);
    // Answer 0 is the gold. probs[j] is the probability of answer j among extractable samples.
    const probs = wrongTop ? [rest[0], top, ...rest.slice(1)] : [top, ...rest];
    const invalidRate = r.uniform(o.invalidRate[0], o.invalidRate[1]);
    const baseNats = -0.6 + o.questionLogProbSpreadNats * r.normal();
    const samples: CascadeSample[] = [];
    for (let index = 0; index < o.samplesPerItem; index++) {
      if (r.next() < invalidRate) {
        const m = baseNats - o.logProbGapNats + o.logProbNoiseNats * r.normal();
        samples.push({ index, valid: false, meanLogProb: Math.min(m, -1e-3) });
        continue;
      }
      const answer = pick(r, probs);
      const shift = answer === 0 ? o.logProbGapNats / 2 : -o.logProbGapNats / 2;
      // A mean log-prob is at most 0; clamping the rare positive draw keeps the data physical.
      const m = Math.min(baseNats + shift + o.logProbNoiseNats * r.normal(), -1e-3);
      samples.push({ index, valid: true, answer: String(answer), meanLogProb: m });
    }
    items.push({
      id: `synthetic-${q}`,
      gold: "0",
      kind,
      topProbability: top,
      correctProbability: probs[0],
      invalidRate,
      samples,
    });
  }
  return items;
}
