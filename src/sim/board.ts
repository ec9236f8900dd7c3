/**
 * A simulated board: the hidden truth (perturbed priors), the physics that
 * turns work into time, power and heat, kernel-like DVFS and thermal
 * governors that obey the knobs in the board's own sysfs tree, and the
 * scheduler that runs work items on units in virtual or real time.
 *
 * Time advances in events: a work item finishing, a deadline, or the end of
 * a fixed physics step. Power is integrated exactly between events; at every
 * step end the RC zones move, the governors act, the tree is rewritten and
 * `onStep` callbacks are awaited.
 */
import {
  BackendError,
  type BoardPriors,
  type Clock,
  createRng,
  isPrecision,
  ManualClock,
  type Precision,
  PRECISIONS,
  type Rng,
  systemClock,
  TimeoutError,
  type UnitKind,
  type UnitPriors,
} from "../core/mod.ts";
import { type BoardProfile, getProfile, SIM_POWER_CHIP } from "../hal/mod.ts";
import { type BoardLayout, type DomainSpec, getLayout, type ZoneSpec } from "./layout.ts";
import { busShare, dynamicPowerW, leakagePowerW, rcStepC, roofline, topOpp, voltageAtV } from "./physics.ts";
import { coolingState, type InstanceState, NO_TARGET, stepWiseTarget, trendOf, tripCrossed } from "./thermal.ts";
import { type DomainView, SimTree, type SimTreePaths, type StepView } from "./tree.ts";
import { perturbPriors } from "./truth.ts";
import { TreeWriter } from "./writer.ts";

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
  /** Physics step and tree refresh period, ms. @default 100 */
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
  /** Ambient temperature jumps by `deltaC` (clearing undoes it). */
  | { kind: "ambient-step"; deltaC: number };

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
  /** Energy since creation, J: per unit, base, and total. */
  energyJ: { units: Record<string, number>; baseJ: number; totalJ: number };
  /** Clock each unit really runs at (after firmware quirks), Hz; multi-domain units report the core-weighted mean. */
  unitFreqHz: Record<string, number>;
  /** Simulated time, ms. */
  timeMs: number;
}

/** A simulated board. */
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
  /**
   * Runs work: items on different units run concurrently (sharing the DRAM
   * bus), items on one unit in order. Resolves with one execution per item,
   * in item order.
   * @throws RangeError for an unknown unit, a negative or non-finite amount, an invalid or unsupported precision
   * @throws BackendError when a unit has an injected failure
   * @throws TimeoutError after `timeoutMs` of simulated time
   */
  execute(items: readonly SimWorkItem[], options?: SimExecuteOptions): Promise<SimExecution[]>;
  /** Virtual mode: lets `durationMs` of simulated time pass (running any pending work). */
  advance(durationMs: number): Promise<void>;
  /** Realtime mode: starts stepping with the clock. */
  start(): void;
  /** Realtime mode: stops stepping (pending work waits until the next start). */
  stop(): Promise<void>;
  /**
   * Calls `callback(timeMs)` after every step, with the tree written, and
   * awaits it before the next step. The callback must not call `advance()` or
   * await `execute()`. Returns an unsubscribe function.
   */
  onStep(callback: (timeMs: number) => void | Promise<void>): () => void;
  inject(fault: SimFault): void;
  /** Clears faults matching `fault` (kind and target), or all faults. */
  clear(fault?: SimFault): void;
  /** The sensor values written at the last step. */
  readings(): SimReadings;
  /** The hidden truth. For tests of the simulator only: nothing outside src/sim may call it. */
  truthForTests(): SimTruthForTests;
}

const DEFAULT_STEP_MS = 100;
/** Completion times within this much of a segment end count as at the end, ms. */
const EPS_MS = 1e-7;
/** Share of every CPU kept busy by the OS (daemons, interrupts) in /proc/stat. */
const OS_BACKGROUND_LOAD = 0.004;
/** Fan effect on every zone: R and tau divided by 1 + this x duty (official Pi 5 active cooler, estimate). */
const FAN_COOLING_GAIN = 1.5;
/** Statistics tables and meminfo are rewritten at this period, ms. */
const SLOW_FILES_MS = 1000;

interface Call {
  items: Item[];
  results: (SimExecution | undefined)[];
  left: number;
  deadlineMs: number;
  timeoutMs: number | undefined;
  settled: boolean;
  resolve: (results: SimExecution[]) => void;
  reject: (error: unknown) => void;
  detach: () => void;
}

interface Item {
  call: Call;
  index: number;
  unit: UnitState;
  flops: number;
  bytes: number;
  precision: Precision;
  /** Fraction of the work still to do, [0, 1]. */
  remaining: number;
  startMs: number;
  /** Predicted end under the current segment's rates. */
  endMs: number;
}

interface DomainState {
  index: number;
  spec: DomainSpec;
  unit: UnitState | undefined;
  /** Share of the unit's cores in this domain. */
  weight: number;
  tableHz: number[];
  governor: string;
  userMinHz: number;
  userMaxHz: number;
  setspeedHz: number;
  /** devfreq userspace: false until someone writes `set_freq` (the clock stays where it was). */
  setspeedSet: boolean;
  coolCapHz: number;
  vendorCapHz: number;
  /** Frequency the kernel shows. */
  curHz: number;
  /** Frequency the silicon runs (firmware quirks applied). */
  trueHz: number;
  timeInStateMs: number[];
  transitions: number[][];
  stepBusyMs: number;
}

interface UnitState {
  priors: UnitPriors;
  domains: DomainState[];
  /** Fixed clock for units without a frequency domain, Hz. */
  fixedHz: number | undefined;
  cpus: number[];
  queue: Item[];
  active: Item | undefined;
  failed: boolean;
  hung: boolean;
  // Rates of the current segment.
  ratePerMs: number;
  dasi: number;
  bytesPerS: number;
  // Step accumulators.
  stepBusyMs: number;
  stepEnergyJ: number;
  stepBytes: number;
  lastStepPowerW: number;
  lastStepBusy: number;
  energyJ: number;
}

interface ZoneRuntime {
  spec: ZoneSpec;
  /** Logical zone id whose RC node the sensor reads, or undefined. */
  node: string | undefined;
  offsetC: number;
  previousC: number | undefined;
  crossed: boolean[];
  readingMilliC: number | undefined;
}

interface RcNode {
  id: string;
  tauS: number;
  rthKPerW: Record<string, number>;
  tempC: number;
}

interface Instance extends InstanceState {
  zone: number;
  trip: number;
  cdev: number;
}

interface CapState {
  domain: DomainState;
  zone: number;
  tempC: number;
  hystC: number;
  maxFreqHz: number;
  active: boolean;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

async function yieldMicrotasks(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}

function parseUnsigned(text: string): number | undefined {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : undefined;
}

class SimBoardImpl implements SimBoard {
  readonly profileId: string;
  readonly root: string;
  readonly timeMode: SimTimeMode;
  readonly stepMs: number;
  readonly clock: Clock;
  readonly units: readonly SimUnitInfo[];
  readonly paths: SimTreePaths;

  readonly #profile: BoardProfile;
  readonly #layout: BoardLayout;
  readonly #truth: BoardPriors;
  readonly #writer: TreeWriter;
  readonly #tree: SimTree;
  readonly #noise: Rng;
  readonly #sensorNoise: boolean;
  readonly #manual: ManualClock | undefined;

  readonly #units = new Map<string, UnitState>();
  readonly #domains: DomainState[] = [];
  readonly #zones: ZoneRuntime[] = [];
  readonly #nodes = new Map<string, RcNode>();
  readonly #instances: Instance[] = [];
  readonly #cdevStates: number[];
  readonly #caps: CapState[] = [];
  readonly #cpuBusyMs: number[];
  readonly #calls = new Set<Call>();
  readonly #stepCallbacks = new Set<(timeMs: number) => void | Promise<void>>();
  #faults: SimFault[] = [];
  /** Root-relative path each sensor fault acts on, resolved once at injection. */
  readonly #faultRel = new Map<SimFault, string>();

  #ambientC: number;
  readonly #originMs: number;
  #t: number;
  #stepIndex = 0;
  #lastSlowMs = Number.NEGATIVE_INFINITY;
  #busUtil = 0;
  #stepBusBytes = 0;
  #baseEnergyJ = 0;
  #lastView: StepView | undefined;

  /** Counts settled calls, so a run can stop at the first settlement whatever caused it (end, deadline, abort, fault). */
  #settleCount = 0;
  #lockTail: Promise<void> = Promise.resolve();
  #driving = false;
  #disposed = false;
  #running: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #wake: AbortController | undefined;

  constructor(options: Required<Omit<SimBoardOptions, "clock">> & { clock: Clock | undefined }) {
    this.profileId = options.profileId;
    this.timeMode = options.timeMode;
    this.stepMs = options.stepMs;
    this.#layout = getLayout(options.profileId);
    this.#profile = getProfile(options.profileId);
    const rng = createRng(options.seed);
    this.#truth = perturbPriors(this.#profile.priors, rng.fork("truth"), { spread: options.truthSpread });
    this.#noise = rng.fork("sensors");
    this.#sensorNoise = options.sensorNoise;
    this.#ambientC = this.#truth.ambientC;

    if (options.timeMode === "virtual") {
      if (options.clock !== undefined && !(options.clock instanceof ManualClock)) {
        throw new TypeError("createSimBoard(): a virtual-time board needs a ManualClock (or no clock)");
      }
      this.#manual = (options.clock as ManualClock | undefined) ?? new ManualClock();
      this.clock = this.#manual;
    } else {
      this.#manual = undefined;
      this.clock = options.clock ?? systemClock;
    }
    this.#originMs = this.clock.monotonicMs();
    this.#t = this.#originMs;

    this.#buildUnits();
    const tables = this.#layout.domains.map((_, k) => this.#domains[k].tableHz);
    this.#writer = new TreeWriter(options.root);
    this.root = this.#writer.root;
    this.#tree = new SimTree(this.#writer, this.#layout, tables, this.#truth.units, this.#simPowerChip());
    this.paths = this.#tree.paths;
    this.#buildThermal(rng.fork("sensor-offsets"));
    this.#cdevStates = this.#layout.cooling.map(() => 0);
    let cpuCount = 0;
    for (const u of this.#units.values()) for (const c of u.cpus) cpuCount = Math.max(cpuCount, c + 1);
    this.#cpuBusyMs = Array.from({ length: cpuCount }, () => 0);
    this.units = this.#truth.units.map((u) => ({
      id: u.id,
      kind: u.kind,
      precisions: PRECISIONS.filter((p) => this.#profile.priors.units.find((x) => x.id === u.id)?.peakOpsPerS[p]),
    }));
  }

  /** Writes the initial tree: a board that has idled long enough to sit at its idle steady state. */
  init(): void {
    this.#settleIdle();
    this.#tree.build();
    for (const d of this.#domains) this.#tree.writeKnobs(d.index, this.#knobView(d));
    this.#resolveFrequencies();
    this.#sampleSensors();
    const view = this.#makeView(0);
    this.#tree.writeStep(view);
    this.#lastView = view;
  }

  get faults(): readonly SimFault[] {
    return this.#faults.map((f) => ({ ...f }));
  }

  // ---- setup ---------------------------------------------------------------------------------------------

  #simPowerChip(): string {
    const rail = this.#profile.rails.find((r) => r.simulatedOnly && r.source === "hwmon");
    return rail?.chips[0] ?? SIM_POWER_CHIP;
  }

  #buildUnits(): void {
    const layoutUnits = new Set(this.#layout.domains.map((d) => d.unitId).filter((u) => u !== undefined));
    for (const priors of this.#truth.units) {
      if (priors.opps.length === 0) throw new Error(`profile ${this.profileId}: unit ${priors.id} has no OPPs`);
      this.#units.set(priors.id, {
        priors,
        domains: [],
        fixedHz: layoutUnits.has(priors.id) ? undefined : topOpp(priors).freqHz,
        cpus: [],
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
      });
    }
    for (const unitId of layoutUnits) {
      if (!this.#units.has(unitId)) {
        throw new Error(`layout ${this.#layout.id} clocks unit "${unitId}" that profile ${this.profileId} lacks`);
      }
    }
    this.#layout.domains.forEach((spec, index) => {
      const unit = spec.unitId === undefined ? undefined : this.#units.get(spec.unitId);
      const tableHz = unit
        ? unit.priors.opps.map((o) => o.freqHz)
        : [...(spec.kind === "devfreq" ? spec.freqsHz ?? [] : [])];
      if (tableHz.length === 0) throw new Error(`layout ${this.#layout.id}: domain ${spec.name} has no frequencies`);
      const top = tableHz[tableHz.length - 1];
      const domain: DomainState = {
        index,
        spec,
        unit,
        weight: 1,
        tableHz,
        governor: spec.governor,
        userMinHz: tableHz[0],
        userMaxHz: top,
        setspeedHz: tableHz[0],
        setspeedSet: false,
        coolCapHz: Number.POSITIVE_INFINITY,
        vendorCapHz: Number.POSITIVE_INFINITY,
        curHz: tableHz[0],
        trueHz: tableHz[0],
        timeInStateMs: tableHz.map(() => 0),
        transitions: tableHz.map(() => tableHz.map(() => 0)),
        stepBusyMs: 0,
      };
      this.#domains.push(domain);
      if (unit) {
        unit.domains.push(domain);
        if (spec.kind === "cpufreq") unit.cpus.push(...spec.cpus);
      }
    });
    for (const unit of this.#units.values()) {
      const cpufreq = unit.domains.filter((d) => d.spec.kind === "cpufreq");
      const totalCpus = unit.cpus.length;
      for (const d of unit.domains) {
        d.weight = d.spec.kind === "cpufreq" && totalCpus > 0
          ? d.spec.cpus.length / totalCpus
          : 1 / Math.max(1, unit.domains.length - cpufreq.length);
      }
    }
  }

  #buildThermal(offsets: Rng): void {
    for (const z of this.#truth.zones) {
      this.#nodes.set(z.id, { id: z.id, tauS: z.tauS, rthKPerW: { ...z.rthKPerW }, tempC: this.#ambientC });
    }
    const logicalOf = (type: string): string | undefined =>
      Object.entries(this.#profile.zones).find(([, types]) => types.includes(type))?.[0];
    for (const spec of this.#layout.zones) {
      const logical = logicalOf(spec.type);
      let node: string | undefined;
      if ((spec.source ?? "node") === "max" || spec.readable === false) {
        node = logical !== undefined && this.#nodes.has(logical) && spec.source !== "max" ? logical : undefined;
      } else if (logical !== undefined && this.#nodes.has(logical)) {
        node = logical;
      } else if (spec.fallback) {
        const from = spec.fallback.from.map((id) => {
          const n = this.#nodes.get(id);
          if (!n) throw new Error(`layout ${this.#layout.id}: zone ${spec.type} derives from unknown zone ${id}`);
          return n;
        });
        const rthKPerW: Record<string, number> = {};
        for (const unitId of this.#units.keys()) {
          let sum = 0;
          for (const n of from) sum += n.rthKPerW[unitId] ?? 0;
          rthKPerW[unitId] = spec.fallback.rthScale * sum / from.length;
        }
        node = logical ?? spec.type;
        this.#nodes.set(node, {
          id: node,
          tauS: from.reduce((s, n) => s + n.tauS, 0) / from.length,
          rthKPerW,
          tempC: this.#ambientC,
        });
      } else {
        throw new Error(
          `profile ${this.profileId} has no thermal priors for zone ${spec.type} and the layout gives no fallback`,
        );
      }
      this.#zones.push({
        spec,
        node,
        // Sensor calibration error: a fixed offset per sensor.
        offsetC: offsets.uniform(-0.5, 0.5),
        previousC: undefined,
        crossed: spec.trips.map(() => false),
        readingMilliC: undefined,
      });
    }
    for (const unit of this.#units.values()) {
      if (!this.#nodes.has(unit.priors.thermalZone)) {
        throw new Error(
          `profile ${this.profileId}: unit ${unit.priors.id} names unknown zone ${unit.priors.thermalZone}`,
        );
      }
    }
    this.#layout.zones.forEach((spec, zone) => {
      for (const b of spec.bindings) {
        const cdev = this.#layout.cooling.findIndex((c) => c.type === b.cdev);
        const c = this.#layout.cooling[cdev];
        const maxState = c.kind === "freq"
          ? this.#domains.find((d) => d.spec.name === c.domain)!.tableHz.length - 1
          : c.kind === "fan"
          ? c.levels.length - 1
          : c.maxState;
        this.#instances.push({
          zone,
          trip: b.trip,
          cdev,
          lower: b.lower ?? 0,
          upper: Math.min(b.upper ?? maxState, maxState),
          target: NO_TARGET,
          initialized: false,
        });
      }
    });
    for (const cap of this.#layout.highTempCaps ?? []) {
      const domain = this.#domains.find((d) => d.spec.name === cap.domain);
      const zone = this.#layout.zones.findIndex((z) => z.type === cap.zoneType);
      if (!domain || zone < 0) throw new Error(`layout ${this.#layout.id}: bad high-temperature cap ${cap.domain}`);
      this.#caps.push({ domain, zone, tempC: cap.tempC, hystC: cap.hystC, maxFreqHz: cap.maxFreqHz, active: false });
    }
  }

  /** Idle steady state: fixed point of T = T_amb + R P_idle(T) (leakage grows with T). */
  #settleIdle(): void {
    this.#resolveFrequencies();
    for (let iteration = 0; iteration < 40; iteration++) {
      const powers = new Map<string, number>();
      for (const unit of this.#units.values()) powers.set(unit.priors.id, this.#unitPowerW(unit, false));
      for (const node of this.#nodes.values()) node.tempC = this.#steadyC(node, powers);
    }
    for (const unit of this.#units.values()) unit.lastStepPowerW = this.#unitPowerW(unit, false);
  }

  // ---- public API -----------------------------------------------------------------------------------------

  async execute(items: readonly SimWorkItem[], options: SimExecuteOptions = {}): Promise<SimExecution[]> {
    this.#checkUsable("execute");
    const parsed = this.#validate(items, options);
    options.signal?.throwIfAborted();
    for (const p of parsed) {
      if (p.unit.failed) {
        throw new BackendError(`simulated unit "${p.unit.priors.id}" failed (injected unit-fail fault)`, {
          details: { unitId: p.unit.priors.id },
        });
      }
    }
    if (this.timeMode === "realtime") {
      if (!this.#running) throw new Error("execute() on a realtime simulated board needs start() first");
      await this.#withLock(() => this.#runUntil(Math.max(this.#t, this.clock.monotonicMs()), false));
      options.signal?.throwIfAborted();
    }
    if (parsed.length === 0) return [];
    const touched = new Set(parsed.map((p) => p.unit));
    for (const unit of touched) for (const d of unit.domains) this.#refreshKnobs(d);

    return await new Promise<SimExecution[]>((resolve, reject) => {
      const call: Call = {
        items: [],
        results: parsed.map(() => undefined),
        left: parsed.length,
        deadlineMs: options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : this.#t + options.timeoutMs,
        timeoutMs: options.timeoutMs,
        settled: false,
        resolve,
        reject,
        detach: () => {},
      };
      const signal = options.signal;
      if (signal) {
        const onAbort = () => this.#settle(call, abortReason(signal));
        signal.addEventListener("abort", onAbort, { once: true });
        call.detach = () => signal.removeEventListener("abort", onAbort);
      }
      this.#calls.add(call);
      parsed.forEach((p, index) => {
        const item: Item = {
          call,
          index,
          unit: p.unit,
          flops: p.flops,
          bytes: p.bytes,
          precision: p.precision,
          remaining: 1,
          startMs: Number.NaN,
          endMs: Number.POSITIVE_INFINITY,
        };
        call.items.push(item);
        p.unit.queue.push(item);
      });
      for (const unit of touched) this.#startNext(unit);
      this.#kick();
    });
  }

  async advance(durationMs: number): Promise<void> {
    this.#checkUsable("advance");
    if (this.timeMode !== "virtual") throw new Error("advance() is for virtual time; a realtime board steps itself");
    if (!(Number.isFinite(durationMs) && durationMs >= 0)) {
      throw new RangeError(`advance() needs a finite duration >= 0 ms, got ${durationMs}`);
    }
    await this.#withLock(() => this.#runUntil(this.#t + durationMs, false));
    await yieldMicrotasks();
  }

  start(): void {
    this.#checkUsable("start");
    if (this.timeMode !== "realtime") {
      throw new Error("start() is for realtime boards; virtual time moves by advance()");
    }
    if (this.#running) return;
    const controller = new AbortController();
    this.#running = controller;
    this.#loop = this.#realtimeLoop(controller.signal);
  }

  async stop(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    this.#running = undefined;
    running.abort();
    await this.#loop;
    this.#loop = undefined;
  }

  onStep(callback: (timeMs: number) => void | Promise<void>): () => void {
    this.#stepCallbacks.add(callback);
    return () => this.#stepCallbacks.delete(callback);
  }

  inject(fault: SimFault): void {
    this.#checkUsable("inject");
    let rel: string | undefined;
    switch (fault.kind) {
      case "unit-fail": {
        const unit = this.#unit(fault.unitId, "inject()");
        unit.failed = true;
        const error = new BackendError(`simulated unit "${unit.priors.id}" failed (injected unit-fail fault)`, {
          details: { unitId: unit.priors.id },
        });
        for (const call of [...this.#calls]) {
          if (call.items.some((i) => i.unit === unit && i.remaining > 0)) this.#settle(call, error);
        }
        break;
      }
      case "unit-hang":
        this.#unit(fault.unitId, "inject()").hung = true;
        break;
      case "sensor-remove":
      case "sensor-garbage":
        rel = this.#writer.resolve(fault.path);
        if (fault.kind === "sensor-remove") this.#writer.removeFault(rel);
        else this.#writer.garbageFault(rel);
        break;
      case "ambient-step":
        if (!Number.isFinite(fault.deltaC)) {
          throw new RangeError(`ambient-step needs a finite deltaC, got ${fault.deltaC}`);
        }
        this.#ambientC += fault.deltaC;
        break;
      default:
        throw new RangeError(`unknown fault kind "${(fault as { kind: unknown }).kind}"`);
    }
    const record = { ...fault };
    this.#faults.push(record);
    if (rel !== undefined) this.#faultRel.set(record, rel);
    this.#kick();
  }

  clear(fault?: SimFault): void {
    this.#checkUsable("clear");
    const matches = (f: SimFault): boolean => {
      if (fault === undefined) return true;
      if (f.kind !== fault.kind) return false;
      if ((f.kind === "unit-fail" || f.kind === "unit-hang") && "unitId" in fault) return f.unitId === fault.unitId;
      if ((f.kind === "sensor-remove" || f.kind === "sensor-garbage") && "path" in fault) {
        return f.path === fault.path || this.#faultRel.get(f) === this.#writer.resolve(fault.path);
      }
      return true;
    };
    const lifted = this.#faults.filter(matches);
    this.#faults = this.#faults.filter((f) => !lifted.includes(f));
    let sensors = false;
    for (const f of lifted) {
      switch (f.kind) {
        case "unit-fail":
          this.#units.get(f.unitId)!.failed = this.#faults.some((g) => g.kind === "unit-fail" && g.unitId === f.unitId);
          break;
        case "unit-hang":
          this.#units.get(f.unitId)!.hung = this.#faults.some((g) => g.kind === "unit-hang" && g.unitId === f.unitId);
          break;
        case "sensor-remove":
        case "sensor-garbage":
          this.#writer.clearFault(this.#faultRel.get(f)!);
          this.#faultRel.delete(f);
          sensors = true;
          break;
        case "ambient-step":
          this.#ambientC -= f.deltaC;
          break;
      }
    }
    if (sensors) {
      this.#tree.build();
      for (const d of this.#domains) this.#tree.writeKnobs(d.index, this.#knobView(d));
      if (this.#lastView) this.#tree.writeStep(this.#lastView);
    }
    this.#kick();
  }

  readings(): SimReadings {
    const view = this.#lastView!;
    const rails = this.#tree.paths.power.map((p, i) => {
      const r = view.power[i];
      return { label: p.label, powerW: "microW" in r ? r.microW / 1e6 : r.mV * r.mA / 1e6 };
    });
    return {
      timeMs: view.timeMs,
      zones: this.#layout.zones.map((z, i) => ({
        type: z.type,
        tempC: view.zonesMilliC[i] === undefined ? undefined : view.zonesMilliC[i]! / 1000,
      })),
      domains: this.#domains.map((d) => ({
        name: d.spec.name,
        ...(d.unit ? { unitId: d.unit.priors.id } : {}),
        curFreqHz: view.domains[d.index].curHz,
        maxFreqHz: view.domains[d.index].maxHz,
        governor: view.domains[d.index].governor,
      })),
      cooling: this.#layout.cooling.map((c, j) => ({ type: c.type, state: view.coolingStates[j] })),
      unitBusy: { ...view.unitBusy },
      rails,
    };
  }

  truthForTests(): SimTruthForTests {
    const units: Record<string, number> = {};
    const unitPowerW: Record<string, number> = {};
    const unitFreqHz: Record<string, number> = {};
    let totalJ = this.#baseEnergyJ;
    let totalPowerW = this.#truth.basePowerW;
    for (const [id, u] of this.#units) {
      units[id] = u.energyJ;
      totalJ += u.energyJ;
      unitPowerW[id] = u.lastStepPowerW;
      totalPowerW += u.lastStepPowerW;
      unitFreqHz[id] = u.fixedHz ?? u.domains.reduce((s, d) => s + d.weight * d.trueHz, 0);
    }
    const zoneTempsC: Record<string, number> = {};
    for (const n of this.#nodes.values()) zoneTempsC[n.id] = n.tempC;
    return {
      priors: structuredClone(this.#truth),
      ambientC: this.#ambientC,
      zoneTempsC,
      unitPowerW,
      basePowerW: this.#truth.basePowerW,
      totalPowerW,
      energyJ: { units, baseJ: this.#baseEnergyJ, totalJ },
      unitFreqHz,
      timeMs: this.#t,
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    await this.stop();
    this.#disposed = true;
    const error = new Error("simulated board disposed");
    for (const call of [...this.#calls]) this.#settle(call, error);
  }

  // ---- validation -----------------------------------------------------------------------------------------

  #checkUsable(what: string): void {
    if (this.#disposed) throw new Error(`${what}() on a disposed simulated board`);
  }

  #unit(unitId: string, what: string): UnitState {
    const unit = this.#units.get(unitId);
    if (!unit) {
      throw new RangeError(
        `${what}: unknown unit "${unitId}" on ${this.profileId} (units: ${[...this.#units.keys()].join(", ")})`,
      );
    }
    return unit;
  }

  #validate(
    items: readonly SimWorkItem[],
    options: SimExecuteOptions,
  ): { unit: UnitState; flops: number; bytes: number; precision: Precision }[] {
    if (!Array.isArray(items)) throw new TypeError("execute() needs an array of work items");
    if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
      throw new RangeError(`execute(): timeoutMs must be a finite number > 0, got ${options.timeoutMs}`);
    }
    return items.map((item, i) => {
      if (typeof item !== "object" || item === null) throw new TypeError(`execute(): item ${i} is not an object`);
      const unit = this.#unit(item.unitId, `execute() item ${i}`);
      for (const field of ["flops", "bytes"] as const) {
        const v = item[field];
        if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
          throw new RangeError(`execute() item ${i}: ${field} must be a finite number >= 0, got ${v}`);
        }
      }
      const precision: unknown = item.precision;
      if (!isPrecision(precision)) {
        throw new RangeError(
          `execute() item ${i}: precision must be one of ${PRECISIONS.join(", ")}, got "${precision}"`,
        );
      }
      if (item.flops > 0 && unit.priors.peakOpsPerS[precision] === undefined) {
        const can = PRECISIONS.filter((p) => unit.priors.peakOpsPerS[p] !== undefined);
        throw new RangeError(
          `execute() item ${i}: unit "${item.unitId}" cannot compute ${precision} (it runs ${can.join(", ")})`,
        );
      }
      return { unit, flops: item.flops, bytes: item.bytes, precision };
    });
  }

  // ---- scheduling -----------------------------------------------------------------------------------------

  #withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lockTail.then(fn);
    this.#lockTail = run.then(() => {}, () => {});
    return run;
  }

  /** Makes pending work progress: the virtual driver, or a wake-up of the realtime loop. */
  #kick(): void {
    if (this.timeMode === "realtime") {
      this.#wake?.abort();
      return;
    }
    if (this.#driving || this.#calls.size === 0) return;
    this.#driving = true;
    void this.#drive();
  }

  /**
   * Virtual time: after giving concurrent callers a chance to submit at the
   * current instant, advance to the next event of pending work, settle what is
   * due, and repeat until no call is pending (or only hung calls without a
   * deadline remain; a clear() or an abort moves them).
   */
  async #drive(): Promise<void> {
    try {
      for (;;) {
        await yieldMicrotasks();
        if (this.#calls.size === 0 || this.#disposed) break;
        this.#resolveFrequencies();
        this.#computeRates();
        const next = this.#nextEventMs();
        if (!Number.isFinite(next)) break;
        await this.#withLock(() => this.#runUntil(next, true));
      }
    } catch (error) {
      for (const call of [...this.#calls]) this.#settle(call, error);
    } finally {
      this.#driving = false;
    }
  }

  async #realtimeLoop(signal: AbortSignal): Promise<void> {
    try {
      while (!signal.aborted) {
        await this.#withLock(() => this.#runUntil(Math.max(this.#t, this.clock.monotonicMs()), false));
        this.#resolveFrequencies();
        this.#computeRates();
        const wakeAtMs = Math.min(this.#nextGridMs(), this.#nextEventMs());
        const wake = new AbortController();
        this.#wake = wake;
        try {
          await this.clock.sleep(
            Math.max(0, wakeAtMs - this.clock.monotonicMs()),
            AbortSignal.any([signal, wake.signal]),
          );
        } catch (error) {
          // Our own aborts (stop, or new work to schedule) end the sleep; anything else is a real failure.
          if (!signal.aborted && !wake.signal.aborted) throw error;
        }
      }
    } catch (error) {
      for (const call of [...this.#calls]) this.#settle(call, error);
      this.#running = undefined;
    }
  }

  #nextGridMs(): number {
    return this.#originMs + (this.#stepIndex + 1) * this.stepMs;
  }

  /** Earliest predicted item end or deadline under the current rates. */
  #nextEventMs(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const unit of this.#units.values()) {
      const item = unit.active;
      if (item && unit.ratePerMs > 0) next = Math.min(next, this.#t + item.remaining / unit.ratePerMs);
    }
    for (const call of this.#calls) next = Math.min(next, call.deadlineMs);
    return next;
  }

  /**
   * Advances simulated time to `targetMs` event by event. With `stopOnSettle`
   * it returns right after the first instant at which a call settled.
   */
  async #runUntil(targetMs: number, stopOnSettle: boolean): Promise<void> {
    const settledBefore = this.#settleCount;
    while (this.#t < targetMs) {
      if (stopOnSettle && this.#settleCount !== settledBefore) break;
      this.#resolveFrequencies();
      this.#computeRates();
      const gridMs = this.#nextGridMs();
      let endMs = Math.min(targetMs, gridMs);
      for (const unit of this.#units.values()) {
        const item = unit.active;
        if (!item) continue;
        item.endMs = unit.ratePerMs > 0 ? this.#t + item.remaining / unit.ratePerMs : Number.POSITIVE_INFINITY;
        endMs = Math.min(endMs, item.endMs);
      }
      for (const call of this.#calls) endMs = Math.min(endMs, call.deadlineMs);
      if (endMs < this.#t) endMs = this.#t;
      this.#integrate(endMs - this.#t);
      this.#t = endMs;
      const settledNow = this.#settleCount;
      this.#completeDue();
      this.#expireDeadlines();
      const settled = this.#settleCount !== settledNow;
      if (this.#t >= gridMs - EPS_MS) {
        this.#t = Math.max(this.#t, gridMs);
        await this.#gridStep();
      } else if (settled && this.#manual) {
        await this.#manual.advanceTo(this.#t);
      }
    }
    if (this.#manual && this.#manual.monotonicMs() < this.#t) await this.#manual.advanceTo(this.#t);
  }

  #startNext(unit: UnitState): void {
    while (!unit.active && unit.queue.length > 0) {
      const item = unit.queue.shift()!;
      if (item.call.settled) continue;
      item.startMs = this.#t;
      if (item.flops === 0 && item.bytes === 0) {
        this.#finishItem(item);
        continue;
      }
      unit.active = item;
    }
  }

  #finishItem(item: Item): void {
    item.remaining = 0;
    const call = item.call;
    call.results[item.index] = {
      unitId: item.unit.priors.id,
      durationMs: this.#t - item.startMs,
      startMs: item.startMs,
      endMs: this.#t,
    };
    call.left--;
    if (call.left === 0) this.#settle(call, undefined);
  }

  /** Completes items whose end is now. */
  #completeDue(): void {
    for (const unit of this.#units.values()) {
      const item = unit.active;
      if (!item || item.endMs > this.#t + EPS_MS) continue;
      unit.active = undefined;
      this.#finishItem(item);
      this.#startNext(unit);
    }
  }

  #expireDeadlines(): void {
    for (const call of [...this.#calls]) {
      if (call.deadlineMs > this.#t + EPS_MS) continue;
      const units = [...new Set(call.items.filter((i) => i.remaining > 0).map((i) => i.unit.priors.id))];
      this.#settle(
        call,
        new TimeoutError(`execute() did not finish within ${call.timeoutMs} ms (waiting for ${units.join(", ")})`, {
          details: { unitIds: units, timeoutMs: call.timeoutMs },
        }),
      );
    }
  }

  /** Resolves (error undefined) or rejects a call and releases its unfinished items. */
  #settle(call: Call, error: unknown): void {
    if (call.settled) return;
    call.settled = true;
    this.#settleCount++;
    call.detach();
    this.#calls.delete(call);
    for (const item of call.items) {
      if (item.unit.active === item) {
        item.unit.active = undefined;
        this.#startNext(item.unit);
      }
    }
    for (const unit of new Set(call.items.map((i) => i.unit))) {
      unit.queue = unit.queue.filter((i) => i.call !== call);
    }
    if (error === undefined) call.resolve(call.results as SimExecution[]);
    else call.reject(error);
    this.#kick();
  }

  // ---- physics --------------------------------------------------------------------------------------------

  /** Clock of each domain from its governor, knobs and caps; the unit's busy state drives load governors. */
  #resolveFrequencies(): void {
    for (const d of this.#domains) {
      const maxHz = Math.min(d.userMaxHz, d.coolCapHz, d.vendorCapHz);
      const minHz = Math.min(d.userMinHz, maxHz);
      let targetHz: number;
      if (d.governor === "performance") targetHz = maxHz;
      else if (d.governor === "powersave") targetHz = minHz;
      else if (d.governor === "userspace") targetHz = Math.min(maxHz, Math.max(minHz, d.setspeedHz));
      else {
        const busy = d.unit ? d.unit.active !== undefined : this.#busUtil > 0.25;
        targetHz = busy ? maxHz : minHz;
      }
      const hz = this.#snap(d.tableHz, targetHz, minHz);
      if (hz !== d.curHz) {
        const from = d.tableHz.indexOf(d.curHz);
        const to = d.tableHz.indexOf(hz);
        if (from >= 0 && to >= 0) d.transitions[from][to]++;
        d.curHz = hz;
      }
      d.trueHz = this.#firmwareHz(d);
    }
  }

  /** Highest table frequency <= target (and >= min when possible), like CPUFREQ_RELATION_H. */
  #snap(tableHz: readonly number[], targetHz: number, minHz: number): number {
    let best: number | undefined;
    for (const f of tableHz) if (f <= targetHz + 0.5 && f >= minHz - 0.5) best = f;
    if (best !== undefined) return best;
    for (const f of tableHz) if (f <= targetHz + 0.5) best = f;
    return best ?? tableHz[0];
  }

  /** The clock the silicon runs: the Pi firmware floors it and throttles on its own above 80 °C. */
  #firmwareHz(d: DomainState): number {
    const fw = this.#layout.firmware;
    if (!fw || !d.unit || d.unit.priors.id !== fw.unitId) return d.curHz;
    const top = d.tableHz[d.tableHz.length - 1];
    const tempC = this.#nodes.get(d.unit.priors.thermalZone)!.tempC;
    let capHz = top;
    if (tempC >= fw.hardThrottleC) capHz = fw.floorHz;
    else if (tempC > fw.softThrottleC) {
      capHz = top - (tempC - fw.softThrottleC) / (fw.hardThrottleC - fw.softThrottleC) * (top - fw.floorHz);
    }
    return Math.min(Math.max(d.curHz, fw.floorHz), Math.max(capHz, fw.floorHz));
  }

  #freqRatio(unit: UnitState): number {
    const top = topOpp(unit.priors).freqHz;
    if (unit.fixedHz !== undefined) return unit.fixedHz / top;
    let ratio = 0;
    for (const d of unit.domains) ratio += d.weight * d.trueHz / top;
    return ratio;
  }

  /** Rates of every busy unit for the current segment, with the DRAM bus shared by demand. */
  #computeRates(): void {
    const busy: UnitState[] = [];
    const demands: number[] = [];
    for (const unit of this.#units.values()) {
      unit.ratePerMs = 0;
      unit.dasi = 0;
      unit.bytesPerS = 0;
      const item = unit.active;
      if (!item) continue;
      if (unit.hung) {
        // A hung unit spins: busy at full activity, no progress, no traffic.
        unit.dasi = 1;
        continue;
      }
      const alone = this.#roofline(unit, item, unit.priors.bandwidthBytesPerS);
      busy.push(unit);
      demands.push(alone.durationMs > 0 ? item.bytes / (alone.durationMs / 1000) : 0);
    }
    const share = busShare(demands, this.#truth.busBandwidthBytesPerS);
    for (const unit of busy) {
      const item = unit.active!;
      const r = this.#roofline(unit, item, unit.priors.bandwidthBytesPerS * share);
      unit.ratePerMs = r.durationMs > 0 ? 1 / r.durationMs : Number.POSITIVE_INFINITY;
      unit.dasi = r.dasi;
      unit.bytesPerS = r.durationMs > 0 ? item.bytes / (r.durationMs / 1000) : 0;
    }
  }

  #roofline(unit: UnitState, item: Item, bandwidthBytesPerS: number) {
    return roofline({
      flops: item.flops,
      bytes: item.bytes,
      peakOpsPerS: unit.priors.peakOpsPerS[item.precision] ?? 0,
      freqRatio: this.#freqRatio(unit),
      computeEfficiency: unit.priors.computeEfficiency,
      bandwidthBytesPerS,
      memoryEfficiency: unit.priors.memoryEfficiency,
    });
  }

  /** Power of a unit now, W: idle + leakage(T, V) when powered, + C V^2 f DASI + e_byte x traffic when busy. */
  #unitPowerW(unit: UnitState, busy: boolean): number {
    const p = unit.priors;
    if (!busy && p.powerGateable) return 0;
    const tempC = this.#nodes.get(p.thermalZone)!.tempC;
    let powerW = p.idlePowerW;
    const contributions = unit.fixedHz !== undefined
      ? [{ weight: 1, hz: unit.fixedHz }]
      : unit.domains.map((d) => ({ weight: d.weight, hz: d.trueHz }));
    for (const { weight, hz } of contributions) {
      const voltageV = voltageAtV(p.opps, hz);
      powerW += weight * leakagePowerW(p, tempC, voltageV);
      if (busy) powerW += weight * dynamicPowerW(p, hz, voltageV, unit.dasi);
    }
    if (busy) powerW += p.energyPerByteJ * unit.bytesPerS;
    return powerW;
  }

  #integrate(durationMs: number): void {
    if (durationMs <= 0) return;
    const seconds = durationMs / 1000;
    for (const unit of this.#units.values()) {
      const busy = unit.active !== undefined;
      const powerW = this.#unitPowerW(unit, busy);
      unit.stepEnergyJ += powerW * seconds;
      if (busy) {
        unit.stepBusyMs += durationMs;
        unit.stepBytes += unit.bytesPerS * seconds;
        this.#stepBusBytes += unit.bytesPerS * seconds;
        for (const cpu of unit.cpus) this.#cpuBusyMs[cpu] += durationMs;
        const item = unit.active!;
        if (unit.ratePerMs > 0 && Number.isFinite(unit.ratePerMs)) {
          item.remaining = Math.max(0, item.remaining - unit.ratePerMs * durationMs);
        }
      }
    }
    for (const d of this.#domains) {
      const i = d.tableHz.indexOf(d.curHz);
      if (i >= 0) d.timeInStateMs[i] += durationMs;
      if (d.unit?.active) d.stepBusyMs += durationMs;
    }
  }

  #fanFactor(): number {
    let factor = 1;
    this.#layout.cooling.forEach((c, j) => {
      if (c.kind === "fan") factor = 1 / (1 + FAN_COOLING_GAIN * (c.levels[this.#cdevStates[j]] ?? 0) / 255);
    });
    return factor;
  }

  #steadyC(node: RcNode, powers: ReadonlyMap<string, number>): number {
    let rise = 0;
    for (const [unitId, powerW] of powers) rise += (node.rthKPerW[unitId] ?? 0) * powerW;
    return this.#ambientC + this.#fanFactor() * rise;
  }

  /** End of a physics step: power averages, RC zones, sensors, governors, knobs, tree, callbacks. */
  async #gridStep(): Promise<void> {
    const stepMs = this.stepMs;
    const seconds = stepMs / 1000;
    this.#stepIndex++;
    const powers = new Map<string, number>();
    for (const unit of this.#units.values()) {
      unit.lastStepPowerW = unit.stepEnergyJ / seconds;
      unit.lastStepBusy = Math.min(1, unit.stepBusyMs / stepMs);
      unit.energyJ += unit.stepEnergyJ;
      powers.set(unit.priors.id, unit.lastStepPowerW);
    }
    this.#baseEnergyJ += this.#truth.basePowerW * seconds;
    this.#busUtil = this.#stepBusBytes / (this.#truth.busBandwidthBytesPerS * seconds);
    const fan = this.#fanFactor();
    for (const node of this.#nodes.values()) {
      node.tempC = rcStepC(node.tempC, this.#steadyC(node, powers), stepMs, node.tauS * fan);
    }
    for (let cpu = 0; cpu < this.#cpuBusyMs.length; cpu++) {
      this.#cpuBusyMs[cpu] = Math.min(
        this.#cpuBusyMs[cpu] + OS_BACKGROUND_LOAD * stepMs,
        this.#t - this.#originMs,
      );
    }

    this.#sampleSensors();
    this.#thermalGovernor();
    for (const d of this.#domains) this.#refreshKnobs(d);
    this.#resolveFrequencies();

    const view = this.#makeView(stepMs);
    this.#tree.writeStep(view);
    this.#lastView = view;
    for (const unit of this.#units.values()) {
      unit.stepEnergyJ = 0;
      unit.stepBusyMs = 0;
      unit.stepBytes = 0;
    }
    for (const d of this.#domains) d.stepBusyMs = 0;
    this.#stepBusBytes = 0;

    if (this.#manual) await this.#manual.advanceTo(this.#t);
    for (const callback of [...this.#stepCallbacks]) await callback(this.#t - this.#originMs);
  }

  #gauss(sigma: number): number {
    return this.#sensorNoise && sigma > 0 ? sigma * this.#noise.normal() : 0;
  }

  /** Noisy, quantised temperature readings of every zone. */
  #sampleSensors(): void {
    for (const z of this.#zones) {
      if (z.spec.readable === false || z.node === undefined) {
        z.readingMilliC = undefined;
        continue;
      }
      const tempC = this.#nodes.get(z.node)!.tempC + z.offsetC + this.#gauss(z.spec.noiseC);
      const quantum = z.spec.quantumMC ?? 1;
      z.readingMilliC = Math.round(tempC * 1000 / quantum) * quantum;
    }
    // Zones that report the hottest sensor (Jetson tj) take the others' readings.
    this.#zones.forEach((z) => {
      if (z.spec.source !== "max") return;
      let max: number | undefined;
      for (const other of this.#zones) {
        if (other !== z && other.spec.source !== "max" && other.readingMilliC !== undefined) {
          max = max === undefined ? other.readingMilliC : Math.max(max, other.readingMilliC);
        }
      }
      z.readingMilliC = max;
    });
  }

  /** step_wise on every bound trip, then the vendor temperature caps; sets cooling states and caps. */
  #thermalGovernor(): void {
    const targets: number[][] = this.#layout.cooling.map(() => []);
    this.#zones.forEach((z, zi) => {
      if (z.readingMilliC === undefined) return;
      const tempC = z.readingMilliC / 1000;
      const trend = trendOf(z.previousC ?? tempC, tempC);
      z.previousC = tempC;
      z.spec.trips.forEach((trip, ti) => {
        z.crossed[ti] = tripCrossed(z.crossed[ti], tempC, trip.tempC, trip.hystC);
      });
      for (const inst of this.#instances) {
        if (inst.zone !== zi) continue;
        inst.target = stepWiseTarget(inst, this.#cdevStates[inst.cdev], z.crossed[inst.trip], trend);
        inst.initialized = true;
      }
    });
    for (const inst of this.#instances) targets[inst.cdev].push(inst.target);
    this.#layout.cooling.forEach((c, j) => {
      if (c.kind === "inert") return;
      const maxState = c.kind === "fan" ? c.levels.length - 1 : this.#cooledDomain(j).tableHz.length - 1;
      this.#cdevStates[j] = coolingState(targets[j], maxState);
      if (c.kind === "freq") {
        const d = this.#cooledDomain(j);
        const state = this.#cdevStates[j];
        d.coolCapHz = state === 0 ? Number.POSITIVE_INFINITY : d.tableHz[d.tableHz.length - 1 - state];
      }
    });
    for (const cap of this.#caps) {
      const milliC = this.#zones[cap.zone].readingMilliC;
      if (milliC === undefined) continue;
      cap.active = tripCrossed(cap.active, milliC / 1000, cap.tempC, cap.hystC);
      cap.domain.vendorCapHz = cap.active ? cap.maxFreqHz : Number.POSITIVE_INFINITY;
    }
  }

  #cooledDomain(j: number): DomainState {
    const c = this.#layout.cooling[j];
    if (c.kind !== "freq") throw new Error(`cooling device ${c.type} has no frequency domain`);
    return this.#domains.find((d) => d.spec.name === c.domain)!;
  }

  // ---- knobs ----------------------------------------------------------------------------------------------

  #knobView(d: DomainState): Pick<DomainView, "governor" | "minHz" | "maxHz" | "setspeedHz"> {
    const maxHz = Math.min(d.userMaxHz, d.coolCapHz, d.vendorCapHz);
    return {
      governor: d.governor,
      minHz: Math.min(d.userMinHz, maxHz),
      maxHz,
      setspeedHz: d.governor !== "userspace"
        ? undefined
        : d.spec.kind === "devfreq" && !d.setspeedSet
        ? null
        : d.setspeedHz,
    };
  }

  /**
   * Reads a domain's knobs and applies what someone else wrote, like the kernel
   * would: a known governor, a frequency clamped to the table range. Values the
   * kernel would refuse (unknown governor, not a number) are replaced by the
   * previous value. Then the knobs show the effective state (e.g. a thermal cap
   * lowers max).
   */
  #refreshKnobs(d: DomainState): void {
    const knobs = this.#tree.knobs[d.index];
    const low = d.tableHz[0];
    const high = d.tableHz[d.tableHz.length - 1];
    const clampHz = (hz: number) => Math.min(high, Math.max(low, hz));
    const governor = this.#writer.readKnob(knobs.governor);
    if (governor?.foreign) {
      const name = governor.text.trim();
      if (d.spec.governors.includes(name)) {
        // Entering userspace keeps the current clock (cpufreq shows it as the set point, devfreq "undefined").
        if (name === "userspace" && d.governor !== "userspace") {
          d.setspeedHz = d.curHz;
          d.setspeedSet = false;
        }
        d.governor = name;
      }
      this.#writer.invalidate(knobs.governor);
    }
    for (const which of ["min", "max"] as const) {
      const knob = this.#writer.readKnob(knobs[which]);
      if (!knob?.foreign) continue;
      const value = parseUnsigned(knob.text);
      if (value !== undefined) {
        const hz = clampHz(value / knobs.scale);
        if (which === "min") d.userMinHz = hz;
        else d.userMaxHz = hz;
      }
      this.#writer.invalidate(knobs[which]);
    }
    if (d.governor === "userspace") {
      const knob = this.#writer.readKnob(knobs.setspeed);
      if (knob?.foreign) {
        const value = parseUnsigned(knob.text);
        if (value !== undefined) {
          d.setspeedHz = clampHz(value / knobs.scale);
          d.setspeedSet = true;
        }
        this.#writer.invalidate(knobs.setspeed);
      }
    } else if (d.spec.kind === "cpufreq") {
      const knob = this.#writer.readKnob(knobs.setspeed);
      if (knob?.foreign) this.#writer.invalidate(knobs.setspeed);
    }
    this.#tree.writeKnobs(d.index, this.#knobView(d));
  }

  // ---- views ----------------------------------------------------------------------------------------------

  #makeView(stepMs: number): StepView {
    const slowFiles = this.#t - this.#lastSlowMs >= SLOW_FILES_MS - EPS_MS;
    if (slowFiles) this.#lastSlowMs = this.#t;
    const unitBusy: Record<string, number> = {};
    for (const [id, u] of this.#units) unitBusy[id] = stepMs > 0 ? u.lastStepBusy : 0;
    const domains = this.#domains.map((d): DomainView => {
      const knobs = this.#knobView(d);
      const busy = d.unit ? (stepMs > 0 ? d.stepBusyMs / stepMs : 0) : Math.min(1, this.#busUtil);
      const voltageV = d.unit ? voltageAtV(d.unit.priors.opps, d.trueHz) : 0;
      return { ...knobs, curHz: d.curHz, timeInStateMs: d.timeInStateMs, transitions: d.transitions, busy, voltageV };
    });
    const memTotalBytes = this.#truth.memoryTotalBytes - this.#layout.reservedBytes;
    const memJitter = this.#sensorNoise ? Math.round(this.#noise.uniform(-2, 2) * 1024 * 1024) : 0;
    return {
      timeMs: this.#t - this.#originMs,
      stepMs,
      zonesMilliC: this.#zones.map((z) => z.readingMilliC),
      coolingStates: [...this.#cdevStates],
      domains,
      unitBusy,
      cpuBusyMs: [...this.#cpuBusyMs],
      cpuTotalMs: this.#t - this.#originMs,
      power: this.#powerReadings(),
      memTotalBytes,
      memAvailableBytes: memTotalBytes - this.#layout.baselineUsedBytes + memJitter,
      ambientC: this.#ambientC,
      slowFiles,
    };
  }

  /** Rail readings of the last step: a noisy µW per simulated rail, or INA3221 mV/mA on its LSB grid. */
  #powerReadings(): StepView["power"] {
    const unitW = (id: string) => this.#units.get(id)?.lastStepPowerW ?? 0;
    const base = this.#truth.basePowerW;
    const power = this.#layout.power;
    if (power.kind === "ina3221") {
      // INA3221: bus voltage LSB 8 mV; shunt LSB 40 µV, i.e. 40 / R_shunt(µΩ) A per count.
      const currentLsbMa = 40e3 / power.shuntMicroOhm;
      return power.channels.map((c) => {
        let watts = c.baseShare * base;
        for (const id of c.units) watts += unitW(id);
        const mV = Math.round((c.busMv + this.#gauss(4)) / 8) * 8;
        const idealMa = watts / (mV / 1000) * 1000;
        const mA = Math.max(0, Math.round((idealMa * (1 + this.#gauss(0.003)) + this.#gauss(4)) / currentLsbMa)) *
          currentLsbMa;
        return { mV, mA: Math.round(mA) };
      });
    }
    return this.#tree.paths.power.map((p) => {
      let watts = p.baseShare * base;
      for (const id of p.units) watts += unitW(id);
      const noisy = watts * (1 + this.#gauss(0.004)) + this.#gauss(0.002);
      return { microW: Math.max(0, Math.round(noisy * 1e6)) };
    });
  }
}

/**
 * Creates a simulated board and writes its sysfs tree under `options.root`.
 * The root must be empty, missing, or a tree an earlier simulated board wrote
 * (marked by `.qeil-sim`); anything else is refused so a wrong path never
 * overwrites real files.
 * @throws RangeError / TypeError for bad options, ConfigError for an unknown profile
 */
export async function createSimBoard(options: SimBoardOptions): Promise<SimBoard> {
  if (typeof options !== "object" || options === null) throw new TypeError("createSimBoard() needs options");
  const { profileId, root, seed } = options;
  getLayout(profileId);
  if (typeof root !== "string" || root === "") throw new TypeError("createSimBoard(): root must be a directory path");
  if (!(Number.isInteger(seed) && seed >= 0)) {
    throw new RangeError(`createSimBoard(): seed must be an integer >= 0, got ${seed}`);
  }
  const timeMode = options.timeMode ?? "virtual";
  if (timeMode !== "virtual" && timeMode !== "realtime") {
    throw new RangeError(`createSimBoard(): timeMode must be "virtual" or "realtime", got "${timeMode}"`);
  }
  const stepMs = options.stepMs ?? DEFAULT_STEP_MS;
  if (!(Number.isFinite(stepMs) && stepMs >= 1 && stepMs <= 10_000)) {
    throw new RangeError(`createSimBoard(): stepMs must be in [1, 10000] ms, got ${stepMs}`);
  }
  if (timeMode === "virtual" && options.clock !== undefined && !(options.clock instanceof ManualClock)) {
    throw new TypeError("createSimBoard(): a virtual-time board needs a ManualClock (or no clock)");
  }
  const truthSpread = options.truthSpread ?? 0.25;
  if (!(truthSpread >= 0 && truthSpread < 1)) {
    throw new RangeError(`createSimBoard(): truthSpread must be in [0, 1), got ${truthSpread}`);
  }
  await prepareRoot(root);
  const board = new SimBoardImpl({
    profileId,
    root,
    seed,
    timeMode,
    stepMs,
    clock: options.clock,
    truthSpread,
    sensorNoise: options.sensorNoise ?? true,
  });
  board.init();
  return board;
}

const MARKER = ".qeil-sim";

async function prepareRoot(root: string): Promise<void> {
  let entries: string[];
  try {
    entries = [];
    for await (const e of Deno.readDir(root)) entries.push(e.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await Deno.mkdir(root, { recursive: true });
    entries = [];
  }
  const real = await Deno.realPath(root);
  if (real === "/") throw new RangeError("createSimBoard(): refusing to write a simulated tree at /");
  if (entries.length > 0 && !entries.includes(MARKER)) {
    throw new RangeError(
      `createSimBoard(): refusing to write into non-empty ${root} (no ${MARKER} marker from an earlier simulated board)`,
    );
  }
  for (const name of entries) {
    if (name === "sys" || name === "proc" || name === "var") await Deno.remove(`${root}/${name}`, { recursive: true });
  }
  await Deno.writeTextFile(`${root}/${MARKER}`, "written by qeil's board simulator; safe to delete\n");
}
