/**
 * The public types of a simulated board: options, work items, executions,
 * faults, readings and the SimBoard interface the service, the evaluation
 * harness and the runtime's cost charging call.
 */
import type { BoardPriors, Clock, Precision, UnitKind } from "../core/mod.ts";
import type { SimTreePaths } from "./tree.ts";

/** How simulated time relates to wall time. */
export type SimTimeMode = "virtual" | "realtime";

/** Options of `createSimBoard()`. */
export interface SimBoardOptions {
  /** Board profile id (`rk3588`, `jetson-orin-nano`, `raspberry-pi-5`, `imx8mp`). */
  profileId: string;
  /** Directory the sysfs tree is written under (`ROOT/sys/...`, `ROOT/proc/...`); created if missing. */
  root: string;
  /** Seed of the hidden truth and of the sensor noise (a non-negative integer). */
  seed: number;
  /**
   * `virtual`: time moves only through `execute()` and `advance()`, as fast as
   * the host allows; `realtime`: `start()` steps the board with the clock.
   * @default "virtual"
   */
  timeMode?: SimTimeMode;
  /**
   * Physics step, ms: RC zones, sensor readings and thermal governors move at
   * every step end; the tree shows the last step end whenever it is published
   * (see `SimBoard.onStep()`). @default 100
   */
  stepMs?: number;
  /**
   * Virtual mode: a ManualClock the simulator advances (@default a new
   * ManualClock). Realtime mode: the clock that paces the steps (@default
   * systemClock).
   */
  clock?: Clock;
  /** Relative spread of the hidden truth around the profile's priors. @default 0.25 */
  truthSpread?: number;
  /** Add sensor noise to readings (quantisation always applies). @default true */
  sensorNoise?: boolean;
}

/** One piece of work for a unit. */
export interface SimWorkItem {
  unitId: string;
  /** Arithmetic operations (a multiply-add counts 2). */
  flops: number;
  /** DRAM traffic. */
  bytes: number;
  precision: Precision;
}

/** How long one work item ran. */
export interface SimExecution {
  unitId: string;
  /** From the item's start on its unit to its end (queueing behind earlier items excluded), ms. */
  durationMs: number;
  /** Simulated monotonic time the item started, ms. */
  startMs: number;
  /** Simulated monotonic time the item ended, ms. */
  endMs: number;
}

/** Options of `execute()`. */
export interface SimExecuteOptions {
  /** Aborting cancels the call's unfinished items and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Rejects with TimeoutError when the call has not finished after this much simulated time, ms. */
  timeoutMs?: number;
}

/** A fault to inject. */
export type SimFault =
  /** `execute()` on the unit rejects with BackendError (calls already running on it too). */
  | { kind: "unit-fail"; unitId: string }
  /** Work on the unit stops making progress (the unit stays busy) until cleared. */
  | { kind: "unit-hang"; unitId: string }
  /** The file (or directory) disappears until cleared; root-relative or absolute inside the root. */
  | { kind: "sensor-remove"; path: string }
  /** The file holds garbage until cleared. */
  | { kind: "sensor-garbage"; path: string }
  /**
   * Ambient temperature jumps by `deltaC` (clearing undoes it). With the
   * steps in force, the ambient must stay above absolute zero and at most
   * `SIM_AMBIENT_MAX_C`.
   */
  | { kind: "ambient-step"; deltaC: number };

/**
 * Why a simulated board powered itself off. Like a real one: the kernel
 * polls its zones and, at a zone's critical trip, powers the board off
 * (thermal_zone_device_critical -> hw_protection_shutdown); where the SoC has
 * a thermal shutdown of its own (RK3588 TSADC, 120 °C on every channel) it
 * cuts the power even without the kernel.
 */
export interface SimShutdown {
  /** `critical-trip`: the kernel's critical trip of a zone; `hardware`: the SoC's own thermal shutdown. */
  kind: "critical-trip" | "hardware";
  /** Sysfs `type` of the zone whose sensor reached it. */
  zoneType: string;
  /** What that sensor read, °C. */
  tempC: number;
  /** The trip or hardware limit it reached, °C. */
  limitC: number;
  /** Simulated time of the shutdown (the end of the step whose reading reached it), ms since creation. */
  timeMs: number;
  /** What `execute()` rejects with while the board is off (`board powered off: soc-thermal reached ...`). */
  message: string;
}

/** Whether a simulated board has power. */
export type SimPowerState = { on: true } | { on: false; shutdown: SimShutdown };

/** Public facts about a unit (from the profile, not the truth). */
export interface SimUnitInfo {
  id: string;
  kind: UnitKind;
  /** Precisions the unit can compute. */
  precisions: readonly Precision[];
}

/** What the tree said after the last step, in SI units (the sensor view, never the truth). */
export interface SimReadings {
  timeMs: number;
  /**
   * False while the board is powered off: no kernel reads a sensor (every
   * zone `undefined`), clocks read 0 Hz, nothing is busy, rails read 0 W.
   */
  poweredOn: boolean;
  zones: readonly { type: string; tempC: number | undefined }[];
  domains: readonly { name: string; unitId?: string; curFreqHz: number; maxFreqHz: number; governor: string }[];
  cooling: readonly { type: string; state: number }[];
  /** Busy share of the last step per unit. */
  unitBusy: Readonly<Record<string, number>>;
  rails: readonly { label: string; powerW: number }[];
}

/** The hidden truth, for tests of src/sim only. */
export interface SimTruthForTests {
  priors: BoardPriors;
  ambientC: number;
  /** RC node temperature per logical zone id, °C. */
  zoneTempsC: Record<string, number>;
  /** Average power of each unit over the last step, W. */
  unitPowerW: Record<string, number>;
  basePowerW: number;
  /** Units + base over the last step, W. */
  totalPowerW: number;
  /** Energy since creation up to this instant (the step in progress included), J: per unit, base, and total. */
  energyJ: { units: Record<string, number>; baseJ: number; totalJ: number };
  /** Clock each unit really runs at (after firmware quirks), Hz; multi-domain units report the core-weighted mean. */
  unitFreqHz: Record<string, number>;
  /** Simulated time, ms. */
  timeMs: number;
  /** False while the board is powered off (every unit and the base then draw 0 W). */
  poweredOn: boolean;
}

/**
 * A simulated board.
 *
 * Its knob files (cpufreq `scaling_governor`, `scaling_min_freq`,
 * `scaling_max_freq`, `scaling_setspeed`; devfreq `governor`, `min_freq`,
 * `max_freq`, `userspace/set_freq`) behave like the kernel's: what user space
 * writes there is its request, kept apart from the thermal caps, and stays in
 * the file (a write of the value a file already shows counts too). The board
 * rewrites a knob file only when the kernel would show something else: a cap
 * engaged, moved or released (the request under the caps), a value clamped
 * to the table's range, a write the kernel refuses. It reads the file right
 * before, never replaces a write it has not taken in, and takes in a write
 * that was under way while it replaced the file. Writes are noticed at the
 * next step or `execute()` (like a polling governor), not synchronously.
 *
 * Reading its tree: a realtime board replaces each changed file atomically
 * (rename) at every step, so it can be read at any moment. A virtual board rewrites its files in
 * place and only when someone can look (an `onStep` callback, a sleeper on its
 * clock, a settled `execute()`, the end of `advance()`): read it from an
 * awaited `onStep` callback or between calls, never with reads still in flight
 * while `advance()` or `execute()` moves time (they could see a torn value).
 * Take a HAL sample right before opening and right before closing an energy
 * window: the `qeil_sim` counters then give the window's exact energy however
 * short it is.
 *
 * Thermal shutdown: no temperature runs away. When a sensor reading at a step
 * end reaches a zone's critical trip, or the SoC's own shutdown temperature
 * where the board has one (RK3588: TSADC, 120 °C on any channel), the board
 * powers off at that instant (a real orderly power-off takes a few seconds
 * more). Then, as on a real board whose kernel is gone: its `sys` and `proc`
 * trees disappear (a HAL reading them gets a missing-file error on every
 * channel, and no crash), every unit stops (pending calls and every later
 * `execute()` reject with a BackendError naming the zone and the temperature,
 * `board powered off: soc-thermal reached its critical trip 115 °C (read
 * 115.2 °C)`), every unit and the rest of the board draw 0 W, fans stop, and
 * the zones cool toward the ambient through their RC model. Time still moves
 * (`advance()`, `onStep()` callbacks, the realtime steps). `power` tells why
 * the board is off. It stays off until `powerOn()`, which reboots it: knobs
 * back to the kernel's defaults, thermal governors and statistics since boot
 * reset, the `qeil_sim` energy counters where they stopped (so an energy
 * window across the outage counts no energy for it rather than a bogus wrap).
 */
export interface SimBoard extends AsyncDisposable {
  readonly profileId: string;
  readonly root: string;
  readonly timeMode: SimTimeMode;
  readonly stepMs: number;
  /** Virtual mode: a clock only the simulator advances; realtime: the pacing clock. */
  readonly clock: Clock;
  readonly units: readonly SimUnitInfo[];
  /** Where the channels are in the tree. */
  readonly paths: SimTreePaths;
  /** Faults in force. */
  readonly faults: readonly SimFault[];
  /** On, or off since a thermal shutdown (see the interface's notes and `powerOn()`). */
  readonly power: SimPowerState;
  /**
   * Runs work: items on different units run concurrently (sharing the DRAM
   * bus), items on one unit in order, after any earlier calls' items on that
   * unit. Resolves with one execution per item, in item order; the tree (with
   * its energy counters) shows the instant the call settled.
   *
   * Clocks follow the tree's knobs as read when the call is made and at every
   * step (a write is seen at the next execute() or step, not synchronously).
   * Virtual time moves by itself while calls are pending, as fast as the host
   * allows: calls made in the same turn of the event loop start at the same
   * instant; a call made later starts at the simulated time current then
   * (concurrent callers meet at the instants where a call settles).
   * Realtime: resolves once the simulated duration has passed on the clock.
   * @throws RangeError for an unknown unit, a negative or non-finite amount, an invalid or unsupported precision
   * @throws BackendError when a unit has an injected failure, or when the board is (or goes) powered off
   * @throws TimeoutError after `timeoutMs` of simulated time
   */
  execute(items: readonly SimWorkItem[], options?: SimExecuteOptions): Promise<SimExecution[]>;
  /**
   * Virtual mode: lets `durationMs` of simulated time pass (running any
   * pending work). Steps nobody watches (no `onStep` callback due, no sleeper
   * on the clock) write no file; the tree shows the end instant on return.
   */
  advance(durationMs: number): Promise<void>;
  /** Realtime mode: starts stepping with the clock. */
  start(): void;
  /** Realtime mode: stops stepping (pending work waits until the next start). */
  stop(): Promise<void>;
  /**
   * Calls `callback(timeMs)` (simulated ms since creation) at the end of
   * every step whose end is a multiple of `periodMs` (rounded up to whole
   * steps) since creation, with the tree written (no tree while the board is
   * powered off: callbacks still run), and awaits it before the
   * next step: a HAL sampler's `sampleOnce()` there reads the tree in virtual
   * time. A virtual board writes its files only for observers, so a coarse
   * period makes idle time cheap; the energy counters stay exact however
   * seldom they are read. The callback must not await `advance()` or
   * `execute()` (time cannot move while it runs, so that would wait forever).
   * Returns an unsubscribe function.
   * @param options.periodMs how often to be called, ms (@default stepMs: every step)
   * @throws RangeError for a period that is not a finite number > 0
   */
  onStep(callback: (timeMs: number) => void | Promise<void>, options?: { periodMs?: number }): () => void;
  /**
   * Injects a fault. Sensor faults need the tree, so not while the board is powered off.
   * @throws RangeError for an unknown unit or path, an ambient step out of range
   * @throws Error for a sensor fault on a powered-off board (it has no tree)
   */
  inject(fault: SimFault): void;
  /**
   * Powers a board that shut itself down on again, like its power button: it
   * boots at once with its tree written afresh (kernel defaults in the knob
   * files, thermal governors and statistics since boot reset; sensor faults
   * still in force). Nothing turns a board on by itself: a harness or a test
   * does. Does nothing on a board that is on.
   * @throws BackendError while a sensor still reads at or above its critical
   *   trip or the hardware limit (the board would cut its power again at once)
   */
  powerOn(): void;
  /** Clears faults matching `fault` (kind and target), or all faults. */
  clear(fault?: SimFault): void;
  /** The sensor values of the last step end (published, or about to be). */
  readings(): SimReadings;
  /** The hidden truth. For tests of the simulator only: nothing outside src/sim may call it. */
  truthForTests(): SimTruthForTests;
}
