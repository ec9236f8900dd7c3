/**
 * The `plan` command end to end through the CLI entry (cli/plan.ts lives outside src/, so its test sits
 * with the module it drives).
 */
import assert from "node:assert/strict";
import { runCli } from "../../main.ts";

const STORIES = new URL("../../../shared/data/models/stories260k", import.meta.url).pathname;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    isTerminal: false,
    env: {},
    signal: new AbortController().signal,
  });
  return { code, stdout, stderr };
}

/** A Hugging Face config.json with Llama-3.2-1B's dimensions (bf16 checkpoint). */
async function llamaConfig(dir: string): Promise<string> {
  const config = {
    model_type: "llama",
    hidden_size: 2048,
    intermediate_size: 8192,
    num_hidden_layers: 16,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    head_dim: 64,
    vocab_size: 128256,
    max_position_embeddings: 131072,
    tie_word_embeddings: true,
    torch_dtype: "bfloat16",
  };
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
  return dir;
}

const JOB = ["--prompt-tokens", "128", "--gen-tokens", "64", "--samples", "8", "--max-evaluations", "600"];

Deno.test("plan --json prints the front, the choice and both baselines with predictions", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-plan-" });
  try {
    await llamaConfig(dir);
    const { code, stdout, stderr } = await cli([
      "plan",
      "--board",
      "rk3588",
      "--model",
      dir,
      "--precision",
      "int4",
      ...JOB,
      "--json",
    ]);
    assert.equal(code, 0, stderr);
    const r = JSON.parse(stdout);
    assert.equal(r.board.profile, "rk3588");
    assert.equal(r.model.shape.layers, 16);
    assert.equal(r.model.shape.weightPrecision, "int4");
    assert.equal(r.policy, "efficient");
    assert.ok(r.front.length > 0 && r.front.every((x: { feasible: boolean }) => x.feasible));
    // The default policy: the least energy among the front members no slower than the standard placement.
    const within = r.front.filter((x: { latencyMs: number }) => x.latencyMs <= r.standard.latencyMs);
    assert.equal(r.chosen.key, within[0].key);
    assert.equal(r.standard.placement.prefillUnit, "cpu_big");
    for (const x of [r.chosen, r.standard, r.greedy]) {
      assert.ok(x.energyJ > 0 && x.latencyMs > 0 && x.underutilization >= 0 && x.underutilization <= 1);
      assert.equal(typeof x.peakTempC, "object");
    }
    if (r.standard.feasible) assert.ok(r.chosen.energyJ <= r.standard.energyJ);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plan prints a table for a real model folder (llama2.c config of stories260k)", async () => {
  const { code, stdout, stderr } = await cli([
    "plan",
    "--board",
    "jetson-orin-nano",
    "--model",
    STORIES,
    ...JOB,
    "--policy",
    "balanced",
  ]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /llama \(5 layers, fp32\) from .*stories260k\/config\.json on jetson-orin-nano/);
  assert.match(stdout, /^chosen +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +yes +prefill /m);
  assert.match(stdout, /^standard .* prefill gpu \| gpu\[0,5\) x8/m);
  assert.match(stdout, /chosen vs standard: energy x[\d.]+, latency x[\d.]+/);
  assert.match(stdout, /policy balanced/);
});

Deno.test("plan --board sim:PROFILE calibrates against a simulated board and plans for its state", async () => {
  const { code, stdout, stderr } = await cli(["plan", "--board", "sim:rk3588", "--model", STORIES, ...JOB, "--json"]);
  assert.equal(code, 0, stderr);
  const r = JSON.parse(stdout);
  assert.equal(r.board.source, "simulator");
  assert.deepEqual(r.board.state.healthyUnits, ["cpu_big", "cpu_little", "gpu", "npu"]);
  // Zone temperatures come from the simulated sysfs tree: near ambient on an idle board, not empty.
  const temps = Object.values(r.board.state.tempsC) as number[];
  assert.ok(temps.length > 0 && temps.every((t) => t > 15 && t < 60), JSON.stringify(r.board.state.tempsC));
  assert.ok(r.board.state.memAvailableBytes > 1e9);
  assert.ok(Object.keys(r.board.state.maxFreqHz).length === 4);
  assert.ok(r.front.length > 0 && r.chosen.feasible);
  // The model was calibrated against the simulated board first; its error on held-out jobs is reported.
  const { before, after } = r.board.calibration;
  assert.ok(after.energyMapePct < 10 && after.latencyMapePct < 10, JSON.stringify(r.board.calibration));
  assert.ok(after.latencyMapePct < before.latencyMapePct, JSON.stringify(r.board.calibration));
});

Deno.test("plan refuses bad boards, missing configs and impossible jobs with clear errors", async () => {
  const unknown = await cli(["plan", "--board", "pdp11", "--model", STORIES, ...JOB]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown board profile "pdp11"; known profiles: rk3588/);

  const sim = await cli(["plan", "--board", "sim:generic", "--model", STORIES, ...JOB]);
  assert.equal(sim.code, 2);
  assert.match(sim.stderr, /--board sim:generic: no such simulated board; choose one of rk3588/);
  const simMem = await cli(["plan", "--board", "sim:rk3588", "--model", STORIES, "--mem-available-mb", "900", ...JOB]);
  assert.equal(simMem.code, 2);
  assert.match(simMem.stderr, /--mem-available-mb cannot be combined with --board sim:PROFILE/);

  const dir = await Deno.makeTempDir({ prefix: "qeil-plan-" });
  try {
    const missing = await cli(["plan", "--board", "rk3588", "--model", dir, ...JOB]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /holds neither config\.json nor genai_config\.json/);
    await llamaConfig(dir);
    const tiny = await cli(["plan", "--board", "rk3588", "--model", dir, "--mem-available-mb", "100", ...JOB]);
    assert.equal(tiny.code, 1);
    assert.match(tiny.stderr, /no feasible placement among \d+ evaluated; the least violating one fails: .*memory/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  const usage = await cli(["plan", "--board", "rk3588", "--model", STORIES, "--prompt-tokens", "0"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--prompt-tokens must be >= 1/);
  const policy = await cli(["plan", "--board", "rk3588", "--model", STORIES, ...JOB, "--policy", "cheapest"]);
  assert.equal(policy.code, 2);
  assert.match(policy.stderr, /--policy must be one of energy, latency, balanced/);
});
