/**
 * Board profiles are data: which compute units a board has, how the HAL finds
 * each unit's frequency, load, temperature and power in sysfs, which `type`
 * names its thermal zones carry on each kernel family, and the datasheet
 * priors of the physics. No code path depends on a board id; discovery only
 * follows these bindings.
 */
import type { BoardPriors, UnitKind } from "../core/mod.ts";

/** Where a unit's clock lives. */
export type FreqBinding =
  /**
   * cpufreq policies whose `affected_cpus` lie within `cpus` (a cluster may be
   * split into several policies, e.g. RK3588's A76 pairs policy4 and policy6).
   */
  | { kind: "cpufreq"; cpus: readonly number[] }
  /**
   * The generic profile only: one unit per cpufreq policy found, whatever its
   * CPUs (ids `cpu` for a single policy, `cpu_policyN` for several).
   */
  | { kind: "cpufreq-each" }
  /** A devfreq device, by its directory name under `/sys/class/devfreq` (first match wins). */
  | { kind: "devfreq"; devices: readonly string[] }
  /** No DVFS knob is exposed (e.g. i.MX 8M Plus NPU under galcore). */
  | { kind: "none"; note: string };

/** A source of a unit's utilisation; a unit lists several in preference order. */
export type LoadBinding =
  /** `/proc/stat` busy share of the unit's CPUs between two reads. */
  | { kind: "procstat" }
  /** Rockchip vendor devfreq `load` file in the unit's devfreq directory: `<percent>@<freq>Hz`. */
  | { kind: "devfreq-load" }
  /**
   * A per-mille busy file (Jetson GPU `load`, 0..1000). `devfreqDevice` first
   * tries `<devfreq dir>/device/load` (the parent platform device), then `paths`
   * (relative to the root).
   */
  | { kind: "permille"; devfreqDevice: boolean; paths: readonly string[] }
  /** Rockchip `rknpu` debugfs `load`: `NPU load:  Core0:  x%, ...` or `NPU load: x%`. */
  | { kind: "rknpu"; paths: readonly string[] }
  /** Vivante galcore debugfs `load` (`core : N` / `load : x%` blocks); `core` selects the block. */
  | { kind: "galcore"; paths: readonly string[]; core: number };

/** How to find one compute unit of the board. */
export interface UnitBinding {
  /** Unit id (see CONTRACTS.md): `cpu_big`, `cpu_little`, `cpu`, `gpu`, `npu`. */
  id: string;
  kind: UnitKind;
  /** Human description, e.g. `4x Cortex-A76`. */
  label: string;
  freq: FreqBinding;
  /** Utilisation sources in preference order; the first present at discovery is used. */
  load: readonly LoadBinding[];
  /** Logical zone ids (keys of `BoardProfile.zones`); the unit's temperature is the hottest that reads. */
  zones: readonly string[];
}

/**
 * A power rail the profile knows about. Discovery finds hwmon chips by `name`
 * and channels by label (or by channel number for chips without labels), never
 * by `hwmonN` index.
 */
export interface RailBinding {
  /** Rail name reported in samples. */
  name: string;
  source: "hwmon" | "powercap";
  /** hwmon `name` values (source hwmon) or powercap zone `name` values (source powercap) that match. */
  chips: readonly string[];
  /** Channel label (`inK_label`, `currK_label` or `powerK_label`) to match. */
  label?: string;
  /** Channel number, for chips that publish no labels. */
  channel?: number;
  /** `input`: the board's input (gives `totalPowerW`); `unit`: exactly one unit; `aux`: anything else. */
  role: "input" | "unit" | "aux";
  /** Unit whose power this rail measures exactly (role `unit`). */
  unitId?: string;
  /**
   * Raw format on the real (or simulated) chip, so a simulator can write it:
   * `voltage-current` = `inK_input` mV and `currK_input` mA (INA3221 has no
   * power file); `power` = `powerK_input` µW; `energy` = `energy_uj` counter.
   */
  format: "voltage-current" | "power" | "energy";
  /** True for a rail that exists only on qeil's simulated board (documented, never on real hardware). */
  simulatedOnly?: boolean;
  /** Why the rail exists / where it is documented. */
  note: string;
}

/** Everything the HAL and the physics know about one board family. */
export interface BoardProfile {
  /** Profile id: `rk3588`, `jetson-orin-nano`, `raspberry-pi-5`, `imx8mp`, `generic`. */
  id: string;
  /** Human name. */
  name: string;
  /** Device-tree `compatible` strings that select this profile (any one matches). */
  compatible: readonly string[];
  /** Case-insensitive substrings of the device-tree `model` that select this profile when `compatible` did not. */
  modelPatterns: readonly string[];
  units: readonly UnitBinding[];
  /** Logical zone id -> sysfs thermal zone `type` names (vendor and mainline variants). */
  zones: Readonly<Record<string, readonly string[]>>;
  rails: readonly RailBinding[];
  priors: BoardPriors;
  /** Notes on quirks of this board that the bindings account for. */
  notes: readonly string[];
}

/** hwmon `name` of the power rails that only qeil's simulated boards expose. */
export const SIM_POWER_CHIP = "qeil_sim";

/**
 * The simulated-only rails of a board with no rail sensors: one `powerK_input`
 * (µW) per unit labelled with the unit id, and a channel labelled `total`
 * (the units plus the rest of the board) that stands in for an input meter.
 */
export function simulatedRails(unitIds: readonly string[], why: string): RailBinding[] {
  return [
    ...unitIds.map((unitId): RailBinding => ({
      name: unitId,
      source: "hwmon",
      chips: [SIM_POWER_CHIP],
      label: unitId,
      role: "unit",
      unitId,
      format: "power",
      simulatedOnly: true,
      note: `qeil's simulated board only (hwmon ${SIM_POWER_CHIP}, powerK_label = unit id): ${why}`,
    })),
    {
      name: "board_total",
      source: "hwmon",
      chips: [SIM_POWER_CHIP],
      label: "total",
      role: "input",
      format: "power",
      simulatedOnly: true,
      note: `qeil's simulated board only (hwmon ${SIM_POWER_CHIP}, label total = units + rest of the board): ${why}`,
    },
  ];
}
