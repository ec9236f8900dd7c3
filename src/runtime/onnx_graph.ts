/**
 * Reading and writing ONNX protobuf (through onnx-proto), and the few graph
 * facts the loader and the segment splitter need. No ONNX Runtime here.
 */
import onnx from "onnx-proto";
import { ModelError } from "../core/mod.ts";

export type ModelProto = onnx.onnx.IModelProto;
export type GraphProto = onnx.onnx.IGraphProto;
export type NodeProto = onnx.onnx.INodeProto;
export type TensorProto = onnx.onnx.ITensorProto;
export type ValueInfoProto = onnx.onnx.IValueInfoProto;
export type AttributeProto = onnx.onnx.IAttributeProto;

/** The generated protobuf classes (ModelProto, GraphProto, NodeProto, ...). */
export const proto: typeof onnx.onnx = onnx.onnx;

/** ONNX TensorProto.DataType codes used here. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;

/** A protobuf int64 (a number, or a Long object from protobufjs) as a JS number. */
export function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === "number" ? value : value.toNumber();
}

/**
 * Parses serialised ONNX.
 * @param label file name for errors
 * @throws ModelError naming the file when the bytes are not an ONNX model with a graph
 */
export function decodeModel(bytes: Uint8Array, label: string): ModelProto {
  let model: onnx.onnx.ModelProto;
  try {
    model = proto.ModelProto.decode(bytes);
  } catch (error) {
    throw new ModelError(
      `load ${label}: not a valid ONNX protobuf (${error instanceof Error ? error.message : String(error)})`,
      { cause: error, details: { path: label } },
    );
  }
  const graph = model.graph;
  if (!graph || !graph.node || graph.node.length === 0 || !graph.output || graph.output.length === 0) {
    throw new ModelError(`load ${label}: the ONNX model has no graph (no nodes or no outputs)`, {
      details: { path: label },
    });
  }
  return model;
}

/** Serialises a model. */
export function encodeModel(model: onnx.onnx.IModelProto): Uint8Array {
  return proto.ModelProto.encode(model).finish();
}

/** External data reference of an initializer, when its bytes live outside the model file. */
export interface ExternalRef {
  location: string;
  offset: number;
  length: number;
}

/** Where an initializer's data lives, or undefined when it is inline. */
export function externalRef(tensor: TensorProto): ExternalRef | undefined {
  if (toNumber(tensor.dataLocation as number | undefined) !== 1 || !tensor.externalData) return undefined;
  const entries = new Map(tensor.externalData.map((e) => [e.key ?? "", e.value ?? ""]));
  const location = entries.get("location");
  if (!location) return undefined;
  return {
    location,
    offset: Number(entries.get("offset") ?? 0),
    length: Number(entries.get("length") ?? Number.NaN),
  };
}

/** Every external data file the graph's initializers reference, with the byte extent each needs. */
export function externalDataFiles(graph: GraphProto): Map<string, { requiredBytes: number; tensors: number }> {
  const files = new Map<string, { requiredBytes: number; tensors: number }>();
  for (const t of graph.initializer ?? []) {
    const ref = externalRef(t);
    if (!ref) continue;
    const entry = files.get(ref.location) ?? { requiredBytes: 0, tensors: 0 };
    const end = Number.isFinite(ref.length) ? ref.offset + ref.length : ref.offset;
    entry.requiredBytes = Math.max(entry.requiredBytes, end);
    entry.tensors++;
    files.set(ref.location, entry);
  }
  return files;
}

/** Integer attribute of a node, or `fallback`. */
export function intAttribute(node: NodeProto, name: string, fallback: number): number {
  const a = node.attribute?.find((x) => x.name === name);
  return a ? toNumber(a.i as number | undefined) : fallback;
}

/** Element type name as ONNX Runtime reports it ("float32", "float16", ...). */
export function dataTypeName(code: number): string {
  switch (code) {
    case DataType.FLOAT:
      return "float32";
    case DataType.FLOAT16:
      return "float16";
    case DataType.INT64:
      return "int64";
    case DataType.INT32:
      return "int32";
    case DataType.INT8:
      return "int8";
    case DataType.UINT8:
      return "uint8";
    case DataType.BOOL:
      return "bool";
    case DataType.DOUBLE:
      return "float64";
    case DataType.BFLOAT16:
      return "bfloat16";
    default:
      return `onnx-type-${code}`;
  }
}

/** ONNX data type code of an ORT type name. @throws RangeError for names without a code here */
export function dataTypeCode(name: string): number {
  switch (name) {
    case "float32":
      return DataType.FLOAT;
    case "float16":
      return DataType.FLOAT16;
    case "int64":
      return DataType.INT64;
    case "int32":
      return DataType.INT32;
    case "int8":
      return DataType.INT8;
    case "uint8":
      return DataType.UINT8;
    case "bool":
      return DataType.BOOL;
    case "float64":
      return DataType.DOUBLE;
    default:
      throw new RangeError(`no ONNX data type code for "${name}"`);
  }
}
