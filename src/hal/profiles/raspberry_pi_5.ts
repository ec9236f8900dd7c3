/**
 * Raspberry Pi 5 (BCM2712, 4x Cortex-A76). Figures from boards.md section 3
 * unless marked as estimates.
 */
import type { OperatingPoint } from "../../core/mod.ts";
import { type BoardProfile, simulatedRails } from "../profile.ts";

const GIB = 1024 ** 3;

// 1.0-2.4 GHz in 100 MHz steps (boards.md 3.1); the firmware floors the real
// clock at 1.5 GHz, so the voltage is flat below it. 0.91 V at 2.4 GHz from
// `vcgencmd measure_volts core` (boards.md 3.3); the ramp below is an estimate.
const CPU_OPPS: OperatingPoint[] = Array.from({ length: 15 }, (_, i) => {
  const freqHz = (1000 + 100 * i) * 1e6;
  const voltageV = freqHz <= 1.5e9 ? 0.72 : Number((0.72 + (0.91 - 0.72) * (freqHz - 1.5e9) / 0.9e9).toFixed(4));
  return { freqHz, voltageV };
});

export const raspberryPi5: BoardProfile = {
  id: "raspberry-pi-5",
  name: "Raspberry Pi 5 (BCM2712)",
  compatible: ["raspberrypi,5-model-b", "brcm,bcm2712"],
  modelPatterns: ["raspberry pi 5"],
  units: [
    {
      id: "cpu",
      kind: "cpu",
      label: "4x Cortex-A76",
      freq: { kind: "cpufreq", cpus: [0, 1, 2, 3] },
      load: [{ kind: "procstat" }],
      zones: ["cpu"],
    },
  ],
  zones: { cpu: ["cpu-thermal"] },
  // PMIC rails are read with `vcgencmd pmic_read_adc` (boards.md 3.3), not
  // sysfs; an external INA2xx on the 5 V input is the sysfs option.
  rails: [
    {
      name: "board_in",
      source: "hwmon",
      chips: ["ina219", "ina226", "ina230", "ina231", "ina260"],
      channel: 1,
      role: "input",
      format: "power",
      note: "optional external INA2xx on the 5 V input; the Pi 5 PMIC ADC is not in sysfs (boards.md 3.3)",
    },
    ...simulatedRails(["cpu"], "the Pi 5 PMIC is read through vcgencmd, not sysfs (boards.md 3.3)"),
  ],
  notes: [
    "Firmware throttles independently of Linux trips: soft at 80 °C, hard at 85 °C; Linux has only fan (active) trips and 110 °C critical.",
    "cpufreq lists 1.0-1.4 GHz but the firmware floors the clock at 1.5 GHz.",
  ],
  priors: {
    ambientC: 25,
    // 8GB C1 stepping: ~3.3 W idle at the wall (boards.md 3.4).
    basePowerW: 2.7,
    // 32-bit LPDDR4X-4267: 17.1 GB/s theoretical (boards.md 3.4).
    busBandwidthBytesPerS: 17.1e9,
    memoryTotalBytes: 8 * GIB,
    defaultUnit: "cpu",
    thermalMarginC: 5,
    zones: [
      // Official active cooler: ~6.3 W in the CPU settles near 63 °C.
      // Passive: the firmware soft-throttle point (80 °C), not a Linux trip.
      { id: "cpu", tauS: 60, rthKPerW: { cpu: 6.0 }, passiveTripC: 80, criticalTripC: 110 },
    ],
    units: [
      {
        id: "cpu",
        kind: "cpu",
        label: "4x Cortex-A76 @ 2.4 GHz",
        opps: CPU_OPPS,
        peakOpsPerS: { fp32: 153.6e9, fp16: 307.2e9, int8: 614.4e9, int4: 204.8e9 },
        bandwidthBytesPerS: 17.1e9,
        computeEfficiency: 0.175,
        memoryEfficiency: 0.6,
        idlePowerW: 0.3,
        leakagePowerW: 0.3,
        leakageRefTempC: 25,
        leakageKappaPerK: 0.03,
        // ~5.2 W dynamic at 2.4 GHz / 0.91 V (16 nm BCM2712); with leakage at
        // ~60 °C the board reaches ~9 W under CPU stress (measured 9.8 W).
        ceffF: 2.6e-9,
        energyPerByteJ: 180e-12,
        powerGateable: false,
        thermalZone: "cpu",
        sources: [
          "boards.md 3.4: 4x A76 @ 2.4 GHz, fp32 4 x 2.4 x 16 = 153.6 GFLOP/s [DERIVED]; fp16/int8/int4 rates and computeEfficiency 0.175 as for RK3588's A76 (fitted there to llama.cpp anchors, see rk3588.ts): estimates for this board",
          "boards.md 3.4: 17.1 GB/s theoretical; memoryEfficiency 0.6: estimate (UNSURE, no STREAM figure in boards.md)",
          "boards.md 3.4: ~3.3 W idle, ~9.8 W CPU stress (8GB, C1); idle/leakage/C_eff split: estimates",
          "OPP voltages: 0.91 V top from vcgencmd (boards.md 3.3), lower OPPs estimated",
        ],
      },
    ],
    sources: [
      "boards.md 3.1/3.4: fan trips 50/60/67.5/75 °C, firmware soft throttle 80 °C, hard 85 °C, kernel critical 110 °C",
      "thermal R and tau: estimates for the official active cooler",
      "memoryTotalBytes: 8 GiB SKU; the HAL reports the real MemTotal",
    ],
  },
};
