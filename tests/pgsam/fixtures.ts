/** Shared inputs of the placement tests: real board priors from the HAL profiles, decoder shapes. */
import type { DecoderShape } from "../../src/core/mod.ts";
import { getProfile } from "../../src/hal/mod.ts";
import { type BoardModel, type BoardState, createBoardModel, type Job } from "../../src/physics/mod.ts";

/** Llama-3.2-1B's dimensions (16 layers), int4 weights with 32-weight groups. */
export function llama32OneB(layers = 16): DecoderShape {
  return {
    family: "llama",
    mlpMatrices: 3,
    layers,
    hiddenSize: 2048,
    intermediateSize: 8192,
    heads: 32,
    kvHeads: 8,
    headDim: 64,
    vocabSize: 128256,
    maxSeqLen: 4096,
    tiedEmbeddings: true,
    weightPrecision: "int4",
    groupSize: 32,
    kvPrecision: "fp16",
  };
}

/** The board model from a profile's datasheet priors. */
export function boardModel(profileId: string): BoardModel {
  return createBoardModel(getProfile(profileId).priors);
}

/** A cool, idle board with 80% of its memory free and the given units healthy. */
export function idleState(model: BoardModel, healthyUnits: readonly string[] = model.unitIds): BoardState {
  return {
    tempsC: {},
    ambientC: model.ambientC,
    memAvailableBytes: 0.8 * model.memoryTotalBytes,
    healthyUnits: [...healthyUnits],
    maxFreqHz: {},
  };
}

/** A 128-token prompt, 64 new tokens per sample. */
export function job(shape: DecoderShape, samples: number, sloMs?: number): Job {
  return { shape, promptTokens: 128, genTokens: 64, samples, ...(sloMs !== undefined ? { sloMs } : {}) };
}
