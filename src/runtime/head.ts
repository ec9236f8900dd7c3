/**
 * The sampling head: a few nodes appended to the graph that produces the
 * logits, so ONNX Runtime's vectorised kernels do the per-token exp() work
 * that would otherwise dominate the TypeScript loop (two exp passes over the
 * vocabulary per sample per step; 150k-token vocabularies make that
 * milliseconds). Its outputs are fetched only when needed.
 *
 * - `qeil_last_logits` [B, V] float32: logits of the last position.
 * - `qeil_last_logsumexp` [B] float32: their log-sum-exp (log-probs = logits - lse).
 * - `qeil_last_probs` [B, V] float32: softmax(last logits * `qeil_inverse_temperature`).
 * - `qeil_logsumexp` [B, S] float32: log-sum-exp of every position (scoring).
 *
 * `qeil_inverse_temperature` ([1] float32) is a required graph input: an
 * input backed by an initializer would be optional, but onnxruntime-node only
 * passes feeds named in the session's inputs, which exclude those.
 */
import { ModelError } from "../core/mod.ts";
import { type AttributeProto, DataType, type GraphProto, type ModelProto, toNumber } from "./onnx_graph.ts";

/** Names of the head's inputs and outputs. */
export const HEAD = {
  inverseTemperature: "qeil_inverse_temperature",
  lastLogits: "qeil_last_logits",
  lastLogSumExp: "qeil_last_logsumexp",
  lastProbs: "qeil_last_probs",
  logSumExp: "qeil_logsumexp",
} as const;

function defaultOpset(model: ModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === "ai.onnx");
  return entry ? toNumber(entry.version as number | undefined) : 0;
}

/**
 * Appends the sampling head to `model`'s graph, which must output `logits`
 * ([B, S, V], float32 or float16). Mutates and returns `model`.
 * @throws ModelError when the graph's opset is too old for the head's ops (< 10)
 */
export function addSamplingHead(
  model: ModelProto,
  logits: { name: string; type: "float32" | "float16" },
  label: string,
): ModelProto {
  const opset = defaultOpset(model);
  if (opset < 10) {
    throw new ModelError(
      `load ${label}: default-domain opset ${opset} is older than 10, which the sampling head needs`,
      {
        details: { path: label },
      },
    );
  }
  const graph = model.graph as GraphProto;
  const p = "qeil_head";
  const int64 = (name: string, values: number[]) => ({
    name: `${p}/${name}`,
    dims: [values.length],
    dataType: DataType.INT64,
    rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer),
  });
  const ints = (name: string, values: number[]): AttributeProto => ({ name, type: 7, ints: values });
  const int = (name: string, value: number): AttributeProto => ({ name, type: 2, i: value });
  const initializers = [
    int64("minus_one", [-1]),
    int64("last_end", [Number.MAX_SAFE_INTEGER]),
    int64("axis1", [1]),
    int64("axis_last", [-1]),
  ];
  const logits32 = logits.type === "float16" ? `${p}/logits_f32` : logits.name;
  const nodes = [
    ...(logits.type === "float16"
      ? [{
        opType: "Cast",
        name: `${p}/cast`,
        input: [logits.name],
        output: [logits32],
        attribute: [int("to", DataType.FLOAT)],
      }]
      : []),
    {
      opType: "Slice",
      name: `${p}/last`,
      input: [logits32, `${p}/minus_one`, `${p}/last_end`, `${p}/axis1`],
      output: [`${p}/last_3d`],
    },
    // Squeeze, like ReduceLogSumExp below, moved its axes from an attribute to an input (at opset 13).
    opset >= 13
      ? { opType: "Squeeze", name: `${p}/squeeze`, input: [`${p}/last_3d`, `${p}/axis1`], output: [HEAD.lastLogits] }
      : {
        opType: "Squeeze",
        name: `${p}/squeeze`,
        input: [`${p}/last_3d`],
        output: [HEAD.lastLogits],
        attribute: [ints("axes", [1])],
      },
    // ReduceLogSumExp takes its axes as an attribute before opset 18 and as an input from 18 on.
    opset >= 18
      ? {
        opType: "ReduceLogSumExp",
        name: `${p}/last_lse`,
        input: [HEAD.lastLogits, `${p}/axis_last`],
        output: [HEAD.lastLogSumExp],
        attribute: [int("keepdims", 0)],
      }
      : {
        opType: "ReduceLogSumExp",
        name: `${p}/last_lse`,
        input: [HEAD.lastLogits],
        output: [HEAD.lastLogSumExp],
        attribute: [ints("axes", [-1]), int("keepdims", 0)],
      },
    opset >= 18
      ? {
        opType: "ReduceLogSumExp",
        name: `${p}/lse`,
        input: [logits32, `${p}/axis_last`],
        output: [HEAD.logSumExp],
        attribute: [int("keepdims", 0)],
      }
      : {
        opType: "ReduceLogSumExp",
        name: `${p}/lse`,
        input: [logits32],
        output: [HEAD.logSumExp],
        attribute: [ints("axes", [-1]), int("keepdims", 0)],
      },
    {
      opType: "Mul",
      name: `${p}/temper`,
      input: [HEAD.lastLogits, HEAD.inverseTemperature],
      output: [`${p}/tempered`],
    },
    // Before opset 13 Softmax flattens to 2-D at `axis`; on the last axis of [B, V] that is the same softmax.
    {
      opType: "Softmax",
      name: `${p}/softmax`,
      input: [`${p}/tempered`],
      output: [HEAD.lastProbs],
      attribute: [int("axis", -1)],
    },
  ];
  const floatOut = (name: string, dims: string[]) => ({
    name,
    type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimParam: d })) } } },
  });
  graph.node = [...(graph.node ?? []), ...nodes];
  graph.initializer = [...(graph.initializer ?? []), ...initializers];
  graph.input = [
    ...(graph.input ?? []),
    {
      name: HEAD.inverseTemperature,
      type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } },
    },
  ];
  graph.output = [
    ...(graph.output ?? []),
    floatOut(HEAD.lastLogits, ["batch", "vocab"]),
    floatOut(HEAD.lastLogSumExp, ["batch"]),
    floatOut(HEAD.lastProbs, ["batch", "vocab"]),
    floatOut(HEAD.logSumExp, ["batch", "sequence"]),
  ];
  return model;
}
