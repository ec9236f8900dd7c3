/**
 * Compute units of a simulated board as the physics sees them: the clock
 * their frequency domains give them, the rate at which they progress through
 * their current work item (roofline, with the DRAM bus shared by demand), and
 * the power they draw (idle, leakage, switching, DRAM traffic).
 */
import type { Precision, UnitPriors } from "../core/mod.ts";
import type { FrequencyDomain } from "./dvfs.ts";
import {
  busShare,
  dynamicPowerW,
  leakagePowerW,
  roofline,
  type RooflineResult,
  topOpp,
  voltageAtV,
} from "./physics.ts";

/** The part of a work item the physics needs. */
export interface UnitWork {
  flops: number;
  bytes: number;
  precision: Precision;
  /** Fraction of the work still to do, [0, 1]. */
  remaining: number;
}

/** A compute unit: its truth, clocks, queue and the accumulators of the current step. */
export interface UnitState<W extends UnitWork = UnitWork> {
  priors: UnitPriors;
  domains: FrequencyDomain[];
  /** Clock of a unit without a frequency domain (no knob on the real board), Hz. */
  fixedHz: number | undefined;
  cpus: number[];
  queue: W[];
  active: W | undefined;
  failed: boolean;
  hung: boolean;
  /** Progress per ms of the active item in the current segment (fraction of the item). */
  ratePerMs: number;
  /** DASI of the active item in the current segment. */
  dasi: number;
  /** DRAM traffic of the active item in the current segment, bytes/s. */
  bytesPerS: number;
  stepBusyMs: number;
  stepEnergyJ: number;
  stepBytes: number;
  lastStepPowerW: number;
  lastStepBusy: number;
  /** Energy since creation, J. */
  energyJ: number;
}

/** A unit with no work, clocked by `domains` (or fixed at its top OPP when it has none). */
export function createUnit<W extends UnitWork>(priors: UnitPriors, domains: FrequencyDomain[]): UnitState<W> {
  if (priors.opps.length === 0) throw new Error(`unit ${priors.id} has no operating points`);
  return {
    priors,
    domains,
    fixedHz: domains.length === 0 ? topOpp(priors).freqHz : undefined,
    cpus: domains.flatMap((d) => d.spec.kind === "cpufreq" ? [...d.spec.cpus] : []),
    queue: [],
    active: undefined,
    failed: false,
    hung: false,
    ratePerMs: 0,
    dasi: 0,
    bytesPerS: 0,
    stepBusyMs: 0,
    stepEnergyJ: 0,
    stepBytes: 0,
    lastStepPowerW: 0,
    lastStepBusy: 0,
    energyJ: 0,
  };
}

/** Core-weighted clock of a unit relative to its top OPP. */
export function freqRatio(unit: UnitState): number {
  const top = topOpp(unit.priors).freqHz;
  if (unit.fixedHz !== undefined) return unit.fixedHz / top;
  let ratio = 0;
  for (const d of unit.domains) ratio += d.weight * d.trueHz / top;
  return ratio;
}

/** Core-weighted clock of a unit, Hz. */
export function unitFreqHz(unit: UnitState): number {
  return freqRatio(unit) * topOpp(unit.priors).freqHz;
}

function rooflineOf(unit: UnitState, work: UnitWork, bandwidthBytesPerS: number): RooflineResult {
  return roofline({
    flops: work.flops,
    bytes: work.bytes,
    peakOpsPerS: unit.priors.peakOpsPerS[work.precision] ?? 0,
    freqRatio: freqRatio(unit),
    computeEfficiency: unit.priors.computeEfficiency,
    bandwidthBytesPerS,
    memoryEfficiency: unit.priors.memoryEfficiency,
  });
}

/**
 * Sets every unit's rate, DASI and traffic for the current segment. Busy units
 * share the bus by demand: each gets its own bandwidth times min(1, B_bus /
 * the sum of what they would draw alone). A hung unit spins: busy at full
 * activity, no progress, no traffic.
 */
export function computeRates(units: Iterable<UnitState>, busBytesPerS: number): void {
  const busy: UnitState[] = [];
  const demands: number[] = [];
  for (const unit of units) {
    unit.ratePerMs = 0;
    unit.dasi = 0;
    unit.bytesPerS = 0;
    const work = unit.active;
    if (!work) continue;
    if (unit.hung) {
      unit.dasi = 1;
      continue;
    }
    const alone = rooflineOf(unit, work, unit.priors.bandwidthBytesPerS);
    busy.push(unit);
    demands.push(alone.durationMs > 0 ? work.bytes / (alone.durationMs / 1000) : 0);
  }
  const share = busShare(demands, busBytesPerS);
  for (const unit of busy) {
    const work = unit.active!;
    const r = rooflineOf(unit, work, unit.priors.bandwidthBytesPerS * share);
    unit.ratePerMs = r.durationMs > 0 ? 1 / r.durationMs : Number.POSITIVE_INFINITY;
    unit.dasi = r.dasi;
    unit.bytesPerS = r.durationMs > 0 ? work.bytes / (r.durationMs / 1000) : 0;
  }
}

/**
 * Power of a unit now, W: nothing when power-gated (a gateable unit with no
 * work); else idle + leakage(T, V) of each domain's share, plus C V^2 f DASI and
 * e_byte x traffic while busy.
 */
export function unitPowerW(unit: UnitState, tempC: number): number {
  const p = unit.priors;
  const busy = unit.active !== undefined;
  if (!busy && p.powerGateable) return 0;
  let powerW = p.idlePowerW;
  const add = (weight: number, hz: number) => {
    const voltageV = voltageAtV(p.opps, hz);
    powerW += weight * leakagePowerW(p, tempC, voltageV);
    if (busy) powerW += weight * dynamicPowerW(p, hz, voltageV, unit.dasi);
  };
  if (unit.fixedHz !== undefined) add(1, unit.fixedHz);
  else for (const d of unit.domains) add(d.weight, d.trueHz);
  if (busy) powerW += p.energyPerByteJ * unit.bytesPerS;
  return powerW;
}
