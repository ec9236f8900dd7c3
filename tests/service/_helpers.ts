/**
 * Shared helpers of the service tests: collecting logs. Waits on real events
 * have no wall-clock bound: a hang shows in the test runner's report of a test
 * running for over a minute, and .ci/run bounds the whole run.
 */
import { createLogger, type Logger } from "../../src/core/mod.ts";

/** A parsed JSON log event. */
export type LogEvent = { level: string; msg: string; [k: string]: unknown };

/** A logger that keeps its lines, for tests that assert on (or wait for) log events. */
export function captureLogger(): {
  logger: Logger;
  lines: string[];
  /** The first event matching `match`, logged already or when it is logged. */
  waitFor(match: (e: LogEvent) => boolean): Promise<LogEvent>;
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
    waitFor: (match) => {
      const seen = events(lines).find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

/** Parsed JSON log events of a captured logger. */
export function events(lines: readonly string[]): LogEvent[] {
  return lines.map((l) => JSON.parse(l));
}
