/**
 * NXP i.MX 8M Plus (4x Cortex-A53, 2.3 TOPS VeriSilicon VIP NPU). Figures from
 * boards.md section 4 unless marked as estimates; boards.md found no public
 * per-unit power numbers, so every power figure here is an estimate.
 */
import { type BoardProfile, simulatedRails } from "../profile.ts";

const GIB = 1024 ** 3;

export const imx8mp: BoardProfile = {
  id: "imx8mp",
  name: "NXP i.MX 8M Plus",
  compatible: ["fsl,imx8mp"],
  modelPatterns: ["i.mx8mp", "i.mx 8m plus", "imx8mp"],
  units: [
    {
      id: "cpu",
      kind: "cpu",
      label: "4x Cortex-A53",
      freq: { kind: "cpufreq", cpus: [0, 1, 2, 3] },
      load: [{ kind: "procstat" }],
      zones: ["cpu"],
    },
    {
      id: "npu",
      kind: "npu",
      label: "VeriSilicon VIP NPU (galcore)",
      freq: { kind: "none", note: "the galcore NPU clock has no devfreq on i.MX 8M Plus" },
      // galcore `load` samples cycle counters for ~100 ms during the read
      // (boards.md 4.2). Which core block is the NPU is UNSURE; core 0 is the
      // 3D GPU on galcore builds that register it, the NPU follows.
      load: [{ kind: "galcore", paths: ["sys/kernel/debug/gc/load"], core: 1 }],
      zones: ["soc"],
    },
  ],
  zones: { cpu: ["cpu-thermal"], soc: ["soc-thermal"] },
  rails: simulatedRails(["cpu", "npu"], "no public per-unit power sensor (boards.md 4.3)"),
  notes: [
    "Mainline etnaviv exposes no galcore debugfs and no devfreq: NPU load and clock are then unavailable.",
    "A gc/load read takes ~100 ms (the driver samples cycle counters during the read).",
  ],
  priors: {
    ambientC: 25,
    basePowerW: 1.5,
    // 32-bit LPDDR4-4000: 16 GB/s theoretical (boards.md 4.3).
    busBandwidthBytesPerS: 16e9,
    memoryTotalBytes: 4 * GIB,
    defaultUnit: "cpu",
    thermalMarginC: 5,
    zones: [
      { id: "cpu", tauS: 60, rthKPerW: { cpu: 10, npu: 8 }, passiveTripC: 85, criticalTripC: 95 },
      { id: "soc", tauS: 60, rthKPerW: { cpu: 8, npu: 10 }, passiveTripC: 85, criticalTripC: 95 },
    ],
    units: [
      {
        id: "cpu",
        kind: "cpu",
        label: "4x Cortex-A53 @ 1.8 GHz",
        // imx8mp.dtsi A53 OPPs: 1.2 GHz 0.85 V, 1.6 GHz 0.95 V, 1.8 GHz 1.0 V (1.8 GHz consumer grade only).
        opps: [
          { freqHz: 1.2e9, voltageV: 0.85 },
          { freqHz: 1.6e9, voltageV: 0.95 },
          { freqHz: 1.8e9, voltageV: 1.0 },
        ],
        // A53 has no fp16 arithmetic (ARMv8.0): fp16 weights compute at the
        // fp32 rate; int8 without SDOT ~2x, int4 a quarter of int8.
        peakOpsPerS: { fp32: 57.6e9, fp16: 57.6e9, int8: 115.2e9, int4: 28.8e9 },
        bandwidthBytesPerS: 16e9,
        computeEfficiency: 0.2,
        memoryEfficiency: 0.45,
        idlePowerW: 0.1,
        leakagePowerW: 0.06,
        leakageRefTempC: 25,
        leakageKappaPerK: 0.03,
        ceffF: 0.85e-9,
        energyPerByteJ: 160e-12,
        powerGateable: false,
        thermalZone: "cpu",
        sources: [
          "boards.md 4.3: 4x A53 up to 1.8 GHz, fp32 ~57.6 GFLOP/s [DERIVED, UNSURE A53 width]",
          "boards.md 4.1: OPPs 1.2/1.6/1.8 GHz by speed grade; voltages from imx8mp.dtsi as recalled: estimates",
          "fp16/int8/int4 rates, memoryEfficiency and all power figures: estimates (boards.md 4.3: no public per-unit power numbers, UNSURE)",
        ],
      },
      {
        id: "npu",
        kind: "npu",
        label: "VIP NPU 2.3 TOPS",
        opps: [{ freqHz: 1.0e9, voltageV: 1.0 }],
        // The eIQ NPU runs quantised int8 graphs; fp16/fp32 fall back to the CPU.
        peakOpsPerS: { int8: 2.3e12 },
        bandwidthBytesPerS: 16e9,
        computeEfficiency: 0.25,
        memoryEfficiency: 0.6,
        idlePowerW: 0.1,
        leakagePowerW: 0.05,
        leakageRefTempC: 25,
        leakageKappaPerK: 0.03,
        ceffF: 1.5e-9,
        energyPerByteJ: 60e-12,
        powerGateable: true,
        thermalZone: "soc",
        sources: [
          "boards.md 4.3: NPU 2.3 TOPS int8 [SRC NXP]",
          "clock 1 GHz (overdrive) and voltage: estimates; efficiencies and power: estimates (UNSURE)",
        ],
      },
    ],
    sources: [
      "boards.md 4.1/4.3: cpu-thermal and soc-thermal, 85 °C passive, 95 °C critical",
      "boards.md 4.3: no public per-unit power numbers (UNSURE): base, idle, leakage, C_eff are estimates",
      "thermal R and tau: estimates for an EVK-style heatsink",
      "memoryTotalBytes: 4 GiB, a common SKU (UNSURE); the HAL reports the real MemTotal",
    ],
  },
};
