/**
 * NVIDIA Jetson Orin Nano 8GB (p3767 module on the p3768 carrier), JetPack 5
 * (L4T r35) and JetPack 6 (L4T r36) names; priors for the "Super" dev kit in
 * its 25 W mode. Figures from boards.md section 2 unless marked as estimates.
 */
import type { OperatingPoint } from "../../core/mod.ts";
import type { BoardProfile } from "../profile.ts";
import type { RuntimeFamilies } from "./runtimes.ts";

const GIB = 1024 ** 3;

/** The A78AE 76.8 MHz ladder (boards.md 2.4, Orin NX list) up to the Orin Nano Super top, 1.728 GHz. */
const CPU_LADDER_KHZ = [
  115200,
  192000,
  268800,
  345600,
  422400,
  499200,
  576000,
  652800,
  729600,
  806400,
  883200,
  960000,
  1036800,
  1113600,
  1190400,
  1267200,
  1344000,
  1420800,
  1497600,
  1574400,
  1651200,
  1728000,
];

/** Voltage estimate: flat floor at low clocks, then linear to the top OPP. */
function ramp(freqHz: number, floorHz: number, topHz: number, floorV: number, topV: number): number {
  if (freqHz <= floorHz) return floorV;
  return Number((floorV + (topV - floorV) * (freqHz - floorHz) / (topHz - floorHz)).toFixed(4));
}

const CPU_OPPS: OperatingPoint[] = CPU_LADDER_KHZ.map((khz) => ({
  freqHz: khz * 1e3,
  voltageV: ramp(khz * 1e3, 729.6e6, 1728e6, 0.6, 0.9),
}));
// Orin NX / Nano Super GPU ladder (boards.md 2.4), 1020 MHz only in MAXN_SUPER.
const GPU_OPPS: OperatingPoint[] = [306, 408, 510, 612, 714, 816, 918, 1020].map((mhz) => ({
  freqHz: mhz * 1e6,
  voltageV: ramp(mhz * 1e6, 306e6, 1020e6, 0.6, 0.85),
}));

const VOLTAGE_SOURCE =
  "OPP voltages: estimates (NVIDIA publishes no Orin DVFS voltage table; typical 0.6-0.9 V CPU, 0.6-0.85 V GPU)";

export const jetsonOrinNano: BoardProfile = {
  id: "jetson-orin-nano",
  name: "NVIDIA Jetson Orin Nano 8GB (Super dev kit, 25 W mode)",
  compatible: [
    "nvidia,p3768-0000+p3767-0005",
    "nvidia,p3768-0000+p3767-0003",
    "nvidia,p3768-0000+p3767-0004",
    "nvidia,p3767-0005",
    "nvidia,p3767-0003",
    "nvidia,p3767-0004",
  ],
  modelPatterns: ["orin nano"],
  units: [
    {
      id: "cpu",
      kind: "cpu",
      label: "6x Cortex-A78AE",
      // policy0 = cpu0-3, policy4 = cpu4-5 on the Nano (cpu4-7 on NX).
      freq: { kind: "cpufreq", cpus: [0, 1, 2, 3, 4, 5] },
      load: [{ kind: "procstat" }],
      zones: ["cpu"],
    },
    {
      id: "gpu",
      kind: "gpu",
      label: "Ampere, 1024 CUDA / 32 tensor cores",
      // JetPack 6 names the device 17000000.gpu, JetPack 5 17000000.ga10b.
      freq: { kind: "devfreq", devices: ["17000000.gpu", "17000000.ga10b"] },
      load: [
        {
          kind: "permille",
          devfreqDevice: true,
          paths: [
            "sys/devices/platform/bus@0/17000000.gpu/load",
            "sys/devices/platform/17000000.ga10b/load",
            "sys/devices/platform/gpu.0/load",
            "sys/devices/gpu.0/load",
          ],
        },
      ],
      zones: ["gpu"],
    },
  ],
  zones: {
    cpu: ["cpu-thermal", "CPU-therm"],
    gpu: ["gpu-thermal", "GPU-therm"],
    cv0: ["cv0-thermal", "CV0-therm"],
    cv1: ["cv1-thermal", "CV1-therm"],
    cv2: ["cv2-thermal", "CV2-therm"],
    soc0: ["soc0-thermal", "SOC0-therm"],
    soc1: ["soc1-thermal", "SOC1-therm"],
    soc2: ["soc2-thermal", "SOC2-therm"],
    tj: ["tj-thermal", "tj-therm"],
  },
  rails: [
    {
      name: "VDD_IN",
      source: "hwmon",
      chips: ["ina3221"],
      label: "VDD_IN",
      role: "input",
      format: "voltage-current",
      note: "module input (boards.md 2.1); INA3221 channel 1, no power file: P = in1_input mV x curr1_input mA",
    },
    {
      name: "VDD_CPU_GPU_CV",
      source: "hwmon",
      chips: ["ina3221"],
      label: "VDD_CPU_GPU_CV",
      role: "aux",
      format: "voltage-current",
      note: "one rail for CPU, GPU and CV together (boards.md 2.1), so not any single unit's power",
    },
    {
      name: "VDD_SOC",
      source: "hwmon",
      chips: ["ina3221"],
      label: "VDD_SOC",
      role: "aux",
      format: "voltage-current",
      note: "SoC rail (boards.md 2.1)",
    },
  ],
  notes: [
    "cv0/cv1/cv2-thermal read with EAGAIN on the Orin Nano (no DLA/PVA); a failed channel, never an offline sentinel.",
    "tj-thermal can be disabled and read empty on Yocto/upstream kernels.",
    "GPU devfreq min_freq/max_freq do not show jetson_clocks pinning; do not infer pinned clocks from them.",
    "INA3221: skip NC labels and the shunt-sum channel (in7, curr4).",
  ],
  priors: {
    ambientC: 25,
    // jtop on an Orin Nano: VDD_IN 4.17 W at light load (boards.md 2.1); the
    // units' idle and leakage take ~1.1 W of it.
    basePowerW: 2.6,
    // Super: EMC 3199 MHz on 128-bit LPDDR5 = 102 GB/s (boards.md 2.7).
    busBandwidthBytesPerS: 102e9,
    memoryTotalBytes: 8 * GIB,
    defaultUnit: "gpu",
    thermalMarginC: 5,
    zones: [
      // Dev kit heatsink with fan: ~20 W sustained in the units settles near
      // 80-85 °C Tj (an Orin NX peaked at 92 °C Tj in MAXN_SUPER, boards.md 2.6).
      { id: "cpu", tauS: 60, rthKPerW: { cpu: 3.0, gpu: 2.0 }, passiveTripC: 99, criticalTripC: 104.5 },
      { id: "gpu", tauS: 60, rthKPerW: { cpu: 2.0, gpu: 3.0 }, passiveTripC: 99, criticalTripC: 104.5 },
      { id: "tj", tauS: 60, rthKPerW: { cpu: 3.0, gpu: 3.0 }, criticalTripC: 104.5 },
    ],
    units: [
      {
        id: "cpu",
        kind: "cpu",
        label: "6x Cortex-A78AE @ 1.728 GHz",
        opps: CPU_OPPS,
        // int4 = int8/3: llama.cpp unpacks nibbles around every SDOT, as on the
        // RK3588's A76 where a Q4_1 decode anchors it (rk3588.ts).
        peakOpsPerS: { fp32: 165.9e9, fp16: 331.8e9, int8: 663.6e9, int4: 221.2e9 },
        bandwidthBytesPerS: 40e9,
        computeEfficiency: 0.21,
        memoryEfficiency: 0.8,
        idlePowerW: 0.3,
        leakagePowerW: 0.25,
        leakageRefTempC: 25,
        leakageKappaPerK: 0.03,
        // ~5 W dynamic for six cores at 1.728 GHz / 0.9 V.
        ceffF: 3.57e-9,
        energyPerByteJ: 150e-12,
        powerGateable: false,
        thermalZone: "cpu",
        sources: [
          "boards.md 2.7: 6x A78AE, 1.7 GHz on the Super; fp32 16 FLOP/clk/core [DERIVED] = 165.9 GFLOP/s at 1.728 GHz",
          "boards.md 2.4: CPU ladder in 76.8 MHz steps",
          "fp16/int8 rates (2x, 4x fp32), bandwidth 40 GB/s, efficiencies and power split: estimates (UNSURE); int4 = int8/3 as the RK3588 A76 anchor shows for llama.cpp's kernels",
          VOLTAGE_SOURCE,
        ],
      },
      {
        id: "gpu",
        kind: "gpu",
        label: "Ampere 1024 CUDA @ 1.02 GHz",
        opps: GPU_OPPS,
        // int4: runtimes (MLC q4f16) dequantise to fp16 tensor math.
        peakOpsPerS: { fp32: 2.09e12, fp16: 16.7e12, int8: 33.5e12, int4: 16.7e12 },
        bandwidthBytesPerS: 102e9,
        computeEfficiency: 0.4,
        // NVIDIA's generative-AI benchmarks: MLC int4 Llama-3.1-8B 19.1 tok/s and
        // Llama-3.2-3B 43.1 tok/s, about 84% of 102 GB/s (DESIGN.md 3).
        memoryEfficiency: 0.84,
        idlePowerW: 0.25,
        leakagePowerW: 0.3,
        leakageRefTempC: 25,
        leakageKappaPerK: 0.03,
        // ~12 W dynamic at 1.02 GHz / 0.85 V, within the 25 W module budget.
        ceffF: 16.3e-9,
        energyPerByteJ: 60e-12,
        powerGateable: true,
        thermalZone: "gpu",
        sources: [
          "boards.md 2.7: 1024 CUDA, 1020 MHz (Super); fp32 2.09 TF [DERIVED]; fp16 tensor dense ~16.7 TF [DERIVED]; 67 sparse int8 TOPS -> 33.5 dense",
          "boards.md 2.7: 102 GB/s (EMC 3199 MHz); memoryEfficiency 0.84: DESIGN.md 3 anchor",
          "boards.md 2.6: 25 W mode caps clocks, not power; power split and computeEfficiency: estimates",
          VOLTAGE_SOURCE,
        ],
      },
    ],
    sources: [
      "boards.md 2.3: upstream Tegra234 DT, sw-throttle 99 °C passive, sw-shutdown 104.5 °C critical; tj has only the critical trip (L4T values UNSURE)",
      "boards.md 2.1: VDD_IN 5064 mV x 824 mA = 4.17 W light load (JP5.1.1 Orin Nano)",
      "boards.md 2.6: Orin Nano Super power modes 15 W / 25 W / MAXN_SUPER; priors for 25 W",
      "thermal R and tau: estimates for the dev kit's fan heatsink",
    ],
  },
};

/** Runtime families measured on the Orin Nano (see runtimes.ts); each unit's priors describe `base`. */
export const jetsonOrinNanoRuntimes: RuntimeFamilies = {
  gpu: { base: "mlc-llm", others: {} },
};
