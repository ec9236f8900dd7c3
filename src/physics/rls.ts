/**
 * Recursive least squares with a prior, exponential forgetting and
 * covariance anti-windup, in the (extended) Kalman form used for online
 * parameter estimation: the parameters are a random walk, each measurement
 * y = h(theta) + noise with a local Jacobian H.
 *
 * Source: Ljung & Söderström, "Theory and Practice of Recursive
 * Identification" (1983), ch. 2 and 5; anti-windup by bounding the covariance
 * diagonal (Kulhavy & Zarrop, "On a general concept of forgetting", 1993).
 */
import type { RlsState } from "./model.ts";

/** A deep copy, so updates never touch the caller's model. */
export function copyRls<T extends RlsState>(state: T): T {
  return {
    ...state,
    theta: state.theta.slice(),
    covariance: state.covariance.slice(),
    priorVariance: state.priorVariance.slice(),
  };
}

/**
 * Forgetting step P <- P / lambda, then the anti-windup bound: any diagonal
 * entry above its prior variance is scaled back (row and column by the same
 * factor, which keeps P symmetric positive semi-definite). Mutates `state`.
 *
 * @param lambda forgetting factor in (0, 1]; memory about 1 / (1 - lambda) updates
 */
export function rlsForget(state: RlsState, lambda: number): void {
  const n = state.theta.length;
  const P = state.covariance;
  if (lambda < 1) { for (let i = 0; i < n * n; i++) P[i] /= lambda; }
  for (let i = 0; i < n; i++) {
    const d = P[i * n + i];
    const cap = state.priorVariance[i];
    if (d > cap) {
      const f = Math.sqrt(cap / d);
      for (let j = 0; j < n; j++) {
        P[i * n + j] *= f;
        P[j * n + i] *= f;
      }
    }
  }
}

/**
 * One measurement update: theta += K (y - yHat), K = P H / (H P H' + r),
 * P -= K (P H)'. Mutates `state`; returns the innovation y - yHat.
 *
 * @param jacobian dH = d yHat / d theta at the current estimate
 * @param noiseVariance variance r of the measurement noise, in y's units squared
 */
export function rlsUpdate(
  state: RlsState,
  jacobian: readonly number[],
  y: number,
  yHat: number,
  noiseVariance: number,
): number {
  const n = state.theta.length;
  const P = state.covariance;
  const ph = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) {
      const hj = jacobian[j];
      if (hj !== 0) s += P[i * n + j] * hj;
    }
    ph[i] = s;
  }
  let S = noiseVariance;
  for (let i = 0; i < n; i++) S += jacobian[i] * ph[i];
  const innovation = y - yHat;
  if (!(S > 0)) return innovation;
  for (let i = 0; i < n; i++) state.theta[i] += (ph[i] / S) * innovation;
  for (let i = 0; i < n; i++) {
    const ki = ph[i] / S;
    if (ki === 0) continue;
    for (let j = 0; j < n; j++) P[i * n + j] -= ki * ph[j];
  }
  // Keep P exactly symmetric against rounding drift.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const m = 0.5 * (P[i * n + j] + P[j * n + i]);
      P[i * n + j] = m;
      P[j * n + i] = m;
    }
  }
  state.samples++;
  return innovation;
}

/** A fresh state with a diagonal prior covariance. */
export function createRls(theta: readonly number[], priorVariance: readonly number[]): RlsState {
  const n = theta.length;
  const covariance = new Array<number>(n * n).fill(0);
  for (let i = 0; i < n; i++) covariance[i * n + i] = priorVariance[i];
  return { theta: theta.slice(), covariance, priorVariance: priorVariance.slice(), samples: 0 };
}
