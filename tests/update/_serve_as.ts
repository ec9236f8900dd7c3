/**
 * `qeil serve` as another build: `deno run -A --unstable-net _serve_as.ts
 * VERSION serve [flags]` runs this repository's `qeil serve` claiming to be
 * VERSION, the way a release in an update slot would be a newer build. Exit
 * codes as main.ts gives them (2 for a config or usage error, 1 for another
 * failure, the service's own otherwise).
 */
// main.ts first, as when qeil runs: cli/serve.ts and main.ts import each other (VERSION, the command list).
import "../../main.ts";
import { createServeCommand } from "../../cli/serve.ts";
import { parseCommandArgs, UsageError } from "../../cli/command.ts";
import { describeError, isQeilError } from "../../src/core/mod.ts";

const [version, name, ...args] = Deno.args;
if (name !== "serve") throw new TypeError(`usage: _serve_as.ts VERSION serve [flags], got ${Deno.args.join(" ")}`);
const command = createServeCommand(version);
const controller = new AbortController();
const onSignal = () => controller.abort(new DOMException("interrupted by signal", "AbortError"));
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);
const encoder = new TextEncoder();
/** Writes all of `text` (a pipe may take a large write in several pieces). */
function writeAll(out: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(out.writeSync(bytes));
}
let code: number;
try {
  code = await command.run(parseCommandArgs(command, args), {
    stdout: (text) => writeAll(Deno.stdout, text),
    stderr: (text) => writeAll(Deno.stderr, text),
    isTerminal: false,
    env: Deno.env.toObject(),
    signal: controller.signal,
  });
} catch (error) {
  writeAll(Deno.stderr, `qeil serve (as ${version}): ${describeError(error)}\n`);
  code = error instanceof UsageError || isQeilError(error, "Config") || isQeilError(error, "Input") ? 2 : 1;
}
Deno.exit(code);
