/**
 * Log-likelihood scoring as lm-evaluation-harness does it: a continuation
 * given a context (ARC choices), and rolling windows over long text
 * (WikiText perplexity). Sequences are batched with left padding, one full
 * forward pass per batch (no KV cache needed).
 */
import { InputError, ModelError } from "../core/mod.ts";
import type { DecoderModel, StepCharger } from "./model.ts";
import { argmax } from "./sampling.ts";

/** Options of the scoring functions. */
export interface ScoreOptions {
  /** Sequences per ORT run (1 for models without an attention_mask input). @default 8 */
  batchSize?: number;
  /** Upper bound on the logits one run returns, bytes; long sequences with large vocabularies run in smaller batches. @default 268435456 */
  maxLogitsBytes?: number;
  signal?: AbortSignal;
  /** Charged before every ORT run (phase "prefill", samples = indices of the scored items). */
  charger?: StepCharger;
}

/** Score of one continuation. */
export interface ContinuationScore {
  /** Sum of the continuation tokens' log-probabilities, nats. */
  logLikelihood: number;
  /** Continuation tokens scored. */
  tokens: number;
  /** Every continuation token is the model's argmax (lm-eval `is_greedy`). */
  greedy: boolean;
}

/** A context and a continuation to score. */
export interface ScoreRequest {
  context: string;
  continuation: string;
}

/** Token-level scoring item: the continuation's tokens given the context's. */
export interface TokenScoreItem {
  context: readonly number[];
  continuation: readonly number[];
}

/**
 * Scores token sequences: log-likelihood of each continuation given its
 * context, truncated from the left to the model's context (lm-eval style).
 * @throws InputError when a continuation is empty or longer than the model's context
 */
export async function scoreTokens(
  model: DecoderModel,
  items: readonly TokenScoreItem[],
  options: ScoreOptions = {},
): Promise<ContinuationScore[]> {
  const maxLen = model.shape.maxSeqLen;
  const V = model.shape.vocabSize;
  // Without an attention mask padding would be attended to: score one sequence per run.
  const batchSize = model.io.attentionMask ? options.batchSize ?? 8 : 1;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be an integer >= 1, got ${batchSize}`);
  }
  const maxLogitsBytes = options.maxLogitsBytes ?? 256 * 1024 * 1024;
  const prepared = items.map((item, index) => {
    if (item.continuation.length === 0) {
      throw new InputError(`score: continuation ${index} is empty`, { details: { field: `continuation[${index}]` } });
    }
    if (item.continuation.length > maxLen) {
      throw new InputError(
        `score: continuation ${index} has ${item.continuation.length} tokens; the context is ${maxLen}`,
        {
          details: { field: `continuation[${index}]` },
        },
      );
    }
    if (item.context.length === 0) {
      throw new InputError(`score: context ${index} has no tokens (not even BOS)`, {
        details: { field: `context[${index}]` },
      });
    }
    for (const id of [...item.context, ...item.continuation]) {
      if (!Number.isInteger(id) || id < 0 || id >= V) {
        throw new InputError(`score: item ${index} has token ${id}, outside the vocabulary of ${V}`, {
          details: { field: `items[${index}]` },
        });
      }
    }
    const full = [...item.context, ...item.continuation];
    return { index, input: full.slice(0, -1).slice(-maxLen), continuation: item.continuation };
  });
  // Longest first, as lm-eval orders requests: batches then hold similar lengths and pad little.
  const order = [...prepared].sort((a, b) => b.input.length - a.input.length || a.index - b.index);
  const results: ContinuationScore[] = new Array(items.length);
  for (let start = 0; start < order.length;) {
    const S = order[start].input.length;
    const fit = Math.max(1, Math.floor(maxLogitsBytes / (S * V * 4)));
    const batch = order.slice(start, start + Math.min(batchSize, fit));
    start += batch.length;
    const B = batch.length;
    const ids = new Int32Array(B * S).fill(model.padTokenId);
    const mask = new Int32Array(B * S);
    const positions = new Int32Array(B * S);
    batch.forEach((item, r) => {
      const pad = S - item.input.length;
      item.input.forEach((id, j) => {
        ids[r * S + pad + j] = id;
        mask[r * S + pad + j] = 1;
        positions[r * S + pad + j] = j;
      });
    });
    const out = await model.step(
      { batch: B, seqLen: S, inputIds: ids, attentionMask: mask, positionIds: positions, kv: model.emptyCache(B) },
      {
        phase: "prefill",
        samples: batch.map((b) => b.index),
        ...(options.charger ? { charger: options.charger } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
    const { data, logSumExp } = out.logits!;
    batch.forEach((item, r) => {
      const c = item.continuation.length;
      let logLikelihood = 0;
      let greedy = true;
      for (let j = 0; j < c; j++) {
        // The logits at column S - c + j predict continuation token j (the last input column predicts the last token).
        const position = r * S + S - c + j;
        const offset = position * V;
        const token = item.continuation[j];
        if (!Number.isFinite(logSumExp[position])) {
          throw new ModelError(`score: the model produced non-finite logits (log-sum-exp ${logSumExp[position]})`);
        }
        logLikelihood += data[offset + token] - logSumExp[position];
        if (greedy && argmax(data, offset, V) !== token) greedy = false;
      }
      results[item.index] = { logLikelihood, tokens: c, greedy };
    });
  }
  return results;
}

/**
 * lm-eval's context/continuation split: trailing spaces of the context move
 * to the continuation, and the continuation's tokens are those of
 * `context + continuation` after the context's, so merges across the seam
 * are tokenised as the model saw them.
 */
function encodePair(model: DecoderModel, context: string, continuation: string): TokenScoreItem {
  const trailing = context.length - context.trimEnd().length;
  if (trailing > 0) {
    continuation = context.slice(context.length - trailing) + continuation;
    context = context.slice(0, context.length - trailing);
  }
  const tok = model.tokenizer;
  const whole = tok.encode(context + continuation);
  const contextIds = tok.encode(context);
  let ctx = whole.slice(0, contextIds.length);
  const cont = whole.slice(contextIds.length);
  if (ctx.length === 0) {
    const prefix = tok.bosId ?? tok.eosId;
    if (prefix === undefined) throw new InputError("score: empty context and the model has no BOS/EOS to start from");
    ctx = [prefix];
  }
  return { context: ctx, continuation: cont };
}

/**
 * Log-likelihood of each continuation given its context (batched).
 * @throws InputError when a continuation encodes to no tokens
 */
export function scoreContinuations(
  model: DecoderModel,
  requests: readonly ScoreRequest[],
  options: ScoreOptions = {},
): Promise<ContinuationScore[]> {
  return scoreTokens(model, requests.map((r) => encodePair(model, r.context, r.continuation)), options);
}

/** Log-likelihood of `continuation` given `context`. */
export async function scoreContinuation(
  model: DecoderModel,
  context: string,
  continuation: string,
  options: ScoreOptions = {},
): Promise<ContinuationScore> {
  const [score] = await scoreContinuations(model, [{ context, continuation }], options);
  return score;
}

/**
 * lm-eval's `get_rolling_token_windows` with `context_len` 1 followed by
 * `make_disjoint_window`: the first window predicts the first `maxLen`
 * tokens after `prefix`; each next one predicts the next `maxLen` tokens given
 * the tokens right before them. Every token is predicted exactly once.
 */
export function rollingWindows(tokens: readonly number[], prefix: number, maxLen: number): TokenScoreItem[] {
  if (!Number.isInteger(maxLen) || maxLen < 1) {
    throw new RangeError(`rollingWindows: maxLen must be >= 1, got ${maxLen}`);
  }
  const windows: TokenScoreItem[] = [];
  if (tokens.length === 0) return windows;
  const first = Math.min(maxLen, tokens.length);
  windows.push({ context: [prefix], continuation: tokens.slice(0, first) });
  let predicted = first;
  while (predicted < tokens.length) {
    const size = Math.min(tokens.length - predicted, maxLen);
    const end = predicted + size;
    const context = tokens.slice(Math.max(0, end - maxLen - 1), end - 1);
    const continuation = tokens.slice(end - size, end);
    windows.push({ context: context.slice(0, context.length - (continuation.length - 1)), continuation });
    predicted += size;
  }
  return windows;
}

/** Options of rollingLogLikelihood. */
export interface RollingOptions extends ScoreOptions {
  /** Tokens per window. @default the model's context length */
  window?: number;
}

/** Result of rollingLogLikelihood. */
export interface RollingScore {
  /** Sum of every token's log-probability, nats. */
  logLikelihood: number;
  /** Tokens of the text (without the prefix token). */
  tokens: number;
  /** Windows the text was scored in. */
  windows: number;
}

/**
 * Log-likelihood of a whole text in rolling windows (lm-eval
 * `loglikelihood_rolling`): tokenised without BOS, predicted after a BOS
 * (else EOS) prefix, every token once. Mean NLL = -logLikelihood / tokens.
 * @throws InputError when the window is outside [1, model context]
 */
export async function rollingLogLikelihood(
  model: DecoderModel,
  text: string,
  options: RollingOptions = {},
): Promise<RollingScore> {
  const window = options.window ?? model.shape.maxSeqLen;
  if (!Number.isInteger(window) || window < 1 || window > model.shape.maxSeqLen) {
    throw new InputError(`score: window must be an integer in [1, ${model.shape.maxSeqLen}], got ${window}`, {
      details: { field: "window" },
    });
  }
  const tok = model.tokenizer;
  const prefix = tok.bosId ?? tok.eosId;
  if (prefix === undefined) throw new InputError("score: the model has no BOS/EOS token to start a text from");
  const tokens = tok.encode(text, { bos: false });
  const windows = rollingWindows(tokens, prefix, window);
  const scores = await scoreTokens(model, windows, options);
  return {
    logLikelihood: scores.reduce((a, s) => a + s.logLikelihood, 0),
    tokens: tokens.length,
    windows: windows.length,
  };
}
