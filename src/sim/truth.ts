/**
 * The hidden truth of a simulated board: the profile's priors, each
 * coefficient multiplied by a seeded factor in [1 - spread, 1 + spread], a
 * shifted ambient temperature, and a small calibration offset per temperature
 * sensor. The planner only ever sees sysfs readings, so it has to calibrate
 * toward these values; nothing outside src/sim may read them.
 */
import type { BoardPriors, Rng, ThermalZonePriors, UnitPriors } from "../core/mod.ts";

/** How far the truth strays from the priors. */
export interface PerturbationOptions {
  /** Relative half-width of the factor applied to every coefficient. @default 0.25 */
  spread?: number;
  /** Half-width of the ambient shift, K. @default 2 */
  ambientShiftC?: number;
}

/** A seeded factor in [1 - spread, 1 + spread]. */
function factor(rng: Rng, spread: number): number {
  return 1 + spread * (2 * rng.next() - 1);
}

/** An efficiency stays in (0, 1]. */
function efficiency(value: number, rng: Rng, spread: number): number {
  return Math.min(1, value * factor(rng, spread));
}

function perturbUnit(unit: UnitPriors, rng: Rng, spread: number): UnitPriors {
  const peakFactor = factor(rng, spread);
  const peakOpsPerS: UnitPriors["peakOpsPerS"] = {};
  for (const [precision, opsPerS] of Object.entries(unit.peakOpsPerS)) {
    peakOpsPerS[precision as keyof UnitPriors["peakOpsPerS"]] = (opsPerS as number) * peakFactor;
  }
  return {
    ...unit,
    opps: unit.opps.map((o) => ({ ...o })),
    peakOpsPerS,
    bandwidthBytesPerS: unit.bandwidthBytesPerS * factor(rng, spread),
    computeEfficiency: efficiency(unit.computeEfficiency, rng, spread),
    memoryEfficiency: efficiency(unit.memoryEfficiency, rng, spread),
    idlePowerW: unit.idlePowerW * factor(rng, spread),
    leakagePowerW: unit.leakagePowerW * factor(rng, spread),
    leakageKappaPerK: unit.leakageKappaPerK * factor(rng, spread),
    ceffF: unit.ceffF * factor(rng, spread),
    energyPerByteJ: unit.energyPerByteJ * factor(rng, spread),
    sources: [...unit.sources, "perturbed by the simulator (hidden truth)"],
  };
}

function perturbZone(zone: ThermalZonePriors, rng: Rng, spread: number): ThermalZonePriors {
  const rthKPerW: Record<string, number> = {};
  for (const [unitId, kPerW] of Object.entries(zone.rthKPerW)) rthKPerW[unitId] = kPerW * factor(rng, spread);
  return { ...zone, tauS: zone.tauS * factor(rng, spread), rthKPerW };
}

/**
 * The truth of one seed: every unit and zone coefficient, the base power and
 * the bus bandwidth perturbed; operating-point voltages, trips and memory
 * size kept (they are properties of the silicon bin and the kernel, not of the
 * physics the planner fits). Draws happen in a fixed order, so the same rng
 * seed gives the same truth.
 */
export function perturbPriors(priors: BoardPriors, rng: Rng, options: PerturbationOptions = {}): BoardPriors {
  const spread = options.spread ?? 0.25;
  const ambientShiftC = options.ambientShiftC ?? 2;
  if (!(spread >= 0 && spread < 1)) throw new RangeError(`perturbation spread must be in [0, 1), got ${spread}`);
  return {
    ...priors,
    ambientC: priors.ambientC + ambientShiftC * (2 * rng.next() - 1),
    basePowerW: priors.basePowerW * factor(rng, spread),
    busBandwidthBytesPerS: priors.busBandwidthBytesPerS * factor(rng, spread),
    zones: priors.zones.map((z) => perturbZone(z, rng, spread)),
    units: priors.units.map((u) => perturbUnit(u, rng, spread)),
    sources: [...priors.sources, "perturbed by the simulator (hidden truth)"],
  };
}
