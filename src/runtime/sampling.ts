/**
 * Token choice from one row of logits: greedy, or temperature with optional
 * top-k and top-p (nucleus) filtering, drawing from a seeded Rng. Ties go to
 * the lower token id, so the same seed always gives the same token. Scratch
 * buffers are allocated once per sampler, not per token.
 */
import { ModelError, type Rng } from "../core/mod.ts";

/** How to choose tokens. */
export interface SamplingParams {
  /** 0 for greedy (argmax); otherwise logits are divided by it. */
  temperature: number;
  /** Keep only the k most likely tokens; 0 or >= vocabulary size disables it. @default 0 */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 disables it. @default 1 */
  topP?: number;
}

/** A chosen token and its log-probability under the model's unscaled distribution (temperature 1). */
export interface Pick {
  token: number;
  logProb: number;
}

/** Index of the largest of `vocab` values at `offset` (lowest index on ties). */
export function argmax(logits: ArrayLike<number>, offset: number, vocab: number): number {
  let best = 0;
  let max = logits[offset];
  for (let v = 1; v < vocab; v++) {
    const x = logits[offset + v];
    if (x > max) {
      max = x;
      best = v;
    }
  }
  return best;
}

/** log(sum(exp(x))) of `vocab` values at `offset`. @throws ModelError when the logits are not finite */
export function logSumExp(logits: ArrayLike<number>, offset: number, vocab: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) {
    const x = logits[offset + v];
    if (x > max) max = x;
  }
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[offset + v] - max);
  const lse = max + Math.log(sum);
  if (!Number.isFinite(lse)) throw new ModelError(`the model produced non-finite logits (log-sum-exp ${lse})`);
  return lse;
}

/** Samples tokens for one vocabulary size. Not shared between concurrent generations. */
export class Sampler {
  readonly vocab: number;
  readonly #weights: Float32Array;
  readonly #scores: Float64Array;
  readonly #heap: Int32Array;
  readonly #kept: Int32Array;

  constructor(vocab: number) {
    if (!Number.isInteger(vocab) || vocab < 1) {
      throw new RangeError(`Sampler: vocab must be a positive integer, got ${vocab}`);
    }
    this.vocab = vocab;
    this.#weights = new Float32Array(vocab);
    this.#scores = new Float64Array(vocab);
    this.#heap = new Int32Array(vocab);
    this.#kept = new Int32Array(vocab);
  }

  /**
   * Chooses a token from `logits[offset .. offset + vocab)`, computing the
   * softmax here (the reference path; the runtime's step computes it in the graph).
   * @param rng consumed only when sampling (temperature > 0), one draw per token
   */
  pick(logits: ArrayLike<number>, offset: number, params: SamplingParams, rng: Rng): Pick {
    const V = this.vocab;
    const lse = logSumExp(logits, offset, V);
    if (params.temperature === 0 || params.topK === 1) return this.pickRow(logits, offset, lse, undefined, params, rng);
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[offset + v] > max) max = logits[offset + v];
    const invT = 1 / params.temperature;
    const w = this.#weights;
    let total = 0;
    for (let v = 0; v < V; v++) total += w[v] = Math.exp((logits[offset + v] - max) * invT);
    for (let v = 0; v < V; v++) w[v] /= total;
    return this.pickRow(logits, offset, lse, w, params, rng);
  }

  /**
   * Chooses a token from one row given its log-sum-exp and, when sampling,
   * its softmax at the sampling temperature (`probs[0 .. vocab)`). No exp() here.
   * @throws ModelError when the log-sum-exp is not finite; RangeError when sampling without probs
   */
  pickRow(
    logits: ArrayLike<number>,
    offset: number,
    logSumExp: number,
    probs: Float32Array | undefined,
    params: SamplingParams,
    rng: Rng,
  ): Pick {
    if (!Number.isFinite(logSumExp)) {
      throw new ModelError(`the model produced non-finite logits (log-sum-exp ${logSumExp})`);
    }
    const V = this.vocab;
    const topK = params.topK ?? 0;
    const topP = params.topP ?? 1;
    if (params.temperature === 0 || topK === 1) {
      const token = argmax(logits, offset, V);
      return { token, logProb: logits[offset + token] - logSumExp };
    }
    if (!probs) throw new RangeError("pickRow: sampling needs the tempered probabilities");
    let total = 0;
    for (let v = 0; v < V; v++) total += probs[v];
    let token: number;
    if ((topK <= 0 || topK >= V) && topP >= 1) {
      token = this.#draw(probs, null, V, total, rng);
    } else {
      const kept = this.#filter(logits, offset, probs, topK > 0 && topK < V ? topK : V, topP, total);
      let mass = 0;
      for (let i = 0; i < kept; i++) mass += probs[this.#kept[i]];
      token = this.#draw(probs, this.#kept, kept, mass, rng);
    }
    return { token, logProb: logits[offset + token] - logSumExp };
  }

  /** Walks `count` candidates (all ids in order, or `order`) until the cumulative weight passes a uniform draw. */
  #draw(w: Float32Array, order: Int32Array | null, count: number, mass: number, rng: Rng): number {
    const r = rng.next() * mass;
    let acc = 0;
    for (let i = 0; i < count; i++) {
      const v = order ? order[i] : i;
      acc += w[v];
      if (r < acc) return v;
    }
    // Rounding can leave r a hair above the sum: the last candidate with weight takes it.
    for (let i = count - 1; i >= 0; i--) {
      const v = order ? order[i] : i;
      if (w[v] > 0) return v;
    }
    return order ? order[0] : 0;
  }

  /**
   * Fills #kept with the k likeliest ids, likeliest first, cut to the nucleus
   * of probability `topP`; returns how many. A heap keeps this O(V + k log V).
   */
  #filter(logits: ArrayLike<number>, offset: number, w: Float32Array, k: number, topP: number, total: number): number {
    const score = this.#scores;
    const heap = this.#heap;
    const V = this.vocab;
    // With top-p alone, a token of weight <= (1 - p) * total / V can never be in the nucleus: the tokens
    // ranked at or below it weigh at most V times as much, so the mass ranked above it already reaches p.
    // Dropping those first leaves a short candidate list on peaked distributions.
    const nucleusOnly = topP < 1 && k >= V;
    const floor = nucleusOnly ? (1 - topP) * total / V : -1;
    let size = 0;
    for (let v = 0; v < V; v++) {
      if (w[v] > floor) {
        heap[size++] = v;
        score[v] = logits[offset + v];
      }
    }
    // "a before b": higher logit first, lower id on ties. Ranking by the logits themselves, not by their
    // exponentials, keeps logits that differ by less than exp() can resolve in order.
    const before = (a: number, b: number) => score[a] > score[b] || (score[a] === score[b] && a < b);
    const siftDown = (start: number) => {
      let i = start;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < size && before(heap[l], heap[m])) m = l;
        if (r < size && before(heap[r], heap[m])) m = r;
        if (m === i) return;
        const t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
      }
    };
    for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(i);
    // Top-k applies first, then the nucleus relative to the mass that is left (as in transformers).
    const target = nucleusOnly ? topP * total : Infinity;
    let kept = 0;
    let acc = 0;
    while (kept < k && size > 0 && acc < target) {
      const v = heap[0];
      this.#kept[kept++] = v;
      acc += w[v];
      heap[0] = heap[--size];
      siftDown(0);
    }
    if (topP < 1 && !nucleusOnly) {
      const nucleus = topP * acc;
      let sum = 0;
      for (let i = 0; i < kept; i++) {
        sum += w[this.#kept[i]];
        if (sum >= nucleus) return i + 1;
      }
    }
    return kept;
  }
}
