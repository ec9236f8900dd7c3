/**
 * `qeil serve`: the appliance service. Reads the config file (`--config`, else
 * /etc/qeil/config.json when present), then `QEIL_*` environment variables,
 * then the flags; with none of them it runs a simulated rk3588 with the
 * embedded MQTT broker and the embedded tiny model. Runs until SIGTERM or
 * SIGINT, then drains and stops (exit 0); a fleet update (or a rollback) that
 * switched the installed version drains and exits with `RESTART_EXIT_CODE`
 * (75), which systemd/qeil.service restarts. Every start is first counted for
 * the fleet updater, before anything else of the config is parsed: a new
 * version that used up its starts is rolled back there and exits 75 at once.
 */
import type { Command, CommandContext } from "./command.ts";
import { ConfigError, createLogger, describeError, type Logger } from "../src/core/mod.ts";
import {
  bootConfigOf,
  configReference,
  countServiceBoot,
  createService,
  parseConfig,
  type ParseConfigOptions,
  type RawValue,
  RESTART_EXIT_CODE,
  SERVE_FLAG_KEYS,
  type ServiceConfig,
} from "../src/service/mod.ts";
import { VERSION } from "../main.ts";

/** The config file read when `--config` is not given (if it exists). */
export const DEFAULT_CONFIG_FILE = "/etc/qeil/config.json";

/** Reads and parses a config file. @throws ConfigError naming the file */
async function readConfigFile(path: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!required && error instanceof Deno.errors.NotFound) return undefined;
    throw new ConfigError(`config: cannot read ${path}: ${describeError(error)}`, {
      cause: error,
      details: { field: "config", path },
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config: ${path} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
      details: { field: "config", path },
    });
  }
}

/** The file layer (parsed JSON, `undefined` without a file) and the flag layer of the service config. */
export interface ServeLayers {
  file: unknown;
  flags: Record<string, RawValue>;
}

/** Reads the config file and collects the flags of `values`. @throws ConfigError naming the file */
export async function readServeLayers(values: Readonly<Record<string, string | undefined>>): Promise<ServeLayers> {
  const file = values.config !== undefined
    ? await readConfigFile(values.config, true)
    : await readConfigFile(DEFAULT_CONFIG_FILE, false);
  const flags: Record<string, RawValue> = {};
  for (const [flag, key] of Object.entries(SERVE_FLAG_KEYS)) {
    if (values[flag] !== undefined) flags[key] = values[flag];
  }
  return { file, flags };
}

function parseOptions(): ParseConfigOptions {
  return { cwd: Deno.cwd(), hostname: Deno.hostname() };
}

/** The service config from the file, the environment and the flags of `args`. */
export async function loadServeConfig(
  values: Readonly<Record<string, string | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
): Promise<ServiceConfig> {
  const layers = await readServeLayers(values);
  return parseConfig(layers.file, env, layers.flags, parseOptions());
}

/**
 * `qeil serve` as a command of the build `version` (the fleet updater's boot count and the MQTT status
 * need it; a function is read when the command runs).
 */
export function createServeCommand(version: string | (() => string)): Command {
  return {
    name: "serve",
    summary: "Run the appliance service (MQTT, HTTP, orchestrator)",
    usage: SERVE_USAGE,
    description: SERVE_DESCRIPTION,
    options: SERVE_OPTIONS,
    async run(args, ctx) {
      if (args.flag("print-config-reference")) {
        ctx.stdout(configReference() + "\n");
        return 0;
      }
      const values: Record<string, string | undefined> = {};
      for (const name of ["config", ...Object.keys(SERVE_FLAG_KEYS)]) values[name] = args.string(name);
      const layers = await readServeLayers(values);
      // The start is counted before the rest of the config is even parsed, and before the board, the
      // model and the broker: a new version that fails anywhere in its start-up is still rolled back.
      const boot = bootConfigOf(layers.file, ctx.env, layers.flags, parseOptions());
      const bootLog = loggerFor(boot.log, ctx);
      const build = typeof version === "function" ? version() : version;
      const counted = await countServiceBoot(boot, build, bootLog);
      if (counted.kind === "restart-required") return RESTART_EXIT_CODE;
      const config = parseConfig(layers.file, ctx.env, layers.flags, parseOptions());
      const service = await createService(config, {
        version: build,
        env: ctx.env,
        logger: loggerFor(config.log, ctx),
        signal: ctx.signal,
      });
      const exit = await service.stopped;
      return exit.exitCode;
    },
  };
}

function loggerFor(log: ServiceConfig["log"], ctx: CommandContext): Logger {
  return createLogger({ level: log.level, format: log.format, sink: (line) => ctx.stderr(line + "\n") });
}

const SERVE_USAGE = "[--config FILE] [--broker mqtt://HOST:PORT] [--node-id ID] [--board PROFILE|sim:PROFILE] " +
  "[--model DIR] [--http-port N] [--state-dir DIR] [--print-config-reference]";

const SERVE_DESCRIPTION = `
Starts the service: discovers the board (or simulates one and reads it through the HAL), loads the
model, connects to the MQTT broker (or embeds one on 127.0.0.1:1883), serves the HTTP API, and runs
every request through the planner, the board's units and the verification cascade. Flags override
the config file and QEIL_* environment variables. With no arguments: a simulated rk3588, the
embedded broker and the embedded tiny model. Stops gracefully on SIGTERM (jobs that cannot finish
stay journaled and run after the next start). Writes <state-dir>/service.json once it serves.
After a signed fleet update on MQTT cmd/update is installed (or a new version failed its health gate
and was rolled back) it drains and exits with status 75 so that systemd starts the switched version.
Each start of a new version is counted before anything else runs; once it has started
update.maxBootAttempts times without passing its health gate, the next start switches back to the
previous version and exits 75 at once.`;

const SERVE_OPTIONS: Command["options"] = {
  config: {
    type: "string",
    valueName: "FILE",
    description: `Config file (JSON). Default: ${DEFAULT_CONFIG_FILE} if present.`,
  },
  broker: { type: "string", valueName: "URL", description: "MQTT broker URL, or `embedded`." },
  "node-id": { type: "string", valueName: "ID", description: "Node id (part of every topic)." },
  board: { type: "string", valueName: "BOARD", description: "Board profile, `auto`, or sim:<profile>." },
  model: { type: "string", valueName: "DIR", description: "Model folder. Default: the embedded tiny model." },
  "http-port": { type: "string", valueName: "N", description: "HTTP port (0: any free port)." },
  "state-dir": { type: "string", valueName: "DIR", description: "State folder (journal, boot counter)." },
  "print-config-reference": { type: "boolean", description: "Print every config key, its env name and default." },
};

/** `qeil serve` of this build (VERSION is read at run time: main.ts imports this module while it loads). */
export const serveCommand: Command = createServeCommand(() => VERSION);
