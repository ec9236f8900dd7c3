/**
 * Test fixtures of tests/physics: decoder shapes with published dimensions and
 * an RK3588-like board whose priors follow boards.md section 1 (the real
 * profile lives in src/hal; this one is fixed here so physics tests do not move
 * when the profile is re-tuned).
 */
import type { BoardPriors, DecoderShape } from "../../src/core/mod.ts";
import type { BoardState } from "../../src/physics/mod.ts";

/** Llama-3.1-8B (meta-llama/Llama-3.1-8B config.json), fp16. */
export const LLAMA_8B: DecoderShape = {
  family: "llama",
  mlpMatrices: 3,
  layers: 32,
  hiddenSize: 4096,
  intermediateSize: 14336,
  heads: 32,
  kvHeads: 8,
  headDim: 128,
  vocabSize: 128256,
  maxSeqLen: 131072,
  tiedEmbeddings: false,
  weightPrecision: "fp16",
  kvPrecision: "fp16",
};

/** GPT-2 124M (openai-community/gpt2 config.json), fp32. */
export const GPT2: DecoderShape = {
  family: "gpt2",
  mlpMatrices: 2,
  layers: 12,
  hiddenSize: 768,
  intermediateSize: 3072,
  heads: 12,
  kvHeads: 12,
  headDim: 64,
  vocabSize: 50257,
  maxSeqLen: 1024,
  tiedEmbeddings: true,
  weightPrecision: "fp32",
  kvPrecision: "fp32",
};

/** Llama-3.2-1B (meta-llama/Llama-3.2-1B config.json), int4 with group size 32. */
export const LLAMA_1B_INT4: DecoderShape = {
  family: "llama",
  mlpMatrices: 3,
  layers: 16,
  hiddenSize: 2048,
  intermediateSize: 8192,
  heads: 32,
  kvHeads: 8,
  headDim: 64,
  vocabSize: 128256,
  maxSeqLen: 131072,
  tiedEmbeddings: true,
  weightPrecision: "int4",
  groupSize: 32,
  kvPrecision: "fp16",
};

const GB = 1e9;

/** RK3588-like priors: 4x A76, 4x A55, Mali-G610, 3-core NPU, LPDDR4x. */
export const RK3588_PRIORS: BoardPriors = {
  ambientC: 25,
  basePowerW: 1.5,
  busBandwidthBytesPerS: 28 * GB,
  memoryTotalBytes: 8 * 2 ** 30,
  defaultUnit: "cpu_big",
  thermalMarginC: 5,
  zones: [
    // Passive heatsink, no fan: ~8 K/W from the die to the air (the HAL profile uses similar figures).
    { id: "soc", tauS: 40, rthKPerW: { cpu_big: 8, cpu_little: 8, gpu: 8, npu: 8 }, passiveTripC: 85 },
    { id: "bigcore", tauS: 30, rthKPerW: { cpu_big: 9, cpu_little: 7, gpu: 6, npu: 6 } },
    { id: "littlecore", tauS: 30, rthKPerW: { cpu_big: 7, cpu_little: 9, gpu: 6, npu: 6 } },
    { id: "gpu", tauS: 30, rthKPerW: { cpu_big: 6, cpu_little: 6, gpu: 9, npu: 7 }, passiveTripC: 85 },
    { id: "npu", tauS: 30, rthKPerW: { cpu_big: 6, cpu_little: 6, gpu: 7, npu: 9 } },
  ],
  units: [
    {
      id: "cpu_big",
      kind: "cpu",
      label: "4x Cortex-A76",
      opps: [
        { freqHz: 408e6, voltageV: 0.675 },
        { freqHz: 1008e6, voltageV: 0.675 },
        { freqHz: 1608e6, voltageV: 0.775 },
        { freqHz: 2016e6, voltageV: 0.9 },
        { freqHz: 2400e6, voltageV: 1.0 },
      ],
      peakOpsPerS: { fp32: 153.6e9, fp16: 307.2e9, int8: 614.4e9, int4: 614.4e9 },
      bandwidthBytesPerS: 20 * GB,
      computeEfficiency: 0.5,
      memoryEfficiency: 0.7,
      idlePowerW: 0.3,
      leakagePowerW: 0.15,
      leakageRefTempC: 25,
      leakageKappaPerK: 0.03,
      ceffF: 2.5e-9,
      energyPerByteJ: 1.5e-10,
      powerGateable: false,
      thermalZone: "bigcore",
      sources: ["boards.md 1.7"],
    },
    {
      id: "cpu_little",
      kind: "cpu",
      label: "4x Cortex-A55",
      opps: [
        { freqHz: 408e6, voltageV: 0.675 },
        { freqHz: 1008e6, voltageV: 0.7 },
        { freqHz: 1800e6, voltageV: 0.95 },
      ],
      peakOpsPerS: { fp32: 57.6e9, fp16: 115.2e9, int8: 230.4e9, int4: 230.4e9 },
      bandwidthBytesPerS: 12 * GB,
      computeEfficiency: 0.5,
      memoryEfficiency: 0.6,
      idlePowerW: 0.15,
      leakagePowerW: 0.05,
      leakageRefTempC: 25,
      leakageKappaPerK: 0.03,
      ceffF: 0.6e-9,
      energyPerByteJ: 1.5e-10,
      powerGateable: false,
      thermalZone: "littlecore",
      sources: ["boards.md 1.7"],
    },
    {
      id: "gpu",
      kind: "gpu",
      label: "Mali-G610 MP4",
      opps: [
        { freqHz: 300e6, voltageV: 0.675 },
        { freqHz: 600e6, voltageV: 0.725 },
        { freqHz: 800e6, voltageV: 0.8 },
        { freqHz: 1000e6, voltageV: 0.85 },
      ],
      peakOpsPerS: { fp32: 450e9, fp16: 900e9, int8: 900e9, int4: 900e9 },
      bandwidthBytesPerS: 18 * GB,
      computeEfficiency: 0.3,
      memoryEfficiency: 0.3,
      idlePowerW: 0.2,
      leakagePowerW: 0.1,
      leakageRefTempC: 25,
      leakageKappaPerK: 0.03,
      ceffF: 2.5e-9,
      energyPerByteJ: 1.5e-10,
      powerGateable: true,
      thermalZone: "gpu",
      sources: ["boards.md 1.7"],
    },
    {
      id: "npu",
      kind: "npu",
      label: "RKNPU2, 3 cores",
      opps: [
        { freqHz: 300e6, voltageV: 0.7 },
        { freqHz: 600e6, voltageV: 0.75 },
        { freqHz: 800e6, voltageV: 0.8 },
        { freqHz: 1000e6, voltageV: 0.85 },
      ],
      peakOpsPerS: { fp16: 3e12, int8: 6e12, int4: 6e12 },
      bandwidthBytesPerS: 28 * GB,
      computeEfficiency: 0.4,
      memoryEfficiency: 0.95,
      idlePowerW: 0.2,
      leakagePowerW: 0.08,
      leakageRefTempC: 25,
      leakageKappaPerK: 0.03,
      ceffF: 2e-9,
      energyPerByteJ: 1.5e-10,
      powerGateable: true,
      thermalZone: "npu",
      sources: ["boards.md 1.7"],
    },
  ],
  sources: ["boards.md section 1"],
};

/** A cool, idle RK3588 with 6 GB available and every unit healthy. */
export function idleState(overrides: Partial<BoardState> = {}): BoardState {
  return {
    tempsC: { soc: 40, bigcore: 40, littlecore: 40, gpu: 40, npu: 40 },
    ambientC: 25,
    memAvailableBytes: 6 * GB,
    healthyUnits: ["cpu_big", "cpu_little", "gpu", "npu"],
    maxFreqHz: {},
    ...overrides,
  };
}
