/**
 * The energy meter: integrates rail power over begin/end windows, per rail
 * and for the board total. Between two readings of a rail it takes the change
 * of the rail's energy counter when both readings carry one (wrap-around
 * handled in counter.ts), else the trapezoid of the two power readings. A
 * failed reading leaves a gap that the next good reading closes. A rail
 * still lost when a window ends is bridged from its last good reading: a
 * board input rail as the rest of the board it measured then (its power less
 * its sub-rails') plus what its sub-rails measured since, so a load that
 * starts after the input rail is lost still counts; any other rail at its
 * last good power.
 */
import { SensorUnavailableError } from "../core/mod.ts";
import { counterDeltaJ } from "./counter.ts";
import type { Sample } from "./types.ts";

/** What a closed window measured. */
export interface EnergyWindowResult {
  label?: string;
  /** Energy of the board total (the rails of `Sample.totalPowerRails`), J. */
  energyJ: number;
  /** Energy per rail, J. */
  perRailJ: Record<string, number>;
  /** From the window's first to its last sample, ms. */
  durationMs: number;
  avgPowerW: number;
  /** Samples added while the window was open (the one it began at included). */
  samples: number;
  /** Rails whose readings failed inside the window (their gaps were bridged). */
  incompleteRails: string[];
}

/** An open measurement window. */
export interface MeterWindow {
  readonly label?: string;
  /** Closes the window at the latest sample; calling it again returns the same result. */
  end(): EnergyWindowResult;
}

interface RailPoint {
  tMs: number;
  powerW: number;
  energyJ?: number;
  energyRangeJ?: number;
}

/** An input rail's last good reading as the rest of the board: its power less the other rails read with it. */
interface RestOfBoard {
  tMs: number;
  restW: number;
  /** The rails subtracted (every good non-input rail of that sample). */
  subRails: string[];
}

interface WindowState {
  label?: string;
  /** Per input rail: its sub-rails' energy in this window at the input rail's last good reading in it. */
  subRailsJAtLastGood: Map<string, Map<string, number>>;
  startMs?: number;
  lastMs?: number;
  samples: number;
  perRailJ: Map<string, number>;
  incomplete: Set<string>;
  totalRails: Set<string>;
  result?: EnergyWindowResult;
}

/** Integrates samples fed with `add()` into every open window. */
export class EnergyMeter {
  #last = new Map<string, RailPoint>();
  #lastMs: number | undefined;
  #lastTotalRails: readonly string[] = [];
  #open = new Set<WindowState>();
  #rest = new Map<string, RestOfBoard>();

  /** Feeds one sample (in time order). @throws RangeError when it is older than the previous one */
  add(sample: Sample): void {
    const tMs = sample.monotonicMs;
    if (this.#lastMs !== undefined && tMs < this.#lastMs) {
      throw new RangeError(
        `EnergyMeter.add(): sample at ${tMs} ms is older than the previous one at ${this.#lastMs} ms`,
      );
    }
    for (const w of this.#open) {
      if (w.startMs === undefined) w.startMs = tMs;
    }
    for (const rail of sample.power) {
      if (!rail.ok) {
        for (const w of this.#open) w.incomplete.add(rail.name);
        continue;
      }
      const point: RailPoint = {
        tMs,
        powerW: rail.powerW,
        ...(rail.energyJ !== undefined ? { energyJ: rail.energyJ } : {}),
        ...(rail.energyRangeJ !== undefined ? { energyRangeJ: rail.energyRangeJ } : {}),
      };
      const previous = this.#last.get(rail.name);
      this.#last.set(rail.name, point);
      if (!previous || tMs <= previous.tMs) continue;
      const energyJ = intervalEnergyJ(previous, point);
      for (const w of this.#open) {
        if (w.startMs === undefined || w.startMs >= tMs) continue;
        // A gap that straddles the window's start counts only from the start on.
        const share = (tMs - Math.max(previous.tMs, w.startMs)) / (tMs - previous.tMs);
        w.perRailJ.set(rail.name, (w.perRailJ.get(rail.name) ?? 0) + energyJ * share);
      }
    }
    for (const w of this.#open) {
      w.samples++;
      w.lastMs = tMs;
      for (const name of sample.totalPowerRails) w.totalRails.add(name);
    }
    const subRails = sample.power.filter((r) => r.ok && r.role !== "input");
    for (const rail of sample.power) {
      if (!rail.ok || rail.role !== "input") continue;
      const subW = subRails.reduce((sum, r) => sum + (r.ok ? r.powerW : 0), 0);
      this.#rest.set(rail.name, { tMs, restW: rail.powerW - subW, subRails: subRails.map((r) => r.name) });
      for (const w of this.#open) {
        w.subRailsJAtLastGood.set(rail.name, new Map(subRails.map((r) => [r.name, w.perRailJ.get(r.name) ?? 0])));
      }
    }
    this.#lastMs = tMs;
    this.#lastTotalRails = sample.totalPowerRails;
  }

  /** Opens a window at the latest sample (or, before any, at the next one). */
  begin(label?: string): MeterWindow {
    const state: WindowState = {
      ...(label !== undefined ? { label } : {}),
      samples: this.#lastMs === undefined ? 0 : 1,
      perRailJ: new Map(),
      incomplete: new Set(),
      totalRails: new Set(this.#lastTotalRails),
      subRailsJAtLastGood: new Map(),
    };
    if (this.#lastMs !== undefined) {
      state.startMs = this.#lastMs;
      state.lastMs = this.#lastMs;
    }
    this.#open.add(state);
    return {
      ...(label !== undefined ? { label } : {}),
      end: () => this.#end(state),
    };
  }

  #end(w: WindowState): EnergyWindowResult {
    if (w.result) return w.result;
    this.#open.delete(w);
    const where = w.label === undefined ? "energy window" : `energy window "${w.label}"`;
    if (w.startMs === undefined || w.lastMs === undefined || w.lastMs <= w.startMs) {
      throw new RangeError(`${where} covers no time: add samples between begin() and end()`);
    }
    if (w.totalRails.size === 0) {
      throw new SensorUnavailableError(`${where}: the board has no rail that gives its total power`);
    }
    // A rail that stopped reading before the window's end (and has not read since) is bridged up to the end, as
    // a gap it comes back from is bridged by the trapezoid: a board-total rail lost for a whole job must not make
    // the job's energy 0 J, nor its idle power before the job. The rail stays listed as incomplete.
    // Sub-rails first: an input rail's bridge counts what they measured, bridges included.
    const lost = [...w.incomplete].sort((a, b) => Number(this.#rest.has(a)) - Number(this.#rest.has(b)));
    for (const name of lost) {
      const last = this.#last.get(name);
      if (!last || last.tMs >= w.lastMs) continue;
      const fromMs = Math.max(last.tMs, w.startMs);
      w.perRailJ.set(name, (w.perRailJ.get(name) ?? 0) + this.#bridgeJ(w, name, last, fromMs));
    }
    const perRailJ = Object.fromEntries(w.perRailJ);
    const energyJ = [...w.totalRails].reduce((s, name) => s + (w.perRailJ.get(name) ?? 0), 0);
    const durationMs = w.lastMs - w.startMs;
    w.result = {
      ...(w.label !== undefined ? { label: w.label } : {}),
      energyJ,
      perRailJ,
      durationMs,
      avgPowerW: energyJ / (durationMs / 1000),
      samples: w.samples,
      incompleteRails: [...w.incomplete].sort(),
    };
    return w.result;
  }

  /**
   * Energy of a rail lost from `fromMs` to the window's end: an input rail as the rest of the board it measured
   * at its last good reading plus its sub-rails' energy since (those sub-rails that read then and in the
   * window), any other rail at its last good power.
   */
  #bridgeJ(w: WindowState, name: string, last: RailPoint, fromMs: number): number {
    const spanS = (w.lastMs! - fromMs) / 1000;
    const rest = this.#rest.get(name);
    if (!rest || rest.tMs !== last.tMs) return last.powerW * spanS;
    // The sub-rails' energy in the window before the input rail's last good reading (none when that was before
    // the window opened).
    const before = w.subRailsJAtLastGood.get(name);
    let subJ = 0;
    for (const sub of rest.subRails) subJ += (w.perRailJ.get(sub) ?? 0) - (before?.get(sub) ?? 0);
    return Math.max(0, rest.restW * spanS + subJ);
  }
}

/** Energy between two readings of one rail: counter delta when both have counters, else trapezoid. */
function intervalEnergyJ(a: RailPoint, b: RailPoint): number {
  if (a.energyJ !== undefined && b.energyJ !== undefined) {
    const delta = counterDeltaJ(a.energyJ, b.energyJ, b.energyRangeJ ?? a.energyRangeJ);
    if (delta.ok) return delta.value;
    // A counter reset: the power readings still bound the interval.
  }
  return (a.powerW + b.powerW) / 2 * ((b.tMs - a.tMs) / 1000);
}
