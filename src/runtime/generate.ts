/**
 * Generation: one prefill, then KV-cache decode of k samples as one batch.
 * Finished samples are yielded as soon as they finish and leave the batch
 * (their KV rows are dropped), so they stop costing compute; so do samples
 * the caller cancels. Every ORT run is charged to the StepCharger first.
 */
import { createRng, InputError, type Rng } from "../core/mod.ts";
import type { KvCache } from "./kv_cache.ts";
import type { DecoderModel, LastPosition, StepCharger, StepHead } from "./model.ts";
import { Sampler, type SamplingParams } from "./sampling.ts";

/** What to generate. */
export interface GenerateRequest {
  /** The prompt every sample continues (BOS is added as the tokenizer does by default). */
  prompt: string;
  /**
   * One prompt per sample instead of `prompt` (length = samples): the prefill
   * runs them as one left-padded batch. @default undefined (all samples share `prompt`)
   */
  prompts?: readonly string[];
  /** Number of samples, >= 1. */
  samples: number;
  /** Most new tokens per sample, >= 1. */
  maxTokens: number;
  /** 0 for greedy decoding. */
  temperature: number;
  /** @default 0 (off) */
  topK?: number;
  /** @default 1 (off) */
  topP?: number;
  /** Texts that end a sample; the text is cut before the first of them. @default [] */
  stop?: readonly string[];
  /** Seed of the sampling Rng: same seed, same tokens. Sample i draws from `createRng(seed).fork(i)`. */
  seed: number;
}

/** How a sample ended. */
export type FinishReason = "eos" | "stop" | "length" | "cancelled";

/** One finished sample. */
export interface GeneratedSample {
  index: number;
  /** Generated text (after the prompt), cut before a stop string, without special tokens. */
  text: string;
  /** Generated token ids, including an EOS or the token that completed a stop string. */
  tokenIds: number[];
  /** Log-probability of each generated token under the model (temperature 1), nats. */
  logProbs: number[];
  /** Mean of logProbs; 0 when no token was generated. */
  meanLogProb: number;
  finishReason: FinishReason;
  /** Prompt length in tokens. */
  promptTokens: number;
}

/** Options of `generate`. */
export interface GenerateOptions {
  /** Aborts generation; the iterator then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Charged before every ORT run. */
  charger?: StepCharger;
  /** Polled before each decode step: a sample for which it returns true ends as "cancelled". */
  cancelled?: (index: number) => boolean;
}

interface SampleState {
  index: number;
  prompt: number[];
  /** Padding positions in front of this row (left padding of a batch of different prompts). */
  pad: number;
  tokens: number[];
  logProbs: number[];
  rng: Rng;
  finish?: FinishReason;
  stopAt?: number;
}

function validate(model: DecoderModel, request: GenerateRequest): void {
  const bad = (field: string, what: string) => new InputError(`generate: ${field} ${what}`, { details: { field } });
  const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
  if (typeof request.prompt !== "string" && request.prompts === undefined) throw bad("prompt", "must be a string");
  if (!isInt(request.samples) || request.samples < 1 || request.samples > 256) {
    throw bad("samples", `must be an integer in [1, 256], got ${request.samples}`);
  }
  if (!isInt(request.maxTokens) || request.maxTokens < 1) {
    throw bad("maxTokens", `must be an integer >= 1, got ${request.maxTokens}`);
  }
  if (typeof request.temperature !== "number" || !Number.isFinite(request.temperature) || request.temperature < 0) {
    throw bad("temperature", `must be a finite number >= 0, got ${request.temperature}`);
  }
  if (request.topK !== undefined && (!isInt(request.topK) || request.topK < 0)) {
    throw bad("topK", `must be an integer >= 0, got ${request.topK}`);
  }
  if (request.topP !== undefined && (typeof request.topP !== "number" || !(request.topP > 0 && request.topP <= 1))) {
    throw bad("topP", `must be in (0, 1], got ${request.topP}`);
  }
  if (
    request.stop !== undefined &&
    (!Array.isArray(request.stop) || request.stop.some((s) => typeof s !== "string" || s === ""))
  ) {
    throw bad("stop", "must be a list of non-empty strings");
  }
  if (!isInt(request.seed)) throw bad("seed", `must be an integer, got ${request.seed}`);
  if (request.prompts !== undefined) {
    if (!Array.isArray(request.prompts) || request.prompts.length !== request.samples) {
      throw bad("prompts", `must hold one prompt per sample (${request.samples})`);
    }
    if (request.prompts.some((p) => typeof p !== "string")) throw bad("prompts", "must be strings");
  }
  if (model.shape.maxSeqLen < 2) throw bad("model", "has a context of fewer than 2 tokens");
}

/**
 * Token ids of `text` ready to feed: BOS as the tokenizer adds it, BOS alone
 * for an empty text of a tokenizer that adds none, every id inside the model's vocabulary.
 * @throws InputError naming `field`
 */
export function promptTokens(model: DecoderModel, text: string, field = "prompt"): number[] {
  const ids = model.tokenizer.encode(text);
  if (ids.length === 0) {
    const start = model.tokenizer.bosId ?? model.tokenizer.eosId;
    if (start === undefined) {
      throw new InputError(`generate: ${field} is empty and the model has no BOS token`, { details: { field } });
    }
    ids.push(start);
  }
  const bad = ids.find((id) => id >= model.shape.vocabSize);
  if (bad !== undefined) {
    throw new InputError(
      `${field} encodes to token ${bad}, outside the model's vocabulary of ${model.shape.vocabSize}`,
      {
        details: { field },
      },
    );
  }
  if (ids.length >= model.shape.maxSeqLen) {
    throw new InputError(`${field} has ${ids.length} tokens; the model's context is ${model.shape.maxSeqLen}`, {
      details: { field },
    });
  }
  return ids;
}

/** Text of `tokens` after `prompt`; decoding them together keeps tokenizer context (leading-space rules). */
function continuationText(model: DecoderModel, prompt: readonly number[], tokens: readonly number[]): string {
  const tok = model.tokenizer;
  const head = tok.decode(prompt);
  const all = tok.decode([...prompt, ...tokens]);
  return all.startsWith(head) ? all.slice(head.length) : tok.decode(tokens);
}

/**
 * Generates `request.samples` samples, yielding each as soon as it finishes.
 * Breaking out of the loop stops generation.
 * @throws InputError for an invalid request; the charger's error; the signal's reason when aborted
 */
export async function* generate(
  model: DecoderModel,
  request: GenerateRequest,
  options: GenerateOptions = {},
): AsyncGenerator<GeneratedSample, void, undefined> {
  validate(model, request);
  const { signal, charger } = options;
  signal?.throwIfAborted();
  const K = request.samples;
  const V = model.shape.vocabSize;
  const params: SamplingParams = {
    temperature: request.temperature,
    ...(request.topK !== undefined ? { topK: request.topK } : {}),
    ...(request.topP !== undefined ? { topP: request.topP } : {}),
  };
  const stopStrings = request.stop ?? [];
  const stopWindow = stopStrings.length > 0 ? 4 * Math.max(...stopStrings.map((s) => s.length)) + 2 : 0;
  const stopIds = new Set(model.stopTokenIds);
  const root = createRng(request.seed);
  const shared = request.prompts === undefined || request.prompts.every((p) => p === request.prompts![0]);
  const promptIds = shared
    ? [promptTokens(model, request.prompts?.[0] ?? request.prompt)]
    : request.prompts!.map((p, i) => promptTokens(model, p, `prompts[${i}]`));
  const longest = Math.max(...promptIds.map((p) => p.length));
  if (!model.io.attentionMask && promptIds.some((p) => p.length !== longest)) {
    throw new InputError(
      "generate: prompts of different lengths need padding, and this model has no attention_mask input",
      {
        details: { field: "prompts" },
      },
    );
  }
  const states: SampleState[] = Array.from({ length: K }, (_, i) => {
    const prompt = promptIds[shared ? 0 : i];
    return { index: i, prompt, pad: shared ? 0 : longest - prompt.length, tokens: [], logProbs: [], rng: root.fork(i) };
  });
  const sampler = new Sampler(V);
  // The graph's head returns the last position's logits, log-sum-exp and, when sampling, tempered softmax.
  const greedy = request.temperature === 0 || request.topK === 1;
  const head: StepHead = greedy ? { kind: "last" } : { kind: "last", inverseTemperature: 1 / request.temperature };
  const pickFor = (s: SampleState, last: LastPosition, row: number) =>
    sampler.pickRow(
      last.logits,
      row * V,
      last.logSumExp[row],
      last.probs?.subarray(row * V, (row + 1) * V),
      params,
      s.rng,
    );
  const everyone = states.map((s) => s.index);

  // Prefill: one row when all samples share the prompt (its KV is then copied to k rows), else k left-padded rows.
  const rows = shared ? 1 : K;
  const seqLen = longest;
  const ids = new Int32Array(rows * seqLen).fill(model.padTokenId);
  const mask = new Int32Array(rows * seqLen);
  const positions = new Int32Array(rows * seqLen);
  for (let r = 0; r < rows; r++) {
    const s = states[r];
    for (let j = 0; j < s.prompt.length; j++) {
      ids[r * seqLen + s.pad + j] = s.prompt[j];
      mask[r * seqLen + s.pad + j] = 1;
      positions[r * seqLen + s.pad + j] = j;
    }
  }
  const prefill = await model.step(
    { batch: rows, seqLen, inputIds: ids, attentionMask: mask, positionIds: positions, kv: model.emptyCache(rows) },
    {
      phase: "prefill",
      samples: everyone,
      head,
      ...(charger ? { charger } : {}),
      ...(signal ? { signal } : {}),
    },
  );
  for (const s of states) accept(s, pickFor(s, prefill.last!, shared ? 0 : s.index));
  let kv: KvCache = prefill.kv;
  let active: SampleState[] = [];
  let activeRows: number[] = [];
  const classify = (candidates: SampleState[], rowsOf: number[]) => {
    const finished: SampleState[] = [];
    active = [];
    activeRows = [];
    candidates.forEach((s, i) => {
      if (!s.finish && options.cancelled?.(s.index)) s.finish = "cancelled";
      if (s.finish) finished.push(s);
      else {
        active.push(s);
        activeRows.push(rowsOf[i]);
      }
    });
    return finished;
  };
  let finished = classify(states, states.map((s) => shared ? 0 : s.index));
  for (;;) {
    for (const s of finished) yield result(s);
    if (active.length === 0) return;
    signal?.throwIfAborted();
    // Cancellation may have changed while the caller handled the samples just yielded.
    finished = classify(active, activeRows);
    for (const s of finished) yield result(s);
    if (active.length === 0) return;
    const identity = activeRows.length === kv.batch && activeRows.every((r, i) => r === i);
    if (!identity) kv = kv.selectRows(activeRows);
    const B = active.length;
    const total = kv.pastLength + 1;
    const stepIds = new Int32Array(B);
    const stepMask = new Int32Array(B * total).fill(1);
    const stepPos = new Int32Array(B);
    for (let r = 0; r < B; r++) {
      const s = active[r];
      stepIds[r] = s.tokens[s.tokens.length - 1];
      if (s.pad > 0) stepMask.fill(0, r * total, r * total + s.pad);
      stepPos[r] = s.prompt.length + s.tokens.length - 1;
    }
    const out = await model.step(
      { batch: B, seqLen: 1, inputIds: stepIds, attentionMask: stepMask, positionIds: stepPos, kv },
      {
        phase: "decode",
        samples: active.map((s) => s.index),
        head,
        ...(charger ? { charger } : {}),
        ...(signal ? { signal } : {}),
      },
    );
    kv = out.kv;
    for (let r = 0; r < B; r++) accept(active[r], pickFor(active[r], out.last!, r));
    finished = classify(active, active.map((_, r) => r));
  }

  function accept(s: SampleState, pick: { token: number; logProb: number }): void {
    s.tokens.push(pick.token);
    s.logProbs.push(pick.logProb);
    if (stopIds.has(pick.token)) s.finish = "eos";
    else if (stopWindow > 0 && stopHit(s)) s.finish = "stop";
    else if (s.tokens.length >= request.maxTokens) s.finish = "length";
    // The context is full: one more token would sit at position maxSeqLen, past the model's position table.
    else if (s.prompt.length + s.tokens.length >= model.shape.maxSeqLen) s.finish = "length";
  }

  /** Whether a stop string has appeared; decodes only a tail window until one shows up. */
  function stopHit(s: SampleState): boolean {
    const tail = model.tokenizer.decode(s.tokens.slice(-stopWindow));
    if (!stopStrings.some((x) => tail.includes(x))) return false;
    const text = continuationText(model, s.prompt, s.tokens);
    let at = -1;
    for (const x of stopStrings) {
      const i = text.indexOf(x);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at < 0) return false;
    s.stopAt = at;
    return true;
  }

  function result(s: SampleState): GeneratedSample {
    let text = continuationText(model, s.prompt, s.tokens);
    if (s.stopAt !== undefined) text = text.slice(0, s.stopAt);
    const sum = s.logProbs.reduce((a, b) => a + b, 0);
    return {
      index: s.index,
      text,
      tokenIds: [...s.tokens],
      logProbs: [...s.logProbs],
      meanLogProb: s.logProbs.length > 0 ? sum / s.logProbs.length : 0,
      finishReason: s.finish!,
      promptTokens: s.prompt.length,
    };
  }
}
