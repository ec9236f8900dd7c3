/**
 * What the evaluation harness itself costs, outside inference: loading the
 * three datasets, grading and aggregating the records of a `--limit 100` run
 * of three tasks in three modes, and writing the report with plots of a
 * 20-minute run sampled every 100 ms. Prints figures; asserts nothing.
 *
 * Usage: deno run -A bench/eval_overhead.ts [DATA_DIR]
 */
import {
  buildReport,
  datasetPaths,
  gradeOutcome,
  loadTaskQueries,
  MODE_NAMES,
  type QueryOutcome,
  type QueryRecord,
  type TelemetryTraces,
  writeReport,
} from "../src/eval/mod.ts";

const dataDir = Deno.args[0] ?? new URL("../../shared/data/", import.meta.url).pathname;

function timed<T>(label: string, fn: () => T): T {
  const t0 = performance.now();
  const out = fn();
  console.log(`${label.padEnd(44)} ${(performance.now() - t0).toFixed(1).padStart(8)} ms`);
  return out;
}

async function timedAsync<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await fn();
  console.log(`${label.padEnd(44)} ${(performance.now() - t0).toFixed(1).padStart(8)} ms`);
  return out;
}

const tasks = await timedAsync(
  "load wikitext + gsm8k (test, train) + arc",
  () => loadTaskQueries({ paths: datasetPaths(dataDir), tasks: ["wikitext", "gsm8k", "arc_challenge"], seed: 1 }),
);

const records: QueryRecord[] = timed("grade 100 queries x 3 tasks x 3 modes", () => {
  const out: QueryRecord[] = [];
  for (const t of tasks) {
    for (const query of t.queries.slice(0, 100)) {
      for (const mode of MODE_NAMES) {
        let outcome: QueryOutcome;
        if (query.task === "wikitext") outcome = { samplesUsed: 1, k: 1, logLikelihood: -3 * query.article.words };
        else if (query.task === "gsm8k") {
          const samples = Array.from(
            { length: 8 },
            (_, i) => ({ index: i, text: `so #### ${i % 3 === 0 ? query.item.gold : i}` }),
          );
          outcome = { samplesUsed: 8, k: 8, answer: query.item.gold, samples };
        } else {
          outcome = {
            samplesUsed: 8,
            k: 8,
            answer: "A",
            choiceLogLikelihoods: query.item.choices.map((_, i) => -1 - i),
          };
        }
        const measured = {
          energyJ: 1,
          perRailJ: { vdd_in: 1 },
          incompleteRails: [],
          totalRails: ["vdd_in"],
          durationMs: 1000,
          throttleEvents: 0,
          samples: 10,
          latencyMs: 1000,
        };
        out.push(gradeOutcome(query, mode, outcome, measured));
      }
    }
  }
  return out;
});

const result = timed(`aggregate ${records.length} records and check targets`, () =>
  buildReport({
    header: {
      board: "sim:rk3588",
      model: "bench",
      costShape: {
        source: "model",
        name: "bench",
        family: "llama",
        layers: 16,
        hiddenSize: 2048,
        weightPrecision: "int4",
      },
    },
    records,
    tasks: ["wikitext", "gsm8k", "arc_challenge"],
    modes: MODE_NAMES,
    settings: { tasks: ["wikitext", "gsm8k", "arc_challenge"], modes: [...MODE_NAMES], order: "williams" },
  }));

const samples = 20 * 60 * 10;
const series = (f: (i: number) => number) => Array.from({ length: samples }, (_, i) => ({ tMs: i * 100, value: f(i) }));
const traces: TelemetryTraces = {
  units: ["cpu_big", "cpu_little", "gpu", "npu"].map((unitId, u) => ({
    unitId,
    powerW: series((i) => 1 + u + Math.sin(i / (50 + u))),
    tempC: series((i) => 40 + 10 * u + 20 * (1 - Math.exp(-i / 4000))),
  })),
  totalPowerW: series((i) => 6 + Math.sin(i / 50)),
  trips: [{ type: "passive", tempC: 85, zones: ["soc-thermal"] }, {
    type: "critical",
    tempC: 115,
    zones: ["soc-thermal"],
  }],
  throttleEventsMs: [],
};
const dir = await Deno.makeTempDir({ prefix: "qeil-bench-eval-" });
const files = await timedAsync(
  `write report + plots (${samples} samples x 5 series)`,
  () => writeReport(dir, result, { traces }),
);
let bytes = 0;
for (const f of files) bytes += (await Deno.stat(`${dir}/${f}`)).size;
console.log(`files ${files.join(", ")}: ${(bytes / 1024).toFixed(0)} KiB`);
await Deno.remove(dir, { recursive: true });
