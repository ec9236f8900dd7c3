/**
 * `qeil run` and `qeil score` end to end through the CLI entry (cli/run.ts and cli/score.ts live
 * outside src/, so their tests sit with the module they drive).
 */
import assert from "node:assert/strict";
import { runCli } from "../../main.ts";
import { golden, STORIES } from "./_models.ts";

async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    isTerminal: false,
    env,
    signal: new AbortController().signal,
  });
  return { code, stdout, stderr };
}

const GOLDEN_RUN = ["run", "--model", STORIES, "--prompt", "", "--max-tokens", "256", "--temperature", "0"];

Deno.test("qeil run prints golden.json's greedy sample for stories260k, whole and in 3 segments", async () => {
  const expected = golden().greedy_256_steps_text;
  for (const extra of [[], ["--segments", "3"]]) {
    const { code, stdout, stderr } = await cli([...GOLDEN_RUN, ...extra]);
    assert.equal(code, 0, stderr);
    assert.ok(stdout.includes(`--- sample 0: length, 256 tokens`), stdout);
    assert.ok(stdout.includes(`\n${expected}\n`), stdout);
  }
});

Deno.test("qeil run --json reports every sample with tokens and log-probs", async () => {
  const { code, stdout, stderr } = await cli([
    "run",
    "--model",
    STORIES,
    "--prompt",
    "Once upon a time",
    "--samples",
    "3",
    "--max-tokens",
    "12",
    "--seed",
    "5",
    "--top-p",
    "0.9",
    "--top-k",
    "40",
    "--json",
  ]);
  assert.equal(code, 0, stderr);
  const out = JSON.parse(stdout);
  assert.deepEqual(out.samples.map((s: { index: number }) => s.index), [0, 1, 2]);
  for (const s of out.samples) {
    assert.equal(s.tokenIds.length, s.logProbs.length);
    assert.ok(s.tokens <= 12 && s.tokens > 0);
  }
  assert.deepEqual(out.segments, [{ layerStart: 0, layerEnd: 5, backend: "ort-cpu" }]);
});

Deno.test("qeil run without --model builds and uses the embedded tiny model from the cache folder", async () => {
  const cache = await Deno.makeTempDir({ prefix: "qeil-cache-" });
  try {
    const { code, stdout, stderr } = await cli(["run", "--prompt", "Hi", "--max-tokens", "5", "--json"], {
      QEIL_CACHE_DIR: cache,
    });
    assert.equal(code, 0, stderr);
    const out = JSON.parse(stdout);
    assert.ok(out.model.startsWith(cache));
    assert.equal(out.shape.vocabSize, 258);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("qeil run reports usage and model errors with exit codes 2 and 1", async () => {
  const noPrompt = await cli(["run", "--model", STORIES]);
  assert.equal(noPrompt.code, 2);
  assert.match(noPrompt.stderr, /--prompt is required/);
  const badSegments = await cli(["run", "--model", STORIES, "--prompt", "x", "--segments", "9"]);
  assert.equal(badSegments.code, 2);
  assert.match(badSegments.stderr, /--segments must be <= the model's 5 layers/);
  const missing = await cli(["run", "--model", "/nonexistent/model", "--prompt", "x"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\/nonexistent\/model is not a folder/);
});

Deno.test("qeil score prints the golden story's mean NLL and perplexity", async () => {
  const g = golden();
  const json = await cli(["score", "--model", STORIES, "--text", g.text, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const out = JSON.parse(json.stdout);
  assert.equal(out.tokens, 109);
  assert.ok(Math.abs(out.meanNll - g.mean_nll_nats_teacher_forced) < 1e-3);
  assert.ok(Math.abs(out.perplexity - Math.exp(out.meanNll)) < 1e-12);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/story.txt`, g.text);
    const text = await cli(["score", "--model", STORIES, "--file", `${dir}/story.txt`]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /tokens: 109 \(1 windows\)\nmean NLL: 0\.815\d+ nats\/token\nperplexity: 2\.259\d/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("qeil score needs exactly one of --text and --file and names an unreadable file", async () => {
  assert.equal((await cli(["score", "--model", STORIES])).code, 2);
  assert.equal((await cli(["score", "--model", STORIES, "--text", "a", "--file", "b"])).code, 2);
  const missing = await cli(["score", "--model", STORIES, "--file", "/nonexistent/file.txt"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /read --file \/nonexistent\/file\.txt/);
});
