/**
 * What the board showed during a run: per-query energy windows over the HAL's
 * integrated power rails (never a planner's estimate), thermal throttle
 * events (rising edges of `Sample.throttled`: a passive cooling device capped
 * a clock), and the power and temperature traces per unit with the zones'
 * trip points, for the plots.
 */
import { EnergyMeter, type Sample } from "../hal/mod.ts";

/** What one measurement window saw. */
export interface ProbeMeasurement {
  /** Integrated board energy over the window, J. */
  energyJ: number;
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
    const window: OpenWindow = { throttleEvents: 0 };
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
          // No time passed (nothing ran on the board's clock): no energy, and the meter would refuse the window.
          result = { energyJ: 0, durationMs: 0, throttleEvents: window.throttleEvents, samples: 1 };
        } else {
          const m = meterWindow.end();
          result = {
            energyJ: m.energyJ,
            durationMs: m.durationMs,
            throttleEvents: window.throttleEvents,
            samples: m.samples,
          };
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
