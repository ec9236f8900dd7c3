/**
 * What the board showed during a run: per-query energy windows over the HAL's
 * integrated power rails (never a planner's estimate), thermal throttle
 * events (rising edges of `Sample.throttled`: a passive cooling device capped
 * a clock), and the power and temperature traces per unit with the zones'
 * trip points, for the plots.
 */
import { describeError, isQeilError } from "../core/mod.ts";
import { EnergyMeter, type Sample } from "../hal/mod.ts";

/** What one measurement window saw. */
export interface ProbeMeasurement {
  /**
   * Integrated board energy over the window, J; null when the board has no
   * rail that gives its total power (a real board without power sensors):
   * energy was not measured, which is not the same as none.
   */
  energyJ: number | null;
  /** Why `energyJ` is null. */
  energyUnavailable?: string;
  /** Energy per rail over the window, J (empty when nothing was measured). */
  perRailJ: Record<string, number>;
  /** Rails whose readings failed inside the window (their gaps were bridged by the meter). */
  incompleteRails: string[];
  /** Rails that make up the board total (`Sample.totalPowerRails`); the others are sub-rails of it. */
  totalRails: string[];
  /** From the window's first to its last sample, ms. */
  durationMs: number;
  /** Throttle events (rising edges of `Sample.throttled`) after the window's first sample. */
  throttleEvents: number;
  /** Samples in the window. */
  samples: number;
}

/** An open measurement window. */
export interface ProbeWindow {
  /** Takes a closing sample and reports the window. */
  end(): Promise<ProbeMeasurement>;
}

/**
 * Measures energy and throttling around each query. The harness opens one
 * window per query, so every mode is measured by the same code.
 */
export interface EnergyProbe {
  /** Takes an opening sample and opens a window. */
  begin(label: string): Promise<ProbeWindow>;
}

/** A point of a trace: time since the run's first sample, ms, and a value. */
export interface TracePoint {
  tMs: number;
  value: number;
}

/** A trip point of one or more thermal zones. */
export interface TripLine {
  /** `passive`, `hot`, `critical` or `active`. */
  type: string;
  tempC: number;
  /** Zones (`type` names) with this trip. */
  zones: string[];
}

/** The run as the board showed it. */
export interface TelemetryTraces {
  units: { unitId: string; powerW: TracePoint[]; tempC: TracePoint[] }[];
  totalPowerW: TracePoint[];
  trips: TripLine[];
  /** Times of throttle events, ms since the first sample. */
  throttleEventsMs: number[];
}

/** Options of {@linkcode RunTelemetry}. */
export interface RunTelemetryOptions {
  /**
   * Takes a sample now and hands it to `add()` before resolving: the HAL
   * sampler's `sampleOnce()` whose `onSample` calls `add()`. Going through
   * the sampler keeps samples in time order with its periodic ticks.
   */
  sampleNow: () => Promise<unknown>;
}

interface OpenWindow {
  throttleEvents: number;
  /** Samples since the window opened, the opening one included. */
  samples: number;
  totalRails: Set<string>;
}

/**
 * Collects the samples of a run (feed every sample to `add()`) and serves as
 * the harness's {@linkcode EnergyProbe}.
 */
export class RunTelemetry implements EnergyProbe {
  /** The energy meter every sample feeds. */
  readonly meter: EnergyMeter = new EnergyMeter();
  readonly #sampleNow: () => Promise<unknown>;
  #samples = 0;
  #originMs: number | undefined;
  #lastMs: number | undefined;
  #throttled = false;
  #open = new Set<OpenWindow>();
  #units = new Map<string, { powerW: TracePoint[]; tempC: TracePoint[] }>();
  #total: TracePoint[] = [];
  #trips = new Map<string, TripLine>();
  #throttleEventsMs: number[] = [];
  #totalRails: readonly string[] = [];

  constructor(options: RunTelemetryOptions) {
    this.#sampleNow = options.sampleNow;
  }

  /** Samples added so far. */
  get samples(): number {
    return this.#samples;
  }

  /** Adds a sample (in time order). @throws RangeError when it is older than the previous one */
  add(sample: Sample): void {
    this.meter.add(sample);
    this.#samples++;
    this.#originMs ??= sample.monotonicMs;
    this.#lastMs = sample.monotonicMs;
    const tMs = sample.monotonicMs - this.#originMs;
    if (sample.throttled && !this.#throttled) {
      this.#throttleEventsMs.push(tMs);
      for (const w of this.#open) w.throttleEvents++;
    }
    this.#throttled = sample.throttled;
    this.#totalRails = sample.totalPowerRails;
    for (const w of this.#open) {
      w.samples++;
      for (const rail of sample.totalPowerRails) w.totalRails.add(rail);
    }
    for (const [unitId, u] of Object.entries(sample.units)) {
      let series = this.#units.get(unitId);
      if (!series) this.#units.set(unitId, series = { powerW: [], tempC: [] });
      if (u.powerW.ok) series.powerW.push({ tMs, value: u.powerW.value });
      if (u.tempC.ok) series.tempC.push({ tMs, value: u.tempC.value });
    }
    if (sample.totalPowerW.ok) this.#total.push({ tMs, value: sample.totalPowerW.value });
    for (const zone of sample.thermal) {
      for (const trip of zone.trips) {
        const key = `${trip.type}@${trip.tempC}`;
        const line = this.#trips.get(key) ?? { type: trip.type, tempC: trip.tempC, zones: [] };
        if (!line.zones.includes(zone.name)) line.zones.push(zone.name);
        this.#trips.set(key, line);
      }
    }
  }

  async begin(label: string): Promise<ProbeWindow> {
    const startMs = await this.#takeSample("open", label);
    const window: OpenWindow = { throttleEvents: 0, samples: 1, totalRails: new Set(this.#totalRails) };
    this.#open.add(window);
    const meterWindow = this.meter.begin(label);
    let result: ProbeMeasurement | undefined;
    return {
      end: async () => {
        if (result) return result;
        let endMs: number;
        try {
          endMs = await this.#takeSample("close", label);
        } finally {
          this.#open.delete(window);
        }
        if (endMs === startMs) {
          // No time passed (nothing ran on the board's clock): no energy. The meter refuses a window without
          // time; closing it anyway stops it from collecting samples.
          try {
            meterWindow.end();
          } catch (error) {
            if (!(error instanceof RangeError)) throw error;
          }
          result = {
            energyJ: 0,
            perRailJ: {},
            incompleteRails: [],
            totalRails: [...window.totalRails],
            durationMs: 0,
            throttleEvents: window.throttleEvents,
            samples: 1,
          };
        } else {
          try {
            const m = meterWindow.end();
            result = {
              energyJ: m.energyJ,
              perRailJ: m.perRailJ,
              incompleteRails: m.incompleteRails,
              totalRails: [...window.totalRails],
              durationMs: m.durationMs,
              throttleEvents: window.throttleEvents,
              samples: m.samples,
            };
          } catch (error) {
            if (!isQeilError(error, "SensorUnavailable")) throw error;
            result = {
              energyJ: null,
              energyUnavailable: describeError(error),
              perRailJ: {},
              incompleteRails: [],
              totalRails: [],
              durationMs: endMs - startMs,
              throttleEvents: window.throttleEvents,
              samples: window.samples,
            };
          }
        }
        return result;
      },
    };
  }

  async #takeSample(action: string, label: string): Promise<number> {
    const before = this.#samples;
    await this.#sampleNow();
    if (this.#samples === before || this.#lastMs === undefined) {
      throw new Error(`${action} energy window "${label}": sampleNow() resolved without handing a sample to add()`);
    }
    return this.#lastMs;
  }

  /** The traces so far (copies). */
  traces(): TelemetryTraces {
    return {
      units: [...this.#units].map(([unitId, s]) => ({ unitId, powerW: [...s.powerW], tempC: [...s.tempC] })),
      totalPowerW: [...this.#total],
      trips: [...this.#trips.values()].map((t) => ({ ...t, zones: [...t.zones] })).sort((a, b) => a.tempC - b.tempC),
      throttleEventsMs: [...this.#throttleEventsMs],
    };
  }
}
