/**
 * Rockchip RK3588 / RK3588S (Radxa ROCK 5B, Orange Pi 5, FriendlyElec CM3588):
 * vendor BSP (5.10 / 6.1) and mainline (6.x) names. Figures from boards.md
 * section 1 unless marked as estimates.
 */
import type { OperatingPoint } from "../../core/mod.ts";
import { type BoardProfile, simulatedRails } from "../profile.ts";
import type { RuntimeFamilies } from "./runtimes.ts";

const MHZ = 1e6;
const GIB = 1024 ** 3;

/** Builds an OPP list from `[MHz, V]` pairs (ascending). */
function opps(pairs: readonly (readonly [number, number])[]): OperatingPoint[] {
  return pairs.map(([mhz, voltageV]) => ({ freqHz: mhz * MHZ, voltageV }));
}

// DVFS voltages: estimates of the published RK3588 OPP tables (mainline
// rk3588-opp.dtsi / vendor rk3588s.dtsi): A76 0.675-1.0 V, A55 0.675-0.95 V,
// GPU and NPU 0.675-0.85 V. Real chips are binned (PVTM), so these are priors.
const A76_OPPS = opps([
  [408, 0.675],
  [600, 0.675],
  [816, 0.675],
  [1008, 0.675],
  [1200, 0.675],
  [1416, 0.725],
  [1608, 0.7625],
  [1800, 0.85],
  [2016, 0.925],
  [2208, 0.9875],
  [2256, 1.0],
  [2304, 1.0],
  [2352, 1.0],
  [2400, 1.0],
]);
const A55_OPPS = opps([
  [408, 0.675],
  [600, 0.675],
  [816, 0.675],
  [1008, 0.675],
  [1200, 0.7125],
  [1416, 0.7625],
  [1608, 0.85],
  [1800, 0.95],
]);
const GPU_NPU_OPPS = opps([
  [300, 0.675],
  [400, 0.675],
  [500, 0.675],
  [600, 0.675],
  [700, 0.7],
  [800, 0.75],
  [900, 0.8],
  [1000, 0.85],
]);

const VOLTAGE_SOURCE =
  "OPP voltages: estimates from the published RK3588 DVFS tables (mainline rk3588-opp.dtsi, vendor rk3588s.dtsi), not measured";

export const rk3588: BoardProfile = {
  id: "rk3588",
  name: "Rockchip RK3588 / RK3588S (ROCK 5B, Orange Pi 5, CM3588)",
  compatible: ["rockchip,rk3588", "rockchip,rk3588s"],
  modelPatterns: ["rk3588", "rock 5b", "rock-5b", "orange pi 5", "cm3588"],
  units: [
    {
      id: "cpu_big",
      kind: "cpu",
      label: "4x Cortex-A76",
      freq: { kind: "cpufreq", cpus: [4, 5, 6, 7] },
      load: [{ kind: "procstat" }],
      zones: ["bigcore0", "bigcore1"],
    },
    {
      id: "cpu_little",
      kind: "cpu",
      label: "4x Cortex-A55",
      freq: { kind: "cpufreq", cpus: [0, 1, 2, 3] },
      load: [{ kind: "procstat" }],
      zones: ["littlecore"],
    },
    {
      id: "gpu",
      kind: "gpu",
      label: "Mali-G610 MP4",
      freq: { kind: "devfreq", devices: ["fb000000.gpu"] },
      // Vendor kernels only; mainline (panthor) has no load file.
      load: [{ kind: "devfreq-load" }],
      zones: ["gpu"],
    },
    {
      id: "npu",
      kind: "npu",
      label: "RKNPU2, 3 cores",
      freq: { kind: "devfreq", devices: ["fdab0000.npu"] },
      // The NPU devfreq `load` always reads 100 (rknpu_ondemand fills no busy
      // sample, boards.md 1.3), so only the rknpu debugfs file is a real load.
      load: [{ kind: "rknpu", paths: ["sys/kernel/debug/rknpu/load", "proc/rknpu/load"] }],
      zones: ["npu"],
    },
  ],
  zones: {
    soc: ["soc-thermal", "package-thermal"],
    bigcore0: ["bigcore0-thermal"],
    bigcore1: ["bigcore1-thermal", "bigcore2-thermal"],
    littlecore: ["littlecore-thermal"],
    center: ["center-thermal"],
    gpu: ["gpu-thermal"],
    npu: ["npu-thermal"],
  },
  rails: [
    {
      name: "board_in",
      source: "hwmon",
      chips: ["ina219", "ina226", "ina230", "ina231", "ina260"],
      channel: 1,
      role: "input",
      format: "power",
      note:
        "RK3588 boards have no current sensor (boards.md 1.6); an external INA2xx on the 12/5 V input is the recommended meter",
    },
    ...simulatedRails(
      ["cpu_big", "cpu_little", "gpu", "npu"],
      "real RK3588 boards have no rail sensor (boards.md 1.6)",
    ),
  ],
  notes: [
    "Vendor BSP: only soc-thermal has trips (75/85 °C passive, 115 °C critical); the six other zones have none.",
    "Mainline: soc zone is package-thermal (115 °C critical only), bigcore1 is named bigcore2-thermal, per-cluster 85 °C passive trips, no devfreq load file, no NPU devfreq (rocket driver).",
    "NPU devfreq load always reads 100; utilisation comes from debugfs rknpu/load (root only).",
    "tcpm-source-psy hwmon values are the negotiated USB-PD contract, not a measurement: never a power rail.",
  ],
  priors: {
    ambientC: 25,
    // Board idle at the wall is below 2 W (boards.md 1.6); units' idle and
    // leakage take ~0.5 W of it, the rest is DRAM background, PMIC and IO.
    basePowerW: 1.2,
    // 4x16-bit LPDDR4x-4224 (ROCK 5B): 33.8 GB/s theoretical (boards.md 1.7).
    busBandwidthBytesPerS: 33.8e9,
    memoryTotalBytes: 8 * GIB,
    defaultUnit: "cpu_big",
    thermalMarginC: 5,
    zones: [
      // Passive cooling (heatsink, no fan): full CPU load (~6.3 W in the
      // units) settles near 76 °C at the soc sensor and ~80 °C at the big
      // cores, which matches passive RK3588 boards reaching 75-85 °C and the
      // vendor power_allocator engaging at 75 °C.
      {
        id: "soc",
        tauS: 100,
        rthKPerW: { cpu_big: 8, cpu_little: 8, gpu: 8, npu: 8 },
        passiveTripC: 75,
        criticalTripC: 115,
      },
      { id: "bigcore0", tauS: 80, rthKPerW: { cpu_big: 9, cpu_little: 7, gpu: 6, npu: 6 }, criticalTripC: 120 },
      { id: "bigcore1", tauS: 80, rthKPerW: { cpu_big: 9, cpu_little: 7, gpu: 6, npu: 6 }, criticalTripC: 120 },
      { id: "littlecore", tauS: 80, rthKPerW: { cpu_big: 7, cpu_little: 9, gpu: 6, npu: 6 }, criticalTripC: 120 },
      { id: "center", tauS: 100, rthKPerW: { cpu_big: 7, cpu_little: 7, gpu: 7, npu: 7 }, criticalTripC: 120 },
      // The vendor GPU OPP table caps the GPU at 800 MHz above 85 °C.
      {
        id: "gpu",
        tauS: 80,
        rthKPerW: { cpu_big: 6, cpu_little: 6, gpu: 9, npu: 7 },
        passiveTripC: 85,
        criticalTripC: 120,
      },
      { id: "npu", tauS: 80, rthKPerW: { cpu_big: 6, cpu_little: 6, gpu: 7, npu: 9 }, criticalTripC: 120 },
    ],
    units: [
      {
        id: "cpu_big",
        kind: "cpu",
        label: "4x Cortex-A76 @ 2.4 GHz",
        opps: A76_OPPS,
        // A76: 2x128-bit FMA = 16 FLOP/clk fp32; fp16 twice; SDOT int8 four
        // times. int4 has no native MAC: llama.cpp unpacks the nibbles (and
        // applies Q4_1's min) around every SDOT, so int4 runs at about a third
        // of the int8 rate, which is what its Q4_1 decode shows (sources).
        peakOpsPerS: { fp32: 153.6e9, fp16: 307.2e9, int8: 614.4e9, int4: 204.8e9 },
        bandwidthBytesPerS: 22e9,
        // llama.cpp pp512 Q8_0 reaches 0.170 (Gemma-3-1B) and 0.180 (Ministral-3-3B) of the int8 peak.
        computeEfficiency: 0.175,
        memoryEfficiency: 0.95,
        idlePowerW: 0.12,
        leakagePowerW: 0.15,
        leakageRefTempC: 25,
        leakageKappaPerK: 0.03,
        // ~4.2 W dynamic for the cluster at 2.4 GHz / 1.0 V under all-core load.
        ceffF: 1.75e-9,
        // Memory-bound decode keeps four cores and the cache hierarchy busy
        // while DASI (the compute share) stays ~0.07, so the per-byte figure
        // carries the cores' work too (DRAM alone: 160-320 pJ/B per Horowitz,
        // ISSCC 2014); fitted to the wall power of llama.cpp decode.
        energyPerByteJ: 250e-12,
        powerGateable: false,
        thermalZone: "bigcore0",
        sources: [
          "boards.md 1.7: 4x A76 up to 2.4 GHz, fp32 peak 4 x 2.4 GHz x 16 = 153.6 GFLOP/s [DERIVED]",
          "fp16 2x, int8 (SDOT) 4x the fp32 rate: estimates",
          "int4 = int8/3, fitted: llama.cpp issue 17783 decodes Llama-3.2-1B Q4_1 at 13.2 tok/s on the A76 (llama-server, short prompt) = 2.47 GFLOP/token x 13.2 = 32.6 GOPS, compute-bound (its 0.77 GB of weights x 13.2 = 10 GB/s is half the bandwidth); 204.8 GOPS x 0.175 predicts 14.4 tok/s",
          "bandwidth: boards.md 1.7 STREAM copy 22.0 GB/s; memoryEfficiency 0.95 reproduces llama.cpp tg128 Q8_0 decode of Gemma-3-1B, 19.5 tok/s x 1.06 GB read per token = 20.7 GB/s (llama.cpp PR 24972; Ministral-3-3B: 6.1 x 3.64 GB = 22.2 GB/s, predicted -8%)",
          "computeEfficiency 0.175: llama.cpp PR 24972 pp512 Q8_0, Gemma-3-1B 73.3 tok/s x 1.42 GFLOP/token = 104 GOPS = 0.170 of 614.4 GOPS; Ministral-3-3B 17.5 tok/s x 6.16 GFLOP/token = 108 GOPS = 0.176 (FLOPs from the published configs, tests/physics/anchors_test.ts)",
          "energyPerByteJ 250 pJ/B: fitted so whole-board tg128 decode power is 7.2 W for Gemma-3-1B and 7.1 W for Ministral-3-3B (llama.cpp PR 24972: 7.4 and 7.2 W)",
          "power: boards.md 1.6 idle <2 W, +~6 W all-core; DESIGN.md 3 llama.cpp A76 decode 7.2-7.4 W; idle/leakage/C_eff split: estimates",
          VOLTAGE_SOURCE,
        ],
      },
      {
        id: "cpu_little",
        kind: "cpu",
        label: "4x Cortex-A55 @ 1.8 GHz",
        opps: A55_OPPS,
        peakOpsPerS: { fp32: 57.6e9, fp16: 115.2e9, int8: 230.4e9, int4: 57.6e9 },
        bandwidthBytesPerS: 12e9,
        computeEfficiency: 0.2,
        memoryEfficiency: 0.85,
        idlePowerW: 0.08,
        leakagePowerW: 0.05,
        leakageRefTempC: 25,
        leakageKappaPerK: 0.03,
        // ~1.0 W dynamic for the cluster at 1.8 GHz / 0.95 V.
        ceffF: 0.6e-9,
        energyPerByteJ: 160e-12,
        powerGateable: false,
        thermalZone: "littlecore",
        sources: [
          "boards.md 1.7: 4x A55 up to 1.8 GHz, fp32 peak ~57.6 GFLOP/s [DERIVED, UNSURE A55 issue width]",
          "fp16/int8/int4 rates, bandwidth 12 GB/s, efficiencies: estimates (UNSURE, no measurement in boards.md)",
          "power split: estimate consistent with boards.md 1.6 (+~6 W for all 8 cores)",
          VOLTAGE_SOURCE,
        ],
      },
      {
        id: "gpu",
        kind: "gpu",
        label: "Mali-G610 MP4 @ 1 GHz",
        opps: GPU_NPU_OPPS,
        peakOpsPerS: { fp32: 512e9, fp16: 1024e9, int8: 1024e9, int4: 1024e9 },
        bandwidthBytesPerS: 25e9,
        computeEfficiency: 0.1,
        // llama.cpp Vulkan on Mali decodes Llama-3.2-1B Q4_1 at 3.6 tok/s (~2.9 GB/s
        // of weights) against 13.2 tok/s on the A76: far below the roofline.
        memoryEfficiency: 0.115,
        idlePowerW: 0.1,
        leakagePowerW: 0.1,
        leakageRefTempC: 25,
        leakageKappaPerK: 0.03,
        ceffF: 4.5e-9,
        energyPerByteJ: 60e-12,
        powerGateable: true,
        thermalZone: "gpu",
        sources: [
          "boards.md 1.7: Mali-G610 MP4, 300-1000 MHz; fp32 ~450-512 GFLOP/s [UNSURE], fp16 2x [UNSURE]; int8/int4 = fp16 rate: estimate",
          "memoryEfficiency: DESIGN.md 3 (llama.cpp issue 17783: Vulkan 3.6 vs A76 13.2 tok/s on Llama-3.2-1B Q4_1)",
          "bandwidth 25 GB/s, computeEfficiency, power: estimates (boards.md 1.7: no trustworthy per-unit GPU power figure) UNSURE",
          VOLTAGE_SOURCE,
        ],
      },
      {
        id: "npu",
        kind: "npu",
        label: "RKNPU2 3 cores @ 1 GHz",
        opps: GPU_NPU_OPPS,
        peakOpsPerS: { int8: 6e12, int4: 6e12, fp16: 3e12 },
        bandwidthBytesPerS: 33.8e9,
        // Decode: weights read per token x tok/s imply 0.62-0.86 of 33.8 GB/s
        // under RKLLM and 0.52-0.76 under llama.cpp's RKNPU2 backend; one
        // value meets every row (sources).
        memoryEfficiency: 0.67,
        // Prefill: RKLLM (the whole graph on the NPU) reaches 0.105-0.171 of
        // 6 TOPS; llama.cpp's RKNPU2 backend less (rk3588Runtimes below).
        computeEfficiency: 0.135,
        idlePowerW: 0.1,
        leakagePowerW: 0.08,
        leakageRefTempC: 25,
        leakageKappaPerK: 0.03,
        ceffF: 3.5e-9,
        energyPerByteJ: 50e-12,
        powerGateable: true,
        thermalZone: "npu",
        sources: [
          "boards.md 1.7: 3 cores, 6 TOPS int8 total at 1 GHz [SRC]; fp16 about half [UNSURE]; int4 = int8 rate: estimate (UNSURE)",
          "computeEfficiency 0.135 (runtime family rkllm): rknn-llm benchmark.md w8a8 TTFT of 128-token prompts, 145.9 ms Qwen2-0.5B (92.6 GFLOP) = 0.105 of 6 TOPS, 243.9 ms TinyLlama-1.1B = 0.171, 378.3 ms Qwen2.5-1.5B = 0.150, 1017 ms Phi-3-mini = 0.157; 0.135 is the geometric centre of the extremes (TTFT -22% / +27%)",
          "memoryEfficiency 0.67 (22.6 GB/s): decode rate x weight bytes read per token, rknn-llm benchmark.md (64 tokens after 128) 20.8-29.0 GB/s, llama.cpp PR 24972 tg128 Q8_0 17.7 GB/s (Gemma-3-1B) and 25.7 GB/s (Ministral-3-3B); worst rows Gemma-3-1B +28%, Phi-3-mini -22%",
          "power: DESIGN.md 3 llama.cpp RKNPU decode 3.0-3.2 W at the wall; C_eff/idle/leakage split: estimates (no per-unit NPU power figure, boards.md 1.7)",
          VOLTAGE_SOURCE,
        ],
      },
    ],
    sources: [
      "boards.md 1.2: vendor soc-thermal trips 75/85 °C passive, 115 °C critical; other zones have no trips (mainline: 85 °C passive per cluster and GPU); 120 °C hardware shutdown (critical prior for zones without trips)",
      "boards.md 1.2: GPU OPP high-temp cap at 85 °C (gpu zone passive prior)",
      "boards.md 1.6: board idle <2 W at the wall, all-core 7-zip +~6 W (T. Kaiser, ROCK 5B)",
      "boards.md 1.7: LPDDR4x-4224 64-bit 33.8 GB/s theoretical; STREAM 20-22 GB/s",
      "thermal R and tau: estimates for a passively cooled board (heatsink, no fan), chosen so sustained full CPU load reaches ~76-80 °C",
      "memoryTotalBytes: 8 GiB SKU (ROCK 5B / Orange Pi 5 ship 4-32 GB); the HAL reports the real MemTotal",
    ],
  },
};

/**
 * Runtime families measured on the RK3588 (see runtimes.ts); each unit's
 * priors describe its `base` family. The NPU has two: RKLLM compiles the whole
 * decoder for the NPU, while llama.cpp's RKNPU2 backend (PR 24972) offloads
 * only the matrix products and runs attention, norms and activations on the
 * CPU, so it reaches less of the NPU's compute roof in prefill. No single
 * compute efficiency meets both families' rows within ±30% (RKLLM needs
 * 0.131-0.150, llama.cpp's Gemma-3-1B row 0.063-0.117).
 */
export const rk3588Runtimes: RuntimeFamilies = {
  cpu_big: { base: "llama.cpp-cpu", others: {} },
  gpu: { base: "llama.cpp-vulkan", others: {} },
  npu: {
    base: "rkllm",
    others: {
      "llama.cpp-rknpu2": {
        computeEfficiency: 0.107,
        sources: [
          "llama.cpp PR 24972 pp512 Q8_0 on the RKNPU2 backend: Gemma-3-1B 378.6 tok/s x 1.42 GFLOP/token = 0.54 TOPS = 0.090 of 6 TOPS; Ministral-3-3B 120.9 tok/s x 6.16 GFLOP/token = 0.75 TOPS = 0.124; 0.107 is the geometric centre (prefill +19% / -16%)",
          "decode bandwidth: the NPU's memoryEfficiency prior (0.67) meets this family's rows too (Gemma-3-1B +28%, Ministral-3-3B -12%)",
        ],
      },
    },
  },
};
