/**
 * The KV cache of a batch: one tensor per past input of the graph, fed back
 * from the previous step's present outputs without copying. Rows are copied
 * only when the batch changes shape (expanding a shared prefill to k samples,
 * dropping finished or cancelled samples).
 */
import { createTensor, float16Bits, type Tensor } from "./ort.ts";

/** How the graph lays out its cache. */
export interface KvSpec {
  /** Per layer, the past input names and the present output names, in matching order. */
  layers: readonly { past: readonly string[]; present: readonly string[] }[];
  /** Element type of every cache tensor. */
  type: "float32" | "float16";
  /**
   * Dimensions of one cache tensor with the batch and sequence axes set to 0;
   * `[B, kvHeads, P, headDim]` (Optimum / genai) or `[2, B, heads, P, headDim]` (GPT-2 `past_N`).
   */
  dims: readonly number[];
  batchAxis: number;
  seqAxis: number;
}

/** Bytes of one cache element. */
export function kvElementBytes(spec: KvSpec): number {
  return spec.type === "float16" ? 2 : 4;
}

function dimsFor(spec: KvSpec, batch: number, pastLength: number): number[] {
  const dims = [...spec.dims];
  dims[spec.batchAxis] = batch;
  dims[spec.seqAxis] = pastLength;
  return dims;
}

function rawData(tensor: Tensor): Float32Array | Uint16Array {
  return tensor.type === "float16" ? float16Bits(tensor) : tensor.data as Float32Array;
}

function allocate(spec: KvSpec, elements: number): Float32Array | Uint16Array {
  return spec.type === "float16" ? new Uint16Array(elements) : new Float32Array(elements);
}

/** An immutable KV cache for `batch` rows of `pastLength` positions. */
export class KvCache {
  readonly spec: KvSpec;
  readonly batch: number;
  readonly pastLength: number;
  readonly #tensors: ReadonlyMap<string, Tensor>;

  private constructor(spec: KvSpec, batch: number, pastLength: number, tensors: ReadonlyMap<string, Tensor>) {
    this.spec = spec;
    this.batch = batch;
    this.pastLength = pastLength;
    this.#tensors = tensors;
  }

  /** A cache with no positions yet (zero-length tensors, as the graphs expect for a first run). */
  static empty(spec: KvSpec, batch: number): KvCache {
    const tensors = new Map<string, Tensor>();
    const dims = dimsFor(spec, batch, 0);
    for (const layer of spec.layers) {
      for (const name of layer.past) tensors.set(name, createTensor(spec.type, allocate(spec, 0), dims));
    }
    return new KvCache(spec, batch, 0, tensors);
  }

  /**
   * A cache over tensors a run produced (keyed by past input name).
   * @throws RangeError when a layer is missing or a tensor has the wrong shape
   */
  static fromTensors(spec: KvSpec, batch: number, pastLength: number, tensors: ReadonlyMap<string, Tensor>): KvCache {
    const expected = dimsFor(spec, batch, pastLength);
    for (const layer of spec.layers) {
      for (const name of layer.past) {
        const t = tensors.get(name);
        if (!t) throw new RangeError(`KV cache: no tensor for ${name}`);
        if (t.dims.length !== expected.length || t.dims.some((d, i) => d !== expected[i])) {
          throw new RangeError(`KV cache: ${name} has dims [${t.dims}], expected [${expected}]`);
        }
      }
    }
    return new KvCache(spec, batch, pastLength, tensors);
  }

  /** The tensor fed to past input `name`. */
  tensor(name: string): Tensor {
    const t = this.#tensors.get(name);
    if (!t) throw new RangeError(`KV cache has no tensor for input "${name}"`);
    return t;
  }

  /** Bytes held by the cache. */
  get bytes(): number {
    let elements = 0;
    for (const t of this.#tensors.values()) elements += t.dims.reduce((a, b) => a * b, 1);
    return elements * kvElementBytes(this.spec);
  }

  /**
   * A cache whose row j is row `rows[j]` of this one (copies). Drops rows
   * (finished samples) or repeats them (one prefill shared by k samples).
   */
  selectRows(rows: readonly number[]): KvCache {
    for (const r of rows) {
      if (!Number.isInteger(r) || r < 0 || r >= this.batch) {
        throw new RangeError(`selectRows: row ${r} is outside [0, ${this.batch})`);
      }
    }
    const { spec } = this;
    const dims = dimsFor(spec, this.batch, this.pastLength);
    const outer = dims.slice(0, spec.batchAxis).reduce((a, b) => a * b, 1);
    const inner = dims.slice(spec.batchAxis + 1).reduce((a, b) => a * b, 1);
    const outDims = dimsFor(spec, rows.length, this.pastLength);
    const tensors = new Map<string, Tensor>();
    for (const [name, tensor] of this.#tensors) {
      const src = rawData(tensor);
      const dst = allocate(spec, outer * rows.length * inner);
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < rows.length; j++) {
          const from = (o * this.batch + rows[j]) * inner;
          dst.set(src.subarray(from, from + inner), (o * rows.length + j) * inner);
        }
      }
      tensors.set(name, createTensor(spec.type, dst, outDims));
    }
    return new KvCache(spec, rows.length, this.pastLength, tensors);
  }
}
