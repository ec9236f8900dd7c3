/**
 * Layer segments: a decoder graph split into contiguous layer ranges that
 * chain to the whole model's logits, so a pipeline can span units.
 *
 * The cut between layer b-1 and layer b is found from data flow, not from
 * node names (exporters name nodes differently): it is the smallest set of
 * tensors separating everything that depends on the token embedding or on the
 * KV cache of layers < b from the KV outputs of layers >= b and the logits,
 * using no tensor that depends on the KV cache of layers >= b, and among the
 * smallest such sets the one closest to the outputs (the
 * residual stream right before layer b; in graphs with fused
 * "skip + norm" nodes, the pair {normed, residual} of layer b's first norm).
 * It is a minimum vertex cut found with max-flow. Shape-only uses
 * (Shape, Size) carry no values, so they do not count as dependencies;
 * a segment that needs the shape of another layer's past KV reads its own
 * layer's past instead (all layers' caches have one shape).
 */
import { ModelError } from "../core/mod.ts";
import type { KvSpec } from "./kv_cache.ts";
import {
  type GraphProto,
  type ModelProto,
  type NodeProto,
  proto,
  type TensorProto,
  toNumber,
  type ValueInfoProto,
} from "./onnx_graph.ts";

/** The graph names splitDecoder needs (a subset of the model's DecoderIo). */
export interface SplitIo {
  inputIds: { name: string };
  logits: { name: string };
  kv: Pick<KvSpec, "layers">;
}

/** One segment graph. */
export interface SegmentGraph {
  layerStart: number;
  layerEnd: number;
  /** ONNX model of the segment (initializers keep their external data references). */
  model: ModelProto;
  /** Graph inputs fed from the step (input_ids, attention_mask, position_ids) this segment uses. */
  contextInputs: string[];
  /** Activations received from the previous segment (empty for the first). */
  carriedIn: string[];
  /** Activations handed to the next segment (empty for the last, which outputs logits). */
  carriedOut: string[];
  /** Past KV inputs of this segment's layers. */
  pastInputs: string[];
  /** Present output -> past input, for this segment's layers. */
  presentToPast: [string, string][];
}

const SHAPE_ONLY = new Set(["Shape", "Size"]);
const BOOL_OPS = new Set([
  "Equal",
  "Less",
  "Greater",
  "LessOrEqual",
  "GreaterOrEqual",
  "Not",
  "And",
  "Or",
  "Xor",
  "IsNaN",
  "IsInf",
]);
const INF = 1 << 30;

interface GraphIndex {
  nodes: NodeProto[];
  producer: Map<string, number>;
  initializers: Map<string, TensorProto>;
  graphInputs: Map<string, ValueInfoProto>;
  graphOutputs: Map<string, ValueInfoProto>;
  valueInfo: Map<string, ValueInfoProto>;
}

function indexGraph(graph: GraphProto): GraphIndex {
  const nodes = graph.node ?? [];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) if (o) producer.set(o, i);
  });
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? "", t]));
  const graphInputs = new Map(
    (graph.input ?? []).filter((i) => !initializers.has(i.name ?? "")).map((i) => [i.name ?? "", i]),
  );
  const graphOutputs = new Map((graph.output ?? []).map((o) => [o.name ?? "", o]));
  const valueInfo = new Map((graph.valueInfo ?? []).map((v) => [v.name ?? "", v]));
  return { nodes, producer, initializers, graphInputs, graphOutputs, valueInfo };
}

/** Value edges: (input tensor, output tensor) of every node except shape-only reads. */
function valueEdges(g: GraphIndex): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const n of g.nodes) {
    if (SHAPE_ONLY.has(n.opType ?? "")) continue;
    for (const a of n.input ?? []) {
      if (!a || g.initializers.has(a)) continue;
      const list = out.get(a) ?? [];
      for (const o of n.output ?? []) if (o) list.push(o);
      out.set(a, list);
    }
  }
  return out;
}

/**
 * The latest minimum vertex cut between `sources` and `sinks` over value edges.
 * @returns tensor names, in production order
 */
function minimumCut(
  g: GraphIndex,
  edges: Map<string, string[]>,
  sources: Set<string>,
  sinks: Set<string>,
  later: Set<string>,
): string[] {
  const reach = (from: Iterable<string>) => {
    const seen = new Set<string>();
    const stack = [...from];
    while (stack.length > 0) {
      const t = stack.pop()!;
      if (seen.has(t)) continue;
      seen.add(t);
      for (const o of edges.get(t) ?? []) stack.push(o);
    }
    return seen;
  };
  // Restrict to tensors on some source -> sink path. A tensor that depends on a later layer's KV is
  // computed by a later segment, so it cannot be handed over: it is uncuttable.
  const forward = reach(sources);
  const uncuttable = reach(later);
  const stack: string[] = [];
  const reverse = new Map<string, string[]>();
  for (const [a, outs] of edges) for (const o of outs) reverse.set(o, [...(reverse.get(o) ?? []), a]);
  const backward = new Set<string>();
  stack.push(...[...sinks].filter((t) => forward.has(t)));
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (backward.has(t) || !forward.has(t)) continue;
    backward.add(t);
    for (const a of reverse.get(t) ?? []) stack.push(a);
  }
  const tensors = [...backward];
  const id = new Map(tensors.map((t, i) => [t, i]));
  // Vertex t becomes t_in = 2i -> t_out = 2i+1; super source S = 2n, super sink T = 2n+1.
  const n = tensors.length;
  const S = 2 * n, T = 2 * n + 1;
  const head: number[] = new Array(2 * n + 2).fill(-1);
  const to: number[] = [], cap: number[] = [], nextEdge: number[] = [];
  const addEdge = (u: number, v: number, c: number) => {
    to.push(v), cap.push(c), nextEdge.push(head[u]), head[u] = to.length - 1;
    to.push(u), cap.push(0), nextEdge.push(head[v]), head[v] = to.length - 1;
  };
  for (const [t, i] of id) {
    addEdge(2 * i, 2 * i + 1, sources.has(t) || sinks.has(t) || uncuttable.has(t) ? INF : 1);
    if (sources.has(t)) addEdge(S, 2 * i, INF);
    if (sinks.has(t)) addEdge(2 * i + 1, T, INF);
    for (const o of edges.get(t) ?? []) {
      const j = id.get(o);
      if (j !== undefined) addEdge(2 * i + 1, 2 * j, INF);
    }
  }
  let flow = 0;
  for (;;) {
    const parentEdge = new Array(2 * n + 2).fill(-1);
    const queue = [S];
    const seen = new Uint8Array(2 * n + 2);
    seen[S] = 1;
    while (queue.length > 0 && !seen[T]) {
      const u = queue.shift()!;
      for (let e = head[u]; e >= 0; e = nextEdge[e]) {
        if (cap[e] > 0 && !seen[to[e]]) {
          seen[to[e]] = 1;
          parentEdge[to[e]] = e;
          queue.push(to[e]);
        }
      }
    }
    if (!seen[T]) break;
    let push = INF;
    for (let v = T; v !== S; v = to[parentEdge[v] ^ 1]) push = Math.min(push, cap[parentEdge[v]]);
    for (let v = T; v !== S; v = to[parentEdge[v] ^ 1]) {
      cap[parentEdge[v]] -= push;
      cap[parentEdge[v] ^ 1] += push;
    }
    flow += push;
    if (flow >= INF) return [];
  }
  // Vertices that still reach the sink in the residual graph; the cut closest to the sink borders them.
  const reachesSink = new Uint8Array(2 * n + 2);
  reachesSink[T] = 1;
  const queue = [T];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (let e = head[v]; e >= 0; e = nextEdge[e]) {
      // e is v -> u; its pair (e ^ 1) is u -> v, usable when it has residual capacity.
      const u = to[e];
      if (!reachesSink[u] && cap[e ^ 1] > 0) {
        reachesSink[u] = 1;
        queue.push(u);
      }
    }
  }
  const cut = tensors.filter((_, i) => !reachesSink[2 * i] && reachesSink[2 * i + 1]);
  return cut.sort((a, b) => (g.producer.get(a) ?? -1) - (g.producer.get(b) ?? -1));
}

/** Element type code of tensor `name`, following producers where no value_info says it. */
function elemType(g: GraphIndex, name: string, memo = new Map<string, number>()): number {
  const cached = memo.get(name);
  if (cached !== undefined) return cached;
  const fromInfo = g.valueInfo.get(name) ?? g.graphInputs.get(name) ?? g.graphOutputs.get(name);
  const declared = toNumber(fromInfo?.type?.tensorType?.elemType as number | undefined);
  let type = declared;
  if (!type) {
    const init = g.initializers.get(name);
    if (init) type = toNumber(init.dataType as number | undefined);
  }
  if (!type) {
    const p = g.producer.get(name);
    const node = p === undefined ? undefined : g.nodes[p];
    const op = node?.opType ?? "";
    const attr = (key: string) => node?.attribute?.find((a) => a.name === key);
    if (!node) type = 0;
    else if (op === "Cast") type = toNumber(attr("to")?.i as number | undefined);
    else if (SHAPE_ONLY.has(op)) type = 7;
    else if (BOOL_OPS.has(op)) type = 9;
    else if (op === "Constant" || op === "ConstantOfShape") {
      type = toNumber(attr("value")?.t?.dataType as number | undefined) || 1;
    } else {
      const inputs = (node.input ?? []).filter((i) => i);
      const types = inputs.map((i) => elemType(g, i, memo));
      type = types.find((t) => t === 1 || t === 10 || t === 11 || t === 16) ?? types[0] ?? 0;
    }
  }
  memo.set(name, type);
  return type;
}

function typedValueInfo(g: GraphIndex, name: string, label: string): ValueInfoProto {
  const existing = g.valueInfo.get(name);
  if (existing?.type?.tensorType?.elemType) return existing;
  const type = elemType(g, name);
  if (!type) {
    throw new ModelError(`split ${label}: cannot tell the element type of boundary tensor "${name}"`, {
      details: { path: label },
    });
  }
  return proto.ValueInfoProto.create({ name, type: { tensorType: { elemType: type } } });
}

/** Options of splitDecoder. */
export interface SplitOptions {
  /** Names the model in errors. @default "model" */
  label?: string;
}

/**
 * Splits a KV-cache decoder graph into segments, one per layer range.
 * @param ranges contiguous `[layerStart, layerEnd)` ranges covering all layers
 * @throws ModelError when a boundary has no cut or a segment would need another segment's KV
 */
export function splitDecoder(
  model: ModelProto,
  io: SplitIo,
  ranges: readonly { layerStart: number; layerEnd: number }[],
  options: SplitOptions = {},
): SegmentGraph[] {
  const label = options.label ?? "model";
  const fail = (what: string) => new ModelError(`split ${label}: ${what}`, { details: { path: label } });
  const graph = model.graph as GraphProto;
  const g = indexGraph(graph);
  const layers = io.kv.layers.length;
  let expect = 0;
  for (const r of ranges) {
    if (r.layerStart !== expect || r.layerEnd <= r.layerStart) {
      throw new RangeError(
        `splitDecoder: ranges must be contiguous and non-empty from 0, got [${r.layerStart}, ${r.layerEnd})`,
      );
    }
    expect = r.layerEnd;
  }
  if (expect !== layers) {
    throw new RangeError(`splitDecoder: ranges cover [0, ${expect}) but the model has ${layers} layers`);
  }

  const edges = valueEdges(g);
  const pastLayer = new Map<string, { layer: number; role: number }>();
  io.kv.layers.forEach((l, layer) => l.past.forEach((p, role) => pastLayer.set(p, { layer, role })));
  const cuts = new Map<number, string[]>();
  for (const r of ranges.slice(1)) {
    const b = r.layerStart;
    const sources = new Set([io.inputIds.name, ...io.kv.layers.slice(0, b).flatMap((l) => l.past)]);
    const sinks = new Set([io.logits.name, ...io.kv.layers.slice(b).flatMap((l) => l.present)]);
    const later = new Set(io.kv.layers.slice(b).flatMap((l) => l.past));
    const cut = minimumCut(g, edges, sources, sinks, later);
    if (cut.length === 0) throw fail(`found no set of tensors separating layers < ${b} from layers >= ${b}`);
    cuts.set(b, cut);
  }

  const contextNames = [...g.graphInputs.keys()].filter((n) => !pastLayer.has(n));
  const segments: SegmentGraph[] = [];
  for (const r of ranges) {
    const { layerStart: a, layerEnd: e } = r;
    const carriedIn = cuts.get(a) ?? [];
    const carriedOut = e < layers ? cuts.get(e)! : [];
    const ownPast = io.kv.layers.slice(a, e).flatMap((l) => l.past);
    const ownPresent = io.kv.layers.slice(a, e).flatMap((l) => l.present);
    const available = new Set([...contextNames, ...carriedIn, ...ownPast]);
    const outputs = [...ownPresent, ...(e < layers ? carriedOut : [io.logits.name])];
    // Backward slice from the outputs, stopping at what the segment is given.
    const keep = new Set<number>();
    const rewired = new Map<number, NodeProto>();
    const usedInitializers = new Set<string>();
    const usedInputs = new Set<string>();
    const stack: number[] = [];
    const need = (tensor: string, consumer: number | undefined) => {
      if (!tensor) return;
      if (g.initializers.has(tensor)) return void usedInitializers.add(tensor);
      if (available.has(tensor)) return void usedInputs.add(tensor);
      const p = g.producer.get(tensor);
      if (p !== undefined) {
        if (!keep.has(p)) keep.add(p), stack.push(p);
        return;
      }
      const foreign = pastLayer.get(tensor);
      const node = consumer === undefined ? undefined : g.nodes[consumer];
      if (foreign && node && SHAPE_ONLY.has(node.opType ?? "")) {
        const own = io.kv.layers[a].past[foreign.role];
        const copy = rewired.get(consumer!) ?? proto.NodeProto.create({ ...node, input: [...(node.input ?? [])] });
        copy.input = (copy.input ?? []).map((x) => x === tensor ? own : x);
        rewired.set(consumer!, copy);
        usedInputs.add(own);
        return;
      }
      throw fail(
        foreign
          ? `layers [${a}, ${e}) would need ${tensor} of layer ${foreign.layer}: the graph mixes layers across the cut`
          : `layers [${a}, ${e}) need tensor "${tensor}" that no node produces`,
      );
    };
    for (const o of outputs) need(o, undefined);
    while (stack.length > 0) {
      const i = stack.pop()!;
      for (const input of g.nodes[i].input ?? []) need(input, i);
    }
    const nodes = [...keep].sort((x, y) => x - y).map((i) => rewired.get(i) ?? g.nodes[i]);
    const inputVi = (name: string) => g.graphInputs.get(name) ?? typedValueInfo(g, name, label);
    const contextInputs = contextNames.filter((n) => usedInputs.has(n));
    const segmentGraph: GraphProto = {
      name: `${graph.name ?? "decoder"}_layers_${a}_${e}`,
      node: nodes,
      initializer: (graph.initializer ?? []).filter((t) => usedInitializers.has(t.name ?? "")),
      input: [...contextInputs, ...carriedIn, ...ownPast].map(inputVi),
      output: outputs.map((o) => g.graphOutputs.get(o) ?? typedValueInfo(g, o, label)),
    };
    const segmentModel: ModelProto = {
      irVersion: model.irVersion,
      opsetImport: model.opsetImport,
      producerName: "qeil-split",
      producerVersion: "1",
      graph: segmentGraph,
      ...(model.functions && model.functions.length > 0 ? { functions: model.functions } : {}),
    };
    segments.push({
      layerStart: a,
      layerEnd: e,
      model: segmentModel,
      contextInputs,
      carriedIn: [...carriedIn],
      carriedOut: [...carriedOut],
      pastInputs: ownPast,
      presentToPast: io.kv.layers.slice(a, e).flatMap((l) =>
        l.present.map((p, i) => [p, l.past[i]] as [string, string])
      ),
    });
  }
  return segments;
}
