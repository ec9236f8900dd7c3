/**
 * Fitting the reliability temperature from recorded questions. If a sample's
 * mean log-prob is Gaussian with noise sigma around a per-question level,
 * shifted up by gap for samples that give the right answer, the likelihood
 * ratio of "right" vs "wrong" for a sample is exp(gap / sigma^2 * logProb) up
 * to a per-question constant: a softmax with temperature T = sigma^2 / gap
 * gives each vote a weight proportional to that ratio. The fit needs no gold answers:
 * each question's plurality answer stands in for the right one when it holds
 * a majority of the answers. Wrong pluralities still mix the groups, which
 * biases the gap down and so T up, towards plain counting: the safe side.
 */
import { fail, ok, type Reading } from "../core/mod.ts";
import type { CascadeSample } from "./cascade.ts";
import { majorityVote } from "./baselines.ts";

/** One recorded question for the fit. */
export interface CalibrationQuestion {
  samples: readonly CascadeSample[];
  /** The right answer when known (gold); otherwise the plurality of `samples` is used. */
  reference?: string | null;
}

/** The fitted reliability model. */
export interface ReliabilityCalibration {
  /** Softmax temperature sigma^2 / gap, in nats: the cascade's `temperature` option. */
  temperature: number;
  /** Mean log-prob of reference-answer samples minus that of the others, in nats. */
  gapNats: number;
  /** Pooled within-group standard deviation of mean log-prob, in nats. */
  noiseNats: number;
  /** Questions that had samples on both sides of the reference (they estimate the gap). */
  contrastQuestions: number;
}

/** Options of {@linkcode calibrateReliability}. */
export interface CalibrationOptions {
  /** Fewest questions with samples on both sides of the reference for a fit. @default 20 */
  minContrastQuestions?: number;
  /**
   * Without a gold, a question's plurality estimates the gap only when it holds at least this
   * share of the valid answers: a weak plurality is often wrong and would mix the groups.
   * @default 0.5
   */
  minReferenceShare?: number;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

/**
 * Fits the reliability temperature from recorded questions (valid samples
 * only). Fails, as a value, when too few questions disagree internally or
 * when agreeing samples do not have the higher log-prob (then log-probs carry
 * no usable signal: keep counting votes).
 */
export function calibrateReliability(
  questions: readonly CalibrationQuestion[],
  options: CalibrationOptions = {},
): Reading<ReliabilityCalibration> {
  const minContrast = options.minContrastQuestions ?? 20;
  const minShare = options.minReferenceShare ?? 0.5;
  let gapSum = 0;
  let gapWeight = 0;
  let contrastQuestions = 0;
  let squares = 0;
  let dof = 0;
  for (const q of questions) {
    const valid = q.samples.filter((s) => s.valid && Number.isFinite(s.meanLogProb));
    const known = q.reference !== undefined && q.reference !== null;
    const reference = known ? q.reference as string : majorityVote(valid);
    if (reference === null) continue;
    const right = valid.filter((s) => s.answer === reference).map((s) => s.meanLogProb);
    const wrong = valid.filter((s) => s.answer !== reference).map((s) => s.meanLogProb);
    for (const group of [right, wrong]) {
      if (group.length < 2) continue;
      const m = mean(group);
      squares += group.reduce((s, x) => s + (x - m) ** 2, 0);
      dof += group.length - 1;
    }
    const trusted = known || right.length >= minShare * valid.length;
    if (trusted && right.length > 0 && wrong.length > 0) {
      // Inverse-variance weight of a difference of two means: n_r n_w / (n_r + n_w).
      const w = (right.length * wrong.length) / (right.length + wrong.length);
      gapSum += w * (mean(right) - mean(wrong));
      gapWeight += w;
      contrastQuestions++;
    }
  }
  if (contrastQuestions < minContrast) {
    return fail(`only ${contrastQuestions} questions have both agreeing and disagreeing samples, need ${minContrast}`);
  }
  if (dof === 0) return fail("no answer was given twice in a question, so the log-prob noise is unknown");
  const gapNats = gapSum / gapWeight;
  const noiseNats = Math.sqrt(squares / dof);
  if (!(gapNats > 0)) {
    return fail(`agreeing samples do not have a higher mean log-prob (gap ${gapNats.toFixed(4)} nats)`);
  }
  if (noiseNats === 0) return fail("every sample has the same mean log-prob within its group");
  return ok({ temperature: noiseNats ** 2 / gapNats, gapNats, noiseNats, contrastQuestions });
}
