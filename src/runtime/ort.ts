/**
 * The one file that imports onnxruntime-node. Everything else in src/runtime
 * talks to ONNX Runtime through the small surface below: tensors, sessions
 * whose `release()` waits for in-flight runs, and execution-provider probes.
 */
import * as ort from "onnxruntime-node";
import { BackendError, ModelError } from "../core/mod.ts";

/** An ONNX Runtime tensor (CPU data). */
export type Tensor = ort.Tensor;

/** Element types the runtime creates or reads. */
export type TensorType = "float32" | "float16" | "int64" | "int32" | "bool" | "uint8" | "int8";

/** Version of the bundled ONNX Runtime. */
export const ORT_VERSION: string = ort.env.versions.common ?? "unknown";

/** Name, element type and (possibly symbolic) shape of a session input or output. */
export interface ValueMeta {
  name: string;
  type: string;
  /** Dimensions; a string is a symbolic (dynamic) dimension. */
  shape: readonly (number | string)[];
}

/** A tensor of `type` over `data` (not copied). */
export function createTensor(
  type: TensorType,
  data: Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array | Int8Array,
  dims: readonly number[],
): Tensor {
  if (type === "float16") return float16Tensor(data as Uint16Array, dims);
  return new ort.Tensor(type, data as Float32Array, dims);
}

/**
 * A float16 tensor whose data stays a Uint16Array of raw half-precision bits.
 *
 * onnxruntime-common turns a Uint16Array into a Float16Array view whenever the
 * global exists (Deno has it), but Deno's N-API `napi_get_typedarray_info`
 * has no Float16Array case and panics when ORT's binding reads such a feed,
 * while the binding itself wants a Uint16Array for float16. Putting the
 * Uint16Array view of the same bytes back keeps both sides happy, with no copy.
 */
function float16Tensor(bits: Uint16Array, dims: readonly number[]): Tensor {
  const tensor = new ort.Tensor("float16", bits, dims);
  if (!(tensor.data instanceof Uint16Array)) Reflect.set(tensor, "cpuData", bits);
  return tensor;
}

/** The raw bits of a float16 tensor (ORT may hand out Float16Array or Uint16Array views). */
export function float16Bits(tensor: Tensor): Uint16Array {
  const data = tensor.data as ArrayBufferView;
  return new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
}

/** Makes `tensor` safe to feed back into a session (see float16Tensor). */
function feedable(tensor: Tensor): Tensor {
  if (tensor.type !== "float16" || tensor.data instanceof Uint16Array) return tensor;
  return float16Tensor(float16Bits(tensor), tensor.dims);
}

/** Options of one ONNX Runtime session. */
export interface SessionConfig {
  /** Execution providers in preference order. @default ["cpu"] */
  executionProviders?: readonly string[];
  /** Intra-op threads, counting the calling thread. @default 0 (ORT picks: one per physical core) */
  intraOpThreads?: number;
  /**
   * ORT's `session.intra_op_thread_affinities` value: one group per pool
   * thread (intraOpThreads - 1 groups), 1-based logical processor ids.
   * @default undefined (no pinning)
   */
  threadAffinities?: string;
  /** Let idle pool threads spin; costs CPU, saves wake-up latency. @default true */
  allowSpinning?: boolean;
  /**
   * Folder that external data locations of an in-memory model are relative to
   * (ORT's `session.model_external_initializers_file_folder_path`).
   * @default undefined (only models without external data load from memory)
   */
  externalDataFolder?: string;
  /** ORT log severity (0 verbose .. 4 fatal). @default 3 */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
}

function sessionOptions(config: SessionConfig): ort.InferenceSession.SessionOptions {
  const session: Record<string, string> = {};
  if (config.threadAffinities !== undefined) session.intra_op_thread_affinities = config.threadAffinities;
  if (config.allowSpinning === false) session["intra_op.allow_spinning"] = "0";
  if (config.externalDataFolder !== undefined) {
    session.model_external_initializers_file_folder_path = config.externalDataFolder;
  }
  return {
    executionProviders: [...(config.executionProviders ?? ["cpu"])],
    graphOptimizationLevel: "all",
    logSeverityLevel: config.logSeverityLevel ?? 3,
    ...(config.intraOpThreads ? { intraOpNumThreads: config.intraOpThreads } : {}),
    ...(Object.keys(session).length > 0 ? { extra: { session } } : {}),
  };
}

/**
 * One inference session. Runs are serialised; `release()` waits for the run in
 * flight, because releasing a session under a running `run()` crashes the process.
 */
export class OrtSession {
  readonly inputs: readonly ValueMeta[];
  readonly outputs: readonly ValueMeta[];
  #session: ort.InferenceSession | undefined;
  #pending: Promise<unknown> = Promise.resolve();
  #released = false;

  private constructor(session: ort.InferenceSession) {
    this.#session = session;
    const meta = (m: ort.InferenceSession.ValueMetadata): ValueMeta =>
      m.isTensor
        ? { name: m.name, type: m.type, shape: [...m.shape] }
        : { name: m.name, type: "non-tensor", shape: [] };
    this.inputs = session.inputMetadata.map(meta);
    this.outputs = session.outputMetadata.map(meta);
  }

  /**
   * Opens a session on a model file or in-memory model bytes.
   * @param source a path, or the serialised model
   * @param label names the model in errors (a path or a segment name)
   * @throws ModelError when ONNX Runtime rejects the model
   */
  static async create(source: string | Uint8Array, config: SessionConfig, label: string): Promise<OrtSession> {
    try {
      const options = sessionOptions(config);
      const session = typeof source === "string"
        ? await ort.InferenceSession.create(source, options)
        : await ort.InferenceSession.create(source, options);
      return new OrtSession(session);
    } catch (error) {
      throw new ModelError(`load ${label}: onnxruntime rejected the model: ${firstLine(error)}`, {
        cause: error,
        details: { path: label },
      });
    }
  }

  /**
   * Runs the session. Feeds are passed as-is (ORT outputs may be fed back
   * without copying).
   * @param fetches output names to compute; @default all outputs
   * @throws BackendError when the run fails
   */
  run(feeds: Readonly<Record<string, Tensor>>, fetches?: readonly string[]): Promise<Record<string, Tensor>> {
    if (this.#released || !this.#session) {
      return Promise.reject(new BackendError("run a session: it was already released"));
    }
    const session = this.#session;
    const prepared: Record<string, Tensor> = {};
    for (const [name, tensor] of Object.entries(feeds)) prepared[name] = feedable(tensor);
    const run = this.#pending.then(async () => {
      try {
        return fetches ? await session.run(prepared, [...fetches]) : await session.run(prepared);
      } catch (error) {
        throw new BackendError(`run onnxruntime session: ${firstLine(error)}`, { cause: error });
      }
    });
    this.#pending = run.catch(() => undefined);
    return run;
  }

  /** Releases native resources after the run in flight, if any, has finished. Idempotent. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.#pending;
    const session = this.#session;
    this.#session = undefined;
    await session?.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0].trim();
}

/** Execution providers compiled into this ONNX Runtime build. */
export function supportedExecutionProviders(): string[] {
  return ort.listSupportedBackends().map((b) => b.name);
}

/**
 * Tries to open a session on `probeModel` with execution provider `name` only.
 * WebGPU in particular compiles in on every platform but needs an adapter at
 * session creation; this is where its absence shows.
 */
export async function probeExecutionProvider(
  name: string,
  probeModel: Uint8Array,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (!supportedExecutionProviders().includes(name)) {
    return { ok: false, reason: `onnxruntime-node ${ORT_VERSION} is built without the ${name} execution provider` };
  }
  try {
    const session = await ort.InferenceSession.create(probeModel, { executionProviders: [name], logSeverityLevel: 4 });
    await session.release();
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: firstLine(error).replace(/^.*?(Failed to|No )/, "$1") };
  }
}
