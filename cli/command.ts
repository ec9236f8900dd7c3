/**
 * The command-line framework of the composition root: each command declares
 * its options once (type, default, help text), and gets parsed, validated
 * values. Parsing uses node:util parseArgs (JSR is unreachable here).
 */
import { parseArgs } from "node:util";

/** One option of a command. */
export interface OptionSpec {
  type: "string" | "boolean";
  /** Help text; say the unit and the default. */
  description: string;
  short?: string;
  /** Value used when the flag is absent. */
  default?: string | boolean;
  /** May repeat; values arrive as an array. */
  multiple?: boolean;
  /** Placeholder in help, e.g. `DIR`. @default "VALUE" */
  valueName?: string;
}

/** What a command may touch of the process, injected so commands can be run in tests. */
export interface CommandContext {
  stdout(text: string): void;
  stderr(text: string): void;
  /** stdout is a terminal (progress bars, tables). */
  isTerminal: boolean;
  env: Readonly<Record<string, string>>;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/** A CLI command. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Usage line(s) after `qeil <name>`, e.g. `--root DIR [--json]`. */
  usage: string;
  /** Longer help text, printed under the usage. */
  description?: string;
  options: Record<string, OptionSpec>;
  /** Name of the positional arguments, when the command takes any (e.g. `SUBCOMMAND`). */
  positionals?: string;
  run(args: ParsedArgs, ctx: CommandContext): Promise<number>;
}

/** A command-line mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Parsed arguments with typed, validated accessors that name the flag on error. */
export class ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: readonly string[];
  readonly #given: ReadonlySet<string>;

  /**
   * @param values parsed values, defaults included
   * @param positionals positional arguments
   * @param given names of the options that appeared on the command line. @default every key of `values`
   */
  constructor(
    values: Record<string, string | boolean | string[] | undefined>,
    positionals: string[],
    given: Iterable<string> = Object.keys(values).filter((k) => values[k] !== undefined),
  ) {
    this.values = values;
    this.positionals = positionals;
    this.#given = new Set(given);
  }

  /** True when the flag was given on the command line (not just defaulted). */
  has(name: string): boolean {
    return this.#given.has(name);
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  string(name: string): string | undefined {
    const v = this.values[name];
    if (Array.isArray(v)) return v[v.length - 1];
    return typeof v === "string" ? v : undefined;
  }

  requireString(name: string): string {
    const v = this.string(name);
    if (v === undefined || v === "") throw new UsageError(`--${name} is required`);
    return v;
  }

  strings(name: string): string[] {
    const v = this.values[name];
    if (Array.isArray(v)) return v;
    return typeof v === "string" ? [v] : [];
  }

  /** A comma-separated list, e.g. `--tasks a,b`. */
  list(name: string): string[] | undefined {
    const v = this.string(name);
    return v === undefined ? undefined : v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  }

  number(name: string, range: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    const what = range.integer ? "an integer" : "a number";
    if (raw.trim() === "" || !Number.isFinite(n) || (range.integer && !Number.isInteger(n))) {
      throw new UsageError(`--${name} must be ${what}, got "${raw}"`);
    }
    if (range.min !== undefined && n < range.min) throw new UsageError(`--${name} must be >= ${range.min}, got ${n}`);
    if (range.max !== undefined && n > range.max) throw new UsageError(`--${name} must be <= ${range.max}, got ${n}`);
    return n;
  }

  int(name: string, range: { min?: number; max?: number } = {}): number | undefined {
    return this.number(name, { ...range, integer: true });
  }

  choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (!(choices as readonly string[]).includes(v)) {
      throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got "${v}"`);
    }
    return v as T;
  }
}

const HELP_OPTION: OptionSpec = { type: "boolean", short: "h", description: "Show this help." };

/** Parses `argv` (after the command name) for `command`. @throws UsageError */
export function parseCommandArgs(command: Command, argv: readonly string[]): ParsedArgs {
  // Parse without defaults so the options really given are known, then fill the defaults in.
  const specs = { ...command.options, help: HELP_OPTION };
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      options,
      allowPositionals: command.positionals !== undefined,
      strict: true,
    });
  } catch (error) {
    // node:util reports e.g. "Unknown option '--foo'"; keep its wording, it names the flag.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const given = Object.keys(values).filter((name) => values[name] !== undefined);
  const withDefaults = { ...values };
  for (const [name, spec] of Object.entries(specs)) {
    if (withDefaults[name] === undefined && spec.default !== undefined) {
      withDefaults[name] = spec.multiple && typeof spec.default === "string" ? [spec.default] : spec.default;
    }
  }
  return new ParsedArgs(withDefaults, parsed.positionals, given);
}

/** The `--help` text of a command. */
export function helpText(command: Command, program = "qeil"): string {
  const lines = [`Usage: ${program} ${command.name} ${command.usage}`.trimEnd(), "", command.summary];
  if (command.description) lines.push("", command.description.trim());
  const rows: [string, string][] = [];
  for (const [name, spec] of Object.entries({ ...command.options, help: HELP_OPTION })) {
    const flag = `${spec.short ? `-${spec.short}, ` : "    "}--${name}${
      spec.type === "string" ? ` ${spec.valueName ?? "VALUE"}` : ""
    }`;
    const def = spec.default !== undefined && spec.type === "string" ? ` (default: ${spec.default})` : "";
    rows.push([flag, spec.description + def]);
  }
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  lines.push("", "Options:");
  for (const [flag, text] of rows) lines.push(`  ${flag.padEnd(width)}${text}`);
  return lines.join("\n") + "\n";
}
