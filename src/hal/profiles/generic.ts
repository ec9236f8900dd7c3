/**
 * The fallback for boards no profile matches: one `cpu` unit per cpufreq
 * policy, common thermal zone names, any power monitor found. Priors describe
 * a modest Cortex-A55-class quad core and are estimates throughout.
 */
import type { OperatingPoint, UnitPriors } from "../../core/mod.ts";
import type { BoardProfile, UnitBinding } from "../profile.ts";

const GIB = 1024 ** 3;
/** Cores the template's per-unit figures describe. */
const TEMPLATE_CPUS = 4;
const TEMPLATE_MAX_HZ = 1.5e9;

const CPU_PRIORS: UnitPriors = {
  id: "cpu",
  kind: "cpu",
  label: "CPU (unknown cores)",
  opps: [
    { freqHz: 0.6e9, voltageV: 0.8 },
    { freqHz: 1.0e9, voltageV: 0.9 },
    { freqHz: 1.5e9, voltageV: 1.0 },
  ],
  peakOpsPerS: { fp32: 48e9, fp16: 48e9, int8: 96e9, int4: 24e9 },
  bandwidthBytesPerS: 8e9,
  computeEfficiency: 0.2,
  memoryEfficiency: 0.6,
  idlePowerW: 0.1,
  leakagePowerW: 0.05,
  leakageRefTempC: 25,
  leakageKappaPerK: 0.03,
  ceffF: 0.8e-9,
  energyPerByteJ: 160e-12,
  powerGateable: false,
  thermalZone: "cpu",
  sources: [
    "estimate: 4 cores x 1.5 GHz x 8 FLOP/clk (Cortex-A55 class), 8 GB/s, ~1 W dynamic; UNSURE for any real board",
  ],
};

export const generic: BoardProfile = {
  id: "generic",
  name: "Generic Linux board",
  compatible: [],
  modelPatterns: [],
  units: [
    {
      id: "cpu",
      kind: "cpu",
      label: "CPU cluster",
      freq: { kind: "cpufreq-each" },
      load: [{ kind: "procstat" }],
      zones: ["cpu"],
    },
  ],
  zones: {
    cpu: ["cpu-thermal", "cpu_thermal", "cpu0-thermal", "soc-thermal", "soc_thermal", "x86_pkg_temp", "acpitz"],
  },
  rails: [
    {
      name: "board_in",
      source: "hwmon",
      chips: ["ina219", "ina226", "ina230", "ina231", "ina260"],
      channel: 1,
      role: "input",
      format: "power",
      note: "an external INA2xx on the board input, when fitted",
    },
    {
      name: "psys",
      source: "powercap",
      chips: ["psys"],
      role: "input",
      format: "energy",
      note: "Intel RAPL platform domain (whole platform energy counter), when present",
    },
  ],
  notes: ["Unknown board: units are one per cpufreq policy; priors are rough estimates."],
  priors: {
    ambientC: 25,
    basePowerW: 1.5,
    busBandwidthBytesPerS: 8e9,
    memoryTotalBytes: 2 * GIB,
    defaultUnit: "cpu",
    thermalMarginC: 5,
    zones: [{ id: "cpu", tauS: 60, rthKPerW: { cpu: 10 }, passiveTripC: 85, criticalTripC: 105 }],
    units: [CPU_PRIORS],
    sources: ["estimates for an unknown board; the HAL reports real trips, MemTotal and frequencies"],
  },
};

/** A cpufreq policy as discovery found it. */
export interface GenericPolicy {
  /** Directory name, e.g. `policy4`. */
  name: string;
  cpus: readonly number[];
  /** Ascending available frequencies, Hz (may be empty). */
  availableFreqsHz: readonly number[];
}

/**
 * The generic profile made concrete for the policies found: a single policy
 * (or none) keeps the unit id `cpu` and the template's priors; several give
 * `cpu_policyN` units whose priors scale
 * the template by core count and top clock. The default unit is the policy
 * with the highest top clock (the big cluster).
 */
export function specialiseGeneric(policies: readonly GenericPolicy[]): BoardProfile {
  if (policies.length <= 1) {
    const freq: UnitBinding["freq"] = policies.length === 1
      ? { kind: "cpufreq", cpus: policies[0].cpus }
      : { kind: "none", note: "no cpufreq policy found" };
    return { ...generic, units: [{ ...generic.units[0], freq }] };
  }
  const units: UnitBinding[] = [];
  const priors: UnitPriors[] = [];
  let bestId = "";
  let bestHz = -1;
  for (const policy of policies) {
    const id = `cpu_${policy.name}`;
    units.push({
      id,
      kind: "cpu",
      label: `CPU ${policy.name} (cpus ${policy.cpus.join(" ")})`,
      freq: { kind: "cpufreq", cpus: policy.cpus },
      load: [{ kind: "procstat" }],
      zones: ["cpu"],
    });
    const topHz = policy.availableFreqsHz.at(-1) ?? TEMPLATE_MAX_HZ;
    const scale = (policy.cpus.length / TEMPLATE_CPUS) * (topHz / TEMPLATE_MAX_HZ);
    const opps: readonly OperatingPoint[] = policy.availableFreqsHz.length > 0
      ? policy.availableFreqsHz.map((freqHz, i, all) => ({
        freqHz,
        voltageV: all.length === 1 ? 1.0 : Number((0.8 + 0.2 * i / (all.length - 1)).toFixed(4)),
      }))
      : CPU_PRIORS.opps;
    const peak: UnitPriors["peakOpsPerS"] = {};
    for (const [precision, rate] of Object.entries(CPU_PRIORS.peakOpsPerS)) {
      peak[precision as keyof typeof peak] = rate * scale;
    }
    priors.push({
      ...CPU_PRIORS,
      id,
      label: units.at(-1)!.label,
      opps,
      peakOpsPerS: peak,
      ceffF: CPU_PRIORS.ceffF * policy.cpus.length / TEMPLATE_CPUS,
      sources: [...CPU_PRIORS.sources, `scaled to ${policy.cpus.length} cpus and ${topHz} Hz found in sysfs`],
    });
    if (topHz > bestHz) {
      bestHz = topHz;
      bestId = id;
    }
  }
  const rth: Record<string, number> = {};
  for (const u of units) rth[u.id] = generic.priors.zones[0].rthKPerW.cpu;
  return {
    ...generic,
    units,
    priors: {
      ...generic.priors,
      defaultUnit: bestId,
      zones: [{ ...generic.priors.zones[0], rthKPerW: rth }],
      units: priors,
    },
  };
}
