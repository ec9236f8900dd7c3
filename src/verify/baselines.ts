/**
 * Baselines the cascade is measured against, over recorded samples: fixed-k
 * majority vote (self-consistency, Wang et al. 2023) and ESC window stopping
 * ("Escape Sky-high Cost: Early-stopping Self-Consistency for Multi-step
 * Reasoning", Li et al., ICLR 2024).
 */
import { type CascadeSample, tallyVotes } from "./cascade.ts";

/** A baseline's selected answer and the samples it consumed. */
export interface BaselineResult {
  /** Plurality answer; null when no sample had an extractable answer. */
  answer: string | null;
  samplesUsed: number;
}

/** Plurality of the valid answers of `samples`; ties go to the answer seen earliest. */
export function majorityVote(samples: readonly CascadeSample[]): string | null {
  const votes = tallyVotes(samples);
  if (votes.length === 0) return null;
  // Plain self-consistency ignores log-probs: ties by count go to the earliest answer only.
  return [...votes].sort((a, b) => b.count - a.count || a.firstIndex - b.firstIndex)[0].answer;
}

/** Fixed-k majority vote: the first k samples (or all, when fewer were recorded). */
export function fixedKMajority(samples: readonly CascadeSample[], k: number): BaselineResult {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`fixedKMajority() needs an integer k >= 1, got ${k}`);
  const used = samples.slice(0, k);
  return { answer: majorityVote(used), samplesUsed: used.length };
}

/** Options of {@linkcode escStopping}. */
export interface EscOptions {
  /** Window size w: samples are drawn w at a time. @default 5 (the paper's choice for GSM8K) */
  window?: number;
  /** Budget k: at most this many samples; the last window is cut short at k. */
  maxSamples: number;
}

/**
 * ESC: sample in windows of w; stop after the first window whose w answers
 * are all valid and identical; answer the plurality of every sample drawn.
 * A window with an unextractable sample is not unanimous (its answer is
 * unknown). The last window is cut at `maxSamples`.
 */
export function escStopping(samples: readonly CascadeSample[], options: EscOptions): BaselineResult {
  const window = options.window ?? 5;
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`escStopping() needs a window >= 1, got ${window}`);
  if (!Number.isInteger(options.maxSamples) || options.maxSamples < 1) {
    throw new RangeError(`escStopping() needs maxSamples >= 1, got ${options.maxSamples}`);
  }
  const budget = Math.min(options.maxSamples, samples.length);
  let used = 0;
  while (used < budget) {
    const end = Math.min(used + window, budget);
    const drawn = samples.slice(used, end);
    used = end;
    const first = drawn[0];
    if (drawn.length === window && drawn.every((s) => s.valid && s.answer === first.answer)) break;
  }
  return { answer: majorityVote(samples.slice(0, used)), samplesUsed: used };
}
