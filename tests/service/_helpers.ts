/** Shared helpers of the service tests: bounded waits on real events, collecting logs. */
import { createLogger, type Logger } from "../../src/core/mod.ts";

/** Resolves with `promise`, or rejects naming `what` after `timeoutMs` (a bound, not a sleep). */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A logger that keeps its lines, for tests that assert on warnings. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger({ level: "debug", format: "json", sink: (l) => lines.push(l) }), lines };
}

/** Parsed JSON log events of a captured logger. */
export function events(lines: readonly string[]): { level: string; msg: string; [k: string]: unknown }[] {
  return lines.map((l) => JSON.parse(l));
}
