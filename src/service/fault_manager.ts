/**
 * The fault manager: the health of every compute unit and sensor channel as
 * the service has experienced it. A unit whose backend throws or misses its
 * deadline is failed (out of every plan) for a probation delay; then it comes
 * back on probation, at a reduced share of the samples and not as the
 * prefill unit (unless the planner finds a trial beyond those limits worth
 * its risk) until it has served `probationJobs` jobs without a fault; a
 * fault on probation fails it again with a doubled delay. A sensor channel
 * that stops reading is reported once when it goes and once when it returns:
 * it degrades the model's inputs (the last good value stands in), never the
 * service. Every transition is a fault event for the `fault` topic.
 */
import type { Clock } from "../core/mod.ts";
import { type FaultEvent, faultEvent, type FaultKind } from "./schema.ts";

/** Health of a unit as the fault manager sees it (the same states as the dashboard's). */
type HealthState = "healthy" | "probation" | "failed";

/** A unit's health and why. */
export interface UnitHealthStatus {
  unitId: string;
  state: HealthState;
  /** Why the unit is in this state. */
  reason?: string;
  /** Wall-clock time the unit entered this state, ms since the epoch. */
  sinceMs: number;
  /** Failed: monotonic time (of the manager's clock) at which it returns on probation, ms. */
  returnsAtMs?: number;
  /** Faults of this unit since the service started. */
  faults: number;
  /** Probation: jobs served without a fault so far. */
  probationJobs?: number;
}

/** How a unit failed. */
export type UnitFaultKind = "failed" | "timeout";

/** Options of `createFaultManager`. */
export interface FaultManagerOptions {
  /** Unit ids of the board. */
  unitIds: readonly string[];
  /** Clock of probation delays (a simulated board's clock in virtual time). */
  clock: Clock;
  /** Time a failed unit stays out before it returns on probation, ms (doubled per repeated fault, up to 16x). */
  probationMs: number;
  /** Share of a job's samples a unit on probation may decode, (0, 1]. */
  probationShare: number;
  /** Jobs a unit must serve on probation without a fault to be healthy again. @default 3 */
  probationJobs?: number;
  /** Receives every fault event (publish it). */
  onEvent?: (event: FaultEvent) => void;
}

/** What a plan must respect about units on probation. */
export interface ProbationLimits {
  /** Units on probation: at most `maxSamples[unit]` samples, no prefill, unless on a trial (planner.ts). */
  units: ReadonlySet<string>;
  /** Most samples each probation unit may decode in a job of `samples` samples. */
  maxSamples(samples: number): number;
}

/** The fault manager. */
export interface FaultManager {
  /** Units that may be planned on now (healthy or on probation); moves failed units whose delay passed to probation. */
  usableUnits(): string[];
  /** Units on probation now and their limits. */
  probation(): ProbationLimits;
  /** A unit threw or missed its deadline: it leaves every plan until its probation delay passes. */
  unitFault(unitId: string, kind: UnitFaultKind, reason: string, requestId?: string): void;
  /** A job finished on `unitIds` without a fault: probation units count it. */
  jobSucceeded(unitIds: Iterable<string>): void;
  /**
   * Brings a failed unit back on probation before its delay is over: the
   * last resort when no other unit can run a job (a unit on probation beats
   * refusing every job until a doubled delay ends). Reports a
   * `unit-probation` event with `why`. Does nothing to a unit that is not failed.
   */
  returnEarly(unitId: string, why: string): void;
  /** Reports that a sensor channel reads (true) or not (false); transitions become events. */
  sensor(channel: string, ok: boolean, reason?: string): void;
  /** Sensor channels that do not read now, with the reason. */
  lostSensors(): Record<string, string>;
  /** Publishes an event of another part of the orchestrator (thermal re-plans, job failures). */
  report(
    kind: FaultKind,
    severity: FaultEvent["severity"],
    message: string,
    extra?: Parameters<typeof faultEvent>[4],
  ): void;
  /** Every unit's status, in board order. */
  status(): UnitHealthStatus[];
  /** Fault events so far, by kind. */
  counts(): Record<string, number>;
}

const MAX_BACKOFF = 16;

interface UnitState {
  state: HealthState;
  reason?: string;
  sinceMs: number;
  returnsAtMs?: number;
  faults: number;
  /** Consecutive faults (reset when the unit is healthy again): the probation delay doubles with each. */
  strikes: number;
  probationJobs: number;
}

class Manager implements FaultManager {
  readonly #o: Required<Omit<FaultManagerOptions, "onEvent">> & Pick<FaultManagerOptions, "onEvent">;
  readonly #units = new Map<string, UnitState>();
  readonly #lostSensors = new Map<string, string>();
  readonly #counts: Record<string, number> = {};

  constructor(options: FaultManagerOptions) {
    if (!(options.probationShare > 0 && options.probationShare <= 1)) {
      throw new RangeError(`fault manager: probationShare must be in (0, 1], got ${options.probationShare}`);
    }
    if (!(options.probationMs >= 0)) {
      throw new RangeError(`fault manager: probationMs must be >= 0, got ${options.probationMs}`);
    }
    this.#o = { probationJobs: 3, ...options };
    for (const id of options.unitIds) {
      this.#units.set(id, {
        state: "healthy",
        sinceMs: options.clock.nowMs(),
        faults: 0,
        strikes: 0,
        probationJobs: 0,
      });
    }
  }

  usableUnits(): string[] {
    this.#advance();
    return [...this.#units].filter(([, u]) => u.state !== "failed").map(([id]) => id);
  }

  probation(): ProbationLimits {
    this.#advance();
    const units = new Set([...this.#units].filter(([, u]) => u.state === "probation").map(([id]) => id));
    const share = this.#o.probationShare;
    return { units, maxSamples: (samples) => Math.max(1, Math.floor(samples * share)) };
  }

  unitFault(unitId: string, kind: UnitFaultKind, reason: string, requestId?: string): void {
    const u = this.#unit(unitId);
    const clock = this.#o.clock;
    const wasProbation = u.state === "probation";
    u.faults++;
    u.strikes++;
    const delayMs = this.#o.probationMs * Math.min(MAX_BACKOFF, 2 ** (u.strikes - 1));
    u.state = "failed";
    u.reason = reason;
    u.sinceMs = clock.nowMs();
    u.returnsAtMs = clock.monotonicMs() + delayMs;
    u.probationJobs = 0;
    const what = kind === "timeout" ? "missed its deadline" : "failed";
    this.report(
      kind === "timeout" ? "unit-timeout" : "unit-failed",
      "error",
      `unit ${unitId} ${what}${wasProbation ? " on probation" : ""}: ${reason}; out of every plan for ${
        Math.round(delayMs)
      } ms`,
      { unitId, code: kind === "timeout" ? "Timeout" : "Backend", ...(requestId ? { requestId } : {}) },
    );
  }

  jobSucceeded(unitIds: Iterable<string>): void {
    for (const id of new Set(unitIds)) {
      const u = this.#units.get(id);
      if (!u || u.state !== "probation") continue;
      u.probationJobs++;
      if (u.probationJobs >= this.#o.probationJobs) {
        u.state = "healthy";
        u.strikes = 0;
        u.sinceMs = this.#o.clock.nowMs();
        u.reason = `served ${u.probationJobs} jobs on probation without a fault`;
        delete u.returnsAtMs;
        this.report("unit-recovered", "info", `unit ${id} is healthy again: ${u.reason}`, { unitId: id });
      }
    }
  }

  sensor(channel: string, ok: boolean, reason?: string): void {
    const lost = this.#lostSensors.has(channel);
    if (!ok && !lost) {
      const why = reason ?? "unreadable";
      this.#lostSensors.set(channel, why);
      this.report(
        "sensor-lost",
        "warning",
        `sensor ${channel} does not read (${why}); its last good value stands in`,
      );
    } else if (ok && lost) {
      this.#lostSensors.delete(channel);
      this.report("sensor-lost", "info", `sensor ${channel} reads again`);
    }
  }

  lostSensors(): Record<string, string> {
    return Object.fromEntries(this.#lostSensors);
  }

  report(
    kind: FaultKind,
    severity: FaultEvent["severity"],
    message: string,
    extra: Parameters<typeof faultEvent>[4] = {},
  ): void {
    this.#counts[kind] = (this.#counts[kind] ?? 0) + 1;
    this.#o.onEvent?.(faultEvent(kind, severity, message, this.#o.clock.nowMs(), extra));
  }

  status(): UnitHealthStatus[] {
    this.#advance();
    return [...this.#units].map(([unitId, u]) => ({
      unitId,
      state: u.state,
      ...(u.reason !== undefined ? { reason: u.reason } : {}),
      sinceMs: u.sinceMs,
      ...(u.returnsAtMs !== undefined && u.state === "failed" ? { returnsAtMs: u.returnsAtMs } : {}),
      faults: u.faults,
      ...(u.state === "probation" ? { probationJobs: u.probationJobs } : {}),
    }));
  }

  counts(): Record<string, number> {
    return { ...this.#counts };
  }

  #unit(unitId: string): UnitState {
    const u = this.#units.get(unitId);
    if (!u) throw new RangeError(`fault manager: unknown unit "${unitId}"; units: ${[...this.#units.keys()]}`);
    return u;
  }

  returnEarly(unitId: string, why: string): void {
    this.#advance();
    const u = this.#unit(unitId);
    if (u.state !== "failed") return;
    this.#toProbation(unitId, u, `before its delay was over (${why})`);
  }

  /** Failed units whose delay has passed return on probation. */
  #advance(): void {
    const now = this.#o.clock.monotonicMs();
    for (const [id, u] of this.#units) {
      if (u.state !== "failed" || u.returnsAtMs === undefined || now < u.returnsAtMs) continue;
      this.#toProbation(id, u);
    }
  }

  #toProbation(id: string, u: UnitState, early?: string): void {
    u.state = "probation";
    u.sinceMs = this.#o.clock.nowMs();
    u.probationJobs = 0;
    u.reason = `back after a fault, at most ${
      Math.round(this.#o.probationShare * 100)
    }% of the samples, no prefill, unless a trial is worth its risk`;
    delete u.returnsAtMs;
    this.report(
      "unit-probation",
      early ? "warning" : "info",
      `unit ${id} returns on probation${early ? " " + early : ""}: ${u.reason}`,
      { unitId: id },
    );
  }
}

/** Creates the fault manager with every unit healthy. */
export function createFaultManager(options: FaultManagerOptions): FaultManager {
  return new Manager(options);
}
