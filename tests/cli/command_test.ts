import assert from "node:assert/strict";
import { type Command, helpText, parseCommandArgs, ParsedArgs, UsageError } from "../../cli/command.ts";

const command: Command = {
  name: "demo",
  summary: "A demo command.",
  usage: "[--seed N] [--json]",
  options: {
    seed: { type: "string", default: "1", description: "Seed.", valueName: "N" },
    root: { type: "string", description: "Root folder.", valueName: "DIR" },
    json: { type: "boolean", description: "JSON output." },
    tasks: { type: "string", description: "Comma-separated tasks." },
  },
  run: () => Promise.resolve(0),
};

Deno.test("parseCommandArgs() fills defaults but has() reports only flags given on the command line", () => {
  const args = parseCommandArgs(command, []);
  assert.equal(args.string("seed"), "1");
  assert.equal(args.has("seed"), false);
  const given = parseCommandArgs(command, ["--seed", "7", "--json"]);
  assert.equal(given.has("seed"), true);
  assert.equal(given.int("seed"), 7);
  assert.equal(given.flag("json"), true);
  assert.equal(given.has("root"), false);
});

Deno.test("parseCommandArgs() rejects unknown flags with a UsageError naming the flag", () => {
  assert.throws(
    () => parseCommandArgs(command, ["--bogus"]),
    (e: unknown) => e instanceof UsageError && /bogus/.test(e.message),
  );
});

Deno.test("ParsedArgs number accessors name the flag and the bound", () => {
  const args = parseCommandArgs(command, ["--seed", "x", "--root=-3"]);
  assert.throws(() => args.int("seed"), /--seed must be an integer, got "x"/);
  assert.throws(() => args.number("root", { min: 0 }), /--root must be >= 0, got -3/);
  assert.throws(() => new ParsedArgs({ n: "2.5" }, []).int("n"), /--n must be an integer/);
  assert.throws(() => args.requireString("tasks"), /--tasks is required/);
});

Deno.test("ParsedArgs.list() and choice() parse and validate", () => {
  const args = parseCommandArgs(command, ["--tasks", "a, b,,c", "--root", "z"]);
  assert.deepEqual(args.list("tasks"), ["a", "b", "c"]);
  assert.throws(() => args.choice("root", ["x", "y"]), /--root must be one of x, y, got "z"/);
});

Deno.test("helpText() lists every option with its default", () => {
  const text = helpText(command);
  assert.match(text, /^Usage: qeil demo \[--seed N\] \[--json\]/);
  assert.match(text, /--seed N\s+Seed\. \(default: 1\)/);
  assert.match(text, /-h, --help/);
});
