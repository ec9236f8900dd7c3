/**
 * qeil: the composition root. It alone reads argv, the environment and the
 * config file, and wires objects; each command lives in cli/.
 */
import { commands } from "./cli/mod.ts";
import { type Command, type CommandContext, helpText, parseCommandArgs, UsageError } from "./cli/command.ts";
import { describeError, isQeilError } from "./src/core/mod.ts";

/** Version of this build; releases stamp it. */
export const VERSION = "0.1.0";

const encoder = new TextEncoder();

/** Writes all of `text` (a pipe may take a large write in several pieces). */
function writeAllSync(out: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(out.writeSync(bytes));
}

function programHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4) + 2;
  return [
    "qeil: placement-optimised LLM inference for edge boards",
    "",
    "Usage: qeil <command> [options]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Run `qeil <command> --help` for a command's options.",
    "",
  ].join("\n");
}

/** Runs one CLI invocation and returns its exit code (0 ok, 1 failure, 2 usage or config error). */
export async function runCli(argv: readonly string[], ctx: CommandContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    ctx.stdout(programHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "version") {
    ctx.stdout(`qeil ${VERSION}\n`);
    return 0;
  }
  const command: Command | undefined = commands.find((c) => c.name === name);
  if (!command) {
    ctx.stderr(`qeil: unknown command "${name}"\n\n${programHelp()}`);
    return 2;
  }
  try {
    const args = parseCommandArgs(command, rest);
    if (args.flag("help")) {
      ctx.stdout(helpText(command));
      return 0;
    }
    return await command.run(args, ctx);
  } catch (error) {
    if (error instanceof UsageError) {
      ctx.stderr(`qeil ${command.name}: ${error.message}\nRun "qeil ${command.name} --help" for usage.\n`);
      return 2;
    }
    if (isQeilError(error, "Config") || isQeilError(error, "Input")) {
      ctx.stderr(`qeil ${command.name}: ${describeError(error)}\n`);
      return 2;
    }
    ctx.stderr(`qeil ${command.name}: ${describeError(error)}\n`);
    return 1;
  }
}

if (import.meta.main) {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new DOMException("interrupted by signal", "AbortError"));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const code = await runCli(Deno.args, {
    stdout: (text) => writeAllSync(Deno.stdout, text),
    stderr: (text) => writeAllSync(Deno.stderr, text),
    isTerminal: Deno.stdout.isTerminal(),
    env: Deno.env.toObject(),
    signal: controller.signal,
  });
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  Deno.exit(code);
}
