/**
 * Structured logging. One line per event: JSON (for journald and log shippers)
 * or `level msg key=value` text (for a terminal). The sink is injected, so
 * tests capture lines and the service writes to stderr.
 */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** True for a valid level name. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && value in LEVEL_RANK;
}

/** Key/value context carried by a log event. */
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every event. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** Least severe level written. @default "info" */
  level?: LogLevel;
  /** Line format. @default "text" */
  format?: "json" | "text";
  /** Receives each formatted line (without newline). @default writes to stderr */
  sink?: (line: string) => void;
  /** Timestamp source, ms since epoch. @default Date.now */
  nowMs?: () => number;
  /** Fields added to every event. @default {} */
  fields?: LogFields;
}

function stringifyValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === "string") return /^[\w.\-/:@]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return JSON.stringify(value) ?? String(value);
}

function toJsonSafe(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v instanceof Error ? { name: v.name, message: v.message } : v;
  }
  return out;
}

const encoder = new TextEncoder();
function defaultSink(line: string): void {
  // Deno.stderr is synchronous, so lines are never lost at exit.
  const g = globalThis as { Deno?: { stderr: { writeSync(b: Uint8Array): number } } };
  if (g.Deno) g.Deno.stderr.writeSync(encoder.encode(line + "\n"));
  else console.error(line);
}

/** Creates a logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const minRank = LEVEL_RANK[options.level ?? "info"];
  const format = options.format ?? "text";
  const sink = options.sink ?? defaultSink;
  const nowMs = options.nowMs ?? Date.now;
  const base = options.fields ?? {};

  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVEL_RANK[level] < minRank) return;
    const all = { ...base, ...fields };
    if (format === "json") {
      sink(JSON.stringify({ ts: new Date(nowMs()).toISOString(), level, msg, ...toJsonSafe(all) }));
    } else {
      const kv = Object.entries(all).map(([k, v]) => `${k}=${stringifyValue(v)}`).join(" ");
      sink(`${level.padEnd(5)} ${msg}${kv ? " " + kv : ""}`);
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything (for tests that do not inspect logs). */
export const silentLogger: Logger = createLogger({ sink: () => {}, level: "error" });
