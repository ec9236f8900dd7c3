/**
 * Compute backends: where an ONNX session runs. Each backend states its
 * capabilities; the registry reports which backends loaded and, for the
 * others, why not. A backend that is absent is reported, never faked.
 */
import { cpus as osCpus, totalmem } from "node:os";
import { BackendError, type Precision, type UnitKind } from "../core/mod.ts";
import { OrtSession, probeExecutionProvider, type SessionConfig } from "./ort.ts";
import { encodeModel, proto } from "./onnx_graph.ts";

/** What a backend can do. */
export interface BackendCapabilities {
  /** Backend name, unique in a registry (`ort-cpu`, `ort-cpu:cpu_big`, `ort-webgpu`). */
  name: string;
  kind: UnitKind;
  /** ONNX Runtime execution provider behind it. */
  executionProvider: string;
  /** Memory the backend can allocate from, bytes (host RAM for CPU; undefined when unknown). */
  memoryBytes: number | undefined;
  /** Weight precisions it runs. */
  precisions: readonly Precision[];
  /** Intra-op threads per session (0 = ONNX Runtime's default). */
  threads: number;
  /** Logical CPUs (0-based) its pool threads are pinned to; empty when not pinned. */
  cpus: readonly number[];
}

/** A place to run ONNX sessions. */
export interface Backend {
  readonly name: string;
  readonly kind: UnitKind;
  readonly capabilities: BackendCapabilities;
  /**
   * Opens a session on a model file or in-memory model.
   * @param externalDataFolder folder an in-memory model's external data locations are relative to
   * @throws ModelError when the model is rejected
   */
  createSession(source: string | Uint8Array, label: string, externalDataFolder?: string): Promise<OrtSession>;
}

/** Options of the ONNX Runtime CPU backend. */
export interface OrtCpuBackendOptions {
  /** Backend name. @default "ort-cpu" */
  name?: string;
  /**
   * Logical CPUs (0-based, as in /sys/devices/system/cpu) to pin ORT's pool
   * threads to, e.g. one cluster's cores. @default [] (no pinning)
   */
  cpus?: readonly number[];
  /** Intra-op threads, the calling thread included. @default cpus.length, or 0 (ORT default) without cpus */
  threads?: number;
  /** Let idle pool threads spin. @default true */
  allowSpinning?: boolean;
}

/**
 * ORT's `session.intra_op_thread_affinities` for a pool of `threads` pinned
 * to `cpus`: ORT wants one group per pool thread (threads - 1, the calling
 * thread is never pinned by ORT) with 1-based processor ids. Pool thread i
 * gets cpus[(i + 1) % n], leaving cpus[0] to the calling thread.
 * @throws RangeError for an empty cpu list or a thread count below 1
 */
export function threadAffinities(cpus: readonly number[], threads: number): string | undefined {
  if (cpus.length === 0) throw new RangeError("threadAffinities: needs at least one cpu");
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`threadAffinities: threads must be >= 1, got ${threads}`);
  }
  if (threads === 1) return undefined;
  const groups: string[] = [];
  for (let i = 0; i < threads - 1; i++) groups.push(String(cpus[(i + 1) % cpus.length] + 1));
  return groups.join(";");
}

/** ONNX Runtime on the host CPU, optionally pinned to one cluster. */
export class OrtCpuBackend implements Backend {
  readonly name: string;
  readonly kind: UnitKind = "cpu";
  readonly capabilities: BackendCapabilities;
  readonly #config: SessionConfig;

  constructor(options: OrtCpuBackendOptions = {}) {
    const cpus = [...(options.cpus ?? [])];
    const online = osCpus().length;
    for (const c of cpus) {
      if (!Number.isInteger(c) || c < 0 || c >= online) {
        throw new BackendError(`create CPU backend: cpu ${c} is not one of the ${online} logical CPUs`, {
          details: { field: "cpus" },
        });
      }
    }
    const threads = options.threads ?? cpus.length;
    if (!Number.isInteger(threads) || threads < 0) {
      throw new BackendError(`create CPU backend: threads must be a non-negative integer, got ${threads}`, {
        details: { field: "threads" },
      });
    }
    this.name = options.name ?? "ort-cpu";
    const affinities = cpus.length > 0 && threads > 0 ? threadAffinities(cpus, threads) : undefined;
    this.#config = {
      executionProviders: ["cpu"],
      ...(threads > 0 ? { intraOpThreads: threads } : {}),
      ...(affinities ? { threadAffinities: affinities } : {}),
      ...(options.allowSpinning === false ? { allowSpinning: false } : {}),
    };
    this.capabilities = {
      name: this.name,
      kind: "cpu",
      executionProvider: "cpu",
      memoryBytes: totalmem(),
      // ORT's CPU provider runs fp16 graphs and int8/int4 (MatMulNBits) quantised ones.
      precisions: ["fp32", "fp16", "int8", "int4"],
      threads,
      cpus,
    };
  }

  createSession(source: string | Uint8Array, label: string, externalDataFolder?: string): Promise<OrtSession> {
    return OrtSession.create(source, { ...this.#config, ...(externalDataFolder ? { externalDataFolder } : {}) }, label);
  }
}

/** ONNX Runtime's WebGPU execution provider; construct it through `discoverBackends`, which checks for an adapter. */
export class OrtWebGpuBackend implements Backend {
  readonly name = "ort-webgpu";
  readonly kind: UnitKind = "gpu";
  readonly capabilities: BackendCapabilities = {
    name: "ort-webgpu",
    kind: "gpu",
    executionProvider: "webgpu",
    memoryBytes: undefined,
    precisions: ["fp32", "fp16"],
    threads: 0,
    cpus: [],
  };

  createSession(source: string | Uint8Array, label: string, externalDataFolder?: string): Promise<OrtSession> {
    return OrtSession.create(
      source,
      { executionProviders: ["webgpu"], ...(externalDataFolder ? { externalDataFolder } : {}) },
      label,
    );
  }
}

/** A backend that did not load, and why. */
export interface UnavailableBackend {
  name: string;
  kind: UnitKind;
  reason: string;
}

/** The backends of this host. */
export interface BackendRegistry {
  readonly available: readonly Backend[];
  readonly unavailable: readonly UnavailableBackend[];
  /** The backend called `name`, if it loaded. */
  get(name: string): Backend | undefined;
  /** @throws BackendError naming the backend and why it is unavailable */
  require(name: string): Backend;
}

/** A CPU cluster to run a pinned backend on. */
export interface CpuClusterSpec {
  /** Unit id of the cluster (`cpu_big`); the backend is named `ort-cpu:<name>`. */
  name: string;
  /** Its logical CPUs, 0-based. */
  cpus: readonly number[];
  /** Intra-op threads. @default cpus.length */
  threads?: number;
}

/** Options of `discoverBackends`. */
export interface DiscoverBackendsOptions {
  /** One pinned CPU backend per cluster, besides the unpinned `ort-cpu`. @default [] */
  cpuClusters?: readonly CpuClusterSpec[];
  /** Probe ONNX Runtime's WebGPU provider (it prints native warnings when no adapter exists). @default true */
  webgpu?: boolean;
}

/** A one-node model (Add) to probe execution providers with. */
function probeModel(): Uint8Array {
  const io = (name: string) =>
    proto.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 4 }] } } },
    });
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    producerName: "qeil-probe",
    graph: {
      name: "probe",
      node: [{ opType: "Add", input: ["x", "x"], output: ["y"], name: "add" }],
      input: [io("x")],
      output: [io("y")],
    },
  });
}

/**
 * Finds the backends this host can run: the ORT CPU backend always, one
 * pinned CPU backend per given cluster (unavailable when its cpus are not
 * online), and ORT WebGPU when a WebGPU adapter exists.
 */
export async function discoverBackends(options: DiscoverBackendsOptions = {}): Promise<BackendRegistry> {
  const available: Backend[] = [new OrtCpuBackend()];
  const unavailable: UnavailableBackend[] = [];
  for (const cluster of options.cpuClusters ?? []) {
    const name = `ort-cpu:${cluster.name}`;
    try {
      available.push(new OrtCpuBackend({ name, cpus: cluster.cpus, threads: cluster.threads ?? cluster.cpus.length }));
    } catch (error) {
      unavailable.push({ name, kind: "cpu", reason: (error as Error).message });
    }
  }
  if (options.webgpu ?? true) {
    const probe = await probeExecutionProvider("webgpu", probeModel());
    if (probe.ok) available.push(new OrtWebGpuBackend());
    else unavailable.push({ name: "ort-webgpu", kind: "gpu", reason: probe.reason });
  } else {
    unavailable.push({ name: "ort-webgpu", kind: "gpu", reason: "not probed (webgpu: false)" });
  }
  // Vendor NPUs (RKNN, VIP) need their own runtimes through FFI; none is wired yet, and saying so is the point.
  unavailable.push({ name: "npu", kind: "npu", reason: "no NPU backend is implemented in this build" });
  return {
    available,
    unavailable,
    get: (name) => available.find((b) => b.name === name),
    require(name) {
      const found = available.find((b) => b.name === name);
      if (found) return found;
      const why = unavailable.find((u) => u.name === name);
      throw new BackendError(
        why ? `use backend ${name}: unavailable (${why.reason})` : `use backend ${name}: no such backend`,
        { details: { field: "backend" } },
      );
    },
  };
}
