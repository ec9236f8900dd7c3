/**
 * Workload model of a decoder-only transformer: parameters, stored weight
 * bytes, KV-cache bytes, and the FLOPs and bytes moved by a prefill of P tokens
 * or one decode step at context c, for a layer range and a batch.
 *
 * Conventions (every figure below follows them):
 * - A multiply-add is 2 FLOPs. Only matrix products are counted (linear layers,
 *   QK^T, AV, LM head); norms, softmax, RoPE and activation functions are a few
 *   FLOPs per element and below 1% of the total for every shape we plan for.
 * - Linear layers: Q (h x H*dh), K and V (h x Hkv*dh each), O (H*dh x h), and
 *   `mlpMatrices` MLP matrices of h x i. Grouped-query attention (Hkv < H)
 *   shrinks K, V and the KV cache, not the attention FLOPs.
 * - Family layout (norms and biases, stored at activation precision): `gpt2`
 *   has two LayerNorms (weight + bias) per layer, biases on every linear layer
 *   and learned position embeddings (maxSeqLen x h); `qwen2` has RMSNorms and
 *   biases on Q, K and V; every other family uses the Llama layout (two
 *   RMSNorm weights per layer, no biases). All have a final norm.
 * - Weight matrices, including the embedding and the LM head, are stored at
 *   `weightPrecision`: fp32 4 B, fp16 2 B, int8 1 B and int4 0.5 B per weight,
 *   plus, for int8/int4, one fp16 scale per `groupSize` weights (default 32)
 *   and no zero point (symmetric quantisation, as llama.cpp Q8_0/Q4_0, whose
 *   8.5 and 4.5 bits per weight this reproduces). A matrix whose size is not a
 *   multiple of the group size is counted with fractional groups.
 * - The embedding lookup belongs to the range holding layer 0 (it reads one row
 *   per token); the final norm and LM head belong to the range holding the last
 *   layer (the whole V x h matrix is read every step). Tied embeddings are
 *   stored once when one range holds both ends, otherwise each end stores its
 *   own copy (each runtime segment is a separate graph).
 * - Context c of a decode step = tokens already in the KV cache (the runtime's
 *   `pastLength`): the step reads c cached K/V entries, writes 1, and its query
 *   attends to c + 1 keys.
 * - Activation traffic counts each linear layer's input read and output written
 *   once per token at activation precision (`kvPrecision`); attention scores
 *   are not written to DRAM in the step traffic (fused attention), though an
 *   unfused score matrix is counted in the prefill workspace.
 *
 * Every quantity is a closed form in the layer count of the range, so no
 * function here loops over layers.
 */
import type { DecoderShape, Precision } from "../core/mod.ts";

/** FLOPs and bytes moved by one work item. */
export interface Work {
  /** Floating-point (or integer) operations, a multiply-add counting 2. */
  flops: number;
  /** Bytes read from and written to DRAM. */
  bytes: number;
}

/** A layer range [layerStart, layerEnd). */
export interface LayerRange {
  /** First layer, inclusive. @default 0 */
  layerStart?: number;
  /** Last layer, exclusive. @default shape.layers */
  layerEnd?: number;
}

/** Options of {@linkcode prefillWork}. */
export interface PrefillOptions extends LayerRange {
  /** New tokens processed in this step (the prompt length P), >= 1. */
  tokens: number;
  /** Sequences processed together, >= 1. @default 1 */
  batch?: number;
  /** Tokens already in the KV cache before this step (chunked prefill). @default 0 */
  pastTokens?: number;
  /**
   * Compute logits for every new token instead of the last one only (Optimum
   * exports without `num_logits_to_keep` do this). @default false
   */
  allLogits?: boolean;
}

/** Options of {@linkcode decodeWork}. */
export interface DecodeOptions extends LayerRange {
  /** Tokens already in the KV cache (the runtime's pastLength), >= 0. */
  context: number;
  /** Sequences decoded together, >= 1. @default 1 */
  batch?: number;
}

/** Options of {@linkcode kvCacheBytes}. */
export interface KvCacheOptions extends LayerRange {
  /** Sequences, >= 1. @default 1 */
  batch?: number;
  /** Cached tokens per sequence, >= 0. */
  context: number;
}

/** Options of {@linkcode kvHandoffBytes}. */
export interface KvHandoffOptions extends LayerRange {
  /** Prompt length P, tokens. */
  promptTokens: number;
  /** Samples the receiving segment decodes as one batch. */
  batch: number;
  /** The receiving segment runs on the unit that did the prefill. @default false */
  onPrefillUnit?: boolean;
}

/** Storage bytes per weight of each precision, before group scales. */
const WEIGHT_BYTES: Readonly<Record<Precision, number>> = { fp32: 4, fp16: 2, int8: 1, int4: 0.5 };

/** Weights per quantisation group when the shape does not say (llama.cpp Q8_0 / Q4_0 block size). */
export const DEFAULT_GROUP_SIZE = 32;

/** Bytes of one fp16 group scale. */
const SCALE_BYTES = 2;

/**
 * Per-shape constants, all per layer or per token, from which every workload
 * figure is an affine closed form. Computed in well under a microsecond; the
 * predictor derives them once per call.
 */
export interface ShapeConstants {
  layers: number;
  hiddenSize: number;
  vocabSize: number;
  /** Stored bytes per weight-matrix element, including group scales. */
  weightBytesPerParam: number;
  /** Bytes per activation / KV element (2 for fp16, 4 for fp32). */
  activationBytes: number;
  /** Weight-matrix parameters of one layer (linear layers only). */
  linearParamsPerLayer: number;
  /** Norm and bias parameters of one layer (stored at activation precision). */
  smallParamsPerLayer: number;
  /** Stored bytes of one layer. */
  layerWeightBytes: number;
  /** Attention FLOPs per query token per attended key per layer (QK^T + AV = 4 H dh). */
  attentionFlopsPerKey: number;
  /** KV-cache bytes per token per layer (K and V: 2 Hkv dh elements). */
  kvBytesPerTokenLayer: number;
  /** Activation bytes read and written per token per layer. */
  activationBytesPerTokenLayer: number;
  /** Embedding matrix parameters (V x h). */
  embeddingParams: number;
  /** Learned position-embedding parameters (gpt2 only, maxSeqLen x h). */
  positionParams: number;
  /** Final norm parameters. */
  finalNormParams: number;
  /** Bytes read by the embedding lookup per token (a matrix row, plus a position row for gpt2). */
  embedLookupBytesPerToken: number;
  /** Bytes of the LM head read per step (matrix + final norm). */
  headWeightBytes: number;
  /** LM head FLOPs per logits token (2 h V). */
  headFlopsPerToken: number;
  /** Attention heads (for the unfused score workspace). */
  heads: number;
  /** Activation elements a layer holds per token while it runs (for the workspace). */
  activationElemsPerToken: number;
}

function checkRange(shape: DecoderShape, range: LayerRange): [number, number] {
  const start = range.layerStart ?? 0;
  const end = range.layerEnd ?? shape.layers;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > shape.layers || start >= end) {
    throw new RangeError(
      `workload: layer range [${start}, ${end}) must be a non-empty integer range within [0, ${shape.layers})`,
    );
  }
  return [start, end];
}

function checkCount(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`workload: ${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/**
 * Derives the per-layer and per-token constants of a shape.
 *
 * @throws RangeError when a dimension is not a positive integer
 */
export function shapeConstants(shape: DecoderShape): ShapeConstants {
  for (
    const key of ["layers", "hiddenSize", "intermediateSize", "heads", "kvHeads", "headDim", "vocabSize"] as const
  ) {
    checkCount(`shape.${key}`, shape[key], 1);
  }
  const h = shape.hiddenSize;
  const i = shape.intermediateSize;
  const qDim = shape.heads * shape.headDim;
  const kvDim = shape.kvHeads * shape.headDim;
  const group = shape.groupSize ?? DEFAULT_GROUP_SIZE;
  const quantised = shape.weightPrecision === "int8" || shape.weightPrecision === "int4";
  const weightBytesPerParam = WEIGHT_BYTES[shape.weightPrecision] + (quantised ? SCALE_BYTES / group : 0);
  const activationBytes = shape.kvPrecision === "fp32" ? 4 : 2;
  const linearParamsPerLayer = h * (qDim + 2 * kvDim) + qDim * h + shape.mlpMatrices * h * i;
  let smallParamsPerLayer: number;
  let finalNormParams: number;
  let positionParams = 0;
  if (shape.family === "gpt2") {
    // Two LayerNorms (gain + bias) and biases on QKV, O, fc and proj.
    smallParamsPerLayer = 4 * h + (qDim + 2 * kvDim) + h + (shape.mlpMatrices - 1) * i + h;
    finalNormParams = 2 * h;
    positionParams = shape.maxSeqLen * h;
  } else if (shape.family === "qwen2") {
    smallParamsPerLayer = 2 * h + qDim + 2 * kvDim;
    finalNormParams = h;
  } else {
    smallParamsPerLayer = 2 * h;
    finalNormParams = h;
  }
  const embeddingParams = shape.vocabSize * h;
  return {
    layers: shape.layers,
    hiddenSize: h,
    vocabSize: shape.vocabSize,
    weightBytesPerParam,
    activationBytes,
    linearParamsPerLayer,
    smallParamsPerLayer,
    layerWeightBytes: linearParamsPerLayer * weightBytesPerParam + smallParamsPerLayer * activationBytes,
    attentionFlopsPerKey: 4 * qDim,
    kvBytesPerTokenLayer: 2 * kvDim * activationBytes,
    // Inputs and outputs of QKV, O, the MLP up/gate and down projections.
    activationBytesPerTokenLayer: (h + (qDim + 2 * kvDim) + qDim + h + h + (shape.mlpMatrices - 1) * i + i + h) *
      activationBytes,
    embeddingParams,
    positionParams,
    finalNormParams,
    embedLookupBytesPerToken: h * weightBytesPerParam + (positionParams > 0 ? h * activationBytes : 0),
    headWeightBytes: embeddingParams * weightBytesPerParam + finalNormParams * activationBytes,
    headFlopsPerToken: 2 * h * shape.vocabSize,
    heads: shape.heads,
    activationElemsPerToken: Math.max(qDim + 2 * kvDim, (shape.mlpMatrices - 1) * i, h) + 2 * h,
  };
}

/**
 * Parameters of the whole model or of a layer range (weight matrices, norms,
 * biases; the embedding counted with the range holding layer 0 and, when
 * untied, the LM head with the range holding the last layer).
 *
 * Validity: decoder-only transformers of the gpt2, qwen2 and Llama layouts
 * (other families are counted with the Llama layout; their extra norms are
 * below 0.1%). Source: the layer layout in this module's header; reproduces
 * 124,439,808 for GPT-2 (HF `gpt2`) and 8,030,261,248 for Llama-3.1-8B.
 */
export function paramCount(shape: DecoderShape, range: LayerRange = {}): number {
  const [start, end] = checkRange(shape, range);
  const k = shapeConstants(shape);
  const n = end - start;
  let params = n * (k.linearParamsPerLayer + k.smallParamsPerLayer);
  if (start === 0) params += k.embeddingParams + k.positionParams;
  if (end === shape.layers) {
    params += k.finalNormParams;
    if (!shape.tiedEmbeddings) params += k.embeddingParams;
  }
  return params;
}

/**
 * Stored weight bytes of a layer range: what a runtime segment holding those
 * layers keeps in memory, in bytes.
 *
 * A tied embedding is counted once when the range holds both layer 0 and the
 * last layer, and once on each end otherwise.
 *
 * Validity: as {@linkcode paramCount}; quantised matrices at 0.5 or 1 B per
 * weight plus an fp16 scale per group, no zero points. Source: llama.cpp
 * Q4_0/Q8_0 block layouts (4.5 and 8.5 bits per weight).
 */
export function weightsBytes(shape: DecoderShape, layerStart?: number, layerEnd?: number): number {
  const [start, end] = checkRange(shape, { layerStart, layerEnd });
  return weightsBytesOf(shapeConstants(shape), shape.tiedEmbeddings, start, end);
}

/** {@linkcode weightsBytes} from precomputed constants (no validation). */
export function weightsBytesOf(k: ShapeConstants, tied: boolean, start: number, end: number): number {
  let bytes = (end - start) * k.layerWeightBytes;
  const hasFirst = start === 0;
  const hasLast = end === k.layers;
  if (hasFirst) bytes += k.embeddingParams * k.weightBytesPerParam + k.positionParams * k.activationBytes;
  if (hasLast) {
    bytes += k.finalNormParams * k.activationBytes;
    if (!tied || !hasFirst) bytes += k.embeddingParams * k.weightBytesPerParam;
  }
  return bytes;
}

/**
 * KV-cache bytes for `batch` sequences of `context` cached tokens over a layer
 * range: batch * context * layers * 2 * kvHeads * headDim * bytes(kvPrecision).
 *
 * Validity: dense (not paged or quantised) KV caches at kvPrecision.
 * Source: the K and V tensors the runtime keeps per layer (`present.N.key|value`).
 */
export function kvCacheBytes(shape: DecoderShape, options: KvCacheOptions): number {
  const [start, end] = checkRange(shape, options);
  const batch = checkCount("batch", options.batch ?? 1, 1);
  const context = checkCount("context", options.context, 0);
  return batch * context * (end - start) * shapeConstants(shape).kvBytesPerTokenLayer;
}

/**
 * FLOPs and bytes of a prefill step: `tokens` new tokens per sequence for
 * `batch` sequences over a layer range, with `pastTokens` already cached.
 *
 * FLOPs = b * [n * (2 * linearParams * P + 4 H dh * (P * past + P (P + 1) / 2)) + (last range) 2 h V * logitsTokens]
 * (causal attention: new token t attends to past + t keys).
 * Bytes = n * layerWeightBytes + b * n * ((past + P) kvBytes + P actBytes) + (first) b P * row + (last) head + b * logitsTokens * V * actBytes.
 *
 * Validity: decoder-only transformers with dense attention; weights read once
 * per step (they do not fit in cache on edge SoCs). Units: FLOPs, bytes.
 */
export function prefillWork(shape: DecoderShape, options: PrefillOptions): Work {
  const [start, end] = checkRange(shape, options);
  const tokens = checkCount("tokens", options.tokens, 1);
  const batch = checkCount("batch", options.batch ?? 1, 1);
  const past = checkCount("pastTokens", options.pastTokens ?? 0, 0);
  const k = shapeConstants(shape);
  return prefillWorkOf(k, start, end, tokens, batch, past, options.allLogits ? tokens : 1);
}

/** {@linkcode prefillWork} from precomputed constants (no validation). */
export function prefillWorkOf(
  k: ShapeConstants,
  start: number,
  end: number,
  tokens: number,
  batch: number,
  past: number,
  logitsTokens: number,
): Work {
  const n = end - start;
  const keys = tokens * past + (tokens * (tokens + 1)) / 2;
  let flops = batch * n * (2 * k.linearParamsPerLayer * tokens + k.attentionFlopsPerKey * keys);
  let bytes = n * k.layerWeightBytes +
    batch * n * ((past + tokens) * k.kvBytesPerTokenLayer + tokens * k.activationBytesPerTokenLayer);
  if (start === 0) bytes += batch * tokens * k.embedLookupBytesPerToken;
  if (end === k.layers) {
    flops += batch * logitsTokens * k.headFlopsPerToken;
    bytes += k.headWeightBytes + batch * logitsTokens * k.vocabSize * k.activationBytes;
  }
  return { flops, bytes };
}

/**
 * Affine coefficients of a decode step in the context c: FLOPs = flops0 +
 * flops1 * c and bytes = bytes0 + bytes1 * c. Summing a decode over growing
 * contexts is then an arithmetic series.
 */
export interface AffineWork {
  flops0: number;
  flops1: number;
  bytes0: number;
  bytes1: number;
}

/** Decode-step coefficients of a layer range and batch (no validation). */
export function decodeAffineOf(k: ShapeConstants, start: number, end: number, batch: number): AffineWork {
  const n = end - start;
  // At context c: attention over c + 1 keys, c K/V entries read and 1 written.
  let flops0 = batch * n * (2 * k.linearParamsPerLayer + k.attentionFlopsPerKey);
  const flops1 = batch * n * k.attentionFlopsPerKey;
  let bytes0 = n * k.layerWeightBytes + batch * n * (k.kvBytesPerTokenLayer + k.activationBytesPerTokenLayer);
  const bytes1 = batch * n * k.kvBytesPerTokenLayer;
  if (start === 0) bytes0 += batch * k.embedLookupBytesPerToken;
  if (end === k.layers) {
    flops0 += batch * k.headFlopsPerToken;
    bytes0 += k.headWeightBytes + batch * k.vocabSize * k.activationBytes;
  }
  return { flops0, flops1, bytes0, bytes1 };
}

/**
 * FLOPs and bytes of one decode step: one new token for each of `batch`
 * sequences at context c over a layer range.
 *
 * FLOPs = b * [n * (2 * linearParams + 4 H dh (c + 1)) + (last range) 2 h V].
 * Bytes = n * layerWeightBytes + b * n * ((c + 1) kvBytes + actBytes) + (first) b * row + (last) head + b V actBytes.
 *
 * Validity: as {@linkcode prefillWork}; at batch 1 the intensity is about
 * 2 / bytesPerWeight FLOP/byte, far below every edge unit's ridge point, so
 * decode is memory-bound. Units: FLOPs, bytes.
 */
export function decodeWork(shape: DecoderShape, options: DecodeOptions): Work {
  const [start, end] = checkRange(shape, options);
  const batch = checkCount("batch", options.batch ?? 1, 1);
  const context = checkCount("context", options.context, 0);
  const a = decodeAffineOf(shapeConstants(shape), start, end, batch);
  return { flops: a.flops0 + a.flops1 * context, bytes: a.bytes0 + a.bytes1 * context };
}

/**
 * Bytes of the hidden state handed from one pipeline segment to the next:
 * batch * tokens * h * bytes(activation).
 */
export function activationTransferBytes(shape: DecoderShape, options: { tokens: number; batch?: number }): number {
  const tokens = checkCount("tokens", options.tokens, 1);
  const batch = checkCount("batch", options.batch ?? 1, 1);
  return batch * tokens * shape.hiddenSize * (shape.kvPrecision === "fp32" ? 4 : 2);
}

/**
 * Bytes copied to hand the prompt's KV cache (batch 1, from the prefill) to a
 * decode segment of `batch` samples: the cache of the segment's layers read
 * once and written `batch` times, (1 + batch) * P * layers * 2 Hkv dh * bytes.
 * Zero when the segment's unit did the prefill and decodes one sample (the
 * cache is already in place). predict() charges it to each lane's units; a
 * service driving a simulated board should charge it too (as a memory-only
 * work item) so both agree.
 */
export function kvHandoffBytes(shape: DecoderShape, options: KvHandoffOptions): number {
  const [start, end] = checkRange(shape, options);
  const prompt = checkCount("promptTokens", options.promptTokens, 1);
  const batch = checkCount("batch", options.batch, 1);
  if (options.onPrefillUnit && batch === 1) return 0;
  return (1 + batch) * prompt * (end - start) * shapeConstants(shape).kvBytesPerTokenLayer;
}

/**
 * Transient working memory of a step, bytes: the activations of the layer in
 * flight for every token, the unfused attention score matrix of one layer
 * (H x tokens x keys; ORT's CPU attention materialises it), and the logits.
 */
export function workspaceBytesOf(
  k: ShapeConstants,
  batch: number,
  tokens: number,
  keys: number,
  logitsTokens: number,
): number {
  return batch * (tokens * k.activationElemsPerToken + k.heads * tokens * keys + logitsTokens * k.vocabSize) *
    k.activationBytes;
}
