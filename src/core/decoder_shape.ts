/**
 * The shape of a decoder-only transformer, as the physics workload model and
 * the runtime both need it, parsed from the config files users bring:
 * Hugging Face `config.json` (Llama-like and GPT-2), onnxruntime-genai
 * `genai_config.json`, and llama2.c's `dim/n_layers` config.
 */
import { ModelError } from "./errors.ts";
import { isPrecision, type Precision } from "./board.ts";

/** Dimensions of a decoder-only transformer. */
export interface DecoderShape {
  /** Architecture family as the config names it (`llama`, `gpt2`, `qwen2`, ...). */
  family: string;
  /** 3 for gated MLPs (Llama: gate, up, down), 2 for plain MLPs (GPT-2: fc, proj). */
  mlpMatrices: 2 | 3;
  layers: number;
  hiddenSize: number;
  intermediateSize: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  maxSeqLen: number;
  /** Input embedding and LM head share one matrix. */
  tiedEmbeddings: boolean;
  /** Precision of the weight matrices. */
  weightPrecision: Precision;
  /** Weights per quantisation scale group (int8/int4), e.g. 32 or 128. */
  groupSize?: number;
  /** Precision of the KV cache and activations. */
  kvPrecision: "fp32" | "fp16";
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function positiveInt(obj: Json, key: string, source: string, fallback?: number): number {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ModelError(`read decoder shape: ${source} has no "${key}"`, { details: { path: source, field: key } });
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    throw new ModelError(
      `read decoder shape: "${key}" in ${source} must be a positive integer, got ${JSON.stringify(v)}`,
      {
        details: { path: source, field: key },
      },
    );
  }
  return v;
}

function optionalInt(obj: Json, key: string, source: string): number | undefined {
  return obj[key] === undefined || obj[key] === null ? undefined : positiveInt(obj, key, source);
}

function precisionOf(
  obj: Json,
  source: string,
): { weightPrecision: Precision; groupSize?: number; kvPrecision: "fp32" | "fp16" } {
  const dtype = typeof obj.torch_dtype === "string" ? obj.torch_dtype : undefined;
  const kvPrecision = dtype === "float16" || dtype === "bfloat16" ? "fp16" : "fp32";
  const explicit = obj.qeil_weight_precision;
  if (explicit !== undefined) {
    if (!isPrecision(explicit)) {
      throw new ModelError(
        `read decoder shape: "qeil_weight_precision" in ${source} must be fp32|fp16|int8|int4, got ${
          JSON.stringify(explicit)
        }`,
        {
          details: { path: source, field: "qeil_weight_precision" },
        },
      );
    }
    const groupSize = optionalInt(obj, "qeil_group_size", source);
    return {
      weightPrecision: explicit,
      kvPrecision: explicit === "fp32" ? "fp32" : "fp16",
      ...(groupSize ? { groupSize } : {}),
    };
  }
  const q = obj.quantization_config;
  if (isObject(q)) {
    const bits = q.bits ?? q.w_bit;
    if (bits === 4 || bits === 8) {
      const groupSize = optionalInt(q, "group_size", `${source} quantization_config`) ??
        optionalInt(q, "q_group_size", `${source} quantization_config`) ?? 32;
      return { weightPrecision: bits === 4 ? "int4" : "int8", groupSize, kvPrecision: "fp16" };
    }
    throw new ModelError(
      `read decoder shape: quantization_config.bits in ${source} must be 4 or 8, got ${JSON.stringify(bits)}`,
      {
        details: { path: source, field: "quantization_config.bits" },
      },
    );
  }
  if (dtype === "float16" || dtype === "bfloat16") return { weightPrecision: "fp16", kvPrecision };
  return { weightPrecision: "fp32", kvPrecision };
}

function finish(shape: DecoderShape, source: string): DecoderShape {
  if (shape.heads % shape.kvHeads !== 0) {
    throw new ModelError(
      `read decoder shape: ${source} has ${shape.heads} heads, not a multiple of ${shape.kvHeads} KV heads`,
      {
        details: { path: source, field: "num_key_value_heads" },
      },
    );
  }
  return shape;
}

/**
 * Parses a decoder shape from a parsed config object.
 *
 * @param config the parsed JSON of `config.json`, `genai_config.json` or a llama2.c config
 * @param source file name for error messages
 * @param known values the caller already knows (e.g. inferred from the ONNX graph), used where the config is silent
 * @throws ModelError naming the file and the missing or invalid field
 */
export function parseDecoderShape(config: unknown, source: string, known: Partial<DecoderShape> = {}): DecoderShape {
  if (!isObject(config)) {
    throw new ModelError(`read decoder shape: ${source} must hold a JSON object`, { details: { path: source } });
  }
  const prec = precisionOf(config, source);
  // onnxruntime-genai layout: {"model": {"type", "vocab_size", "context_length", "decoder": {...}}}
  if (isObject(config.model) && isObject(config.model.decoder)) {
    const m = config.model;
    const d = config.model.decoder as Json;
    const family = typeof m.type === "string" ? m.type : "llama";
    const heads = positiveInt(d, "num_attention_heads", source, known.heads);
    const headDim = positiveInt(d, "head_size", source, known.headDim);
    const hiddenSize = positiveInt(d, "hidden_size", source, known.hiddenSize ?? heads * headDim);
    return finish({
      family,
      mlpMatrices: known.mlpMatrices ?? (family === "gpt2" ? 2 : 3),
      layers: positiveInt(d, "num_hidden_layers", source, known.layers),
      hiddenSize,
      intermediateSize: known.intermediateSize ??
        positiveInt(d, "intermediate_size", source, family === "gpt2" ? 4 * hiddenSize : undefined),
      heads,
      kvHeads: positiveInt(d, "num_key_value_heads", source, known.kvHeads ?? heads),
      headDim,
      vocabSize: positiveInt(m, "vocab_size", source, known.vocabSize),
      maxSeqLen: positiveInt(m, "context_length", source, known.maxSeqLen),
      tiedEmbeddings: known.tiedEmbeddings ?? family === "gpt2",
      weightPrecision: known.weightPrecision ?? prec.weightPrecision,
      kvPrecision: known.kvPrecision ?? prec.kvPrecision,
      ...(prec.groupSize ? { groupSize: prec.groupSize } : {}),
    }, source);
  }
  // llama2.c export: {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "max_seq_len"}
  if (config.dim !== undefined && config.n_layers !== undefined) {
    const hiddenSize = positiveInt(config, "dim", source);
    const heads = positiveInt(config, "n_heads", source);
    return finish({
      family: typeof config.model_type === "string" ? config.model_type : "llama",
      mlpMatrices: 3,
      layers: positiveInt(config, "n_layers", source),
      hiddenSize,
      intermediateSize: positiveInt(config, "hidden_dim", source),
      heads,
      kvHeads: positiveInt(config, "n_kv_heads", source, heads),
      headDim: positiveInt(config, "head_dim", source, hiddenSize / heads),
      vocabSize: positiveInt(config, "vocab_size", source),
      maxSeqLen: positiveInt(config, "max_seq_len", source),
      tiedEmbeddings: config.tie_word_embeddings !== false,
      ...prec,
    }, source);
  }
  // Hugging Face GPT-2: {"n_embd", "n_layer", "n_head", "n_positions", "n_inner"}
  if (config.n_embd !== undefined || config.model_type === "gpt2") {
    const hiddenSize = positiveInt(config, "n_embd", source);
    const heads = positiveInt(config, "n_head", source);
    return finish({
      family: "gpt2",
      mlpMatrices: 2,
      layers: positiveInt(config, "n_layer", source),
      hiddenSize,
      intermediateSize: positiveInt(config, "n_inner", source, 4 * hiddenSize),
      heads,
      kvHeads: heads,
      headDim: hiddenSize / heads,
      vocabSize: positiveInt(config, "vocab_size", source),
      maxSeqLen: positiveInt(config, "n_positions", source, optionalInt(config, "n_ctx", source) ?? 1024),
      tiedEmbeddings: config.tie_word_embeddings !== false,
      ...prec,
    }, source);
  }
  // Hugging Face Llama-like (llama, mistral, qwen2, gemma, phi3, ...).
  const hiddenSize = positiveInt(config, "hidden_size", source, known.hiddenSize);
  const heads = positiveInt(config, "num_attention_heads", source, known.heads);
  return finish({
    family: typeof config.model_type === "string" ? config.model_type : "llama",
    mlpMatrices: 3,
    layers: positiveInt(config, "num_hidden_layers", source, known.layers),
    hiddenSize,
    intermediateSize: positiveInt(config, "intermediate_size", source, known.intermediateSize),
    heads,
    kvHeads: positiveInt(config, "num_key_value_heads", source, known.kvHeads ?? heads),
    headDim: positiveInt(config, "head_dim", source, known.headDim ?? hiddenSize / heads),
    vocabSize: positiveInt(config, "vocab_size", source, known.vocabSize),
    maxSeqLen: positiveInt(config, "max_position_embeddings", source, known.maxSeqLen ?? 2048),
    tiedEmbeddings: config.tie_word_embeddings === true,
    ...prec,
  }, source);
}
