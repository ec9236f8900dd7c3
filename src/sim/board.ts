/**
 * A simulated board: wires the hidden truth, the frequency domains, the units,
 * the thermal model, the scheduler and the sysfs tree, and owns time. Time
 * advances in events (a work item ending, a deadline, the end of a physics
 * step); power is integrated exactly between events. At every step end the RC
 * zones move, the sensors are read and the governors act on the knobs found in
 * the tree.
 *
 * The tree is published (rewritten where a value changed) only when someone
 * can look at it: before `onStep` callbacks and clock sleepers run, when an
 * `execute()` call settles, at the end of `advance()`, and at every step of a
 * realtime board (whose readers race the writer at any moment). A virtual
 * board stepping with nobody watching touches no file, and the physics and the
 * noise draws do not depend on who watches: the same calls give the same
 * values whatever is observed.
 *
 * Knob files belong to user space: the domains keep what was written there
 * as the request, and a knob file is rewritten only when what the kernel
 * would show differs from what it holds (see `#showKnobs`).
 *
 * Power: at every step end, while the board is on, the sensor readings are
 * checked against the critical trips and the hardware's own shutdown
 * temperature; one reached powers the board off (see `SimBoard`): the tree
 * goes, calls fail, power drops to 0 W, the RC zones cool. Leakage is thus
 * only ever evaluated below those temperatures (plus one step's rise), so it
 * cannot run away; with the ambient bounded too, every value stays finite.
 */
import {
  BackendError,
  type BoardPriors,
  type Clock,
  createRng,
  ManualClock,
  PRECISIONS,
  type Rng,
  systemClock,
} from "../core/mod.ts";
import { type BoardProfile, getProfile, SIM_POWER_CHIP } from "../hal/mod.ts";
import type {
  SimBoard,
  SimBoardOptions,
  SimExecuteOptions,
  SimExecution,
  SimFault,
  SimPowerState,
  SimReadings,
  SimShutdown,
  SimTimeMode,
  SimTruthForTests,
  SimUnitInfo,
  SimWorkItem,
} from "./api.ts";
import { FrequencyDomain } from "./dvfs.ts";
import { type ShutdownCrossing, ThermalModel } from "./heat.ts";
import { type BoardLayout, getLayout } from "./layout.ts";
import { voltageAtV } from "./physics.ts";
import { EPS_MS, type Item, Scheduler, type SchedUnit, unitFailure } from "./scheduler.ts";
import { energyCounterMicroJ, powerReadings, SIM_ENERGY_COUNTER_RANGE_MICROJ } from "./sensors.ts";
import { type DomainView, SimTree, type SimTreePaths, type StepView } from "./tree.ts";
import { perturbPriors } from "./truth.ts";
import { computeRates, createUnit, unitFreqHz, unitPowerW } from "./units.ts";
import { POOL_DIR, TreeWriter } from "./writer.ts";

const DEFAULT_STEP_MS = 100;
/** Share of every CPU kept busy by the OS (daemons, interrupts) in /proc/stat. */
const OS_BACKGROUND_LOAD = 0.004;
/** Statistics tables and meminfo are rewritten at this period, ms. */
const SLOW_FILES_MS = 1000;
/** A load-based DRAM governor (dmc_ondemand) goes up above this bus utilisation (vendor `upthreshold` 25). */
const DMC_UP_THRESHOLD = 0.25;
/** Why the realtime loop's sleep was cut short: new work to schedule. */
const WAKE_REASON = "new work";
/** Rounds of taking in a concurrent knob write and showing the knobs again, per publish. */
const MAX_KNOB_ROUNDS = 8;
/**
 * Highest ambient a simulated board accepts, °C. Far above anything a board
 * survives (solder melts near 220 °C: the board powers off long before), yet
 * every temperature the model then reaches stays a plain integer in m°C.
 */
export const SIM_AMBIENT_MAX_C = 1000;
/** The ambient must stay above this, °C. */
const ABSOLUTE_ZERO_C = -273.15;
/** The trees a running kernel provides (and that go with it); the rest of the root is disk. */
const KERNEL_TREES = ["sys", "proc"] as const;

/** Lets queued promise continuations run (a settled chain of awaits needs several turns). */
async function yieldMicrotasks(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}

type BoardSettings = Required<Omit<SimBoardOptions, "clock">> & { clock: Clock | undefined };

/** One `onStep()` subscription. */
interface StepSubscription {
  callback: (timeMs: number) => void | Promise<void>;
  /** Called at the end of every step whose index is a multiple of this. */
  everySteps: number;
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
  readonly #thermal: ThermalModel;
  readonly #scheduler: Scheduler;
  readonly #noise: Rng;
  readonly #sensorNoise: boolean;
  readonly #manual: ManualClock | undefined;

  readonly #units = new Map<string, SchedUnit>();
  readonly #domains: FrequencyDomain[];
  /** Unit of each domain (undefined for devices the simulator only shows). */
  readonly #domainUnit: (SchedUnit | undefined)[];
  readonly #cpuBusyMs: number[];
  /** Maps a domain's kernel clock to the silicon's, one closure per domain made once. */
  readonly #silicon: ((hz: number) => number)[];
  readonly #subscriptions = new Set<StepSubscription>();
  /** Unit powers of the last step, reused every step. */
  readonly #powers = new Map<string, number>();
  /** Register value of each energy counter at creation, µJ (seeded: a board has been up for a while). */
  readonly #counterOriginsMicroJ: number[];
  readonly #countersMicroJ: Float64Array;
  #faults: SimFault[] = [];
  /** Root-relative path each sensor fault acts on, resolved once at injection. */
  readonly #faultRel = new Map<SimFault, string>();

  readonly #originMs: number;
  #t: number;
  #stepIndex = 0;
  /** Simulated time (since creation) of the last view that rewrote the slow files, ms. */
  #lastSlowMs = Number.NEGATIVE_INFINITY;
  #busUtil = 0;
  #stepBusBytes = 0;
  /** Base-power energy of the completed steps, J. */
  #baseEnergyJ = 0;
  /** Base-power energy of the step in progress, J. */
  #stepBaseJ = 0;
  /** Average base power of the last step, W (0 once a step passed powered off). */
  #lastStepBaseW: number;
  /** Why the board is off; undefined while it is on. */
  #shutdown: SimShutdown | undefined;
  /** Simulated time the running kernel booted (creation, or the last `powerOn()`), ms. */
  #bootMs: number;
  /** The board came on during the step in progress (its base power covers part of the step). */
  #bootedMidStep = false;
  /** The last published view. */
  #lastView: StepView | undefined;
  /** The view of the last step end, until it is published. */
  #pendingView: StepView | undefined;
  /**
   * Code outside the simulator may have run (and written knobs) since the
   * knob files were last read; the next step end reads them again.
   */
  #knobsStale = true;

  #lockTail: Promise<void> = Promise.resolve();
  #driving = false;
  #disposed = false;
  #running: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #wake: AbortController | undefined;

  constructor(settings: BoardSettings) {
    this.profileId = settings.profileId;
    this.timeMode = settings.timeMode;
    this.stepMs = settings.stepMs;
    this.#layout = getLayout(settings.profileId);
    this.#profile = getProfile(settings.profileId);
    const rng = createRng(settings.seed);
    this.#truth = perturbPriors(this.#profile.priors, rng.fork("truth"), { spread: settings.truthSpread });
    this.#noise = rng.fork("sensors");
    this.#sensorNoise = settings.sensorNoise;
    if (settings.timeMode === "virtual") {
      this.#manual = (settings.clock as ManualClock | undefined) ?? new ManualClock();
      this.clock = this.#manual;
    } else {
      this.#manual = undefined;
      this.clock = settings.clock ?? systemClock;
    }
    this.#originMs = this.clock.monotonicMs();
    this.#t = this.#originMs;
    this.#bootMs = this.#originMs;
    this.#lastStepBaseW = this.#truth.basePowerW;

    // Frequency domains: a unit's table is its OPP list; other devices bring their own.
    const unitPriors = new Map(this.#truth.units.map((u) => [u.id, u]));
    this.#domains = this.#layout.domains.map((spec, k) => {
      if (spec.unitId !== undefined && !unitPriors.has(spec.unitId)) {
        throw new Error(`layout ${this.#layout.id} clocks unit "${spec.unitId}" that profile ${this.profileId} lacks`);
      }
      const table = spec.unitId !== undefined
        ? unitPriors.get(spec.unitId)!.opps.map((o) => o.freqHz)
        : [...(spec.kind === "devfreq" ? spec.freqsHz ?? [] : [])];
      return new FrequencyDomain(k, spec, table);
    });
    for (const priors of this.#truth.units) {
      const domains = this.#domains.filter((d) => d.spec.unitId === priors.id);
      const unit = createUnit<Item>(priors, domains);
      // A unit split over several policies computes with each policy's share of its cores.
      const devfreqCount = domains.filter((d) => d.spec.kind === "devfreq").length;
      for (const d of domains) {
        d.weight = d.spec.kind === "cpufreq" && unit.cpus.length > 0
          ? d.spec.cpus.length / unit.cpus.length
          : 1 / Math.max(1, devfreqCount);
      }
      this.#units.set(priors.id, unit);
    }
    this.#domainUnit = this.#domains.map((d) =>
      d.spec.unitId === undefined ? undefined : this.#units.get(d.spec.unitId)
    );
    this.#silicon = this.#domains.map((d) => (hz: number) => this.#siliconHz(d, hz));

    // Virtual time writes only while no reader can run (see writer.ts); realtime readers race every write.
    this.#writer = new TreeWriter(settings.root, { mode: settings.timeMode === "virtual" ? "in-place" : "atomic" });
    this.root = this.#writer.root;
    const simRail = this.#profile.rails.find((r) => r.simulatedOnly && r.source === "hwmon");
    this.#tree = new SimTree(
      this.#writer,
      this.#layout,
      this.#domains.map((d) => d.tableHz),
      this.#truth.units,
      simRail?.chips[0] ?? SIM_POWER_CHIP,
    );
    this.paths = this.#tree.paths;
    const counters = this.#tree.counterCount;
    if (counters !== 0 && counters !== this.#truth.units.length + 1) {
      throw new Error(`layout ${this.#layout.id}: ${counters} energy counters for ${this.#truth.units.length} units`);
    }
    const counterRng = rng.fork("energy-counters");
    this.#counterOriginsMicroJ = Array.from(
      { length: counters },
      () => Math.floor(counterRng.next() * SIM_ENERGY_COUNTER_RANGE_MICROJ),
    );
    this.#countersMicroJ = new Float64Array(counters);
    this.#thermal = new ThermalModel({
      layout: this.#layout,
      profileZones: this.#profile.zones,
      zones: this.#truth.zones,
      unitIds: this.#truth.units.map((u) => u.id),
      domains: this.#domains,
      ambientC: this.#truth.ambientC,
      offsets: rng.fork("sensor-offsets"),
    });
    for (const unit of this.#units.values()) {
      if (!this.#thermal.has(unit.priors.thermalZone)) {
        throw new Error(
          `profile ${this.profileId}: unit ${unit.priors.id} names unknown zone ${unit.priors.thermalZone}`,
        );
      }
    }
    this.#scheduler = new Scheduler(this.#units, this.profileId, () => this.#t, () => this.#kick());
    let cpuCount = 0;
    for (const u of this.#units.values()) for (const c of u.cpus) cpuCount = Math.max(cpuCount, c + 1);
    this.#cpuBusyMs = Array.from({ length: cpuCount }, () => 0);
    this.units = this.#profile.priors.units.map((u) => ({
      id: u.id,
      kind: u.kind,
      precisions: PRECISIONS.filter((p) => u.peakOpsPerS[p] !== undefined),
    }));
  }

  /** Writes the initial tree: a board that has idled long enough to sit at its idle steady state. */
  init(): void {
    this.#resolveFrequencies();
    this.#thermal.settle(() => this.#unitPowers(), this.#highestShutdownC());
    for (const unit of this.#units.values()) unit.lastStepPowerW = this.#powerW(unit);
    this.#tree.build();
    this.#thermal.sample((sigma) => this.#gauss(sigma));
    this.#pendingView = this.#makeView(0);
    this.#publish();
  }

  get faults(): readonly SimFault[] {
    return this.#faults.map((f) => ({ ...f }));
  }

  get power(): SimPowerState {
    return this.#shutdown ? { on: false, shutdown: { ...this.#shutdown } } : { on: true };
  }

  // ---- public API -----------------------------------------------------------------------------------------

  async execute(items: readonly SimWorkItem[], options: SimExecuteOptions = {}): Promise<SimExecution[]> {
    this.#checkUsable("execute");
    const parsed = this.#scheduler.validate(items, options);
    this.#checkPowered();
    options.signal?.throwIfAborted();
    if (this.timeMode === "realtime") {
      if (!this.#running) throw new Error("execute() on a realtime simulated board needs start() first");
      // Bring the simulation to now, so the work starts at the wall-clock instant it was submitted (the
      // steps on the way publish; the instant itself needs no publishing: nothing settled).
      await this.#withLock(() => this.#runUntil(Math.max(this.#t, this.clock.monotonicMs()), false, false));
      options.signal?.throwIfAborted();
      // The board may have shut down on the way.
      this.#checkPowered();
    }
    if (parsed.length === 0) return [];
    // Knob writes since the last step apply from this call on, as if the governor had just polled.
    for (const unit of new Set(parsed.map((p) => p.unit))) {
      for (const d of unit.domains) this.#applyKnobs(d, false);
    }
    return await new Promise<SimExecution[]>((resolve, reject) => {
      this.#scheduler.submit(parsed, options, resolve, reject);
      this.#kick();
    });
  }

  async advance(durationMs: number): Promise<void> {
    this.#checkUsable("advance");
    if (this.timeMode !== "virtual") throw new Error("advance() is for virtual time; a realtime board steps itself");
    if (!(Number.isFinite(durationMs) && durationMs >= 0)) {
      throw new RangeError(`advance() needs a finite duration >= 0 ms, got ${durationMs}`);
    }
    await this.#withLock(() => this.#runUntil(this.#t + durationMs, false, true));
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

  onStep(callback: (timeMs: number) => void | Promise<void>, options: { periodMs?: number } = {}): () => void {
    if (typeof callback !== "function") throw new TypeError("onStep() needs a callback function");
    const periodMs = options.periodMs ?? this.stepMs;
    if (!(Number.isFinite(periodMs) && periodMs > 0)) {
      throw new RangeError(`onStep(): periodMs must be a finite number > 0, got ${periodMs}`);
    }
    // Whole steps, rounded up (a period a hair above a multiple of the step from float error counts as that multiple).
    const subscription: StepSubscription = {
      callback,
      everySteps: Math.max(1, Math.ceil(periodMs / this.stepMs - 1e-9)),
    };
    this.#subscriptions.add(subscription);
    return () => {
      this.#subscriptions.delete(subscription);
    };
  }

  inject(fault: SimFault): void {
    this.#checkUsable("inject");
    let rel: string | undefined;
    switch (fault.kind) {
      case "unit-fail": {
        const unit = this.#scheduler.unit(fault.unitId, "inject()");
        unit.failed = true;
        this.#scheduler.failUnit(unit, unitFailure(unit.priors.id));
        break;
      }
      case "unit-hang":
        this.#scheduler.unit(fault.unitId, "inject()").hung = true;
        break;
      case "sensor-remove":
      case "sensor-garbage":
        if (this.#shutdown) {
          throw new Error(
            `inject(${fault.kind}): the simulated board is powered off (${this.#shutdown.message}); it has no tree`,
          );
        }
        rel = this.#writer.resolve(fault.path);
        if (fault.kind === "sensor-remove") this.#writer.removeFault(rel);
        else this.#writer.garbageFault(rel);
        break;
      case "ambient-step":
        if (!Number.isFinite(fault.deltaC)) {
          throw new RangeError(`ambient-step needs a finite deltaC, got ${fault.deltaC}`);
        }
        this.#checkAmbientStep(fault.deltaC);
        this.#thermal.ambientC += fault.deltaC;
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
    const still = (kind: "unit-fail" | "unit-hang", unitId: string) =>
      this.#faults.some((g) => g.kind === kind && g.unitId === unitId);
    let sensors = false;
    for (const f of lifted) {
      switch (f.kind) {
        case "unit-fail":
          this.#units.get(f.unitId)!.failed = still("unit-fail", f.unitId);
          break;
        case "unit-hang":
          this.#units.get(f.unitId)!.hung = still("unit-hang", f.unitId);
          break;
        case "sensor-remove":
        case "sensor-garbage":
          this.#writer.clearFault(this.#faultRel.get(f)!);
          this.#faultRel.delete(f);
          sensors = true;
          break;
        case "ambient-step":
          this.#thermal.ambientC -= f.deltaC;
          break;
      }
    }
    if (sensors && !this.#shutdown) {
      // Files come back at once: static ones from the build, values from the last step (or at the next boot).
      this.#tree.build();
      this.#publish(true);
    }
    this.#kick();
  }

  powerOn(): void {
    this.#checkUsable("powerOn");
    if (!this.#shutdown) return;
    const hot = this.#thermal.shutdownCrossing(this.#layout.hardwareShutdown);
    if (hot) {
      throw new BackendError(
        `cannot power the simulated board on: ${hot.zoneType} reads ${hot.tempC.toFixed(1)} °C, ` +
          `at or above ${this.#limitText(hot)} (it would cut its power again at once)`,
        { details: { zoneType: hot.zoneType, tempC: hot.tempC, limitC: hot.limitC } },
      );
    }
    this.#shutdown = undefined;
    // A boot: the kernel's defaults and its statistics since boot; the temperatures are what they are.
    this.#bootMs = this.#t;
    this.#bootedMidStep = this.#t > this.#lastStepEndMs() + EPS_MS;
    for (const d of this.#domains) d.reset();
    this.#thermal.resetGovernors();
    this.#cpuBusyMs.fill(0);
    this.#busUtil = 0;
    this.#lastSlowMs = Number.NEGATIVE_INFINITY;
    this.#knobsStale = true;
    this.#resolveFrequencies();
    for (const unit of this.#units.values()) {
      unit.lastStepPowerW = this.#powerW(unit);
      unit.lastStepBusy = 0;
    }
    this.#lastStepBaseW = this.#truth.basePowerW;
    this.#tree.build();
    this.#writer.restoreGarbage();
    this.#pendingView = this.#makeView(0);
    this.#publish();
    this.#kick();
  }

  readings(): SimReadings {
    if (this.#shutdown) return this.#offReadings();
    const view = this.#pendingView ?? this.#lastView!;
    return {
      timeMs: view.timeMs,
      poweredOn: true,
      zones: this.#layout.zones.map((z, i) => ({
        type: z.type,
        tempC: view.zonesMilliC[i] === undefined ? undefined : view.zonesMilliC[i]! / 1000,
      })),
      domains: this.#domains.map((d) => ({
        name: d.spec.name,
        ...(d.spec.unitId !== undefined ? { unitId: d.spec.unitId } : {}),
        curFreqHz: view.domains[d.index].curHz,
        maxFreqHz: view.domains[d.index].maxHz,
        governor: view.domains[d.index].governor,
      })),
      cooling: this.#layout.cooling.map((c, j) => ({ type: c.type, state: view.coolingStates[j] })),
      unitBusy: { ...view.unitBusy },
      rails: this.#tree.paths.power.map((p, i) => {
        const r = view.power[i];
        return { label: p.label, powerW: "microW" in r ? r.microW / 1e6 : r.mV * r.mA / 1e6 };
      }),
    };
  }

  truthForTests(): SimTruthForTests {
    const units: Record<string, number> = {};
    const unitPowerW: Record<string, number> = {};
    const freqHz: Record<string, number> = {};
    const baseJ = this.#baseEnergyJ + this.#stepBaseJ;
    let totalJ = baseJ;
    let totalPowerW = this.#lastStepBaseW;
    for (const [id, u] of this.#units) {
      units[id] = u.energyJ + u.stepEnergyJ;
      totalJ += units[id];
      unitPowerW[id] = u.lastStepPowerW;
      totalPowerW += u.lastStepPowerW;
      freqHz[id] = this.#shutdown ? 0 : unitFreqHz(u);
    }
    return {
      priors: structuredClone(this.#truth),
      ambientC: this.#thermal.ambientC,
      zoneTempsC: this.#thermal.temps(),
      unitPowerW,
      basePowerW: this.#truth.basePowerW,
      totalPowerW,
      energyJ: { units, baseJ, totalJ },
      unitFreqHz: freqHz,
      timeMs: this.#t - this.#originMs,
      poweredOn: this.#shutdown === undefined,
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    await this.stop();
    this.#disposed = true;
    this.#scheduler.failAll(new Error("simulated board disposed"));
    this.#writer.close();
  }

  #checkUsable(what: string): void {
    if (this.#disposed) throw new Error(`${what}() on a disposed simulated board`);
  }

  // ---- power ----------------------------------------------------------------------------------------------

  /** @throws BackendError naming the zone and the temperature that powered the board off */
  #checkPowered(): void {
    if (this.#shutdown) throw this.#poweredOffError(this.#shutdown);
  }

  #poweredOffError(shutdown: SimShutdown): BackendError {
    return new BackendError(shutdown.message, {
      details: {
        shutdown: shutdown.kind,
        zoneType: shutdown.zoneType,
        tempC: shutdown.tempC,
        limitC: shutdown.limitC,
        timeMs: shutdown.timeMs,
      },
    });
  }

  /** `its critical trip 115 °C` or `the TSADC hardware shutdown temperature 120 °C`. */
  #limitText(crossing: ShutdownCrossing): string {
    return crossing.kind === "critical-trip"
      ? `its critical trip ${crossing.limitC} °C`
      : `the ${this.#layout.hardwareShutdown?.by ?? "hardware"} shutdown temperature ${crossing.limitC} °C`;
  }

  /**
   * The board cuts its power at the end of the step whose reading reached a
   * shutdown temperature: the kernel and its trees go, every unit stops (its
   * calls reject), fans stop, nothing draws power.
   */
  #powerOff(crossing: ShutdownCrossing): void {
    const shutdown: SimShutdown = {
      ...crossing,
      timeMs: this.#t - this.#originMs,
      message: `board powered off: ${crossing.zoneType} reached ${this.#limitText(crossing)} (read ${
        crossing.tempC.toFixed(1)
      } °C)`,
    };
    this.#shutdown = shutdown;
    this.#thermal.resetGovernors();
    this.#pendingView = undefined;
    for (const tree of KERNEL_TREES) this.#writer.remove(tree);
    this.#scheduler.failAll(this.#poweredOffError(shutdown));
  }

  /** What `readings()` gives while the board is off: nothing read, nothing clocked, nothing drawn. */
  #offReadings(): SimReadings {
    const unitBusy: Record<string, number> = {};
    for (const id of this.#units.keys()) unitBusy[id] = 0;
    return {
      timeMs: this.#lastStepEndMs() - this.#originMs,
      poweredOn: false,
      zones: this.#layout.zones.map((z) => ({ type: z.type, tempC: undefined })),
      domains: this.#domains.map((d) => ({
        name: d.spec.name,
        ...(d.spec.unitId !== undefined ? { unitId: d.spec.unitId } : {}),
        curFreqHz: 0,
        maxFreqHz: 0,
        governor: "",
      })),
      cooling: this.#layout.cooling.map((c) => ({ type: c.type, state: 0 })),
      unitBusy,
      rails: this.#tree.paths.power.map((p) => ({ label: p.label, powerW: 0 })),
    };
  }

  /** The highest temperature at which the board shuts down (a critical trip or the hardware's limit), °C. */
  #highestShutdownC(): number {
    let highestC = this.#layout.hardwareShutdown?.tempC ?? Number.NEGATIVE_INFINITY;
    for (const z of this.#layout.zones) {
      for (const t of z.trips) if (t.type === "critical") highestC = Math.max(highestC, t.tempC);
    }
    return Number.isFinite(highestC) ? highestC : Number.POSITIVE_INFINITY;
  }

  /**
   * Refuses an ambient step that would take the ambient above
   * `SIM_AMBIENT_MAX_C` or to absolute zero with the steps in force (clear()
   * lifts them all at once, back to the truth's ambient).
   * @throws RangeError naming the step and the ambient it would reach
   */
  #checkAmbientStep(deltaC: number): void {
    let reachC = this.#truth.ambientC + deltaC;
    for (const f of this.#faults) if (f.kind === "ambient-step") reachC += f.deltaC;
    if (!(reachC > ABSOLUTE_ZERO_C && reachC <= SIM_AMBIENT_MAX_C)) {
      throw new RangeError(
        `ambient-step of ${deltaC} K would take the ambient to ${reachC.toFixed(2)} °C with the steps in force ` +
          `(it must stay above ${ABSOLUTE_ZERO_C} °C and at most ${SIM_AMBIENT_MAX_C} °C)`,
      );
    }
  }

  // ---- time -----------------------------------------------------------------------------------------------

  /** Serialises everything that moves time (the virtual driver, advance(), the realtime loop). */
  #withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lockTail.then(fn);
    this.#lockTail = run.then(() => {}, () => {});
    return run;
  }

  /** Makes pending work progress: the virtual driver, or a wake-up of the realtime loop. */
  #kick(): void {
    if (this.timeMode === "realtime") {
      // A plain reason: abort() without one builds a DOMException with a stack trace at every submitted call.
      this.#wake?.abort(WAKE_REASON);
      return;
    }
    if (this.#driving || this.#scheduler.calls.size === 0) return;
    this.#driving = true;
    void this.#drive();
  }

  /**
   * Virtual time: after giving concurrent callers a chance to submit at the
   * current instant, advance to the next event of pending work, settle what is
   * due, and repeat until no call is pending (or only hung calls without a
   * deadline remain: a clear() or an abort moves them on).
   */
  async #drive(): Promise<void> {
    try {
      for (;;) {
        await yieldMicrotasks();
        if (this.#scheduler.calls.size === 0 || this.#disposed) break;
        this.#prepareSegment();
        const next = this.#scheduler.nextEventMs();
        if (!Number.isFinite(next)) break;
        await this.#withLock(() => this.#runUntil(next, true, false));
      }
    } catch (error) {
      this.#scheduler.failAll(error);
    } finally {
      this.#driving = false;
    }
  }

  /** Realtime: run up to the clock, sleep until the next step or predicted event (or a wake-up), repeat. */
  async #realtimeLoop(signal: AbortSignal): Promise<void> {
    try {
      while (!signal.aborted) {
        // Steps and settlements on the way publish; the instant the loop woke at needs no publishing of its own.
        await this.#withLock(() => this.#runUntil(Math.max(this.#t, this.clock.monotonicMs()), false, false));
        this.#prepareSegment();
        const wakeAtMs = Math.min(this.#nextGridMs(), this.#scheduler.nextEventMs());
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
      this.#scheduler.failAll(error);
      this.#running = undefined;
    }
  }

  #nextGridMs(): number {
    return this.#originMs + (this.#stepIndex + 1) * this.stepMs;
  }

  /** End of the last physics step (the creation instant before the first), ms. */
  #lastStepEndMs(): number {
    return this.#originMs + this.#stepIndex * this.stepMs;
  }

  /** Clocks and rates for the segment that starts now. */
  #prepareSegment(): void {
    // A board without power has no clock to pick (and no work to rate).
    if (!this.#shutdown) this.#resolveFrequencies();
    computeRates(this.#units.values(), this.#truth.busBandwidthBytesPerS);
  }

  /**
   * Advances simulated time to `targetMs` event by event. With `stopOnSettle`
   * it returns after the first instant at which a call settled. With
   * `publishAtEnd` the tree shows the end instant when it returns (advance(),
   * realtime); the virtual driver publishes only where a call settles.
   */
  async #runUntil(targetMs: number, stopOnSettle: boolean, publishAtEnd: boolean): Promise<void> {
    // Whoever started this run ran code since the last step: the knob files may hold new writes.
    this.#knobsStale = true;
    const settledBefore = this.#scheduler.settleCount;
    while (this.#t < targetMs) {
      if (stopOnSettle && this.#scheduler.settleCount !== settledBefore) break;
      this.#prepareSegment();
      const gridMs = this.#nextGridMs();
      const endMs = Math.max(this.#t, Math.min(targetMs, gridMs, this.#scheduler.predictEnds()));
      this.#integrate(endMs - this.#t);
      this.#t = endMs;
      const settledNow = this.#scheduler.settleCount;
      this.#scheduler.settleDue();
      let settled = this.#scheduler.settleCount !== settledNow;
      if (this.#t >= gridMs - EPS_MS) {
        this.#t = Math.max(this.#t, gridMs);
        this.#physicsStep();
        // A shutdown at this step end rejects the pending calls: their callers resume now.
        settled ||= this.#scheduler.settleCount !== settledNow;
        const due = this.#dueSubscriptions();
        const sleepers = this.#manual !== undefined && this.#manual.pendingSleeps > 0;
        // Nobody can look: keep stepping without touching a file or yielding.
        if (this.timeMode === "virtual" && !settled && !sleepers && due === undefined) continue;
        this.#publish();
        if (this.#manual) await this.#manual.advanceTo(this.#t);
        const elapsedMs = this.#t - this.#originMs;
        if (due) { for (const s of due) await s.callback(elapsedMs); }
        this.#knobsStale = true;
      } else if (settled) {
        // Callers resuming now must see the tree and the clock at their completion time.
        this.#publish();
        if (this.#manual) await this.#manual.advanceTo(this.#t);
        this.#knobsStale = true;
      }
    }
    if (publishAtEnd || (this.#manual !== undefined && this.#manual.pendingSleeps > 0)) this.#publish();
    if (this.#manual && this.#manual.monotonicMs() < this.#t) await this.#manual.advanceTo(this.#t);
  }

  /** Subscriptions due at the step that just ended (undefined when none, to spare an allocation). */
  #dueSubscriptions(): StepSubscription[] | undefined {
    let due: StepSubscription[] | undefined;
    for (const s of this.#subscriptions) {
      if (this.#stepIndex % s.everySteps === 0) (due ??= []).push(s);
    }
    return due;
  }

  /** Clock of each domain from its governor, knobs and caps; a unit's busy state drives load governors. */
  #resolveFrequencies(): void {
    for (let k = 0; k < this.#domains.length; k++) {
      const unit = this.#domainUnit[k];
      const busy = unit ? unit.active !== undefined : this.#busUtil > DMC_UP_THRESHOLD;
      this.#domains[k].resolve(busy, this.#silicon[k]);
    }
  }

  /** The clock the chip runs for a kernel clock: the Pi firmware floors it and throttles on its own. */
  #siliconHz(d: FrequencyDomain, hz: number): number {
    const fw = this.#layout.firmware;
    if (!fw || d.spec.unitId !== fw.unitId) return hz;
    const top = d.tableHz[d.tableHz.length - 1];
    const tempC = this.#thermal.tempC(this.#units.get(fw.unitId)!.priors.thermalZone);
    let capHz = top;
    if (tempC >= fw.hardThrottleC) capHz = fw.floorHz;
    else if (tempC > fw.softThrottleC) {
      capHz = top - (tempC - fw.softThrottleC) / (fw.hardThrottleC - fw.softThrottleC) * (top - fw.floorHz);
    }
    return Math.min(Math.max(hz, fw.floorHz), Math.max(capHz, fw.floorHz));
  }

  #powerW(unit: SchedUnit): number {
    return unitPowerW(unit, this.#thermal.tempC(unit.priors.thermalZone));
  }

  #unitPowers(): Map<string, number> {
    const powers = new Map<string, number>();
    for (const unit of this.#units.values()) powers.set(unit.priors.id, this.#powerW(unit));
    return powers;
  }

  /** Integrates power, traffic, busy time and work progress over a segment of constant rates. */
  #integrate(durationMs: number): void {
    // Powered off, nothing draws power, computes or counts time.
    if (durationMs <= 0 || this.#shutdown) return;
    const seconds = durationMs / 1000;
    this.#stepBaseJ += this.#truth.basePowerW * seconds;
    for (const unit of this.#units.values()) {
      unit.stepEnergyJ += this.#powerW(unit) * seconds;
      const item = unit.active;
      if (!item) continue;
      unit.stepBusyMs += durationMs;
      unit.stepBytes += unit.bytesPerS * seconds;
      this.#stepBusBytes += unit.bytesPerS * seconds;
      for (const cpu of unit.cpus) this.#cpuBusyMs[cpu] += durationMs;
      if (unit.ratePerMs > 0 && Number.isFinite(unit.ratePerMs)) {
        item.remaining = Math.max(0, item.remaining - unit.ratePerMs * durationMs);
      }
    }
    for (let k = 0; k < this.#domains.length; k++) {
      this.#domains[k].accumulate(durationMs, this.#domainUnit[k]?.active !== undefined);
    }
  }

  /**
   * End of a physics step: power averages, RC zones, sensors (noise drawn
   * every step, watched or not, powered or not), the shutdown check, then
   * (with power) governors, knobs and the view to publish.
   */
  #physicsStep(): void {
    const stepMs = this.stepMs;
    const seconds = stepMs / 1000;
    const poweredThroughout = !this.#shutdown && !this.#bootedMidStep;
    this.#stepIndex++;
    const powers = this.#powers;
    for (const unit of this.#units.values()) {
      unit.lastStepPowerW = unit.stepEnergyJ / seconds;
      unit.lastStepBusy = Math.min(1, unit.stepBusyMs / stepMs);
      unit.energyJ += unit.stepEnergyJ;
      powers.set(unit.priors.id, unit.lastStepPowerW);
    }
    // The constant itself for a step powered throughout (the tree then shows exactly what it always did).
    this.#lastStepBaseW = poweredThroughout ? this.#truth.basePowerW : this.#stepBaseJ / seconds;
    this.#bootedMidStep = false;
    this.#baseEnergyJ += this.#stepBaseJ;
    this.#stepBaseJ = 0;
    this.#busUtil = this.#stepBusBytes / (this.#truth.busBandwidthBytesPerS * seconds);
    this.#thermal.step(powers, stepMs);
    this.#thermal.sample((sigma) => this.#gauss(sigma));
    if (!this.#shutdown) {
      const crossing = this.#thermal.shutdownCrossing(this.#layout.hardwareShutdown);
      if (crossing) this.#powerOff(crossing);
      else this.#kernelStep(stepMs);
    }
    for (const unit of this.#units.values()) {
      unit.stepEnergyJ = 0;
      unit.stepBusyMs = 0;
      unit.stepBytes = 0;
    }
    for (const d of this.#domains) d.stepBusyMs = 0;
    this.#stepBusBytes = 0;
  }

  /** What the running kernel does at a step end: CPU time accounting, governors, knobs, the view to publish. */
  #kernelStep(stepMs: number): void {
    const sinceBootMs = this.#t - this.#bootMs;
    for (let cpu = 0; cpu < this.#cpuBusyMs.length; cpu++) {
      this.#cpuBusyMs[cpu] = Math.min(this.#cpuBusyMs[cpu] + OS_BACKGROUND_LOAD * stepMs, sinceBootMs);
    }
    this.#thermal.govern();
    // Realtime readers and writers run at any moment; in virtual time only when the simulator yields.
    if (this.#knobsStale || this.timeMode === "realtime") {
      for (const d of this.#domains) this.#applyKnobs(d, true);
      this.#knobsStale = false;
    }
    this.#resolveFrequencies();
    this.#pendingView = this.#makeView(stepMs);
  }

  /**
   * Rewrites the tree where it changed: the knobs where the kernel would show
   * something else now, the sensor view of the last step end (once), and the
   * energy counters at this very instant. `rewriteLast` writes the last view
   * again (files that come back after a fault).
   */
  #publish(rewriteLast = false): void {
    // No kernel, no tree.
    if (this.#shutdown) return;
    for (const d of this.#domains) if (rewriteLast || d.knobsUnshown()) this.#showKnobs(d);
    const view = this.#pendingView;
    if (view) {
      this.#pendingView = undefined;
      if (view.timeMs - this.#lastSlowMs >= SLOW_FILES_MS - EPS_MS) {
        view.slowFiles = true;
        this.#lastSlowMs = view.timeMs;
      }
      this.#tree.writeStep(view);
      this.#lastView = view;
    } else if (rewriteLast && this.#lastView) {
      this.#tree.writeStep(this.#lastView);
    }
    this.#writeCounters();
  }

  /** The energy counters of the simulated-only chip: the true energy up to now (units, then the total). */
  #writeCounters(): void {
    const n = this.#countersMicroJ.length;
    if (n === 0) return;
    let totalJ = this.#baseEnergyJ + this.#stepBaseJ;
    let i = 0;
    for (const unit of this.#units.values()) {
      const energyJ = unit.energyJ + unit.stepEnergyJ;
      totalJ += energyJ;
      this.#countersMicroJ[i] = energyCounterMicroJ(this.#counterOriginsMicroJ[i], energyJ);
      i++;
    }
    this.#countersMicroJ[n - 1] = energyCounterMicroJ(this.#counterOriginsMicroJ[n - 1], totalJ);
    this.#tree.writeCounters(this.#countersMicroJ);
  }

  /** Reads a domain's knobs and takes in what someone else wrote (the knob files change at the next publish). */
  #applyKnobs(d: FrequencyDomain, full: boolean): void {
    d.takeKnobs(this.#writer, this.#tree.knobs[d.index], full, this.#stepIndex);
  }

  /**
   * Makes a domain's knob files show what the kernel would show now: the
   * user's request under the caps, in the kernel's form. Like the kernel, it
   * changes a knob file only when that differs from what the file holds (a cap
   * engaged or released, a value clamped or refused); it never replaces what
   * someone else wrote unread (`replaceKnob()` hands back a value written
   * meanwhile, which is taken in before deciding again).
   */
  #showKnobs(d: FrequencyDomain): void {
    const scale = this.#tree.knobs[d.index].scale;
    for (let round = 0; round < MAX_KNOB_ROUNDS; round++) {
      let taken = false;
      for (const { which, rel, text } of this.#tree.knobTexts(d.index, d.knobView())) {
        if (this.#writer.shows(rel, text)) continue;
        const others = this.#writer.replaceKnob(rel, text);
        if (others.length === 0) continue;
        for (const other of others) d.takeKnob(which, other, scale);
        taken = true;
        break;
      }
      if (!taken) {
        d.markKnobsShown();
        return;
      }
    }
    // Someone keeps writing: what they wrote stands for now; the next publish looks again.
  }

  #gauss(sigma: number): number {
    return this.#sensorNoise && sigma > 0 ? sigma * this.#noise.normal() : 0;
  }

  /** The sensor view of the step that just ended (the slow-file flag is decided when it is published). */
  #makeView(stepMs: number): StepView {
    const unitBusy: Record<string, number> = {};
    for (const [id, u] of this.#units) unitBusy[id] = stepMs > 0 ? u.lastStepBusy : 0;
    const domains = this.#domains.map((d, k): DomainView => {
      const unit = this.#domainUnit[k];
      const busy = unit ? (stepMs > 0 ? d.stepBusyMs / stepMs : 0) : Math.min(1, this.#busUtil);
      const voltageV = unit ? voltageAtV(unit.priors.opps, d.trueHz) : 0;
      return {
        ...d.knobView(),
        curHz: d.curHz,
        timeInStateMs: d.timeInStateMs,
        transitions: d.transitions,
        busy,
        voltageV,
      };
    });
    const memTotalBytes = this.#truth.memoryTotalBytes - this.#layout.reservedBytes;
    const memJitter = this.#sensorNoise ? Math.round(this.#noise.uniform(-2, 2) * 1024 * 1024) : 0;
    const power = powerReadings(
      this.#layout.power,
      this.#tree.paths.power,
      (id) => this.#units.get(id)?.lastStepPowerW ?? 0,
      this.#lastStepBaseW,
      (sigma) => this.#gauss(sigma),
    );
    return {
      timeMs: this.#t - this.#originMs,
      stepMs,
      zonesMilliC: this.#thermal.readingsMilliC(),
      coolingStates: this.#thermal.coolingStates(),
      domains,
      unitBusy,
      cpuBusyMs: [...this.#cpuBusyMs],
      cpuTotalMs: this.#t - this.#bootMs,
      power,
      memTotalBytes,
      memAvailableBytes: memTotalBytes - this.#layout.baselineUsedBytes + memJitter,
      ambientC: this.#thermal.ambientC,
      slowFiles: false,
    };
  }
}

/**
 * Creates a simulated board and writes its sysfs tree under `options.root`.
 * The root must be empty, missing, or a tree an earlier simulated board wrote
 * (marked by `.qeil-sim`); anything else is refused so a wrong path never
 * overwrites real files.
 * @throws RangeError for an unknown board or out-of-range options, TypeError for options of the wrong type
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
    if (name === "sys" || name === "proc" || name === "var" || name === POOL_DIR) {
      await Deno.remove(`${root}/${name}`, { recursive: true });
    }
  }
  await Deno.writeTextFile(`${root}/${MARKER}`, "written by qeil's board simulator; safe to delete\n");
}
