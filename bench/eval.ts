/**
 * The demonstration of issue 7: `qeil eval` on simulated rk3588 and
 * jetson-orin-nano with stories260k charged for an int4 Llama-3.2-1B, all
 * three tasks, each board timed (wall clock) as a child process, then the
 * same with `--inject-faults`. Prints each run's wall time next to the 20
 * minute budget, the J/query, p50 latency and accuracy of every mode, and the
 * target checks; each report is written under `--out` (report.json, report.md,
 * SVG plots). Asserts nothing.
 *
 * `--runs` picks the runs per board: `default` (the CLI as a child), `faults`
 * (the same with `--inject-faults`) and `frozen` (in process, qeil's physics
 * kept as calibrated before the run, no online refit: shows what the online
 * calibration adds or costs).
 *
 * Usage: deno run -A --unstable-net bench/eval.ts [--limit 100] [--boards rk3588,jetson-orin-nano]
 *          [--runs default,faults,frozen] [--out DIR]
 */
import { parseArgs } from "node:util";
import { parseCommandArgs } from "../cli/command.ts";
import { evalCommand, parseEvalArgs, runEval } from "../cli/eval.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    limit: { type: "string", default: "100" },
    boards: { type: "string", default: "rk3588,jetson-orin-nano" },
    runs: { type: "string", default: "default,faults" },
    out: { type: "string", default: "out/eval" },
    seed: { type: "string", default: "0" },
  },
});
const ROOT = new URL("..", import.meta.url).pathname;
const MODEL = new URL("../../shared/data/models/stories260k", import.meta.url).pathname;
const COST = new URL("../tests/fixtures/cost-shapes/llama-3.2-1b-int4.json", import.meta.url).pathname;
const BUDGET_S = 20 * 60;

interface Row {
  joulesPerQuery: number | null;
  latencyP50Ms: number;
  accuracy: number | null;
  samplesMean: number;
  throttleEvents: number;
  faultsInjected: number;
  faultsRecovered: number;
}

function evalArgs(board: string, out: string, faults: boolean): string[] {
  return [
    "--board",
    `sim:${board}`,
    "--model",
    MODEL,
    "--cost-shape",
    COST,
    "--tasks",
    "wikitext,gsm8k,arc_challenge",
    "--limit",
    values.limit!,
    "--seed",
    values.seed!,
    "--out",
    out,
    "--json",
    ...(faults ? ["--inject-faults"] : []),
  ];
}

/** The CLI as a child process, timed. */
async function runChild(board: string, faults: boolean): Promise<void> {
  const out = `${values.out}/${board}${faults ? "-faults" : ""}`;
  const args = ["run", "-A", "--unstable-net", `${ROOT}main.ts`, "eval", ...evalArgs(board, out, faults)];
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "inherit" }).spawn();
  const { code, stdout } = await child.output();
  await show(`sim:${board}${faults ? " --inject-faults" : ""}`, code, performance.now() - started, stdout, out);
}

/** The same command in process, with qeil's physics kept as calibrated before the run. */
async function runFrozen(board: string): Promise<void> {
  const out = `${values.out}/${board}-frozen`;
  let stdout = "";
  const started = performance.now();
  const code = await runEval(parseEvalArgs(parseCommandArgs(evalCommand, evalArgs(board, out, false))), {
    stdout: (t) => (stdout += t),
    stderr: (t) => Deno.stderr.writeSync(new TextEncoder().encode(t)),
    isTerminal: false,
    env: {},
    signal: new AbortController().signal,
  }, { onlineCalibration: false });
  await show(`sim:${board} (physics kept as calibrated)`, code, performance.now() - started, stdout, out);
}

async function show(title: string, code: number, wallMs: number, stdout: Uint8Array | string, out: string) {
  const wallS = wallMs / 1000;
  console.log(
    `\n== ${title}: exit ${code}, wall ${wallS.toFixed(0)} s ` +
      `(${wallS <= BUDGET_S ? "within" : "OVER"} the ${BUDGET_S / 60} min budget); report in ${out}`,
  );
  if (code !== 0) return;
  const report = JSON.parse(typeof stdout === "string" ? stdout : new TextDecoder().decode(stdout));
  const fmt = (x: number | null, digits = 3) => (x === null ? "n/a" : Number(x.toPrecision(digits)).toString());
  for (const [task, t] of Object.entries(report.tasks as Record<string, { modes: Record<string, Row> }>)) {
    console.log(`  ${task}`);
    for (const [mode, r] of Object.entries(t.modes)) {
      console.log(
        `    ${mode.padEnd(9)} ${fmt(r.joulesPerQuery).padStart(8)} J/query  p50 ${
          fmt(r.latencyP50Ms).padStart(8)
        } ms  accuracy ${r.accuracy === null ? "n/a" : (r.accuracy * 100).toFixed(1) + "%"}  samples ${
          fmt(r.samplesMean)
        }  throttle ${r.throttleEvents}  faults ${r.faultsRecovered}/${r.faultsInjected}`,
      );
    }
  }
  const file = JSON.parse(await Deno.readTextFile(`${out}/report.json`));
  for (const c of file.targets as { scope: string; id: string; status: string; figures: string }[]) {
    if (c.scope === "all" || c.status === "not met") console.log(`  ${c.scope} ${c.id}: ${c.status}: ${c.figures}`);
  }
}

const runs = values.runs!.split(",");
const unknown = runs.filter((r) => !["default", "faults", "frozen"].includes(r));
if (unknown.length > 0) throw new RangeError(`--runs: unknown run(s) ${unknown.join(", ")} (default, faults, frozen)`);
for (const board of values.boards!.split(",")) {
  if (runs.includes("default")) await runChild(board, false);
  if (runs.includes("faults")) await runChild(board, true);
  if (runs.includes("frozen")) await runFrozen(board);
}
