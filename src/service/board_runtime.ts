/**
 * The board as the orchestrator lives with it: the HAL board read by a
 * sampling loop (at the telemetry period when idle, faster while jobs run so
 * a job's energy window has enough points), the energy meter fed by every
 * sample, the latest sample and the last good value of every sensor channel,
 * throttle events, and the wait that lets the board idle.
 *
 * On a simulated board in virtual time, time moves only when work runs (or
 * the orchestrator idles the board), so the loop is driven by the
 * simulator's steps instead of a clock: after each step, with the tree
 * written, a sample is taken when one is due. In real time (a real board, or
 * a realtime simulated one) the loop sleeps on the clock, on a grid, so
 * samples are evenly spaced for the thermal fit.
 */
import { type Clock, type Logger, systemClock } from "../core/mod.ts";
import { type Board, createSampler, EnergyMeter, type Sample, type Sampler } from "../hal/mod.ts";
import type { SimBoard } from "../sim/mod.ts";
import { type Backend, discoverBackends } from "../runtime/mod.ts";

/** Options of `createBoardRuntime`. */
export interface BoardRuntimeOptions {
  /** The discovered board (a real one, or the HAL's view of a simulated one). */
  board: Board;
  /** The simulated board behind `board`, when it is simulated (virtual time is driven by its steps). */
  sim?: SimBoard;
  /** Time of samples and sleeps. @default the simulated board's clock, else systemClock */
  clock?: Clock;
  /** Sampling period while no job runs (the telemetry period), ms. @default 1000 */
  idlePeriodMs?: number;
  /**
   * Sampling period while a job runs, ms; it should divide `idlePeriodMs` so
   * samples stay on one grid. @default the simulator's step (rounded up to divide idlePeriodMs), else
   *   idlePeriodMs / 5
   */
  busyPeriodMs?: number;
  /**
   * Receives every sample after the meter has it (calibration, sensor health).
   * `onGrid` is true for the loop's own samples, which lie on a grid of whole
   * idle or busy periods (extra samples around jobs do not).
   */
  onSample?: (sample: Sample, info: { onGrid: boolean }) => void;
  /** @default no logging */
  logger?: Logger;
}

/** The last good reading of a channel. */
export interface LastGood {
  value: number;
  /** Monotonic time of the reading, ms. */
  atMs: number;
}

/** The running board. */
export interface BoardRuntime extends AsyncDisposable {
  readonly board: Board;
  readonly sim: SimBoard | undefined;
  /** True for a simulated board in virtual time. */
  readonly virtual: boolean;
  readonly clock: Clock;
  readonly meter: EnergyMeter;
  readonly idlePeriodMs: number;
  readonly busyPeriodMs: number;
  /** Starts sampling (a first sample is taken at once). */
  start(): Promise<void>;
  /** The latest sample, once one was taken. */
  latest(): Sample | undefined;
  /** Monotonic time of the latest sample (the watchdog's heartbeat), ms. */
  lastSampleMs(): number | undefined;
  /** Takes a sample now (after any in progress) and returns it. */
  sampleNow(): Promise<Sample>;
  /** Marks a job as running (faster sampling) until the returned function is called. */
  busy(): () => void;
  /** Lets the board idle for `durationMs` (virtual time: advances the simulator; else sleeps). */
  idle(durationMs: number, signal?: AbortSignal): Promise<void>;
  /** Last good temperature of each thermal zone (by logical zone id), °C: stands in for a zone that stops reading. */
  lastGoodZoneTempsC(): Record<string, LastGood>;
  /** Rising edges of `Sample.throttled` seen so far. */
  throttleEvents(): number;
  /** Highest cooling state seen on each passive cooling device. */
  maxCoolingStates(): Record<string, number>;
  /** Samples taken so far. */
  samples(): number;
  /** Stops sampling. */
  stop(): Promise<void>;
}

/** Lateness of a sample after its grid point, as a share of the period, that still counts as on the grid. */
const GRID_TOLERANCE = 0.05;

class Runtime implements BoardRuntime {
  readonly board: Board;
  readonly sim: SimBoard | undefined;
  readonly virtual: boolean;
  readonly clock: Clock;
  readonly meter = new EnergyMeter();
  readonly idlePeriodMs: number;
  readonly busyPeriodMs: number;
  readonly #options: BoardRuntimeOptions;
  readonly #sampler: Sampler;
  #latest: Sample | undefined;
  #busy = 0;
  #stopper = new AbortController();
  #wake = new AbortController();
  #loop: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  #lastTickMs = Number.NEGATIVE_INFINITY;
  #zones: Record<string, LastGood> = {};
  #throttled = false;
  #throttleEvents = 0;
  #maxCooling: Record<string, number> = {};
  #count = 0;
  #started = false;

  constructor(options: BoardRuntimeOptions) {
    this.#options = options;
    this.board = options.board;
    this.sim = options.sim;
    this.virtual = options.sim?.timeMode === "virtual";
    this.clock = options.clock ?? options.sim?.clock ?? systemClock;
    this.idlePeriodMs = options.idlePeriodMs ?? 1000;
    // A simulated board's power files hold the average of its last step: sampling every step while work
    // runs gives the calibration every step's power.
    // (The busy period divides the idle one, so both keep one grid: the longest that is no shorter than a step.)
    const stepMs = options.sim?.stepMs;
    this.busyPeriodMs = options.busyPeriodMs ??
      (stepMs === undefined
        ? this.idlePeriodMs / 5
        : this.idlePeriodMs / Math.max(1, Math.floor(this.idlePeriodMs / stepMs)));
    if (!(this.idlePeriodMs > 0) || !(this.busyPeriodMs > 0)) {
      throw new RangeError(
        `board runtime: sampling periods must be > 0 ms, got ${this.idlePeriodMs} and ${this.busyPeriodMs}`,
      );
    }
    this.#sampler = createSampler({
      board: options.board,
      periodMs: this.busyPeriodMs,
      clock: this.clock,
      onSample: (sample) => this.#onSample(sample),
    });
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.sampleNow();
    if (this.virtual) {
      // Virtual time: a sample after each simulator step when one is due (the step's callback is awaited,
      // so the tree does not change under the read).
      this.#unsubscribe = this.sim!.onStep(async () => {
        if (this.clock.monotonicMs() - this.#lastTickMs >= this.#periodMs() - 1e-6) await this.#tick();
      });
    } else {
      this.#loop = this.#realtimeLoop(this.#stopper.signal);
    }
  }

  latest(): Sample | undefined {
    return this.#latest;
  }

  lastSampleMs(): number | undefined {
    return this.#latest?.monotonicMs;
  }

  sampleNow(): Promise<Sample> {
    return this.#sampler.sampleOnce();
  }

  busy(): () => void {
    this.#busy++;
    if (this.#busy === 1) this.#wakeLoop();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#busy--;
      if (this.#busy === 0) this.#wakeLoop();
    };
  }

  async idle(durationMs: number, signal?: AbortSignal): Promise<void> {
    if (!(durationMs >= 0)) throw new RangeError(`idle() needs a duration >= 0 ms, got ${durationMs}`);
    signal?.throwIfAborted();
    if (this.virtual) await this.sim!.advance(durationMs);
    else await this.clock.sleep(durationMs, signal);
  }

  lastGoodZoneTempsC(): Record<string, LastGood> {
    return { ...this.#zones };
  }

  throttleEvents(): number {
    return this.#throttleEvents;
  }

  maxCoolingStates(): Record<string, number> {
    return { ...this.#maxCooling };
  }

  samples(): number {
    return this.#count;
  }

  async stop(): Promise<void> {
    this.#stopper.abort();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#loop;
    this.#loop = undefined;
    await this.#sampler.stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  #periodMs(): number {
    return this.#busy > 0 ? this.busyPeriodMs : this.idlePeriodMs;
  }

  #wakeLoop(): void {
    this.#wake.abort();
  }

  async #tick(): Promise<void> {
    try {
      await this.#sampler.sampleOnce();
    } catch (error) {
      // board.read() never throws for a channel; this is a bug or a vanished root. Keep sampling.
      this.#options.logger?.error("board sample failed", { error });
    }
  }

  /** Samples on a grid of the current period; a change of period (a job starts or ends) wakes it at once. */
  async #realtimeLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const nowMs = this.clock.monotonicMs();
      const periodMs = this.#periodMs();
      const dueMs = this.#lastTickMs + periodMs;
      if (nowMs >= dueMs - 1e-6) {
        await this.#tick();
        continue;
      }
      this.#wake = new AbortController();
      try {
        await this.clock.sleep(dueMs - nowMs, AbortSignal.any([signal, this.#wake.signal]));
      } catch {
        // Woken by a change of period (or stopped): recompute the due time.
      }
    }
  }

  #onSample(sample: Sample): void {
    this.#count++;
    // The grid advances by whole periods from the last tick, so a late tick does not shift later ones.
    // A sample within a small tolerance after a grid point is that point's sample; other samples (taken
    // around jobs) leave the grid alone. A long gap (a stalled loop) restarts the grid.
    const periodMs = this.#periodMs();
    let onGrid = false;
    if (this.#lastTickMs === Number.NEGATIVE_INFINITY || sample.monotonicMs - this.#lastTickMs > 2 * periodMs) {
      this.#lastTickMs = sample.monotonicMs;
      onGrid = true;
    } else if (sample.monotonicMs >= this.#lastTickMs + periodMs - 1e-6) {
      const periods = Math.floor((sample.monotonicMs - this.#lastTickMs + 1e-6) / periodMs);
      this.#lastTickMs += periods * periodMs;
      onGrid = sample.monotonicMs - this.#lastTickMs <= GRID_TOLERANCE * periodMs;
    }
    this.#latest = sample;
    this.meter.add(sample);
    for (const t of sample.thermal) {
      if (!t.ok || t.zone === undefined) continue;
      const prev = this.#zones[t.zone];
      // Several sysfs zones may map to one logical zone: keep the hottest reading of this sample.
      if (prev === undefined || prev.atMs !== sample.monotonicMs || t.tempC > prev.value) {
        this.#zones[t.zone] = { value: t.tempC, atMs: sample.monotonicMs };
      }
    }
    if (sample.throttled && !this.#throttled) this.#throttleEvents++;
    this.#throttled = sample.throttled;
    for (const c of sample.coolingDevices) {
      if (!c.ok || !c.passive) continue;
      this.#maxCooling[c.type] = Math.max(this.#maxCooling[c.type] ?? 0, c.curState);
    }
    this.#options.onSample?.(sample, { onGrid });
  }
}

/** Creates the board runtime; call `start()` to begin sampling. */
export function createBoardRuntime(options: BoardRuntimeOptions): BoardRuntime {
  return new Runtime(options);
}

/** The backends found for a real board's units, and why the others are unavailable. */
export interface RealBackends {
  /** By unit id: a pinned ORT CPU backend per CPU unit, WebGPU for the GPU unit when it loaded. */
  backends: Record<string, Backend>;
  /** `name: reason` for every backend that did not load. */
  unavailable: string[];
}

/**
 * Backends of a real board's units: a pinned ORT CPU backend per CPU cluster
 * (the CPUs of the unit's cpufreq policies), WebGPU for a GPU unit when it
 * loads. Logs each unavailable backend once.
 */
export async function realBackends(board: Board, logger: Pick<Logger, "info">): Promise<RealBackends> {
  const clusters = board.units.filter((u) => u.kind === "cpu" && u.freq.kind === "cpufreq").map((u) => {
    const policies = u.freq.kind === "cpufreq" ? u.freq.policies : [];
    const cpus = board.cpufreq.filter((p) => policies.includes(p.name)).flatMap((p) => p.cpus);
    return { name: u.id, cpus };
  }).filter((c) => c.cpus.length > 0);
  const registry = await discoverBackends({ cpuClusters: clusters, webgpu: board.units.some((u) => u.kind === "gpu") });
  const backends: Record<string, Backend> = {};
  for (const c of clusters) {
    const b = registry.get(`ort-cpu:${c.name}`);
    if (b) backends[c.name] = b;
  }
  const gpu = board.units.find((u) => u.kind === "gpu");
  const webgpu = registry.get("ort-webgpu");
  if (gpu && webgpu) backends[gpu.id] = webgpu;
  for (const u of registry.unavailable) logger.info("backend unavailable", { backend: u.name, reason: u.reason });
  return { backends, unavailable: registry.unavailable.map((u) => `${u.name}: ${u.reason}`) };
}
