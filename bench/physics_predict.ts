/**
 * Cost of one predict() call, the optimizer's inner loop: a 32-layer int4
 * decoder on the rk3588 profile's four units, for the placements a plan
 * visits (one unit, sample-parallel lanes, pipelines), at 8 samples.
 *
 * Usage: deno run --allow-read bench/physics_predict.ts [--calls N] [--json]
 * Prints µs per call (median of 7 timed rounds after a warm-up round).
 */
import { parseArgs } from "node:util";
import type { DecoderShape } from "../src/core/mod.ts";
import { getProfile } from "../src/hal/mod.ts";
import { type BoardState, createBoardModel, type Placement, predict } from "../src/physics/mod.ts";

const args = parseArgs({
  args: Deno.args,
  options: { calls: { type: "string", default: "20000" }, json: { type: "boolean", default: false } },
});
const calls = Number(args.values.calls);
if (!Number.isInteger(calls) || calls <= 0) {
  throw new RangeError(`--calls must be a positive integer, got ${args.values.calls}`);
}

// Llama-3.1-8B-shaped, int4 g32 (32 layers).
const shape: DecoderShape = {
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
  weightPrecision: "int4",
  groupSize: 32,
  kvPrecision: "fp16",
};
const priors = getProfile("rk3588").priors;
const model = createBoardModel(priors);
const state: BoardState = {
  tempsC: Object.fromEntries(priors.zones.map((z) => [z.id, 45])),
  ambientC: priors.ambientC,
  memAvailableBytes: 7e9,
  healthyUnits: priors.units.map((u) => u.id),
  maxFreqHz: {},
};
const job = { shape, promptTokens: 256, genTokens: 256, samples: 8 };
const seg = (unitId: string, layerStart: number, layerEnd: number) => ({ unitId, layerStart, layerEnd });
const placements: Placement[] = [
  { prefillUnit: "npu", lanes: [{ segments: [seg("npu", 0, 32)], samples: 8 }], freqLevel: { npu: 7 } },
  {
    prefillUnit: "npu",
    lanes: [
      { segments: [seg("npu", 0, 32)], samples: 4 },
      { segments: [seg("cpu_big", 0, 32)], samples: 3 },
      { segments: [seg("gpu", 0, 32)], samples: 1 },
    ],
    freqLevel: { npu: 5, cpu_big: 10, gpu: 4 },
  },
  {
    prefillUnit: "gpu",
    lanes: [
      { segments: [seg("cpu_big", 0, 12), seg("npu", 12, 32)], samples: 5 },
      { segments: [seg("cpu_little", 0, 8), seg("gpu", 8, 20), seg("npu", 20, 32)], samples: 3 },
    ],
    freqLevel: { npu: 7, cpu_big: 13, cpu_little: 7, gpu: 7 },
  },
];

let sink = 0;
function round(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sink += predict(model, state, job, placements[i % placements.length]).energyJ;
  return ((performance.now() - t0) * 1000) / n;
}
round(Math.min(calls, 5000));
const rounds = Array.from({ length: 7 }, () => round(calls)).sort((a, b) => a - b);
const result = {
  bench: "physics_predict",
  shape: "llama-3.1-8b int4 (32 layers)",
  board: "rk3588 (4 units)",
  placements: placements.length,
  callsPerRound: calls,
  usPerCallMedian: Number(rounds[3].toFixed(2)),
  usPerCallMin: Number(rounds[0].toFixed(2)),
  usPerCallMax: Number(rounds[6].toFixed(2)),
  checksum: Number(sink.toExponential(6)),
};
if (args.values.json) console.log(JSON.stringify(result));
else {
  console.log(
    `predict(): ${result.usPerCallMedian} µs per call (median of 7 rounds of ${calls}; min ${result.usPerCallMin}, max ${result.usPerCallMax})`,
  );
}
