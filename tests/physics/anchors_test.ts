/**
 * DESIGN.md section 3 "reality anchors": the board profiles' priors, run
 * through predict(), must reproduce published measurements within ±30%, every
 * row and every figure.
 *
 * Each row names the runtime that measured it. A unit's efficiency priors
 * describe one runtime family (the profile's `base`); rows of another family
 * use that family's efficiencies from the profile (src/hal/profiles/
 * runtimes.ts), never a wider tolerance.
 *
 * Measurement conditions follow the sources: rknn-llm benchmark.md reports
 * TTFT of a 128-token prompt and the decode rate of 64 new tokens after it;
 * llama-bench's pp512 prefills 512 tokens from an empty cache and tg128
 * generates 128 tokens from an empty cache (so decode runs at contexts 0-127);
 * llama.cpp issue 17783 chats with a short prompt; NVIDIA's Jetson benchmarks
 * decode after a short prompt. Decode power is the whole board's average over a
 * decode (what a wall meter reads).
 */
import assert from "node:assert/strict";
import type { BoardPriors, DecoderShape, Precision } from "../../src/core/mod.ts";
import { getProfile } from "../../src/hal/mod.ts";
import { priorsForRuntimes, runtimeFamilies } from "../../src/hal/profiles/mod.ts";
import { type BoardState, createBoardModel, type Job, paramCount, predict } from "../../src/physics/mod.ts";

/** Dimensions of a published checkpoint (its Hugging Face config.json). */
type ModelConfig = Omit<DecoderShape, "weightPrecision" | "groupSize" | "kvPrecision">;

const MODELS = {
  // Qwen/Qwen2-0.5B config.json: hidden_size 896, intermediate_size 4864, num_hidden_layers 24,
  // num_attention_heads 14, num_key_value_heads 2 (head_dim 64), vocab_size 151936,
  // max_position_embeddings 131072, tie_word_embeddings true; Q/K/V biases (qwen2 layout).
  "qwen2-0.5b": {
    family: "qwen2",
    mlpMatrices: 3,
    layers: 24,
    hiddenSize: 896,
    intermediateSize: 4864,
    heads: 14,
    kvHeads: 2,
    headDim: 64,
    vocabSize: 151936,
    maxSeqLen: 131072,
    tiedEmbeddings: true,
  },
  // TinyLlama/TinyLlama-1.1B-Chat-v1.0 config.json: hidden_size 2048, intermediate_size 5632,
  // num_hidden_layers 22, num_attention_heads 32, num_key_value_heads 4, vocab_size 32000,
  // max_position_embeddings 2048, tie_word_embeddings false.
  "tinyllama-1.1b": {
    family: "llama",
    mlpMatrices: 3,
    layers: 22,
    hiddenSize: 2048,
    intermediateSize: 5632,
    heads: 32,
    kvHeads: 4,
    headDim: 64,
    vocabSize: 32000,
    maxSeqLen: 2048,
    tiedEmbeddings: false,
  },
  // Qwen/Qwen2.5-1.5B config.json: hidden_size 1536, intermediate_size 8960, num_hidden_layers 28,
  // num_attention_heads 12, num_key_value_heads 2 (head_dim 128), vocab_size 151936,
  // max_position_embeddings 131072, tie_word_embeddings true.
  "qwen2.5-1.5b": {
    family: "qwen2",
    mlpMatrices: 3,
    layers: 28,
    hiddenSize: 1536,
    intermediateSize: 8960,
    heads: 12,
    kvHeads: 2,
    headDim: 128,
    vocabSize: 151936,
    maxSeqLen: 131072,
    tiedEmbeddings: true,
  },
  // microsoft/Phi-3-mini-4k-instruct config.json: hidden_size 3072, intermediate_size 8192,
  // num_hidden_layers 32, num_attention_heads 32, num_key_value_heads 32 (head_dim 96),
  // vocab_size 32064, max_position_embeddings 4096, tie_word_embeddings false (fused qkv_proj and
  // gate_up_proj hold the same weights as separate Q, K, V and gate, up matrices).
  "phi-3-mini-3.8b": {
    family: "phi3",
    mlpMatrices: 3,
    layers: 32,
    hiddenSize: 3072,
    intermediateSize: 8192,
    heads: 32,
    kvHeads: 32,
    headDim: 96,
    vocabSize: 32064,
    maxSeqLen: 4096,
    tiedEmbeddings: false,
  },
  // google/gemma-3-1b-it config.json: hidden_size 1152, intermediate_size 6912, num_hidden_layers 26,
  // num_attention_heads 4, num_key_value_heads 1, head_dim 256 (so Q is 1024 wide, not 1152),
  // vocab_size 262144, max_position_embeddings 32768, tied embeddings: the 262144 x 1152 matrix
  // (302M of the model's 999,885,952 parameters) is the embedding and the LM head, read whole
  // every decode step.
  "gemma-3-1b": {
    family: "gemma3_text",
    mlpMatrices: 3,
    layers: 26,
    hiddenSize: 1152,
    intermediateSize: 6912,
    heads: 4,
    kvHeads: 1,
    headDim: 256,
    vocabSize: 262144,
    maxSeqLen: 32768,
    tiedEmbeddings: true,
  },
  // mistralai/Ministral-3-3B-Instruct-2512 text_config: hidden_size 3072, intermediate_size 9216,
  // num_hidden_layers 26, num_attention_heads 32, num_key_value_heads 8, head_dim 128,
  // vocab_size 131072, max_position_embeddings 262144, tie_word_embeddings true (3.4B parameters).
  "ministral-3-3b": {
    family: "ministral3",
    mlpMatrices: 3,
    layers: 26,
    hiddenSize: 3072,
    intermediateSize: 9216,
    heads: 32,
    kvHeads: 8,
    headDim: 128,
    vocabSize: 131072,
    maxSeqLen: 262144,
    tiedEmbeddings: true,
  },
  // meta-llama/Llama-3.2-1B config.json: hidden_size 2048, intermediate_size 8192, num_hidden_layers 16,
  // num_attention_heads 32, num_key_value_heads 8, head_dim 64, vocab_size 128256,
  // max_position_embeddings 131072, tie_word_embeddings true.
  "llama-3.2-1b": {
    family: "llama",
    mlpMatrices: 3,
    layers: 16,
    hiddenSize: 2048,
    intermediateSize: 8192,
    heads: 32,
    kvHeads: 8,
    headDim: 64,
    vocabSize: 128256,
    maxSeqLen: 131072,
    tiedEmbeddings: true,
  },
  // meta-llama/Llama-3.2-3B config.json: hidden_size 3072, intermediate_size 8192, num_hidden_layers 28,
  // num_attention_heads 24, num_key_value_heads 8, head_dim 128, vocab_size 128256,
  // max_position_embeddings 131072, tie_word_embeddings true.
  "llama-3.2-3b": {
    family: "llama",
    mlpMatrices: 3,
    layers: 28,
    hiddenSize: 3072,
    intermediateSize: 8192,
    heads: 24,
    kvHeads: 8,
    headDim: 128,
    vocabSize: 128256,
    maxSeqLen: 131072,
    tiedEmbeddings: true,
  },
  // meta-llama/Llama-3.1-8B config.json: hidden_size 4096, intermediate_size 14336, num_hidden_layers 32,
  // num_attention_heads 32, num_key_value_heads 8, head_dim 128, vocab_size 128256,
  // max_position_embeddings 131072, tie_word_embeddings false.
  "llama-3.1-8b": {
    family: "llama",
    mlpMatrices: 3,
    layers: 32,
    hiddenSize: 4096,
    intermediateSize: 14336,
    heads: 32,
    kvHeads: 8,
    headDim: 128,
    vocabSize: 128256,
    maxSeqLen: 131072,
    tiedEmbeddings: false,
  },
} satisfies Record<string, ModelConfig>;

type ModelId = keyof typeof MODELS;

/**
 * Weight formats as this project's precisions. The shape stores one fp16 value
 * per `groupSize` weights on top of the packed weights.
 */
const FORMATS = {
  // RKLLM w8a8: int8 weights with one scale per output channel (rows of 896-14336 weights): group 1024.
  "rkllm-w8a8": { weightPrecision: "int8", groupSize: 1024 },
  // llama.cpp Q8_0: blocks of 32 int8 weights and one fp16 scale (8.5 bits per weight).
  "q8_0": { weightPrecision: "int8", groupSize: 32 },
  // llama.cpp Q4_1: blocks of 32 nibbles with an fp16 scale and an fp16 min (5.0 bits per weight): two
  // fp16 values per 32 weights is one per 16.
  "q4_1": { weightPrecision: "int4", groupSize: 16 },
  // MLC q4f16_1: groups of 32 nibbles with one fp16 scale (4.5 bits per weight).
  "q4f16_1": { weightPrecision: "int4", groupSize: 32 },
} satisfies Record<string, { weightPrecision: Precision; groupSize: number }>;

type Format = keyof typeof FORMATS;

function shapeOf(model: ModelId, format: Format): DecoderShape {
  return { ...MODELS[model], kvPrecision: "fp16", ...FORMATS[format] };
}

/** A prefill or decode as the source ran it. */
interface Run {
  /** Tokens in the prompt (prefill) or already in the cache when decoding starts. */
  promptTokens: number;
  /** Tokens generated (decode runs); the first comes from the prompt's logits. */
  genTokens: number;
}

interface Row {
  source: string;
  board: string;
  unit: string;
  /** Runtime family that measured the row (a family of the profile's runtimes for this unit). */
  runtime: string;
  model: ModelId;
  format: Format;
  prefill?: Run & { ttftMs?: number; tokPerS?: number };
  decode?: Run & { tokPerS: number; powerW?: number };
}

/** llama-bench defaults: pp512 prefills 512 tokens, tg128 decodes 128 tokens from an empty cache. */
const PP512: Run = { promptTokens: 512, genTokens: 1 };
const TG128: Run = { promptTokens: 1, genTokens: 129 };
/** rknn-llm benchmark.md: Seqlen 128, New_tokens 64. */
const RKLLM_PROMPT: Run = { promptTokens: 128, genTokens: 1 };
const RKLLM_DECODE: Run = { promptTokens: 128, genTokens: 64 };

const ROWS: Row[] = [
  ...([
    ["qwen2-0.5b", 145.90, 41.58],
    ["tinyllama-1.1b", 243.93, 24.43],
    ["qwen2.5-1.5b", 378.31, 16.69],
    ["phi-3-mini-3.8b", 1017.28, 7.45],
  ] as const).map(([model, ttftMs, tokPerS]): Row => ({
    source: "airockchip/rknn-llm benchmark.md, RK3588 w8a8, CPU and NPU at their top clocks",
    board: "rk3588",
    unit: "npu",
    runtime: "rkllm",
    model,
    format: "rkllm-w8a8",
    prefill: { ...RKLLM_PROMPT, ttftMs },
    decode: { ...RKLLM_DECODE, tokPerS },
  })),
  {
    source: "llama.cpp PR 24972 (Gemma3 1B Q8_0, CPU backend)",
    board: "rk3588",
    unit: "cpu_big",
    runtime: "llama.cpp-cpu",
    model: "gemma-3-1b",
    format: "q8_0",
    prefill: { ...PP512, tokPerS: 73.3 },
    decode: { ...TG128, tokPerS: 19.5, powerW: 7.4 },
  },
  {
    source: "llama.cpp PR 24972 (Gemma3 1B Q8_0, RKNPU2 backend)",
    board: "rk3588",
    unit: "npu",
    runtime: "llama.cpp-rknpu2",
    model: "gemma-3-1b",
    format: "q8_0",
    prefill: { ...PP512, tokPerS: 378.6 },
    decode: { ...TG128, tokPerS: 16.5, powerW: 3.0 },
  },
  {
    source: "llama.cpp PR 24972 (Ministral 3B Q8_0, CPU backend)",
    board: "rk3588",
    unit: "cpu_big",
    runtime: "llama.cpp-cpu",
    model: "ministral-3-3b",
    format: "q8_0",
    prefill: { ...PP512, tokPerS: 17.5 },
    decode: { ...TG128, tokPerS: 6.1, powerW: 7.2 },
  },
  {
    source: "llama.cpp PR 24972 (Ministral 3B Q8_0, RKNPU2 backend)",
    board: "rk3588",
    unit: "npu",
    runtime: "llama.cpp-rknpu2",
    model: "ministral-3-3b",
    format: "q8_0",
    prefill: { ...PP512, tokPerS: 120.9 },
    decode: { ...TG128, tokPerS: 6.9, powerW: 3.2 },
  },
  {
    source: "llama.cpp issue 17783 (Llama-3.2-1B-Instruct Q4_1, Vulkan on Mali-G610 panvk, a short chat prompt)",
    board: "rk3588",
    unit: "gpu",
    runtime: "llama.cpp-vulkan",
    model: "llama-3.2-1b",
    format: "q4_1",
    decode: { promptTokens: 32, genTokens: 129, tokPerS: 3.6 },
  },
  {
    source: "llama.cpp issue 17783 (Llama-3.2-1B-Instruct Q4_1, --device none, a short chat prompt)",
    board: "rk3588",
    unit: "cpu_big",
    runtime: "llama.cpp-cpu",
    model: "llama-3.2-1b",
    format: "q4_1",
    decode: { promptTokens: 32, genTokens: 129, tokPerS: 13.2 },
  },
  ...([["llama-3.1-8b", 19.1], ["llama-3.2-3b", 43.1]] as const).map(([model, tokPerS]): Row => ({
    source: "NVIDIA Jetson generative-AI benchmarks (Orin Nano Super 8GB, MLC q4f16_1)",
    board: "jetson-orin-nano",
    unit: "gpu",
    runtime: "mlc-llm",
    model,
    format: "q4f16_1",
    decode: { promptTokens: 128, genTokens: 129, tokPerS },
  })),
];

/** Warm but not throttling: every zone 15 K over ambient, most of the memory free. */
function stateOf(priors: BoardPriors): BoardState {
  return {
    tempsC: Object.fromEntries(priors.zones.map((z) => [z.id, priors.ambientC + 15])),
    ambientC: priors.ambientC,
    memAvailableBytes: priors.memoryTotalBytes * 0.8,
    healthyUnits: priors.units.map((u) => u.id),
    maxFreqHz: {},
  };
}

interface Figure {
  what: string;
  predicted: number;
  published: number;
}

/** Every published figure of a row next to its prediction from the profile (at the row's runtime family). */
function figuresOf(row: Row): Figure[] {
  const priors = priorsForRuntimes(getProfile(row.board).priors, runtimeFamilies(row.board), {
    [row.unit]: row.runtime,
  });
  const model = createBoardModel(priors);
  const state = stateOf(priors);
  const shape = shapeOf(row.model, row.format);
  const placement = {
    prefillUnit: row.unit,
    lanes: [{ segments: [{ unitId: row.unit, layerStart: 0, layerEnd: shape.layers }], samples: 1 }],
    freqLevel: {},
  };
  const run = (r: Run) => {
    const job: Job = { shape, promptTokens: r.promptTokens, genTokens: r.genTokens, samples: 1 };
    return predict(model, state, job, placement);
  };
  const out: Figure[] = [];
  if (row.prefill) {
    const p = run(row.prefill);
    if (row.prefill.ttftMs !== undefined) {
      out.push({ what: "TTFT ms", predicted: p.ttftMs, published: row.prefill.ttftMs });
    }
    if (row.prefill.tokPerS !== undefined) {
      out.push({
        what: "prefill tok/s",
        predicted: row.prefill.promptTokens / (p.ttftMs / 1000),
        published: row.prefill.tokPerS,
      });
    }
  }
  if (row.decode) {
    const d = run(row.decode);
    const steps = row.decode.genTokens - 1;
    const decodeS = (d.latencyMs - d.ttftMs) / 1000;
    out.push({ what: "decode tok/s", predicted: steps / decodeS, published: row.decode.tokPerS });
    if (row.decode.powerW !== undefined) {
      out.push({ what: "decode W", predicted: d.energyJ / (d.latencyMs / 1000), published: row.decode.powerW });
    }
  }
  return out;
}

Deno.test("the anchor model shapes have their published parameter counts", () => {
  // Model cards: Qwen2-0.5B 0.49B, TinyLlama 1.1B, Qwen2.5-1.5B 1.54B, Phi-3-mini 3.8B,
  // Gemma 3 1B 999,885,952 (safetensors metadata), Ministral 3 3B: 3.4B language model,
  // Llama 3.2 1B 1.24B, Llama 3.2 3B 3.21B, Llama 3.1 8B 8.03B.
  const published: Record<ModelId, [number, number]> = {
    "qwen2-0.5b": [0.494e9, 0.01],
    "tinyllama-1.1b": [1.100e9, 0.01],
    "qwen2.5-1.5b": [1.544e9, 0.01],
    "phi-3-mini-3.8b": [3.821e9, 0.01],
    "gemma-3-1b": [999_885_952, 0.001],
    "ministral-3-3b": [3.4e9, 0.02],
    "llama-3.2-1b": [1.236e9, 0.01],
    "llama-3.2-3b": [3.213e9, 0.01],
    "llama-3.1-8b": [8.030e9, 0.001],
  };
  for (const [id, [params, tolerance]] of Object.entries(published)) {
    const got = paramCount(shapeOf(id as ModelId, "q8_0"));
    assert.ok(Math.abs(got / params - 1) <= tolerance, `${id}: ${got} parameters, published ${params}`);
  }
});

Deno.test("every row names a runtime family its unit's profile knows", () => {
  for (const row of ROWS) {
    const families = runtimeFamilies(row.board)[row.unit];
    assert.ok(families, `${row.board} ${row.unit} has no runtime families (row ${row.source})`);
    const known = [families.base, ...Object.keys(families.others)];
    assert.ok(known.includes(row.runtime), `${row.source}: runtime ${row.runtime} not in ${known}`);
  }
});

Deno.test("board profile priors reproduce every DESIGN.md reality anchor within ±30%", () => {
  const lines: string[] = [];
  const misses: string[] = [];
  for (const row of ROWS) {
    for (const f of figuresOf(row)) {
      const ratio = f.predicted / f.published;
      const line = `${row.board} ${row.unit} ${row.runtime} ${row.model} ${row.format} ${f.what}: predicted ${
        f.predicted.toFixed(2)
      }, published ${f.published} (x${ratio.toFixed(2)})`;
      lines.push(line);
      if (!(ratio >= 0.7 && ratio <= 1.3)) misses.push(`${line}; ${row.source}`);
    }
  }
  console.log(lines.join("\n"));
  assert.deepEqual(misses, []);
});
