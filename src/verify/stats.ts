/**
 * Summaries of a selection method over questions with known golds: accuracy
 * and mean samples with their standard errors, and the paired difference of
 * two methods on the same questions (far tighter than the two standard errors
 * suggest, because most questions are decided the same way by both).
 */

/** What a method answered for one question and what it consumed. */
export interface MethodOutcome {
  answer: string | null;
  samplesUsed: number;
}

/** A method's figures over a question set. */
export interface MethodSummary {
  /** Share of questions answered with the gold, in [0, 1]. */
  accuracy: number;
  /** Standard error of `accuracy` (binomial). */
  accuracySe: number;
  meanSamples: number;
  /** Standard error of `meanSamples`. */
  meanSamplesSe: number;
}

/** The difference (a - b) of two methods' accuracies on the same questions. */
export interface PairedDelta {
  /** Accuracy of a minus accuracy of b, in percentage points. */
  deltaPoints: number;
  /** Standard error of `deltaPoints` from the per-question differences. */
  sePoints: number;
  /** Questions a got right and b wrong, and the reverse. */
  aOnly: number;
  bOnly: number;
}

function meanAndSe(xs: readonly number[]): [number, number] {
  const n = xs.length;
  const m = xs.reduce((s, x) => s + x, 0) / n;
  if (n < 2) return [m, 0];
  const variance = xs.reduce((s, x) => s + (x - m) ** 2, 0) / (n - 1);
  return [m, Math.sqrt(variance / n)];
}

/** Which outcomes match their gold. @throws RangeError when the lengths differ or are zero */
export function correctness(golds: readonly string[], outcomes: readonly MethodOutcome[]): boolean[] {
  if (golds.length !== outcomes.length || golds.length === 0) {
    throw new RangeError(`need one outcome per gold and at least one, got ${outcomes.length} for ${golds.length}`);
  }
  return outcomes.map((o, i) => o.answer !== null && o.answer === golds[i]);
}

/** Accuracy and mean samples of one method, with standard errors. */
export function summarizeOutcomes(golds: readonly string[], outcomes: readonly MethodOutcome[]): MethodSummary {
  const correct = correctness(golds, outcomes);
  const accuracy = correct.filter((c) => c).length / correct.length;
  const [meanSamples, meanSamplesSe] = meanAndSe(outcomes.map((o) => o.samplesUsed));
  return { accuracy, accuracySe: Math.sqrt((accuracy * (1 - accuracy)) / correct.length), meanSamples, meanSamplesSe };
}

/** Paired accuracy difference of two methods over the same questions. */
export function pairedDelta(correctA: readonly boolean[], correctB: readonly boolean[]): PairedDelta {
  if (correctA.length !== correctB.length || correctA.length === 0) {
    throw new RangeError(
      `pairedDelta() needs two equal non-empty lists, got ${correctA.length} and ${correctB.length}`,
    );
  }
  const d = correctA.map((a, i) => Number(a) - Number(correctB[i]));
  const [m, se] = meanAndSe(d);
  return {
    deltaPoints: 100 * m,
    sePoints: 100 * se,
    aOnly: d.filter((x) => x > 0).length,
    bOnly: d.filter((x) => x < 0).length,
  };
}
