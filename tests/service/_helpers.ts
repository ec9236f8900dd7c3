/** Shared helpers of the service tests: bounded waits on real events, collecting logs. */
import { createLogger, type Logger } from "../../src/core/mod.ts";

/**
 * Shortest bound `within` applies, ms. It turns a hang into a failure that
 * names what never happened; it never measures anything, so on a loaded
 * shared machine a short bound must not fail a test that is merely slow.
 */
const MIN_BOUND_MS = 60_000;

/**
 * Resolves with `promise`, or rejects naming `what` after `timeoutMs` (at
 * least MIN_BOUND_MS): a hang guard, not a sleep and not a timing assertion.
 */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  const boundMs = Math.max(timeoutMs, MIN_BOUND_MS);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${boundMs} ms waiting for ${what}`)), boundMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A parsed JSON log event. */
export type LogEvent = { level: string; msg: string; [k: string]: unknown };

/** A logger that keeps its lines, for tests that assert on (or wait for) log events. */
export function captureLogger(): {
  logger: Logger;
  lines: string[];
  /** The first event matching `match`, logged already or within `timeoutMs`. */
  waitFor(match: (e: LogEvent) => boolean, timeoutMs?: number): Promise<LogEvent>;
} {
  const lines: string[] = [];
  const waiters: { match: (e: LogEvent) => boolean; resolve(e: LogEvent): void }[] = [];
  const sink = (line: string) => {
    lines.push(line);
    const event = JSON.parse(line) as LogEvent;
    for (const w of [...waiters]) {
      if (w.match(event)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(event);
      }
    }
  };
  return {
    logger: createLogger({ level: "debug", format: "json", sink }),
    lines,
    waitFor: (match, timeoutMs = 10_000) => {
      const seen = events(lines).find(match);
      if (seen) return Promise.resolve(seen);
      return within(new Promise((resolve) => waiters.push({ match, resolve })), timeoutMs, "a log event");
    },
  };
}

/** Parsed JSON log events of a captured logger. */
export function events(lines: readonly string[]): LogEvent[] {
  return lines.map((l) => JSON.parse(l));
}
