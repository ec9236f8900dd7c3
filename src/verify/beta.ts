/**
 * Log-gamma and the regularised incomplete beta function I_x(a, b), the
 * posterior tail behind CSVET. Numerical Recipes (3rd ed., section 6.4):
 * the continued fraction evaluated by the modified Lentz method, switched to
 * the symmetric form I_x(a, b) = 1 - I_{1-x}(b, a) where it converges fast.
 */

/** Lanczos coefficients for g = 7, n = 9 (relative error below 2e-15 for x > 0). */
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993,
  676.5203681218851,
  -1259.1392167224028,
  771.32342877765313,
  -176.61502916214059,
  12.507343278686905,
  -0.13857109526572012,
  9.9843695780195716e-6,
  1.5056327351493116e-7,
];
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0. @throws RangeError for x <= 0 or a non-finite x */
export function logGamma(x: number): number {
  if (!Number.isFinite(x) || x <= 0) throw new RangeError(`logGamma() needs a finite x > 0, got ${x}`);
  if (x < 0.5) {
    // Reflection keeps the Lanczos sum in its accurate range: Γ(x)Γ(1-x) = π / sin(πx).
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  }
  const z = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i] / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_TWO_PI + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln B(a, b) = ln Γ(a) + ln Γ(b) - ln Γ(a + b). */
export function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

const CF_EPS = 1e-15;
const CF_TINY = 1e-300;
const CF_MAX_ITERATIONS = 10_000;

/** The continued fraction of I_x(a, b) (NR betacf), valid for x < (a + 1) / (a + b + 2). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < CF_TINY) d = CF_TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= CF_MAX_ITERATIONS; m++) {
    const m2 = 2 * m;
    // Even step of the recurrence.
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < CF_TINY) d = CF_TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < CF_TINY) c = CF_TINY;
    d = 1 / d;
    h *= d * c;
    // Odd step.
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < CF_TINY) d = CF_TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < CF_TINY) c = CF_TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < CF_EPS) return h;
  }
  // Only reachable for parameters far beyond any vote count (a, b of order 1e8).
  throw new RangeError(`regularizedIncompleteBeta() did not converge for a=${a}, b=${b}, x=${x}`);
}

/**
 * The regularised incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b),
 * i.e. the CDF at x of a Beta(a, b) distribution.
 * @throws RangeError when a or b is not a finite positive number or x is outside [0, 1]
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!Number.isFinite(a) || a <= 0) throw new RangeError(`regularizedIncompleteBeta() needs a > 0, got a=${a}`);
  if (!Number.isFinite(b) || b <= 0) throw new RangeError(`regularizedIncompleteBeta() needs b > 0, got b=${b}`);
  if (!(x >= 0 && x <= 1)) throw new RangeError(`regularizedIncompleteBeta() needs x in [0, 1], got x=${x}`);
  if (x === 0) return 0;
  if (x === 1) return 1;
  // Prefactor x^a (1-x)^b / (a B(a, b)) in logs: a, b up to thousands would overflow Γ directly.
  const logFront = a * Math.log(x) + b * Math.log1p(-x) - logBeta(a, b);
  if (x < (a + 1) / (a + b + 2)) {
    return (Math.exp(logFront) * betaContinuedFraction(a, b, x)) / a;
  }
  return 1 - (Math.exp(logFront) * betaContinuedFraction(b, a, 1 - x)) / b;
}

/**
 * CSVET's posterior probability that the leader is the more likely of the two
 * top answers: with `leaderVotes` = a and `runnerUpVotes` = b and a uniform
 * prior, p_leader ~ Beta(a + 1, b + 1) and the result is P(p_leader > 0.5),
 * the integral of its density from 0.5 to 1, which by symmetry equals
 * I_0.5(b + 1, a + 1). Votes may be fractional (reliability-weighted
 * pseudo-counts).
 * @throws RangeError for negative or non-finite votes
 */
export function leaderPosterior(leaderVotes: number, runnerUpVotes: number): number {
  if (!Number.isFinite(leaderVotes) || leaderVotes < 0) {
    throw new RangeError(`leaderPosterior() needs leaderVotes >= 0, got ${leaderVotes}`);
  }
  if (!Number.isFinite(runnerUpVotes) || runnerUpVotes < 0) {
    throw new RangeError(`leaderPosterior() needs runnerUpVotes >= 0, got ${runnerUpVotes}`);
  }
  return regularizedIncompleteBeta(0.5, runnerUpVotes + 1, leaderVotes + 1);
}

/**
 * The budget-aware variant of {@linkcode leaderPosterior}: the probability
 * that the leader still leads once `remainingSamples` more samples are drawn,
 * when every one of them goes to one of the two leading answers (the worst
 * case for the lead) and the leader's share follows the same posterior
 * Beta(a + 1, b + 1). The leader's gain X is then beta-binomial(r, a + 1,
 * b + 1), and the lead survives when a + X > b + (r - X); a final tie counts
 * as lost. With r = 0 it is 1 for a strict lead; as r grows it tends to
 * leaderPosterior(a, b).
 * @throws RangeError for negative or non-finite votes, or a remaining count that is not an integer >= 0
 */
export function leaderKeepProbability(leaderVotes: number, runnerUpVotes: number, remainingSamples: number): number {
  if (!Number.isFinite(leaderVotes) || leaderVotes < 0) {
    throw new RangeError(`leaderKeepProbability() needs leaderVotes >= 0, got ${leaderVotes}`);
  }
  if (!Number.isFinite(runnerUpVotes) || runnerUpVotes < 0) {
    throw new RangeError(`leaderKeepProbability() needs runnerUpVotes >= 0, got ${runnerUpVotes}`);
  }
  if (!Number.isInteger(remainingSamples) || remainingSamples < 0) {
    throw new RangeError(`leaderKeepProbability() needs an integer remainingSamples >= 0, got ${remainingSamples}`);
  }
  const r = remainingSamples;
  // X > (r - (a - b)) / 2 keeps the lead.
  const threshold = (r - (leaderVotes - runnerUpVotes)) / 2;
  // A lead larger than the remaining samples cannot be lost, one they cannot reach is lost for sure.
  if (threshold < 0) return 1;
  const first = Math.floor(threshold) + 1;
  if (first > r) return 0;
  const alpha = leaderVotes + 1;
  const beta = runnerUpVotes + 1;
  const logNorm = logGamma(r + 1) - logBeta(alpha, beta);
  let p = 0;
  for (let x = first; x <= r; x++) {
    p += Math.exp(logNorm - logGamma(x + 1) - logGamma(r - x + 1) + logBeta(x + alpha, r - x + beta));
  }
  return Math.min(1, p);
}
