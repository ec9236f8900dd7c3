/**
 * Metrics: lm-evaluation-harness's perplexities (weighted by words or bytes
 * over documents), the unbiased pass@k estimator, latency percentiles, and
 * the energy figures (J per query, average power, IPW, IPJ).
 */

/** One scored document: summed log-likelihood (nats) and its word and byte counts. */
export interface DocumentLogLikelihood {
  logLikelihood: number;
  words: number;
  bytes: number;
}

/** lm-eval wikitext metrics. */
export interface PerplexityMetrics {
  /** exp(-Σ ll / Σ words). */
  word_perplexity: number;
  /** exp(-Σ ll / Σ bytes). */
  byte_perplexity: number;
  /** -Σ ll / Σ bytes / ln 2. */
  bits_per_byte: number;
}

/**
 * lm-eval's aggregation of `loglikelihood_rolling` documents: sums of
 * log-likelihoods over sums of words or bytes (`weighted_perplexity`,
 * `bits_per_byte`), so long documents weigh more, not a mean of per-document
 * perplexities.
 * @throws RangeError for no documents, a log-likelihood that is not finite and <= 0, or counts that are not positive
 */
export function perplexityMetrics(documents: readonly DocumentLogLikelihood[]): PerplexityMetrics {
  if (documents.length === 0) throw new RangeError("perplexity of no documents");
  let ll = 0;
  let words = 0;
  let bytes = 0;
  documents.forEach((d, i) => {
    if (!Number.isFinite(d.logLikelihood) || d.logLikelihood > 0) {
      throw new RangeError(`document ${i}: log-likelihood must be finite and <= 0, got ${d.logLikelihood}`);
    }
    if (!(d.words > 0) || !(d.bytes > 0)) {
      throw new RangeError(`document ${i}: words and bytes must be > 0, got ${d.words} and ${d.bytes}`);
    }
    ll += d.logLikelihood;
    words += d.words;
    bytes += d.bytes;
  });
  return {
    word_perplexity: Math.exp(-ll / words),
    byte_perplexity: Math.exp(-ll / bytes),
    bits_per_byte: -ll / bytes / Math.LN2,
  };
}

/**
 * Unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models
 * Trained on Code"): 1 - C(n-c, k) / C(n, k), the probability that at least
 * one of k samples drawn without replacement from n, of which c are correct,
 * is correct. Computed as 1 - Π_{i=n-c+1..n} (1 - k/i), which never forms
 * the huge binomials.
 * @throws RangeError unless 0 <= c <= n and 1 <= k <= n (integers)
 */
export function passAtK(n: number, c: number, k: number): number {
  if (![n, c, k].every(Number.isInteger) || n < 1 || c < 0 || c > n || k < 1 || k > n) {
    throw new RangeError(`pass@k needs integers 0 <= c <= n and 1 <= k <= n, got n=${n} c=${c} k=${k}`);
  }
  if (n - c < k) return 1;
  let allWrong = 1;
  for (let i = n - c + 1; i <= n; i++) allWrong *= 1 - k / i;
  return 1 - allWrong;
}

/** How a percentile is read from a sample. */
export type PercentileMethod =
  /** The smallest value with at least p% of the sample at or below it: always an observed value. */
  | "nearest-rank"
  /** Linear interpolation between the two closest ranks at (n-1)·p/100 (numpy's default, Hyndman-Fan type 7). */
  | "linear";

/** The percentile method the reports use. */
export const REPORT_PERCENTILE_METHOD: PercentileMethod = "linear";

/**
 * The p-th percentile of `values`.
 * @throws RangeError for an empty sample, a value that is not finite, or p outside [0, 100]
 */
export function percentile(values: readonly number[], p: number, method: PercentileMethod = "linear"): number {
  if (values.length === 0) throw new RangeError("percentile of an empty sample");
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  if (values.some((v) => !Number.isFinite(v))) throw new RangeError("percentile of a sample with non-finite values");
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (method === "nearest-rank") {
    const rank = Math.max(1, Math.ceil((p / 100) * n));
    return sorted[rank - 1];
  }
  const position = (n - 1) * (p / 100);
  const lo = Math.floor(position);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo);
}

/** Arithmetic mean. @throws RangeError for an empty sample */
export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("mean of an empty sample");
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** What a mode measured, for the energy figures. */
export interface EnergyTotals {
  /** Energy over the mode's meter windows, J. */
  energyJ: number;
  /** Length of the mode's meter windows, ms. */
  durationMs: number;
  queries: number;
  /** Fraction correct in [0, 1], or null for a task without an accuracy (WikiText). */
  accuracy: number | null;
}

/** Energy figures of a mode. */
export interface EnergyFigures {
  joulesPerQuery: number;
  /** energyJ / duration, W; null when the windows cover no time. */
  avgPowerW: number | null;
  /** Intelligence per watt: accuracy / average power (1/W). */
  ipw: number | null;
  /** Intelligence per joule: accuracy / J per query (1/J). */
  ipj: number | null;
}

/**
 * J per query, average power, IPW and IPJ. A ratio whose divisor is zero is
 * null, never Infinity: it has no meaning and JSON cannot carry it.
 * @throws RangeError for no queries or negative energy or duration
 */
export function energyFigures(totals: EnergyTotals): EnergyFigures {
  const { energyJ, durationMs, queries, accuracy } = totals;
  if (!Number.isInteger(queries) || queries < 1) throw new RangeError(`energy figures of ${queries} queries`);
  if (!(energyJ >= 0) || !(durationMs >= 0)) {
    throw new RangeError(`energy and duration must be >= 0, got ${energyJ} J over ${durationMs} ms`);
  }
  const joulesPerQuery = energyJ / queries;
  const avgPowerW = durationMs > 0 ? energyJ / (durationMs / 1000) : null;
  return {
    joulesPerQuery,
    avgPowerW,
    ipw: accuracy !== null && avgPowerW !== null && avgPowerW > 0 ? accuracy / avgPowerW : null,
    ipj: accuracy !== null && joulesPerQuery > 0 ? accuracy / joulesPerQuery : null,
  };
}
