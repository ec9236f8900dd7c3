/**
 * A simulated board in virtual time read through the HAL, the embedded tiny
 * model, and an orchestrator over them, for the orchestrator's tests: real
 * files in a temp folder, a real ORT session, real actuators on the tree.
 */
import type { DecoderShape } from "../../src/core/mod.ts";
import { type Actuators, type Board, createActuators, discoverBoard } from "../../src/hal/mod.ts";
import { buildTinyModel, type DecoderModel, loadModel } from "../../src/runtime/mod.ts";
import { createOrchestrator, type Orchestrator, type OrchestratorOptions } from "../../src/service/mod.ts";
import { createSimBoard, type SimBoard } from "../../src/sim/mod.ts";
import type { FaultEvent } from "../../src/service/mod.ts";

/** Qwen2-0.5B at int8 (the shape of its Hugging Face config): jobs the simulated units take real time on. */
export const QWEN2_05B_INT8: DecoderShape = {
  family: "qwen2",
  mlpMatrices: 3,
  layers: 24,
  hiddenSize: 896,
  intermediateSize: 4864,
  heads: 14,
  kvHeads: 2,
  headDim: 64,
  vocabSize: 151936,
  maxSeqLen: 32768,
  tiedEmbeddings: true,
  weightPrecision: "int8",
  kvPrecision: "fp16",
};

let modelDir: Promise<string> | undefined;

/** The tiny model, built once per test process. */
export function tinyModelDir(): Promise<string> {
  modelDir ??= (async () => {
    const dir = `${await Deno.makeTempDir({ prefix: "qeil-orch-model-" })}/tiny`;
    await buildTinyModel(dir);
    return dir;
  })();
  return modelDir;
}

/** A test rig: board, model, actuators and orchestrator, with the fault events it published. */
export interface Rig extends AsyncDisposable {
  sim: SimBoard;
  board: Board;
  model: DecoderModel;
  actuators: Actuators;
  orchestrator: Orchestrator;
  faults: FaultEvent[];
}

/** Options of `createRig`. */
export interface RigOptions extends Partial<Omit<OrchestratorOptions, "board" | "sim" | "model" | "actuators">> {
  profileId?: string;
  seed?: number;
  /** Simulator step, ms. @default 100 */
  stepMs?: number;
}

/** Builds the rig and starts the orchestrator. */
export async function createRig(options: RigOptions = {}): Promise<Rig> {
  const profileId = options.profileId ?? "rk3588";
  const root = await Deno.makeTempDir({ prefix: "qeil-orch-sim-" });
  const sim = await createSimBoard({
    profileId,
    root,
    seed: options.seed ?? 7,
    timeMode: "virtual",
    ...(options.stepMs !== undefined ? { stepMs: options.stepMs } : {}),
  });
  const board = await discoverBoard(root, { profileId, clock: sim.clock });
  const model = await loadModel(await tinyModelDir());
  const actuators = createActuators(board);
  const faults: FaultEvent[] = [];
  const { profileId: _p, seed: _s, stepMs: _st, ...rest } = options;
  const orchestrator = createOrchestrator({
    board,
    sim,
    model,
    actuators,
    ...rest,
    onFault: (event) => {
      faults.push(event);
      options.onFault?.(event);
    },
  });
  await orchestrator.start();
  return {
    sim,
    board,
    model,
    actuators,
    orchestrator,
    faults,
    [Symbol.asyncDispose]: async () => {
      await orchestrator.close();
      await actuators[Symbol.asyncDispose]();
      await model.dispose();
      await sim[Symbol.asyncDispose]();
      await Deno.remove(root, { recursive: true });
    },
  };
}
