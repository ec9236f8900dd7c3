/** Hand-built HAL samples for the eval tests whose figures must be computable by hand. */
import { fail, ok } from "../../src/core/mod.ts";
import type { Sample, TripPoint } from "../../src/hal/mod.ts";

/** What a scripted sample shows. */
export interface ScriptedReading {
  tMs: number;
  /** Board input rail, W. */
  totalPowerW: number;
  throttled?: boolean;
  /** Per unit: temperature and rail power (absent = that channel failed). */
  units?: Record<string, { tempC?: number; powerW?: number }>;
  /** Trips of the one thermal zone `soc-thermal`. */
  trips?: TripPoint[];
  /** The board has no rail that gives its total power (a real board without power sensors). */
  noTotalRail?: boolean;
}

/** A complete Sample with one input rail (`board_total`) and the given units. */
export function scriptedSample(r: ScriptedReading): Sample {
  const units: Sample["units"] = {};
  for (const [id, u] of Object.entries(r.units ?? {})) {
    units[id] = {
      tempC: u.tempC === undefined ? fail(`${id}: no temperature`) : ok(u.tempC),
      curFreqHz: ok(1e9),
      maxFreqHz: ok(2e9),
      utilization: ok(0.5),
      powerW: u.powerW === undefined ? fail(`${id}: no rail`) : ok(u.powerW),
    };
  }
  return {
    timestampMs: 1_700_000_000_000 + r.tMs,
    monotonicMs: r.tMs,
    thermal: [{ name: "soc-thermal", trips: r.trips ?? [], ok: true, tempC: 50 }],
    coolingDevices: [],
    devfreq: [],
    cpufreq: [],
    power: r.noTotalRail ? [] : [{ name: "board_total", role: "input", ok: true, powerW: r.totalPowerW }],
    load: [],
    memory: ok({ totalBytes: 8e9, availableBytes: 4e9 }),
    units,
    totalPowerW: r.noTotalRail ? fail("no rail gives the board's total power") : ok(r.totalPowerW),
    totalPowerRails: r.noTotalRail ? [] : ["board_total"],
    throttled: r.throttled ?? false,
  };
}

/**
 * A board that shows a fixed script of readings, one per `read()`: the
 * scripted stand-in for a sampler's source when figures must be exact.
 */
export class ScriptedBoard {
  #script: ScriptedReading[];
  #next = 0;

  constructor(script: ScriptedReading[]) {
    this.#script = script;
  }

  /** Reads left in the script. */
  get remaining(): number {
    return this.#script.length - this.#next;
  }

  read(): Promise<Sample> {
    const r = this.#script[this.#next++];
    if (!r) return Promise.reject(new Error("ScriptedBoard: the script has no more readings"));
    return Promise.resolve(scriptedSample(r));
  }
}
