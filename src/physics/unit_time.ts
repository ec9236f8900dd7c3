/**
 * The roofline time of one work item on one unit of a board model, and the
 * bus share of items running concurrently: what the service needs to charge a
 * simulated unit, to build timing observations, and to predict a single step,
 * with exactly the conventions predict() uses.
 */
import type { Precision } from "../core/mod.ts";
import type { BoardModel } from "./model.ts";
import { busShare, dasi } from "./roofline.ts";

/** One work item on one unit. */
export interface UnitWork {
  unitId: string;
  precision: Precision;
  flops: number;
  bytes: number;
  /** Frequency the unit runs at, Hz. */
  freqHz: number;
}

/** Options of {@linkcode unitWorkTime}. */
export interface UnitWorkOptions {
  /** Share of its bandwidth the unit gets on the bus, (0, 1]. @default 1 */
  busShare?: number;
  /** Allocation inflation (1 + lambda_alloc CPQ), >= 1. @default 1 */
  inflation?: number;
}

/** Times of a work item, s, and its DASI. */
export interface UnitWorkTime {
  /** max(compute, memory) x inflation, s. */
  durationS: number;
  /** FLOPs / (F(f) eta_c), s. */
  computeS: number;
  /** Bytes / (B share eta_m), s. */
  memoryS: number;
  /** min(1, I B share / F(f)). */
  dasi: number;
}

/**
 * Roofline time of a work item on a unit of the model (DESIGN.md section 3,
 * with the two efficiencies of roofline.ts).
 *
 * @throws RangeError when the unit is unknown or cannot run the precision
 */
export function unitWorkTime(model: BoardModel, work: UnitWork, options: UnitWorkOptions = {}): UnitWorkTime {
  const unit = model.units[work.unitId];
  if (unit === undefined) throw new RangeError(`unitWorkTime: unknown unit "${work.unitId}"`);
  const peakMax = unit.peakOpsPerS[work.precision];
  if (peakMax === undefined) {
    throw new RangeError(`unitWorkTime: unit "${work.unitId}" cannot run ${work.precision}`);
  }
  const peak = peakMax * work.freqHz / unit.opps[unit.opps.length - 1].freqHz;
  const bw = unit.bandwidthBytesPerS * (options.busShare ?? 1);
  const computeS = work.flops / (peak * unit.computeEfficiency);
  const memoryS = work.bytes / (bw * unit.memoryEfficiency);
  return {
    durationS: Math.max(computeS, memoryS) * (options.inflation ?? 1),
    computeS,
    memoryS,
    dasi: dasi(work.flops, work.bytes, peak, bw),
  };
}

/**
 * Bus share of work items running at the same time on different units:
 * min(1, B_bus / sum of the bandwidth each would draw alone), the same rule
 * the simulator applies. Items with no time (no FLOPs, no bytes) draw nothing.
 */
export function concurrentBusShare(model: BoardModel, items: readonly UnitWork[]): number {
  let demand = 0;
  for (const item of items) {
    const t = unitWorkTime(model, item).durationS;
    if (t > 0) demand += item.bytes / t;
  }
  return busShare(model.busBandwidthBytesPerS, demand);
}
