/**
 * The internal health checks and the watchdog loop. Each period the loop
 * runs every check; only when all pass does it send WATCHDOG=1, so systemd
 * restarts a service whose event loop stalls, whose sampler died or whose
 * job overran its deadline without stopping. Without systemd the same checks
 * run and their transitions are logged. Time comes from an injected Clock.
 */
import type { Clock, Logger } from "../core/mod.ts";
import type { Notifier } from "./sd_notify.ts";
import type { OverdueJob } from "./queue.ts";

/** The outcome of one check. */
export type CheckResult = { ok: true } | { ok: false; reason: string };

/** One internal check. */
export interface HealthCheck {
  name: string;
  run(): CheckResult | Promise<CheckResult>;
}

/** One check's status in a report. */
export interface CheckStatus {
  name: string;
  ok: boolean;
  /** Why the check fails. */
  reason?: string;
}

/** The outcome of all checks. */
export interface HealthReport {
  ok: boolean;
  checks: CheckStatus[];
}

/** Runs every check; a check that throws fails with its message. */
export async function runChecks(checks: readonly HealthCheck[]): Promise<HealthReport> {
  const statuses = await Promise.all(checks.map(async (c): Promise<CheckStatus> => {
    try {
      const r = await c.run();
      return r.ok ? { name: c.name, ok: true } : { name: c.name, ok: false, reason: r.reason };
    } catch (error) {
      return {
        name: c.name,
        ok: false,
        reason: `check threw: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }));
  return { ok: statuses.every((s) => s.ok), checks: statuses };
}

/** Measures how late timers fire: the event loop's responsiveness. */
export interface EventLoopLagMonitor extends AsyncDisposable {
  /** Lateness of the last tick, ms. */
  readonly lagMs: number;
  /** Fails when the last tick was late, or the next one is overdue, by more than `maxLagMs`. */
  readonly check: HealthCheck;
  stop(): void;
}

/** Options of `startEventLoopLagMonitor`. */
export interface LagMonitorOptions {
  clock: Clock;
  /** Lag above which the loop counts as stalled, ms. */
  maxLagMs: number;
  /** Tick period, ms. @default 500 */
  intervalMs?: number;
}

/** Starts a loop that sleeps `intervalMs` and records how late it woke. */
export function startEventLoopLagMonitor(options: LagMonitorOptions): EventLoopLagMonitor {
  const { clock, maxLagMs } = options;
  const intervalMs = options.intervalMs ?? 500;
  const stopper = new AbortController();
  let lagMs = 0;
  let tickStartMs = clock.monotonicMs();
  (async () => {
    while (!stopper.signal.aborted) {
      tickStartMs = clock.monotonicMs();
      try {
        await clock.sleep(intervalMs, stopper.signal);
      } catch {
        return;
      }
      lagMs = Math.max(0, clock.monotonicMs() - tickStartMs - intervalMs);
    }
  })();
  const stop = () => stopper.abort();
  return {
    get lagMs() {
      return lagMs;
    },
    check: {
      name: "event-loop",
      run: (): CheckResult => {
        const pendingLagMs = Math.max(0, clock.monotonicMs() - tickStartMs - intervalMs);
        const worst = Math.max(lagMs, pendingLagMs);
        return worst > maxLagMs
          ? { ok: false, reason: `event loop lags ${Math.round(worst)} ms (limit ${maxLagMs} ms)` }
          : { ok: true };
      },
    },
    stop,
    [Symbol.asyncDispose]: () => {
      stop();
      return Promise.resolve();
    },
  };
}

/** Options of `heartbeatCheck`. */
export interface HeartbeatOptions {
  clock: Clock;
  /** Monotonic time of the last beat (e.g. the sampler's last sample), or undefined before the first. */
  lastBeatMs: () => number | undefined;
  /** Oldest acceptable beat, ms. */
  maxAgeMs: number;
}

/** A check that fails when a periodic activity (the sampler) has not beaten for `maxAgeMs`. */
export function heartbeatCheck(name: string, options: HeartbeatOptions): HealthCheck {
  const createdMs = options.clock.monotonicMs();
  return {
    name,
    run: (): CheckResult => {
      const last = options.lastBeatMs();
      const ageMs = options.clock.monotonicMs() - (last ?? createdMs);
      if (ageMs <= options.maxAgeMs) return { ok: true };
      return {
        ok: false,
        reason: last === undefined
          ? `${name} has not beaten in ${Math.round(ageMs)} ms since start (limit ${options.maxAgeMs} ms)`
          : `${name} last beat ${Math.round(ageMs)} ms ago (limit ${options.maxAgeMs} ms)`,
      };
    },
  };
}

/** A check that fails when a running job is past its deadline by more than `graceMs` (its runner ignores cancellation). */
export function deadlineCheck(overdue: () => OverdueJob[], graceMs: number): HealthCheck {
  return {
    name: "deadlines",
    run: (): CheckResult => {
      const late = overdue().filter((j) => j.overdueMs > graceMs);
      if (late.length === 0) return { ok: true };
      const list = late.map((j) => `${j.id} (+${Math.round(j.overdueMs)} ms)`).join(", ");
      return { ok: false, reason: `jobs past their deadline: ${list}` };
    },
  };
}

/** Options of `startWatchdog`. */
export interface WatchdogOptions {
  clock: Clock;
  checks: readonly HealthCheck[];
  /** Check period, ms: half of WATCHDOG_USEC under systemd. */
  intervalMs: number;
  /** Receives WATCHDOG=1 while all checks pass. @default none (checks run and log only) */
  notifier?: Notifier;
  /** @default no logging */
  logger?: Logger;
  /** Called with every report (e.g. to publish a `watchdog` fault when checks start failing). */
  onReport?: (report: HealthReport, previous: HealthReport) => void;
}

/** The running watchdog loop. */
export interface Watchdog extends AsyncDisposable {
  /** The last report (all checks pass before the first run). */
  health(): HealthReport;
  /** Runs the checks now (and pets systemd when they pass). */
  tick(): Promise<HealthReport>;
  /** Keep-alives sent. */
  readonly petted: number;
  stop(): void;
}

/** Starts the watchdog loop; the first check runs after one interval. */
export function startWatchdog(options: WatchdogOptions): Watchdog {
  const { clock, checks, notifier, logger } = options;
  if (!(options.intervalMs > 0)) {
    throw new RangeError(`startWatchdog() needs an interval > 0 ms, got ${options.intervalMs}`);
  }
  const stopper = new AbortController();
  let last: HealthReport = { ok: true, checks: checks.map((c) => ({ name: c.name, ok: true })) };
  let petted = 0;
  let wasOk = true;
  const tick = async (): Promise<HealthReport> => {
    const report = await runChecks(checks);
    const previous = last;
    last = report;
    if (report.ok) {
      if (notifier?.enabled && await notifier.watchdog()) petted++;
      if (!wasOk) logger?.info("health checks pass again");
    } else if (wasOk) {
      const failing = report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.reason}`);
      logger?.error(
        notifier?.enabled ? "health checks fail; withholding the watchdog keep-alive" : "health checks fail",
        { failing },
      );
    }
    wasOk = report.ok;
    options.onReport?.(report, previous);
    return report;
  };
  (async () => {
    while (!stopper.signal.aborted) {
      try {
        await clock.sleep(options.intervalMs, stopper.signal);
      } catch {
        return;
      }
      await tick();
    }
  })();
  const stop = () => stopper.abort();
  return {
    health: () => last,
    tick,
    get petted() {
      return petted;
    },
    stop,
    [Symbol.asyncDispose]: () => {
      stop();
      return Promise.resolve();
    },
  };
}
