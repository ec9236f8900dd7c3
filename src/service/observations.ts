/**
 * From what the service measured to what physics calibration takes: the
 * timing of every work item a unit ran, and telemetry points built from HAL
 * samples over a fixed period (rail powers and zone temperatures averaged over
 * the period, each unit's activity from the work it ran then). Pure: no I/O,
 * no clock; the caller passes samples and work records.
 *
 * Conventions (the physics engineer's, see src/physics/calibration.ts):
 * - a unit's activity is its busy share times the DASI of its work, DASI from
 *   the model's roofline at the item's clock and bus share;
 * - a rail lists the units whose power flows through it; only the board input
 *   rail carries the base power; rails that carry only unmodelled parts
 *   (Jetson VDD_SOC) are left out;
 * - frequencies come from the work records (the clock the unit ran at) and,
 *   for an idle unit, from the sample; voltages from the profile's OPPs;
 * - work items on different units share the DRAM bus as physics'
 *   `concurrentBusShare` says, recomputed whenever an item starts or ends.
 */
import type { Precision } from "../core/mod.ts";
import { type Board, counterDeltaJ, type Sample } from "../hal/mod.ts";
import {
  type BoardModel,
  type BoardState,
  concurrentBusShare,
  type RailReading,
  type TelemetryObservation,
  type TimingObservation,
  type UnitTelemetry,
  type UnitWork,
  unitWorkTime,
  voltageForFreq,
} from "../physics/mod.ts";

/** One work item as a unit ran it: what was charged, at which clock, and when. */
export interface WorkRecord {
  unitId: string;
  precision: Precision;
  /** Arithmetic operations (a multiply-add counts 2). */
  flops: number;
  /** DRAM traffic, bytes. */
  bytes: number;
  /** Clock of the unit while the item ran, Hz. */
  freqHz: number;
  /** Start of the item on its unit (queueing excluded), ms on the clock of `Sample.monotonicMs`. */
  startMs: number;
  /** End of the item, ms. */
  endMs: number;
}

/** Observations built from records or samples, and what could not be used, with the reason. */
export interface Built<T> {
  observations: T[];
  skipped: string[];
}

/** True when the model can time the record (known unit, supported precision, some work). */
function timeable(model: BoardModel, r: WorkRecord): boolean {
  const unit = model.units[r.unitId];
  return unit !== undefined && unit.peakOpsPerS[r.precision] !== undefined && r.flops + r.bytes > 0;
}

function unitWorkOf(r: WorkRecord): UnitWork {
  return { unitId: r.unitId, precision: r.precision, flops: r.flops, bytes: r.bytes, freqHz: r.freqHz };
}

/**
 * Time-averaged bus share of every record, (0, 1]: its interval is cut
 * wherever another record starts or ends, each piece gets the share of the
 * records running then (`concurrentBusShare` of the model), and the pieces are
 * averaged by length. A memory-bound item progresses in proportion to its
 * share, so this average is the share it effectively got. Records the model
 * cannot time get 1 and draw nothing from the others' share.
 */
export function busShares(model: BoardModel, records: readonly WorkRecord[]): number[] {
  const order = records.map((_, i) => i).sort((a, b) => records[a].startMs - records[b].startMs);
  const shares = new Array<number>(records.length).fill(1);
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    const r = records[i];
    const length = r.endMs - r.startMs;
    if (!(length > 0) || !timeable(model, r)) continue;
    const overlapping: WorkRecord[] = [];
    // Records that start before r ends and end after it starts (the sort lets the scan stop early forward).
    for (let m = 0; m < order.length; m++) {
      const o = records[order[m]];
      if (o.startMs >= r.endMs) break;
      if (order[m] !== i && o.endMs > r.startMs && timeable(model, o)) overlapping.push(o);
    }
    if (overlapping.length === 0) {
      shares[i] = concurrentBusShare(model, [unitWorkOf(r)]);
      continue;
    }
    const cuts = new Set<number>([r.startMs, r.endMs]);
    for (const o of overlapping) {
      if (o.startMs > r.startMs) cuts.add(o.startMs);
      if (o.endMs < r.endMs) cuts.add(o.endMs);
    }
    const points = [...cuts].sort((a, b) => a - b);
    let weighted = 0;
    for (let p = 0; p + 1 < points.length; p++) {
      const a = points[p];
      const b = points[p + 1];
      const active = [unitWorkOf(r)];
      for (const o of overlapping) if (o.startMs < b && o.endMs > a) active.push(unitWorkOf(o));
      weighted += (b - a) * concurrentBusShare(model, active);
    }
    shares[i] = weighted / length;
  }
  return shares;
}

/** Timing observations and the index of the record each came from. */
export interface BuiltTiming extends Built<TimingObservation> {
  recordIndex: number[];
}

/**
 * One timing observation per record the model can time, with the bus share it
 * ran under (see {@linkcode busShares}). Records of unknown units, of a
 * precision the unit lacks, without work or without duration are skipped.
 */
export function timingObservations(model: BoardModel, records: readonly WorkRecord[]): BuiltTiming {
  const shares = busShares(model, records);
  const observations: TimingObservation[] = [];
  const recordIndex: number[] = [];
  const skipped: string[] = [];
  records.forEach((r, i) => {
    const what = `record ${i} (${r.unitId}, ${r.startMs}-${r.endMs} ms)`;
    if (!timeable(model, r)) {
      skipped.push(`${what}: unknown unit, unsupported ${r.precision} or no work`);
      return;
    }
    if (!(r.endMs > r.startMs) || !(r.freqHz > 0)) {
      skipped.push(`${what}: needs a positive duration and freqHz`);
      return;
    }
    observations.push({
      kind: "timing",
      unitId: r.unitId,
      precision: r.precision,
      flops: r.flops,
      bytes: r.bytes,
      freqHz: r.freqHz,
      measuredDurationMs: r.endMs - r.startMs,
      busShare: shares[i],
    });
    recordIndex.push(i);
  });
  return { observations, recordIndex, skipped };
}

/** What a rail measures: the units whose power flows through it, and whether the board's base power does too. */
export interface RailCoverage {
  unitIds: string[];
  includesBase: boolean;
}

/**
 * What each discovered rail covers, for the model's units: the board input
 * (role `input`) carries every unit and the base power; a unit rail (role
 * `unit`) its unit; an `aux` rail the units whose kind its name lists, the way
 * NVIDIA names Jetson rails after the blocks they feed (`VDD_CPU_GPU_CV` ->
 * the `cpu` and `gpu` units; `VDD_SOC` -> none, left out). `overrides` replace
 * the rule for a rail by name (`null` leaves it out).
 */
export function railCoverage(
  board: Pick<Board, "rails" | "units">,
  model: BoardModel,
  overrides: Readonly<Record<string, RailCoverage | null>> = {},
): { rails: Record<string, RailCoverage>; skipped: string[] } {
  const rails: Record<string, RailCoverage> = {};
  const skipped: string[] = [];
  for (const rail of board.rails) {
    if (rail.name in overrides) {
      const o = overrides[rail.name];
      if (o === null) skipped.push(`rail "${rail.name}": left out by the caller`);
      else rails[rail.name] = { unitIds: [...o.unitIds], includesBase: o.includesBase };
      continue;
    }
    if (rail.role === "input") {
      rails[rail.name] = { unitIds: [...model.unitIds], includesBase: true };
    } else if (rail.role === "unit") {
      if (rail.unitId !== undefined && model.units[rail.unitId] !== undefined) {
        rails[rail.name] = { unitIds: [rail.unitId], includesBase: false };
      } else skipped.push(`rail "${rail.name}": measures unit "${rail.unitId}", which the model lacks`);
    } else {
      const tokens = new Set(rail.name.toLowerCase().split(/[^a-z0-9]+/));
      const unitIds = model.unitIds.filter((id) => tokens.has(model.units[id].kind) || tokens.has(id));
      if (unitIds.length > 0) rails[rail.name] = { unitIds, includesBase: false };
      else skipped.push(`rail "${rail.name}": names no unit of the model (unmodelled parts only)`);
    }
  }
  return { rails, skipped };
}

/** Hottest good reading of each logical zone the model has, °C. */
export function zoneTempsC(sample: Sample, zoneIds: readonly string[]): Record<string, number> {
  const wanted = new Set(zoneIds);
  const out: Record<string, number> = {};
  for (const t of sample.thermal) {
    if (!t.ok || t.zone === undefined || !wanted.has(t.zone)) continue;
    out[t.zone] = Math.max(out[t.zone] ?? -Infinity, t.tempC);
  }
  return out;
}

/** Options of {@linkcode stateFromSample}. */
export interface SampleStateOptions {
  /** Units the fault manager has taken out of service. @default none */
  unhealthyUnits?: readonly string[];
  /**
   * Memory the model's data may use when the sample's meminfo failed, bytes.
   * @default 80% of the model's memory
   */
  fallbackMemAvailableBytes?: number;
}

/**
 * The board state predict() takes, from one HAL sample: the hottest reading
 * of each modelled zone, MemAvailable, the units discovery found (minus the
 * unhealthy ones), each unit's current frequency cap. Ambient is the model's
 * (boards have no ambient sensor; the zones' calibrated offsets carry it).
 */
export function stateFromSample(
  model: BoardModel,
  board: Pick<Board, "units">,
  sample: Sample,
  options: SampleStateOptions = {},
): BoardState {
  const found = new Set(board.units.map((u) => u.id));
  const unhealthy = new Set(options.unhealthyUnits ?? []);
  const healthyUnits = model.unitIds.filter((id) => found.has(id) && !unhealthy.has(id));
  const maxFreqHz: Record<string, number> = {};
  for (const id of healthyUnits) {
    const cap = sample.units[id]?.maxFreqHz;
    if (cap?.ok) maxFreqHz[id] = cap.value;
  }
  return {
    tempsC: zoneTempsC(sample, model.zones.map((z) => z.id)),
    ambientC: model.ambientC,
    memAvailableBytes: sample.memory.ok
      ? sample.memory.value.availableBytes
      : options.fallbackMemAvailableBytes ?? 0.8 * model.memoryTotalBytes,
    healthyUnits,
    maxFreqHz,
  };
}

/** Inputs of {@linkcode telemetryObservations}. */
export interface TelemetryInputs {
  model: BoardModel;
  /**
   * HAL samples in time order. A rail with an energy counter gives its exact
   * mean; otherwise each reading is taken as the average since the previous
   * sample (a simulated board's power files report the average of its last
   * physics step: sample once per step).
   */
  samples: readonly Sample[];
  /** Every work item that ran over the samples' span (items outside it are ignored). */
  records: readonly WorkRecord[];
  /** What each rail covers (see {@linkcode railCoverage}); rails not listed are left out. */
  rails: Readonly<Record<string, RailCoverage>>;
  /**
   * Length of one telemetry point, ms: rails and temperatures are averaged
   * over it. The thermal fit needs a constant period, several times below the
   * zones' time constants and long enough to average sensor noise out.
   */
  periodMs: number;
}

/** Tolerance on a period's length, relative (sample times jitter on a real board). */
const PERIOD_TOLERANCE = 0.02;

/**
 * Telemetry points, one per period of samples: consecutive samples are
 * grouped so each group spans `periodMs` from the sample before it (a group
 * that cannot, because of a gap, is dropped and the grid restarts at its end).
 * For each point: every covered rail's mean power (from its energy counter
 * when every reading has one, else time-weighted readings; a rail that failed
 * in the period is left out of that point), each zone's mean
 * temperature (the thermal fit pairs consecutive means, whose power is the
 * mean of the two periods, so means fit it exactly), and each model unit's
 * busy share, activity, clock and DRAM traffic from the records overlapping
 * the period (an idle unit at the clock the last sample shows).
 */
export function telemetryObservations(inputs: TelemetryInputs): Built<TelemetryObservation> {
  const { model, samples, records, rails, periodMs } = inputs;
  if (!(periodMs > 0)) throw new RangeError(`telemetryObservations: periodMs must be > 0, got ${periodMs}`);
  const observations: TelemetryObservation[] = [];
  const skipped: string[] = [];
  const shares = busShares(model, records);
  const zoneIds = model.zones.map((z) => z.id);
  const tolerance = PERIOD_TOLERANCE * periodMs;
  let a = 0;
  for (let b = 1; b < samples.length; b++) {
    const span = samples[b].monotonicMs - samples[a].monotonicMs;
    if (span < periodMs - tolerance) continue;
    if (span > periodMs + tolerance) {
      skipped.push(
        `samples ${a}-${b}: ${span} ms between samples does not divide into periods of ${periodMs} ms; grid restarted`,
      );
      a = b;
      continue;
    }
    observations.push(pointOf(model, samples, a, b, records, shares, rails, zoneIds));
    a = b;
  }
  return { observations, skipped };
}

/** One telemetry point over samples (a, b]. */
function pointOf(
  model: BoardModel,
  samples: readonly Sample[],
  a: number,
  b: number,
  records: readonly WorkRecord[],
  shares: readonly number[],
  rails: Readonly<Record<string, RailCoverage>>,
  zoneIds: readonly string[],
): TelemetryObservation {
  const fromMs = samples[a].monotonicMs;
  const toMs = samples[b].monotonicMs;
  const windowMs = toMs - fromMs;
  // Rails: mean power over the period, only when every reading in it is good. A rail with an energy counter
  // gives it exactly (the counter's deltas, wrap-around handled by the HAL's rule); otherwise each reading
  // stands for the interval before it.
  const railReadings: RailReading[] = [];
  for (const [name, coverage] of Object.entries(rails)) {
    let fromPowerJ = 0;
    let fromCounterJ: number | undefined = 0;
    let good = true;
    let previous = samples[a].power.find((p) => p.name === name);
    for (let i = a + 1; i <= b && good; i++) {
      const r = samples[i].power.find((p) => p.name === name);
      if (r === undefined || !r.ok) {
        good = false;
        continue;
      }
      fromPowerJ += r.powerW * (samples[i].monotonicMs - samples[i - 1].monotonicMs) / 1000;
      if (fromCounterJ !== undefined) {
        const delta = previous?.ok && previous.energyJ !== undefined && r.energyJ !== undefined
          ? counterDeltaJ(previous.energyJ, r.energyJ, r.energyRangeJ ?? previous.energyRangeJ)
          : undefined;
        fromCounterJ = delta?.ok ? fromCounterJ + delta.value : undefined;
      }
      previous = r;
    }
    if (!good) continue;
    railReadings.push({
      name,
      powerW: (fromCounterJ ?? fromPowerJ) / (windowMs / 1000),
      unitIds: [...coverage.unitIds],
      includesBase: coverage.includesBase,
    });
  }
  // Zones: mean of the good readings.
  const sums: Record<string, { sum: number; n: number }> = {};
  for (let i = a + 1; i <= b; i++) {
    for (const [zone, t] of Object.entries(zoneTempsC(samples[i], zoneIds))) {
      const s = sums[zone] ?? (sums[zone] = { sum: 0, n: 0 });
      s.sum += t;
      s.n++;
    }
  }
  const zoneTemps: Record<string, number> = {};
  for (const [zone, s] of Object.entries(sums)) zoneTemps[zone] = s.sum / s.n;
  // Units: busy time, activity and traffic of the work overlapping the period.
  const units: Record<string, UnitTelemetry> = {};
  const last = samples[b];
  for (const id of model.unitIds) {
    const unit = model.units[id];
    let busyMs = 0;
    let freqWeighted = 0;
    let switching = 0; // sum of overlap x V^2 f DASI, ms V^2 Hz
    let bytes = 0;
    records.forEach((r, i) => {
      if (r.unitId !== id || !timeable(model, r) || !(r.endMs > r.startMs)) return;
      const overlapMs = Math.min(r.endMs, toMs) - Math.max(r.startMs, fromMs);
      if (!(overlapMs > 0)) return;
      const v = voltageForFreq(unit, r.freqHz);
      const dasi = unitWorkTime(model, unitWorkOf(r), { busShare: shares[i] }).dasi;
      busyMs += overlapMs;
      freqWeighted += overlapMs * r.freqHz;
      switching += overlapMs * v * v * r.freqHz * dasi;
      bytes += r.bytes * overlapMs / (r.endMs - r.startMs);
    });
    const sampled = last.units[id]?.curFreqHz;
    let freqHz: number;
    let activity = 0;
    if (busyMs > 0) {
      freqHz = freqWeighted / busyMs;
      const v = voltageForFreq(unit, freqHz);
      activity = Math.min(1, switching / (windowMs * v * v * freqHz));
    } else {
      freqHz = sampled?.ok ? sampled.value : unit.opps[0].freqHz;
    }
    units[id] = {
      activity,
      freqHz,
      busyFraction: Math.min(1, busyMs / windowMs),
      bytesPerS: bytes / (windowMs / 1000),
    };
  }
  return { kind: "telemetry", timeS: toMs / 1000, units, zoneTempsC: zoneTemps, rails: railReadings };
}
