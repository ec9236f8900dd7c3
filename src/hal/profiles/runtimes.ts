/**
 * Achieved efficiency per runtime family. A unit's `computeEfficiency` and
 * `memoryEfficiency` priors are what one inference runtime reaches on it (the
 * family named `base` here); another runtime on the same silicon can reach a
 * very different share of the roofs. Example: on the RK3588 NPU, Rockchip's
 * RKLLM runs the whole decoder graph on the NPU and reaches 0.13-0.17 of its
 * 6 TOPS in prefill, while llama.cpp's RKNPU2 backend offloads only the matrix
 * products and reaches 0.09-0.12. Both are real; one number cannot stand for
 * both, so a profile lists the families it has measurements of, each with the
 * efficiencies that differ from the base priors and their sources.
 *
 * Runtime family ids name the runtime and, where it has several, its backend:
 * `rkllm`, `llama.cpp-cpu`, `llama.cpp-rknpu2`, `llama.cpp-vulkan`, `mlc-llm`.
 */
import type { BoardPriors } from "../../core/mod.ts";

/** Efficiencies of one runtime family on one unit; absent fields keep the base priors. */
export interface RuntimeEfficiencyPrior {
  /** Achieved fraction of the compute roof in compute-bound work (prefill), (0, 1]. */
  computeEfficiency?: number;
  /** Achieved fraction of the memory roof in bandwidth-bound work (decode), (0, 1]. */
  memoryEfficiency?: number;
  /** How the figures were derived (measurements and the arithmetic). */
  sources: readonly string[];
}

/** The runtime families whose efficiencies are known for one unit. */
export interface UnitRuntimes {
  /** Family the unit's own efficiency priors describe. */
  base: string;
  /** Other families, keyed by family id. */
  others: Readonly<Record<string, RuntimeEfficiencyPrior>>;
}

/** Runtime families per unit id of a board; units without an entry have no measured runtime. */
export type RuntimeFamilies = Readonly<Record<string, UnitRuntimes>>;

/**
 * The priors with some units' efficiencies taken from a runtime family.
 * `choice` maps unit ids to family ids; a unit chosen at its base family (or
 * not named) keeps its priors.
 *
 * @throws RangeError naming the unit and the known families when a unit or family is unknown
 */
export function priorsForRuntimes(
  priors: BoardPriors,
  families: RuntimeFamilies,
  choice: Readonly<Record<string, string>>,
): BoardPriors {
  for (const [unitId, family] of Object.entries(choice)) {
    if (!priors.units.some((u) => u.id === unitId)) {
      throw new RangeError(`runtime family for unknown unit "${unitId}" (units: ${priors.units.map((u) => u.id)})`);
    }
    const known = families[unitId];
    if (known === undefined) {
      throw new RangeError(`unit "${unitId}" has no runtime families; "${family}" cannot be chosen`);
    }
    if (family !== known.base && known.others[family] === undefined) {
      throw new RangeError(
        `unit "${unitId}" has no runtime family "${family}" (known: ${[known.base, ...Object.keys(known.others)]})`,
      );
    }
  }
  return {
    ...priors,
    units: priors.units.map((u) => {
      const family = choice[u.id];
      const runtimes = families[u.id];
      if (family === undefined || runtimes === undefined || family === runtimes.base) return u;
      const other = runtimes.others[family];
      return {
        ...u,
        computeEfficiency: other.computeEfficiency ?? u.computeEfficiency,
        memoryEfficiency: other.memoryEfficiency ?? u.memoryEfficiency,
        sources: [...u.sources, ...other.sources.map((s) => `${family}: ${s}`)],
      };
    }),
  };
}
