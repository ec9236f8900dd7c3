/**
 * Cost of one full board read (`Board.read()`: every discovered channel,
 * read concurrently) on the RK3588 fixture tree, and of discovery, printed as
 * JSON. The target is well under 5 ms per read on rk3588's tree.
 *
 *   deno run --allow-read bench/hal_read.ts [--reads N] [--root DIR]
 */
import { parseArgs } from "node:util";
import { discoverBoard } from "../src/hal/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { reads: { type: "string", default: "500" }, root: { type: "string" } },
});
const reads = Number(values.reads);
if (!Number.isInteger(reads) || reads < 10) {
  throw new RangeError(`--reads must be an integer >= 10, got ${values.reads}`);
}
const root = values.root ?? new URL("../tests/fixtures/sysfs/rk3588", import.meta.url).pathname;

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

const discoveryStart = performance.now();
const board = await discoverBoard(root);
const discoveryMs = performance.now() - discoveryStart;

// Warm-up: JIT and the OS page cache.
for (let i = 0; i < 50; i++) await board.read();

// Baseline in the same run: the same files read one after another, synchronously, unparsed.
const paths = [
  ...board.thermalZones.map((z) => `${z.path}/temp`),
  ...board.coolingDevices.flatMap((c) => [`${c.path}/cur_state`, `${c.path}/max_state`]),
  ...board.devfreq.flatMap((d) => ["cur_freq", "min_freq", "max_freq", "governor"].map((f) => `${d.path}/${f}`)),
  ...board.cpufreq.flatMap((p) =>
    ["scaling_cur_freq", "scaling_min_freq", "scaling_max_freq", "scaling_governor"].map((f) => `${p.path}/${f}`)
  ),
  ...new Set(board.units.flatMap((u) => (u.load.kind === "none" ? [] : [u.load.path]))),
  `${board.root}/proc/meminfo`,
];

const timesMs: number[] = [];
const baselineMs: number[] = [];
for (let i = 0; i < reads; i++) {
  const t0 = performance.now();
  await board.read();
  timesMs.push(performance.now() - t0);
  const t1 = performance.now();
  for (const path of paths) Deno.readTextFileSync(path);
  baselineMs.push(performance.now() - t1);
}
timesMs.sort((a, b) => a - b);
baselineMs.sort((a, b) => a - b);
const round = (ms: number) => Math.round(ms * 1000) / 1000;
console.log(JSON.stringify(
  {
    bench: "hal_read",
    board: board.profile.id,
    root,
    reads,
    channels: {
      thermal: board.thermalZones.length,
      coolingDevices: board.coolingDevices.length,
      devfreq: board.devfreq.length,
      cpufreq: board.cpufreq.length,
      rails: board.rails.length,
      loads: board.units.filter((u) => u.load.kind !== "none").length,
      files: paths.length,
    },
    discoveryMs: round(discoveryMs),
    readMs: {
      median: round(quantile(timesMs, 0.5)),
      p95: round(quantile(timesMs, 0.95)),
      min: round(timesMs[0]),
      max: round(timesMs.at(-1)!),
    },
    baselineSyncSequentialRawMs: { median: round(quantile(baselineMs, 0.5)), p95: round(quantile(baselineMs, 0.95)) },
    readOverBaselineMedian: round(quantile(timesMs, 0.5) / quantile(baselineMs, 0.5)),
  },
  null,
  2,
));
