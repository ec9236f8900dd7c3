/**
 * What a decoder graph says about itself: its input/output names and types,
 * the KV-cache layout (Optimum/genai `past_key_values.N.key|value` or GPT-2
 * `past_N`), and the shape facts a config may leave out (layers, KV heads,
 * head size, vocabulary, hidden and MLP sizes, precisions, tied embeddings).
 */
import { type DecoderShape, ModelError } from "../core/mod.ts";
import type { KvSpec } from "./kv_cache.ts";
import {
  dataTypeName,
  externalRef,
  type GraphProto,
  intAttribute,
  type ModelProto,
  toNumber,
  type ValueInfoProto,
} from "./onnx_graph.ts";

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Names and element types of a decoder graph's inputs and outputs. */
export interface DecoderIo {
  inputIds: { name: string; type: "int64" | "int32" };
  attentionMask?: { name: string; type: "int64" | "int32" };
  positionIds?: { name: string; type: "int64" | "int32" };
  logits: { name: string; type: "float32" | "float16" };
  kv: KvSpec;
}

/** Element type and (possibly symbolic) dims of a graph input or output. */
export interface TensorInfo {
  type: string;
  dims: (number | string)[];
}

function valueInfo(vi: ValueInfoProto): TensorInfo {
  const tt = vi.type?.tensorType;
  const dims = (tt?.shape?.dim ?? []).map((d) =>
    d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : "?"
  );
  return { type: dataTypeName(toNumber(tt?.elemType as number | undefined)), dims };
}

/** Regex of an onnxruntime-genai name pattern (`past_key_values.%d.key`). */
function patternRegex(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace("%d", "(\\d+)")}$`);
}

interface KvName {
  layer: number;
  role: "key" | "value" | "kv";
}

function kvMatchers(genai: Json | undefined, side: "inputs" | "outputs"): [RegExp, KvName["role"] | "match"][] {
  const names = isObject(genai) && isObject(genai[side]) ? genai[side] as Json : {};
  const out: [RegExp, KvName["role"] | "match"][] = [];
  const prefix = side === "inputs" ? "past" : "present";
  for (
    const [key, role] of [[`${prefix}_key_names`, "key"], [`${prefix}_value_names`, "value"], [
      `${prefix}_names`,
      "kv",
    ]] as const
  ) {
    if (typeof names[key] === "string") out.push([patternRegex(names[key] as string), role]);
  }
  if (side === "inputs") {
    out.push([/^past_key_values\.(\d+)\.(key|value)$/, "match"], [/^past_(\d+)$/, "kv"]);
  } else {
    out.push(
      [/^present\.(\d+)\.(key|value)$/, "match"],
      [/^present_key_values\.(\d+)\.(key|value)$/, "match"],
      [/^present_(\d+)$/, "kv"],
    );
  }
  return out;
}

function parseKvName(name: string, matchers: [RegExp, KvName["role"] | "match"][]): KvName | undefined {
  for (const [re, role] of matchers) {
    const m = re.exec(name);
    if (m) return { layer: Number(m[1]), role: role === "match" ? m[2] as "key" | "value" : role };
  }
  return undefined;
}

/** What the graph says about itself. */
export interface GraphFacts {
  io: Omit<DecoderIo, "kv"> & { kvLayers: { past: string[]; present: string[] }[]; kvInfo: TensorInfo };
  known: Partial<DecoderShape>;
  embeddingDims?: [number, number];
}

/**
 * Reads a decoder graph's I/O and shape facts.
 * @param genaiDecoder the `model.decoder` object of genai_config.json, whose name patterns win
 * @throws ModelError naming `label` for inputs it cannot feed, missing or inconsistent KV layers
 */
export function analyseGraph(model: ModelProto, label: string, genai: Json | undefined): GraphFacts {
  const graph = model.graph as GraphProto;
  const fail = (what: string) => new ModelError(`load ${label}: ${what}`, { details: { path: label } });
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? "", t]));
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name ?? ""));
  const outputs = graph.output ?? [];
  const named = (defaultName: string, key: string, side: "inputs" | "outputs") => {
    const names = isObject(genai) && isObject(genai[side]) ? genai[side] as Json : {};
    return typeof names[key] === "string" ? names[key] as string : defaultName;
  };
  const idsName = named("input_ids", "input_ids", "inputs");
  const maskName = named("attention_mask", "attention_mask", "inputs");
  const posName = named("position_ids", "position_ids", "inputs");
  const logitsName = named("logits", "logits", "outputs");

  const pastMatchers = kvMatchers(genai, "inputs");
  const presentMatchers = kvMatchers(genai, "outputs");
  const pastByLayer = new Map<number, Map<string, string>>();
  const infos = new Map<string, TensorInfo>();
  let ids: DecoderIo["inputIds"] | undefined;
  let mask: DecoderIo["attentionMask"];
  let pos: DecoderIo["positionIds"];
  const intType = (name: string, info: TensorInfo): "int64" | "int32" => {
    if (info.type !== "int64" && info.type !== "int32") throw fail(`input "${name}" is ${info.type}, not int64/int32`);
    return info.type;
  };
  for (const input of inputs) {
    const name = input.name ?? "";
    const info = valueInfo(input);
    infos.set(name, info);
    if (name === idsName) ids = { name, type: intType(name, info) };
    else if (name === maskName) mask = { name, type: intType(name, info) };
    else if (name === posName) pos = { name, type: intType(name, info) };
    else {
      const kv = parseKvName(name, pastMatchers);
      if (!kv) {
        throw fail(
          `has input "${name}" that a decoder runtime cannot feed (expected input_ids, attention_mask, position_ids and past KV)`,
        );
      }
      const layer = pastByLayer.get(kv.layer) ?? new Map<string, string>();
      layer.set(kv.role, name);
      pastByLayer.set(kv.layer, layer);
    }
  }
  if (!ids) throw fail(`has no "${idsName}" input`);
  const presentByLayer = new Map<number, Map<string, string>>();
  let logits: DecoderIo["logits"] | undefined;
  for (const output of outputs) {
    const name = output.name ?? "";
    const info = valueInfo(output);
    infos.set(name, info);
    if (name === logitsName) {
      if (info.type !== "float32" && info.type !== "float16") {
        throw fail(`output "${name}" is ${info.type}, not float32/float16`);
      }
      logits = { name, type: info.type };
      continue;
    }
    const kv = parseKvName(name, presentMatchers);
    if (!kv) continue;
    const layer = presentByLayer.get(kv.layer) ?? new Map<string, string>();
    layer.set(kv.role, name);
    presentByLayer.set(kv.layer, layer);
  }
  if (!logits) throw fail(`has no "${logitsName}" output`);
  const layers = pastByLayer.size;
  if (layers === 0) {
    throw fail("has no past KV inputs (past_key_values.N.key/value or past_N): it is not a KV-cache decoder");
  }
  const kvLayers: { past: string[]; present: string[] }[] = [];
  let roles: string[] | undefined;
  for (let l = 0; l < layers; l++) {
    const past = pastByLayer.get(l);
    if (!past) throw fail(`has past KV inputs for ${layers} layers but none for layer ${l}`);
    const present = presentByLayer.get(l);
    if (!present) throw fail(`has past KV inputs for layer ${l} but no present KV outputs for it`);
    const layerRoles = [...past.keys()].sort();
    roles ??= layerRoles;
    if (layerRoles.join() !== roles.join()) {
      throw fail(`layer ${l} has past inputs ${layerRoles} but layer 0 has ${roles}`);
    }
    if (!(layerRoles.join() === "key,value" || layerRoles.join() === "kv")) {
      throw fail(`layer ${l} has past inputs for ${layerRoles.join("+")}; expected key and value, or one stacked past`);
    }
    for (const role of layerRoles) {
      if (!present.has(role)) throw fail(`layer ${l} has a past ${role} input but no present ${role} output`);
    }
    kvLayers.push({ past: layerRoles.map((r) => past.get(r)!), present: layerRoles.map((r) => present.get(r)!) });
  }
  if (presentByLayer.size !== layers) {
    throw fail(`has present KV outputs for ${presentByLayer.size} layers but past inputs for ${layers}`);
  }
  const kvInfo = infos.get(kvLayers[0].past[0])!;
  for (const layer of kvLayers) {
    for (const name of layer.past) {
      const info = infos.get(name)!;
      if (info.type !== kvInfo.type || info.dims.join() !== kvInfo.dims.join()) {
        throw fail(
          `past input ${name} is ${info.type}[${info.dims}] but ${
            kvLayers[0].past[0]
          } is ${kvInfo.type}[${kvInfo.dims}]`,
        );
      }
    }
  }
  if (kvInfo.type !== "float32" && kvInfo.type !== "float16") {
    throw fail(`KV cache is ${kvInfo.type}, not float32/float16`);
  }

  // Shape facts where the config may be silent.
  const known: Partial<DecoderShape> = { layers, kvPrecision: kvInfo.type === "float16" ? "fp16" : "fp32" };
  const numeric = (d: number | string | undefined) => typeof d === "number" && d > 0 ? d : undefined;
  const stacked = kvInfo.dims.length === 5;
  const kvHeads = numeric(kvInfo.dims[stacked ? 2 : 1]);
  const headDim = numeric(kvInfo.dims[stacked ? 4 : 3]);
  if (kvHeads) known.kvHeads = kvHeads;
  if (headDim) known.headDim = headDim;
  const vocab = numeric(infos.get(logits.name)!.dims[2]);
  if (vocab) known.vocabSize = vocab;
  let embeddingDims: [number, number] | undefined;
  const twoD: [number, number][] = [];
  const bytesByType = new Map<number, number>();
  for (const t of graph.initializer ?? []) {
    const dims = (t.dims ?? []).map((d) => toNumber(d as number));
    const count = dims.reduce((a, b) => a * b, 1);
    const type = toNumber(t.dataType as number | undefined);
    const ref = externalRef(t);
    bytesByType.set(type, (bytesByType.get(type) ?? 0) + (ref ? ref.length : count));
    if (dims.length === 2) {
      twoD.push([dims[0], dims[1]]);
      if (vocab && dims[0] === vocab && !embeddingDims) embeddingDims = [dims[0], dims[1]];
    }
  }
  const hidden = embeddingDims?.[1];
  if (hidden) known.hiddenSize = hidden;
  // Where the config is silent about heads, hidden = heads * head_dim holds for the families here (not Gemma).
  if (hidden && headDim && hidden % headDim === 0) known.heads = hidden / headDim;
  if (hidden) {
    // The MLP width is the most frequent partner of the hidden size among 2-D weights, once the
    // attention projections, embeddings and rotary tables are excluded.
    const excluded = new Set([hidden, vocab ?? -1, 3 * hidden, (kvHeads ?? 0) * (headDim ?? 0)]);
    if (kvHeads && headDim) excluded.add(hidden + 2 * kvHeads * headDim);
    const counts = new Map<number, number>();
    for (const [a, b] of twoD) {
      const other = a === hidden ? b : b === hidden ? a : undefined;
      if (other !== undefined && !excluded.has(other)) counts.set(other, (counts.get(other) ?? 0) + 1);
    }
    const best = [...counts.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0])[0];
    if (best && best[1] >= 2) known.intermediateSize = best[0];
  }
  const nbits = (graph.node ?? []).find((n) => n.opType === "MatMulNBits");
  if (nbits) known.weightPrecision = intAttribute(nbits, "bits", 4) === 8 ? "int8" : "int4";
  else {
    const dominant = [...bytesByType.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    known.weightPrecision = dominant === 10 ? "fp16" : dominant === 3 || dominant === 2 ? "int8" : "fp32";
  }
  // Tied embeddings: the node producing the logits multiplies by the embedding matrix (or its transpose).
  const producers = new Map<string, { opType: string; input: string[] }>();
  for (const n of graph.node ?? []) {
    for (const o of n.output ?? []) producers.set(o, { opType: n.opType ?? "", input: n.input ?? [] });
  }
  const embeddingName = embeddingDims
    ? (graph.initializer ?? []).find((t) => t.dims?.length === 2 && toNumber(t.dims[0] as number) === vocab)?.name
    : undefined;
  const head = producers.get(logits.name);
  if (head && embeddingName) {
    const weight = head.input[1];
    const transposeOf = producers.get(weight ?? "");
    known.tiedEmbeddings = weight === embeddingName ||
      (transposeOf?.opType === "Transpose" && transposeOf.input[0] === embeddingName);
  }
  return {
    io: {
      inputIds: ids,
      ...(mask ? { attentionMask: mask } : {}),
      ...(pos ? { positionIds: pos } : {}),
      logits,
      kvLayers,
      kvInfo,
    },
    known,
    ...(embeddingDims ? { embeddingDims } : {}),
  };
}

/** The KV layout of the graph with `shape`'s head counts. */
export function kvSpecFor(facts: GraphFacts, shape: DecoderShape, label: string): KvSpec {
  const dims = facts.io.kvInfo.dims;
  const type = facts.io.kvInfo.type as "float32" | "float16";
  if (dims.length === 4) {
    return { layers: facts.io.kvLayers, type, dims: [0, shape.kvHeads, 0, shape.headDim], batchAxis: 0, seqAxis: 2 };
  }
  if (dims.length === 5 && (dims[0] === 2 || typeof dims[0] === "string")) {
    const heads = typeof dims[2] === "number" ? dims[2] : shape.kvHeads;
    return { layers: facts.io.kvLayers, type, dims: [2, 0, heads, 0, shape.headDim], batchAxis: 1, seqAxis: 3 };
  }
  throw new ModelError(
    `load ${label}: past KV tensors are [${dims}]; expected [batch, heads, past, head_dim] or [2, batch, heads, past, head_dim]`,
    { details: { path: label } },
  );
}

/** @throws ModelError naming both files when the config's shape disagrees with the graph */
export function checkShape(shape: DecoderShape, facts: GraphFacts, configPath: string, modelPath: string): void {
  const fail = (what: string) =>
    new ModelError(`load ${modelPath}: ${what}`, { details: { path: modelPath, config: configPath } });
  const { known } = facts;
  if (known.layers !== undefined && shape.layers !== known.layers) {
    throw fail(`${configPath} says ${shape.layers} layers but the graph has KV inputs for ${known.layers}`);
  }
  if (known.kvHeads !== undefined && shape.kvHeads !== known.kvHeads) {
    throw fail(`${configPath} says ${shape.kvHeads} KV heads but the graph's past KV has ${known.kvHeads}`);
  }
  if (known.headDim !== undefined && shape.headDim !== known.headDim) {
    throw fail(`${configPath} says head_dim ${shape.headDim} but the graph's past KV has ${known.headDim}`);
  }
  if (known.vocabSize !== undefined && shape.vocabSize !== known.vocabSize) {
    throw fail(`${configPath} says vocab_size ${shape.vocabSize} but the graph's logits have ${known.vocabSize}`);
  }
  if (facts.embeddingDims && shape.hiddenSize !== facts.embeddingDims[1]) {
    throw fail(
      `${configPath} says hidden size ${shape.hiddenSize} but the embedding matrix is [${facts.embeddingDims}]`,
    );
  }
}
