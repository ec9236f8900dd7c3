/**
 * Loading a decoder folder (Hugging Face Optimum or onnxruntime-genai layout)
 * into sessions on a backend, and running one forward step through all of its
 * segments with the KV cache, charging each ORT run to a StepCharger.
 */
import { type DecoderShape, ModelError, parseDecoderShape } from "../core/mod.ts";
import { type Backend, OrtCpuBackend } from "./backends.ts";
import { analyseGraph, checkShape, type DecoderIo, kvSpecFor } from "./decoder_graph.ts";
import { KvCache } from "./kv_cache.ts";
import { decodeModel, encodeModel, externalDataFiles, type GraphProto, type ModelProto } from "./onnx_graph.ts";
import { createTensor, type OrtSession, type Tensor } from "./ort.ts";
import { addSamplingHead, HEAD } from "./head.ts";
import { type SegmentGraph, splitDecoder } from "./segments.ts";
import { loadTokenizer, type Tokenizer } from "./tokenizer.ts";

// ---------------------------------------------------------------- public types

/** One ORT run about to happen, as the service charges it to a (simulated) unit. */
export interface StepEvent {
  phase: "prefill" | "decode";
  /** Sample indices computed in this run (a shared prefill lists every sample it serves). */
  samples: readonly number[];
  /** Rows actually in the batch of this run (1 for a prefill shared by all samples). */
  batch: number;
  /** New tokens per row in this run. */
  newTokens: number;
  /** Cached positions before this run. */
  pastLength: number;
  /** Layers this run computes, [layerStart, layerEnd). */
  layerStart: number;
  layerEnd: number;
  /** Index of the segment in the model's pipeline. */
  segment: number;
}

/**
 * Charges the compute cost of each ORT run (the service maps samples to
 * units and charges a simulator). Called before the run; awaited. If it
 * throws, the step rejects with that error and the run does not happen.
 */
export interface StepCharger {
  charge(event: StepEvent, signal?: AbortSignal): Promise<void>;
}

/** A contiguous layer range of the model running as its own session. */
export interface SegmentSpec {
  /** First layer, inclusive. */
  layerStart: number;
  /** Last layer, exclusive. */
  layerEnd: number;
  /** Where this segment runs. @default the model's backend */
  backend?: Backend;
}

/** A loaded segment. */
export interface SegmentInfo {
  index: number;
  layerStart: number;
  layerEnd: number;
  backend: string;
  /** Session input names (context inputs, carried activations, past KV). */
  inputs: readonly string[];
  /** Session output names (carried activations or logits, present KV). */
  outputs: readonly string[];
}

/** Options of `loadModel`. */
export interface LoadModelOptions {
  /** Backend of every segment without its own. @default a new OrtCpuBackend with ORT's default threads */
  backend?: Backend;
  /**
   * Layer segments: a count (layers split as evenly as possible) or explicit
   * contiguous ranges covering [0, layers). @default 1 (the whole graph)
   */
  segments?: number | readonly SegmentSpec[];
  /** A tokenizer already loaded from this folder (skips reading it again). @default read from the folder */
  tokenizer?: Tokenizer;
}

/** One forward step of a batch. */
export interface StepInput {
  batch: number;
  /** New tokens per row. */
  seqLen: number;
  /** `batch * seqLen` token ids, row-major. */
  inputIds: Int32Array;
  /** `batch * (kv.pastLength + seqLen)` flags, 1 for a real position, 0 for padding. */
  attentionMask: Int32Array;
  /** `batch * seqLen` positions of the new tokens. */
  positionIds: Int32Array;
  kv: KvCache;
}

/** What a step computes from the logits (besides the KV cache). */
export type StepHead =
  /** Logits of every position and their log-sum-exp (scoring). */
  | { kind: "logits" }
  /**
   * The last position only: its logits and log-sum-exp, and with
   * `inverseTemperature` its softmax at that inverse temperature (sampling).
   */
  | { kind: "last"; inverseTemperature?: number };

/** Who is computed in a step, for the charger, and what to compute. */
export interface StepContext {
  phase: "prefill" | "decode";
  samples: readonly number[];
  charger?: StepCharger;
  signal?: AbortSignal;
  /** @default { kind: "logits" } */
  head?: StepHead;
}

/** Logits of a step, `[batch, seqLen, vocab]` row-major. */
export interface Logits {
  batch: number;
  seqLen: number;
  vocab: number;
  data: Float32Array | Float16Array;
  /** log(sum(exp(logits))) of each position, `[batch, seqLen]`. */
  logSumExp: Float32Array;
}

/** The last position of each row: what sampling needs. */
export interface LastPosition {
  /** `[batch, vocab]` logits. */
  logits: Float32Array;
  /** `[batch]` log-sum-exp of those logits. */
  logSumExp: Float32Array;
  /** `[batch, vocab]` softmax at the requested inverse temperature, when one was requested. */
  probs?: Float32Array;
}

/** Result of a step: what the head asked for, and the cache extended by the new tokens. */
export interface StepOutput {
  /** With head "logits". */
  logits?: Logits;
  /** With head "last". */
  last?: LastPosition;
  kv: KvCache;
}

/** Cumulative ORT time of a model, for benchmarks. */
export interface RunStats {
  /** ORT runs so far. */
  runs: number;
  /** Wall time spent awaiting ORT `run()`, ms. */
  runMs: number;
}

/** A loaded decoder. Dispose it (`await using`) to release its sessions. */
export type { DecoderIo };

export interface DecoderModel extends AsyncDisposable {
  readonly dir: string;
  /** The ONNX file the sessions come from. */
  readonly modelFile: string;
  readonly shape: DecoderShape;
  readonly tokenizer: Tokenizer;
  readonly io: DecoderIo;
  readonly segments: readonly SegmentInfo[];
  /** Ids that end a sample (EOS, plus BOS for llama2.c models, whose stories are BOS-delimited). */
  readonly stopTokenIds: readonly number[];
  /** Id fed at padded positions (masked out). */
  readonly padTokenId: number;
  /** Inconsistencies that did not prevent loading (e.g. a tokenizer larger than the model's vocabulary). */
  readonly warnings: readonly string[];
  readonly stats: RunStats;
  /** An empty cache for `batch` rows. */
  emptyCache(batch: number): KvCache;
  /**
   * Runs the new tokens of a batch through every segment in order, charging
   * each ORT run first.
   * @throws the charger's error, the signal's reason, or BackendError when ORT fails
   */
  step(input: StepInput, context: StepContext): Promise<StepOutput>;
  /** The same model split into other segments (new sessions; dispose it separately). */
  withSegments(segments: number | readonly SegmentSpec[], backend?: Backend): Promise<DecoderModel>;
  dispose(): Promise<void>;
}

// ---------------------------------------------------------------- files

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

async function readJson(path: string): Promise<Json | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new ModelError(`read ${path}: ${(error as Error).message}`, { cause: error, details: { path } });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ModelError(`load ${path}: invalid JSON (${(error as Error).message})`, {
      cause: error,
      details: { path },
    });
  }
  if (!isObject(value)) throw new ModelError(`load ${path}: must hold a JSON object`, { details: { path } });
  return value;
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? info.size : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function idList(value: unknown): number[] {
  if (typeof value === "number" && Number.isInteger(value)) return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === "number" && Number.isInteger(v));
  return [];
}

/** Even split of `layers` into `count` contiguous ranges (earlier segments take the remainder). */
export function evenSegments(layers: number, count: number): SegmentSpec[] {
  if (!Number.isInteger(count) || count < 1 || count > layers) {
    throw new RangeError(`segments must be an integer in [1, ${layers}], got ${count}`);
  }
  const out: SegmentSpec[] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const size = Math.floor(layers / count) + (i < layers % count ? 1 : 0);
    out.push({ layerStart: start, layerEnd: start + size });
    start += size;
  }
  return out;
}

function normaliseSegments(spec: number | readonly SegmentSpec[] | undefined, layers: number): SegmentSpec[] {
  if (spec === undefined) return [{ layerStart: 0, layerEnd: layers }];
  if (typeof spec === "number") return evenSegments(layers, spec);
  if (spec.length === 0) throw new RangeError("segments: needs at least one range");
  let expect = 0;
  for (const s of spec) {
    if (
      !Number.isInteger(s.layerStart) || !Number.isInteger(s.layerEnd) || s.layerStart !== expect ||
      s.layerEnd <= s.layerStart
    ) {
      throw new RangeError(
        `segments must be contiguous non-empty ranges from 0; got [${s.layerStart}, ${s.layerEnd}) after layer ${expect}`,
      );
    }
    expect = s.layerEnd;
  }
  if (expect !== layers) throw new RangeError(`segments cover layers [0, ${expect}) but the model has ${layers}`);
  return [...spec];
}

// ---------------------------------------------------------------- running

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** int64 copy of int32 values; writes the two 32-bit halves directly instead of creating a BigInt per element. */
function toInt64(src: Int32Array): BigInt64Array {
  const out = new BigInt64Array(src.length);
  if (LITTLE_ENDIAN) {
    const words = new Int32Array(out.buffer);
    for (let i = 0; i < src.length; i++) {
      words[2 * i] = src[i];
      words[2 * i + 1] = src[i] < 0 ? -1 : 0;
    }
  } else {
    for (let i = 0; i < src.length; i++) out[i] = BigInt(src[i]);
  }
  return out;
}

function intTensor(type: "int64" | "int32", values: Int32Array, dims: readonly number[]): Tensor {
  return type === "int64" ? createTensor("int64", toInt64(values), dims) : createTensor("int32", values, dims);
}

/** Float32 values of IEEE half bits (used only where no Float16Array exists). */
function halfBitsToFloat(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    out[i] = exp === 0
      ? sign * frac * 2 ** -24
      : exp === 31
      ? (frac ? Number.NaN : sign * Infinity)
      : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

interface LoadedSegment {
  info: SegmentInfo;
  session: OrtSession;
  /** Graph inputs fed from the step (ids, mask, positions). */
  contextInputs: string[];
  /** Activations received from the previous segment. */
  carriedIn: string[];
  /** Activations handed to the next segment (empty for the last, which yields logits). */
  carriedOut: string[];
  /** Past input names this segment feeds, and present output -> past input. */
  pastInputs: string[];
  presentToPast: [string, string][];
}

class OrtDecoderModel implements DecoderModel {
  readonly dir: string;
  readonly modelFile: string;
  readonly shape: DecoderShape;
  readonly tokenizer: Tokenizer;
  readonly io: DecoderIo;
  readonly segments: readonly SegmentInfo[];
  readonly stopTokenIds: readonly number[];
  readonly padTokenId: number;
  readonly warnings: readonly string[];
  readonly stats: RunStats = { runs: 0, runMs: 0 };
  readonly #loaded: LoadedSegment[];
  readonly #backend: Backend;
  #disposed = false;

  constructor(init: {
    dir: string;
    modelFile: string;
    shape: DecoderShape;
    tokenizer: Tokenizer;
    io: DecoderIo;
    loaded: LoadedSegment[];
    stopTokenIds: number[];
    padTokenId: number;
    warnings: string[];
    backend: Backend;
  }) {
    this.dir = init.dir;
    this.modelFile = init.modelFile;
    this.shape = init.shape;
    this.tokenizer = init.tokenizer;
    this.io = init.io;
    this.#loaded = init.loaded;
    this.segments = init.loaded.map((s) => s.info);
    this.stopTokenIds = init.stopTokenIds;
    this.padTokenId = init.padTokenId;
    this.warnings = init.warnings;
    this.#backend = init.backend;
  }

  emptyCache(batch: number): KvCache {
    return KvCache.empty(this.io.kv, batch);
  }

  async step(input: StepInput, context: StepContext): Promise<StepOutput> {
    if (this.#disposed) throw new RangeError("step: the model was disposed");
    const { batch, seqLen, kv } = input;
    const total = kv.pastLength + seqLen;
    if (kv.batch !== batch) throw new RangeError(`step: batch ${batch} but the KV cache has ${kv.batch} rows`);
    if (input.inputIds.length !== batch * seqLen || input.positionIds.length !== batch * seqLen) {
      throw new RangeError(`step: input_ids/position_ids must have batch*seqLen = ${batch * seqLen} values`);
    }
    if (input.attentionMask.length !== batch * total) {
      throw new RangeError(`step: attention_mask must have batch*(past+seqLen) = ${batch * total} values`);
    }
    const { io } = this;
    const common = new Map<string, Tensor>();
    common.set(io.inputIds.name, intTensor(io.inputIds.type, input.inputIds, [batch, seqLen]));
    if (io.attentionMask) {
      common.set(io.attentionMask.name, intTensor(io.attentionMask.type, input.attentionMask, [batch, total]));
    }
    if (io.positionIds) {
      common.set(io.positionIds.name, intTensor(io.positionIds.type, input.positionIds, [batch, seqLen]));
    }
    const head = context.head ?? { kind: "logits" };
    const sampling = head.kind === "last" && head.inverseTemperature !== undefined;
    const headFetches = head.kind === "logits"
      ? [io.logits.name, HEAD.logSumExp]
      : [HEAD.lastLogits, HEAD.lastLogSumExp, ...(sampling ? [HEAD.lastProbs] : [])];
    const next = new Map<string, Tensor>();
    let carried: Record<string, Tensor> = {};
    let out: Record<string, Tensor> = {};
    const last = this.#loaded.length - 1;
    for (const [i, seg] of this.#loaded.entries()) {
      context.signal?.throwIfAborted();
      if (context.charger) {
        await context.charger.charge({
          phase: context.phase,
          samples: context.samples,
          batch,
          newTokens: seqLen,
          pastLength: kv.pastLength,
          layerStart: seg.info.layerStart,
          layerEnd: seg.info.layerEnd,
          segment: seg.info.index,
        }, context.signal);
        context.signal?.throwIfAborted();
      }
      const feeds: Record<string, Tensor> = {};
      for (const name of seg.contextInputs) feeds[name] = common.get(name)!;
      for (const name of seg.carriedIn) feeds[name] = carried[name];
      for (const name of seg.pastInputs) feeds[name] = kv.tensor(name);
      if (i === last) {
        const inverseTemperature = head.kind === "last" ? head.inverseTemperature ?? 1 : 1;
        feeds[HEAD.inverseTemperature] = createTensor("float32", Float32Array.of(inverseTemperature), [1]);
      }
      const fetches = [
        ...seg.presentToPast.map(([present]) => present),
        ...(i === last ? headFetches : seg.carriedOut),
      ];
      const t0 = performance.now();
      out = await seg.session.run(feeds, fetches);
      this.stats.runMs += performance.now() - t0;
      this.stats.runs++;
      for (const [present, past] of seg.presentToPast) next.set(past, out[present]);
      carried = {};
      for (const name of seg.carriedOut) carried[name] = out[name];
    }
    const vocab = this.shape.vocabSize;
    const cache = KvCache.fromTensors(io.kv, batch, total, next);
    const expect = (name: string, values: number) => {
      const t = out[name];
      const n = (t.data as ArrayLike<number>).length;
      if (n !== values) {
        throw new ModelError(`run ${this.modelFile}: output ${name} has ${n} values, expected ${values}`, {
          details: { path: this.modelFile },
        });
      }
      return t;
    };
    if (head.kind === "last") {
      return {
        last: {
          logits: expect(HEAD.lastLogits, batch * vocab).data as Float32Array,
          logSumExp: expect(HEAD.lastLogSumExp, batch).data as Float32Array,
          ...(sampling ? { probs: expect(HEAD.lastProbs, batch * vocab).data as Float32Array } : {}),
        },
        kv: cache,
      };
    }
    const logits = expect(io.logits.name, batch * seqLen * vocab);
    const data = logits.type === "float16"
      ? (logits.data instanceof Uint16Array ? halfBitsToFloat(logits.data) : logits.data as unknown as Float16Array)
      : logits.data as Float32Array;
    return {
      logits: { batch, seqLen, vocab, data, logSumExp: expect(HEAD.logSumExp, batch * seqLen).data as Float32Array },
      kv: cache,
    };
  }

  withSegments(segments: number | readonly SegmentSpec[], backend?: Backend): Promise<DecoderModel> {
    return loadModel(this.dir, { backend: backend ?? this.#backend, segments, tokenizer: this.tokenizer });
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const results = await Promise.allSettled(this.#loaded.map((s) => s.session.release()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

// ---------------------------------------------------------------- loading

/** The whole graph as the single segment [0, layers). */
function wholeAsSegment(model: ModelProto, io: DecoderIo, layers: number): SegmentGraph {
  const graph = model.graph as GraphProto;
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const pastNames = new Set(io.kv.layers.flatMap((l) => l.past));
  const inputs = (graph.input ?? []).map((i) => i.name ?? "").filter((n) => !initializers.has(n));
  return {
    layerStart: 0,
    layerEnd: layers,
    model,
    contextInputs: inputs.filter((n) => !pastNames.has(n)),
    carriedIn: [],
    carriedOut: [],
    pastInputs: inputs.filter((n) => pastNames.has(n)),
    presentToPast: io.kv.layers.flatMap((l) => l.present.map((p, i) => [p, l.past[i]] as [string, string])),
  };
}

/**
 * Loads a decoder folder: `config.json` and/or `genai_config.json`, the ONNX
 * graph (`model.onnx` or genai's `decoder.filename`, with external data),
 * and `tokenizer.json` or llama2.c `tok512.bin`.
 * @throws ModelError naming the file and the problem (missing file, corrupt graph, config/graph mismatch)
 */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<DecoderModel> {
  const dirInfo = await Deno.stat(dir).catch(() => undefined);
  if (!dirInfo?.isDirectory) throw new ModelError(`load model: ${dir} is not a folder`, { details: { path: dir } });
  const configPath = `${dir}/config.json`;
  const genaiPath = `${dir}/genai_config.json`;
  const config = await readJson(configPath);
  const genaiConfig = await readJson(genaiPath);
  if (!config && !genaiConfig) {
    throw new ModelError(`load model: ${dir} has neither config.json nor genai_config.json`, {
      details: { path: dir },
    });
  }
  const genaiModel = genaiConfig && isObject(genaiConfig.model) ? genaiConfig.model as Json : undefined;
  const genaiDecoder = genaiModel && isObject(genaiModel.decoder) ? genaiModel.decoder as Json : undefined;
  if (genaiConfig && !genaiDecoder) {
    throw new ModelError(`load ${genaiPath}: has no "model.decoder" object`, {
      details: { path: genaiPath, field: "model.decoder" },
    });
  }
  const fileName = typeof genaiDecoder?.filename === "string" ? genaiDecoder.filename : "model.onnx";
  const modelFile = `${dir}/${fileName}`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(modelFile);
  } catch (error) {
    throw new ModelError(
      error instanceof Deno.errors.NotFound
        ? `load model: ${modelFile} is missing`
        : `read ${modelFile}: ${(error as Error).message}`,
      { cause: error, details: { path: modelFile } },
    );
  }
  const model = decodeModel(bytes, modelFile);
  for (const [location, need] of externalDataFiles(model.graph as GraphProto)) {
    const path = `${dir}/${location}`;
    const size = await fileSize(path);
    if (size === undefined) {
      throw new ModelError(`load ${modelFile}: its external data file ${path} (${need.tensors} tensors) is missing`, {
        details: { path },
      });
    }
    if (size < need.requiredBytes) {
      throw new ModelError(
        `load ${modelFile}: external data ${path} has ${size} bytes, the graph needs ${need.requiredBytes}`,
        {
          details: { path },
        },
      );
    }
  }
  const facts = analyseGraph(model, modelFile, genaiDecoder);
  const shapeSource = config ? configPath : genaiPath;
  const shape = parseDecoderShape(config ?? genaiConfig, shapeSource, facts.known);
  checkShape(shape, facts, shapeSource, modelFile);
  const kv = kvSpecFor(facts, shape, modelFile);
  const io: DecoderIo = {
    inputIds: facts.io.inputIds,
    ...(facts.io.attentionMask ? { attentionMask: facts.io.attentionMask } : {}),
    ...(facts.io.positionIds ? { positionIds: facts.io.positionIds } : {}),
    logits: facts.io.logits,
    kv,
  };

  const ids = config ?? genaiModel ?? {};
  const bosIds = idList(ids.bos_token_id ?? genaiModel?.bos_token_id);
  const eosIds = idList(ids.eos_token_id ?? genaiModel?.eos_token_id);
  const padIds = idList(ids.pad_token_id ?? genaiModel?.pad_token_id);
  const tokenizer = options.tokenizer ?? await loadTokenizer(dir, {
    ...(bosIds.length > 0 ? { bosId: bosIds[0] } : {}),
    ...(eosIds.length > 0 ? { eosId: eosIds[0] } : {}),
    vocabSize: shape.vocabSize,
  });
  const warnings: string[] = [];
  if (tokenizer.vocabSize > shape.vocabSize) {
    warnings.push(
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model only ${shape.vocabSize}: text with ids >= ${shape.vocabSize} is rejected`,
    );
  }
  const stop = new Set(eosIds);
  if (tokenizer.eosId !== undefined) stop.add(tokenizer.eosId);
  const llama2c = tokenizer.kind === "llama2c" ||
    (typeof config?.source_format === "string" && config.source_format.startsWith("llama2.c"));
  // llama2.c's run.c stops on BOS: its TinyStories models separate stories with BOS, not EOS.
  if (llama2c && tokenizer.bosId !== undefined) stop.add(tokenizer.bosId);
  for (const id of stop) if (id < 0 || id >= shape.vocabSize) stop.delete(id);
  const padTokenId = padIds[0] ?? eosIds[0] ?? 0;

  const backend = options.backend ?? new OrtCpuBackend();
  const ranges = normaliseSegments(options.segments, shape.layers);
  const loaded: LoadedSegment[] = [];
  try {
    const parts = ranges.length === 1 ? [wholeAsSegment(model, io, shape.layers)] : splitDecoder(model, io, ranges, {
      label: modelFile,
    });
    for (const [i, part] of parts.entries()) {
      const segBackend = ranges[i].backend ?? backend;
      const label = ranges.length === 1 ? modelFile : `${modelFile} [layers ${part.layerStart}-${part.layerEnd})`;
      if (i === parts.length - 1) addSamplingHead(part.model, io.logits, modelFile);
      // External data stays on disk: ORT reads it relative to the model's folder.
      const session = await segBackend.createSession(encodeModel(part.model), label, dir);
      loaded.push({
        info: {
          index: i,
          layerStart: part.layerStart,
          layerEnd: part.layerEnd,
          backend: segBackend.name,
          inputs: session.inputs.map((x) => x.name),
          outputs: session.outputs.map((x) => x.name),
        },
        session,
        contextInputs: part.contextInputs,
        carriedIn: part.carriedIn,
        carriedOut: part.carriedOut,
        pastInputs: part.pastInputs,
        presentToPast: part.presentToPast,
      });
    }
  } catch (error) {
    await Promise.allSettled(loaded.map((s) => s.session.release()));
    throw error;
  }
  return new OrtDecoderModel({
    dir,
    modelFile,
    shape,
    tokenizer,
    io,
    loaded,
    stopTokenIds: [...stop].sort((a, b) => a - b),
    padTokenId,
    warnings,
    backend,
  });
}
