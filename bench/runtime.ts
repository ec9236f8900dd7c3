/**
 * Decode throughput of the runtime on stories260k at batch 1 and batch 8, and
 * how much wall time the TypeScript loop (sampling, tensor building, KV
 * handling, async hops) adds on top of the time spent awaiting ORT `run()`.
 *
 * Usage: deno run -A bench/runtime.ts [--threads N] [--repeats R] [--tokens T]
 */
import { parseArgs } from "node:util";
import { loadavg } from "node:os";
import { type DecoderModel, generate, loadModel, OrtCpuBackend } from "../src/runtime/mod.ts";

const STORIES = new URL("../../shared/data/models/stories260k", import.meta.url).pathname;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    threads: { type: "string", default: "1" },
    repeats: { type: "string", default: "5" },
    tokens: { type: "string", default: "256" },
  },
});
const threads = Number(values.threads);
const repeats = Number(values.repeats);
const maxTokens = Number(values.tokens);

interface Run {
  tokens: number;
  wallMs: number;
  ortMs: number;
  runs: number;
}

async function once(model: DecoderModel, samples: number, temperature: number, seed: number): Promise<Run> {
  const before = { ...model.stats };
  const t0 = performance.now();
  let tokens = 0;
  for await (const s of generate(model, { prompt: "", samples, maxTokens, temperature, topP: 0.95, seed })) {
    tokens += s.tokenIds.length;
  }
  const wallMs = performance.now() - t0;
  return { tokens, wallMs, ortMs: model.stats.runMs - before.runMs, runs: model.stats.runs - before.runs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

await using model = await loadModel(STORIES, {
  backend: new OrtCpuBackend(threads > 0 ? { threads } : {}),
});
console.log(
  `runtime bench: stories260k, ${maxTokens} new tokens from BOS, intra-op threads ${
    threads > 0 ? threads : "ORT default"
  }, ${repeats} repeats (median), load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`,
);
// Warm-up: first runs pay for ORT's arena growth and JIT.
await once(model, 8, 1, 999);
await once(model, 1, 0, 999);

console.log("mode     batch  tokens/s  wall ms  in ORT run() ms  ORT share  TS loop overhead vs ORT  ORT runs");
for (const [mode, temperature] of [["greedy", 0], ["sampled", 0.8]] as const) {
  for (const batch of [1, 8]) {
    const runs: Run[] = [];
    for (let r = 0; r < repeats; r++) runs.push(await once(model, batch, temperature, r));
    const wall = median(runs.map((r) => r.wallMs));
    const ort = median(runs.map((r) => r.ortMs));
    const tokensPerS = median(runs.map((r) => r.tokens / (r.wallMs / 1000)));
    const overhead = median(runs.map((r) => (r.wallMs - r.ortMs) / r.ortMs));
    const share = median(runs.map((r) => r.ortMs / r.wallMs));
    console.log(
      `${mode.padEnd(8)} ${String(batch).padStart(5)}  ${tokensPerS.toFixed(0).padStart(8)}  ${
        wall.toFixed(1).padStart(7)
      }  ${ort.toFixed(1).padStart(15)}  ${(100 * share).toFixed(1).padStart(8)}%  ${
        (100 * overhead).toFixed(1).padStart(22)
      }%  ${median(runs.map((r) => r.runs)).toFixed(0).padStart(8)}`,
    );
  }
}
console.log(
  "tokens/s counts every generated token of every sample; 'sampled' samples may stop early at EOS/BOS (the batch shrinks).",
);
