/**
 * The embedded default model: a deterministic random-weight Llama decoder
 * (GQA, RoPE, RMSNorm, SwiGLU, tied embeddings) in the same ONNX I/O layout
 * as stories260k, with a byte-level `tokenizer.json`. It is built in code
 * (tens of milliseconds), so the service runs on a fresh machine with no
 * download. Its text is gibberish by design: it exercises the plumbing.
 */
import { createRng, type Rng } from "../core/mod.ts";
import { type AttributeProto, DataType, encodeModel, type NodeProto, type TensorProto } from "./onnx_graph.ts";

/** Dimensions of the tiny model. */
export interface TinyModelOptions {
  /** Seed of the weights. @default 0 */
  seed?: number;
  /** @default 64 */
  hiddenSize?: number;
  /** @default 4 */
  layers?: number;
  /** @default 8 */
  heads?: number;
  /** @default 4 */
  kvHeads?: number;
  /** @default 176 */
  intermediateSize?: number;
  /** @default 512 */
  maxSeqLen?: number;
}

/** Version of the builder; part of the cache folder name, bump it when the graph changes. */
export const TINY_MODEL_VERSION = 1;

/** Token ids of the byte-level tokenizer: bytes 0..255 are their own ids. */
export const TINY_BOS_ID = 256;
export const TINY_EOS_ID = 257;
const VOCAB = 258;

/** The files of a tiny model folder. */
export interface TinyModelFiles {
  "config.json": string;
  "model.onnx": Uint8Array;
  "tokenizer.json": string;
  "tokenizer_config.json": string;
}

// ---------------------------------------------------------------- graph building

class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  #count = 0;

  float(name: string, dims: number[], values: Float32Array): string {
    this.initializers.push({
      name,
      dims,
      dataType: DataType.FLOAT,
      rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    });
    return name;
  }

  int64(name: string, values: number[], scalar = false): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({
      name,
      dims: scalar ? [] : [values.length],
      dataType: DataType.INT64,
      rawData: new Uint8Array(data.buffer),
    });
    return name;
  }

  op(opType: string, inputs: string[], prefix: string, attributes: AttributeProto[] = [], outputs = 1): string[] {
    const name = `${prefix}/${opType}_${this.#count++}`;
    const out = Array.from({ length: outputs }, (_, i) => `${name}/output_${i}`);
    this.nodes.push({ opType, name, input: inputs, output: out, attribute: attributes });
    return out;
  }

  /** Single-output op. */
  one(opType: string, inputs: string[], prefix: string, attributes: AttributeProto[] = []): string {
    return this.op(opType, inputs, prefix, attributes)[0];
  }
}

const attrInt = (name: string, i: number): AttributeProto => ({ name, type: 2, i });
const attrInts = (name: string, ints: number[]): AttributeProto => ({ name, type: 7, ints });

function normal(rng: Rng, count: number, std: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.normal() * std;
  return out;
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => typeof d === "number" ? { dimValue: d } : { dimParam: d }) },
      },
    },
  };
}

/** The ONNX bytes and configs of a tiny model (pure: same options, same bytes). */
export function tinyModelFiles(options: TinyModelOptions = {}): TinyModelFiles {
  const seed = options.seed ?? 0;
  const D = options.hiddenSize ?? 64;
  const L = options.layers ?? 4;
  const H = options.heads ?? 8;
  const KV = options.kvHeads ?? 4;
  const F = options.intermediateSize ?? 176;
  const maxSeq = options.maxSeqLen ?? 512;
  for (const [k, v] of Object.entries({ D, L, H, KV, F, maxSeq })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`tiny model: ${k} must be a positive integer, got ${v}`);
  }
  if (D % H !== 0 || H % KV !== 0) {
    throw new RangeError(`tiny model: hidden ${D} / heads ${H} / kv heads ${KV} do not divide`);
  }
  const hd = D / H;
  if (hd % 2 !== 0) throw new RangeError(`tiny model: head_dim ${hd} must be even for RoPE`);
  const rep = H / KV;
  const eps = 1e-5;
  const theta = 10000;
  const rng = createRng(seed);
  const g = new GraphBuilder();

  // Constants.
  const i0 = g.int64("const/int0", [0], true);
  const i1 = g.int64("const/int1", [1], true);
  const axis0 = g.int64("const/axes0", [0]);
  const axis1 = g.int64("const/axes1", [1]);
  const axes12 = g.int64("const/axes12", [1, 2]);
  const axis2 = g.int64("const/axes2", [2]);
  const axis3 = g.int64("const/axes3", [3]);
  const epsT = g.float("const/eps", [], Float32Array.of(eps));
  const scaleT = g.float("const/scale", [], Float32Array.of(1 / Math.sqrt(hd)));
  const zeroF = g.float("const/zero", [], Float32Array.of(0));
  // A large finite negative rather than -inf: fully padded query rows then get a uniform softmax, not NaN.
  const negF = g.float("const/neg", [], Float32Array.of(-1e9));
  const halfStart = g.int64("const/half_start", [0]);
  const halfMid = g.int64("const/half_mid", [hd / 2]);
  const halfEnd = g.int64("const/half_end", [hd]);
  const qShape = g.int64("const/q_shape", [0, 0, H, hd]);
  const kvShape = g.int64("const/kv_shape", [0, 0, KV, hd]);
  const mergeShape = g.int64("const/merge_shape", [0, 0, D]);
  const repShape = g.int64("const/rep_expand", [1, 1, rep, 1, 1]);
  const repMerge = g.int64("const/rep_merge", [0, H, -1, hd]);

  // RoPE tables (rotate-half layout, as transformers' Llama): cos/sin [maxSeq, hd].
  const cos = new Float32Array(maxSeq * hd);
  const sin = new Float32Array(maxSeq * hd);
  for (let p = 0; p < maxSeq; p++) {
    for (let j = 0; j < hd; j++) {
      const freq = theta ** (-(2 * (j % (hd / 2))) / hd);
      cos[p * hd + j] = Math.cos(p * freq);
      sin[p * hd + j] = Math.sin(p * freq);
    }
  }
  const cosT = g.float("model.rotary.cos", [maxSeq, hd], cos);
  const sinT = g.float("model.rotary.sin", [maxSeq, hd], sin);

  // Weights (embedding std chosen so tied logits are not too peaked).
  const emb = g.float("model.embed_tokens.weight", [VOCAB, D], normal(rng, VOCAB * D, 0.25));
  const linear = (name: string, rows: number, cols: number) =>
    g.float(name, [rows, cols], normal(rng, rows * cols, 1 / Math.sqrt(rows)));
  const ones = (name: string) => g.float(name, [D], new Float32Array(D).fill(1));

  // Mask [B, 1, S, T]: causal over the T = past + S positions, and padding from attention_mask.
  const m = "/model/attn_mask";
  const seqLen = g.one("Gather", [g.one("Shape", ["input_ids"], m), i1], m, [attrInt("axis", 0)]);
  const total = g.one("Gather", [g.one("Shape", ["attention_mask"], m), i1], m, [attrInt("axis", 0)]);
  const past = g.one("Sub", [total, seqLen], m);
  const qPos = g.one("Unsqueeze", [g.one("Range", [past, total, i1], m), axis1], m);
  const kPos = g.one("Unsqueeze", [g.one("Range", [i0, total, i1], m), axis0], m);
  const causal = g.one("LessOrEqual", [kPos, qPos], m);
  const padded = g.one("Unsqueeze", [g.one("Cast", ["attention_mask"], m, [attrInt("to", DataType.BOOL)]), axes12], m);
  const mask = g.one("Where", [g.one("And", [causal, padded], m), zeroF, negF], m);

  const r = "/model/rotary";
  const cosP = g.one("Unsqueeze", [g.one("Gather", [cosT, "position_ids"], r), axis1], r);
  const sinP = g.one("Unsqueeze", [g.one("Gather", [sinT, "position_ids"], r), axis1], r);

  const rmsNorm = (x: string, weight: string, prefix: string) => {
    const meanSq = g.one("ReduceMean", [g.one("Mul", [x, x], prefix)], prefix, [
      attrInts("axes", [-1]),
      attrInt("keepdims", 1),
    ]);
    const rms = g.one("Sqrt", [g.one("Add", [meanSq, epsT], prefix)], prefix);
    return g.one("Mul", [g.one("Div", [x, rms], prefix), weight], prefix);
  };
  const rope = (x: string, prefix: string) => {
    const x1 = g.one("Slice", [x, halfStart, halfMid, axis3], prefix);
    const x2 = g.one("Slice", [x, halfMid, halfEnd, axis3], prefix);
    const rotated = g.one("Concat", [g.one("Neg", [x2], prefix), x1], prefix, [attrInt("axis", -1)]);
    return g.one("Add", [g.one("Mul", [x, cosP], prefix), g.one("Mul", [rotated, sinP], prefix)], prefix);
  };
  const heads = (x: string, shape: string, prefix: string) =>
    g.one("Transpose", [g.one("Reshape", [x, shape], prefix)], prefix, [attrInts("perm", [0, 2, 1, 3])]);
  const repeatKv = (x: string, prefix: string) => {
    if (rep === 1) return x;
    const expanded = g.one("Expand", [g.one("Unsqueeze", [x, axis2], prefix), repShape], prefix);
    return g.one("Reshape", [expanded, repMerge], prefix);
  };

  let x = g.one("Gather", [emb, "input_ids"], "/model/embed_tokens");
  for (let l = 0; l < L; l++) {
    const p = `/model/layers.${l}`;
    const w = `model.layers.${l}`;
    const h = rmsNorm(x, ones(`${w}.input_layernorm.weight`), `${p}/input_layernorm`);
    const a = `${p}/attn`;
    const q = rope(
      heads(g.one("MatMul", [h, linear(`${w}.attn.q_proj.weight`, D, H * hd)], a), qShape, a),
      `${a}/q_rotary`,
    );
    const k = rope(
      heads(g.one("MatMul", [h, linear(`${w}.attn.k_proj.weight`, D, KV * hd)], a), kvShape, a),
      `${a}/k_rotary`,
    );
    const v = heads(g.one("MatMul", [h, linear(`${w}.attn.v_proj.weight`, D, KV * hd)], a), kvShape, a);
    g.nodes.push({
      opType: "Concat",
      name: `${a}/present_key`,
      input: [`past_key_values.${l}.key`, k],
      output: [`present.${l}.key`],
      attribute: [attrInt("axis", 2)],
    });
    g.nodes.push({
      opType: "Concat",
      name: `${a}/present_value`,
      input: [`past_key_values.${l}.value`, v],
      output: [`present.${l}.value`],
      attribute: [attrInt("axis", 2)],
    });
    const keys = g.one("Transpose", [repeatKv(`present.${l}.key`, a)], a, [attrInts("perm", [0, 1, 3, 2])]);
    const values = repeatKv(`present.${l}.value`, a);
    const scores = g.one("Add", [g.one("Mul", [g.one("MatMul", [q, keys], a), scaleT], a), mask], a);
    const probs = g.one("Softmax", [scores], a, [attrInt("axis", -1)]);
    const context = g.one("Transpose", [g.one("MatMul", [probs, values], a)], a, [attrInts("perm", [0, 2, 1, 3])]);
    const attnOut = g.one("MatMul", [
      g.one("Reshape", [context, mergeShape], a),
      linear(`${w}.attn.o_proj.weight`, H * hd, D),
    ], a);
    x = g.one("Add", [x, attnOut], p);
    const h2 = rmsNorm(x, ones(`${w}.post_attention_layernorm.weight`), `${p}/post_attention_layernorm`);
    const f = `${p}/mlp`;
    const gate = g.one("MatMul", [h2, linear(`${w}.mlp.gate_proj.weight`, D, F)], f);
    const up = g.one("MatMul", [h2, linear(`${w}.mlp.up_proj.weight`, D, F)], f);
    const act = g.one("Mul", [gate, g.one("Sigmoid", [gate], f)], f);
    x = g.one(
      "Add",
      [x, g.one("MatMul", [g.one("Mul", [act, up], f), linear(`${w}.mlp.down_proj.weight`, F, D)], f)],
      p,
    );
  }
  // A small final-norm gain keeps the tied head from echoing the current token (the residual stream still
  // carries its embedding), and an output bias towards printable ASCII makes the gibberish readable with an
  // EOS every ~150 tokens.
  const final = rmsNorm(x, g.float("model.norm.weight", [D], new Float32Array(D).fill(0.15)), "/model/norm");
  const bias = new Float32Array(VOCAB);
  for (let b = 32; b < 127; b++) bias[b] = 3;
  for (let b = 97; b <= 122; b++) bias[b] = 6;
  bias[32] = 6;
  bias[10] = 3;
  bias[TINY_EOS_ID] = 4.5;
  const biasT = g.float("lm_head.bias", [VOCAB], bias);
  const headWeight = g.one("Transpose", [emb], "/lm_head", [attrInts("perm", [1, 0])]);
  g.nodes.push({
    opType: "Add",
    name: "/lm_head/Add",
    input: [g.one("MatMul", [final, headWeight], "/lm_head"), biasT],
    output: ["logits"],
  });

  const kvDims = ["batch_size", KV, "past_sequence_length", hd];
  const presentDims = ["batch_size", KV, "total_sequence_length", hd];
  const model = encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    producerName: "qeil-tiny-model",
    producerVersion: String(TINY_MODEL_VERSION),
    graph: {
      name: "qeil_tiny_llama",
      node: g.nodes,
      initializer: g.initializers,
      input: [
        valueInfo("input_ids", DataType.INT64, ["batch_size", "sequence_length"]),
        valueInfo("attention_mask", DataType.INT64, ["batch_size", "total_sequence_length"]),
        valueInfo("position_ids", DataType.INT64, ["batch_size", "sequence_length"]),
        ...Array.from({ length: L }, (_, l) => [
          valueInfo(`past_key_values.${l}.key`, DataType.FLOAT, kvDims),
          valueInfo(`past_key_values.${l}.value`, DataType.FLOAT, kvDims),
        ]).flat(),
      ],
      output: [
        valueInfo("logits", DataType.FLOAT, ["batch_size", "sequence_length", VOCAB]),
        ...Array.from({ length: L }, (_, l) => [
          valueInfo(`present.${l}.key`, DataType.FLOAT, presentDims),
          valueInfo(`present.${l}.value`, DataType.FLOAT, presentDims),
        ]).flat(),
      ],
    },
  });

  const config = {
    model_type: "llama",
    architectures: ["LlamaForCausalLM"],
    hidden_size: D,
    intermediate_size: F,
    num_hidden_layers: L,
    num_attention_heads: H,
    num_key_value_heads: KV,
    head_dim: hd,
    vocab_size: VOCAB,
    max_position_embeddings: maxSeq,
    rms_norm_eps: eps,
    rope_theta: theta,
    tie_word_embeddings: true,
    bos_token_id: TINY_BOS_ID,
    eos_token_id: TINY_EOS_ID,
    pad_token_id: TINY_EOS_ID,
    torch_dtype: "float32",
    qeil_tiny_model: {
      version: TINY_MODEL_VERSION,
      seed,
      note: "random weights: plumbing only, the text is gibberish",
    },
  };
  return {
    "config.json": JSON.stringify(config, null, 2) + "\n",
    "model.onnx": model,
    "tokenizer.json": JSON.stringify(byteLevelTokenizer()),
    "tokenizer_config.json": JSON.stringify(
      {
        tokenizer_class: "PreTrainedTokenizerFast",
        bos_token: "<|bos|>",
        eos_token: "<|eos|>",
        pad_token: "<|eos|>",
        add_bos_token: true,
        model_max_length: maxSeq,
      },
      null,
      2,
    ) + "\n",
  };
}

/** GPT-2's byte -> printable character map, which ByteLevel tokenizers use for their vocabulary. */
function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const map: string[] = new Array(256);
  for (const b of printable) map[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCodePoint(256 + n++);
  return map;
}

/** A byte-level BPE tokenizer.json with no merges: one token per UTF-8 byte, plus BOS/EOS. */
function byteLevelTokenizer(): unknown {
  const chars = bytesToUnicode();
  const vocab: Record<string, number> = {};
  chars.forEach((c, b) => vocab[c] = b);
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(TINY_BOS_ID, "<|bos|>"), special(TINY_EOS_ID, "<|eos|>")],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

/**
 * Writes a tiny model folder (config.json, model.onnx, tokenizer.json,
 * tokenizer_config.json) into `dir`, creating it.
 */
export async function buildTinyModel(dir: string, options: TinyModelOptions = {}): Promise<void> {
  const files = tinyModelFiles(options);
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === "string") await Deno.writeTextFile(`${dir}/${name}`, content);
    else await Deno.writeFile(`${dir}/${name}`, content);
  }
}

/**
 * Where the tiny model is cached by default: `$QEIL_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/qeil`, else `$HOME/.cache/qeil`, else the system temp folder.
 * @param env the process environment (the caller reads it; this module does not)
 */
export function defaultCacheDir(env: Readonly<Record<string, string>>): string {
  if (env.QEIL_CACHE_DIR) return env.QEIL_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return `${env.XDG_CACHE_HOME}/qeil`;
  if (env.HOME) return `${env.HOME}/.cache/qeil`;
  return `${env.TMPDIR ?? "/tmp"}/qeil-cache`;
}

/** Cache folder name of the tiny model with `options`. */
export function tinyModelName(options: TinyModelOptions = {}): string {
  const o = options;
  const dims = [
    o.hiddenSize ?? 64,
    o.layers ?? 4,
    o.heads ?? 8,
    o.kvHeads ?? 4,
    o.intermediateSize ?? 176,
    o.maxSeqLen ?? 512,
  ];
  return `qeil-tiny-llama-v${TINY_MODEL_VERSION}-s${o.seed ?? 0}-${dims.join("x")}`;
}

/**
 * The folder of the tiny model under `cacheDir`, built there on first use.
 * Built in a temporary folder and renamed, so a half-written model is never seen.
 */
export async function ensureTinyModel(cacheDir: string, options: TinyModelOptions = {}): Promise<string> {
  const dir = `${cacheDir}/${tinyModelName(options)}`;
  const ready = await Deno.stat(`${dir}/model.onnx`).then((s) => s.isFile, () => false);
  if (ready) return dir;
  await Deno.mkdir(cacheDir, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: cacheDir, prefix: ".building-" });
  try {
    await buildTinyModel(tmp, options);
    await Deno.rename(tmp, dir);
  } catch (error) {
    // Another process may have finished the same build first: then its folder is as good as ours.
    await Deno.remove(tmp, { recursive: true }).catch(() => undefined);
    const built = await Deno.stat(`${dir}/model.onnx`).then((s) => s.isFile, () => false);
    if (!built) throw error;
  }
  return dir;
}
