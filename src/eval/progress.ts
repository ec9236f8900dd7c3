/**
 * A progress display for long runs: on a terminal, one bar redrawn in place
 * (items done / total, percent, rate, ETA); elsewhere (a pipe, a CI log), a
 * plain line now and then, never the carriage returns a log cannot show.
 * Clock and writer are injected, so both behaviours are testable without a TTY.
 */
import { type Clock, systemClock } from "../core/mod.ts";
import type { ProgressSink } from "./harness.ts";

/** Options of {@linkcode createProgress}. */
export interface ProgressOptions {
  /** Receives text exactly as it should reach the stream. */
  write: (text: string) => void;
  /** The stream is a terminal: draw a bar in place. */
  isTerminal: boolean;
  /** Times the rate and the ETA, and paces output. @default systemClock */
  clock?: Clock;
  /** Shown before the figures. @default "eval" */
  label?: string;
  /** Least time between two redraws of the bar, ms. @default 100 */
  redrawMs?: number;
  /** Least time between two log lines when not on a terminal, ms. @default 10000 */
  logEveryMs?: number;
  /** Width of the bar, characters. @default 24 */
  barWidth?: number;
}

/** `1:02:03`, `2:03` or `5s`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
  if (m > 0) return `${m}:${String(s).padStart(2, "0")}`;
  return `${s}s`;
}

/** The progress figures at one moment. */
export interface ProgressFigures {
  done: number;
  total: number;
  elapsedMs: number;
  /** Items per second since the start; null before the first item. */
  ratePerS: number | null;
  /** Time left at that rate, ms; null before the first item. */
  etaMs: number | null;
}

/** Figures of `done` of `total` items after `elapsedMs`. */
export function progressFigures(done: number, total: number, elapsedMs: number): ProgressFigures {
  const ratePerS = done > 0 && elapsedMs > 0 ? done / (elapsedMs / 1000) : null;
  const etaMs = ratePerS !== null ? ((total - done) / ratePerS) * 1000 : null;
  return { done, total, elapsedMs, ratePerS, etaMs };
}

function rateText(ratePerS: number | null): string {
  if (ratePerS === null) return "-- items/s";
  return ratePerS >= 10 ? `${ratePerS.toFixed(0)} items/s` : `${ratePerS.toFixed(2)} items/s`;
}

/** Creates a progress display. */
export function createProgress(options: ProgressOptions): ProgressSink {
  const clock = options.clock ?? systemClock;
  const label = options.label ?? "eval";
  const redrawMs = options.redrawMs ?? 100;
  const logEveryMs = options.logEveryMs ?? 10_000;
  const barWidth = options.barWidth ?? 24;
  let total = 0;
  let done = 0;
  let startMs = 0;
  let lastOutputMs = Number.NEGATIVE_INFINITY;
  let started = false;
  let finished = false;

  const line = (): string => {
    const f = progressFigures(done, total, clock.monotonicMs() - startMs);
    const share = total > 0 ? done / total : 1;
    const percent = `${Math.floor(share * 100)}%`;
    const eta = done >= total
      ? `done in ${formatDuration(f.elapsedMs)}`
      : `ETA ${f.etaMs === null ? "--" : formatDuration(f.etaMs)}`;
    const figures = `${done}/${total} ${percent} ${rateText(f.ratePerS)} ${eta}`;
    if (!options.isTerminal) return `${label}: ${figures}`;
    const filled = Math.round(share * barWidth);
    return `${label} [${"#".repeat(filled)}${"-".repeat(barWidth - filled)}] ${figures}`;
  };

  const output = (force: boolean) => {
    const nowMs = clock.monotonicMs();
    const gapMs = options.isTerminal ? redrawMs : logEveryMs;
    if (!force && nowMs - lastOutputMs < gapMs) return;
    lastOutputMs = nowMs;
    // On a terminal: back to column 0 and clear the line, so a shorter line leaves no tail.
    options.write(options.isTerminal ? `\r\x1b[2K${line()}` : `${line()}\n`);
  };

  return {
    start(n: number) {
      if (!Number.isInteger(n) || n < 0) throw new RangeError(`progress total must be an integer >= 0, got ${n}`);
      total = n;
      done = 0;
      startMs = clock.monotonicMs();
      lastOutputMs = Number.NEGATIVE_INFINITY;
      started = true;
      finished = false;
      if (options.isTerminal) output(true);
    },
    advance() {
      if (!started) throw new Error("progress.advance() before start()");
      done = Math.min(total, done + 1);
      output(false);
    },
    finish() {
      if (!started || finished) return;
      finished = true;
      output(true);
      if (options.isTerminal) options.write("\n");
    },
  };
}

/**
 * Progress on the process's stderr: a bar when stderr is a terminal, a line
 * every `logEveryMs` otherwise.
 */
export function stderrProgress(options: Omit<ProgressOptions, "write" | "isTerminal"> = {}): ProgressSink {
  const encoder = new TextEncoder();
  return createProgress({
    ...options,
    isTerminal: Deno.stderr.isTerminal(),
    write: (text) => {
      Deno.stderr.writeSync(encoder.encode(text));
    },
  });
}
