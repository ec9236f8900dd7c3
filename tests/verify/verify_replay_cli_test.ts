/**
 * The `verify-replay` command end to end through the CLI entry (cli/verify_replay.ts lives outside src/,
 * so its test sits with the module it drives).
 */
import assert from "node:assert/strict";
import { runCli } from "../../main.ts";

const GSM8K_TEST = new URL("../../../shared/data/gsm8k/test.jsonl", import.meta.url);

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

/**
 * A replay file from 30 real GSM8K test items: each sample is the real solution (right) or the real
 * solution with its final answer changed (wrong). 20 questions start with three right samples, 10 with
 * three wrong ones followed by five right ones.
 */
async function writeReplay(dir: string): Promise<string> {
  const rows = Deno.readTextFileSync(GSM8K_TEST).split("\n").filter((l) => l !== "").slice(0, 30).map((l) =>
    JSON.parse(l) as { answer: string }
  );
  const lines = rows.map((row, i) => {
    const gold = row.answer.split("####")[1].trim().replaceAll(",", "");
    const right = { text: row.answer, meanLogProb: -0.3 };
    const wrong = { text: row.answer.replace(/#### .*$/, `#### ${Number(gold) + 1}`), meanLogProb: -0.6 };
    const samples = i < 20 ? [right, right, right, wrong, wrong, right, right, right] : [
      wrong,
      wrong,
      wrong,
      right,
      right,
      right,
      right,
      right,
    ];
    return JSON.stringify({ id: `gsm8k-test-${i}`, gold: row.answer.split("####")[1].trim(), samples });
  });
  const file = `${dir}/replay.jsonl`;
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  return file;
}

Deno.test("verify-replay --json reports majority, cascade and ESC on a replay of real GSM8K solutions", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-verify-" });
  try {
    const file = await writeReplay(dir);
    const { code, stdout, stderr } = await cli(["verify-replay", "--file", file, "--k", "8", "--json"]);
    assert.equal(code, 0, stderr);
    const r = JSON.parse(stdout);
    assert.equal(r.file, file);
    assert.equal(r.task, "gsm8k");
    assert.equal(r.questions, 30);
    assert.equal(r.k, 8);
    assert.equal(r.majority.accuracy, 1);
    assert.equal(r.majority.meanSamples, 8);
    assert.equal(r.cascade.accuracy, 20 / 30);
    assert.equal(r.cascade.meanSamples, 3);
    assert.equal(r.cascade.samplesRatio, 3 / 8);
    assert.deepEqual(r.cascade.stopReasons, { unanimous: 30, confident: 0, budget: 0 });
    assert.equal(r.cascade.options.tau, 0.95);
    assert.equal(r.esc.window, 5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verify-replay prints a table and honours --tau, --min-samples and --evidence", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-verify-" });
  try {
    const file = await writeReplay(dir);
    const { code, stdout } = await cli([
      "verify-replay",
      "--file",
      file,
      "--k",
      "8",
      "--tau",
      "0.99",
      "--min-samples",
      "4",
      "--evidence",
      "reliability",
      "--horizon",
      "budget",
    ]);
    assert.equal(code, 0);
    assert.match(
      stdout,
      /^verify-replay: 30 questions from .*replay\.jsonl \(task gsm8k, k 8, tau 0\.99, n_min 4, evidence reliability, horizon budget,/,
    );
    assert.match(stdout, /^majority@8 +100\.00% ± 0\.00 +8\.00 +1\.000/m);
    assert.match(stdout, /^cascade +/m);
    assert.match(stdout, /^esc \(w=5\) +/m);
    assert.match(stdout, /cascade stops: unanimous \d+, confident \d+, budget \d+/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verify-replay names the file and line of a bad line and fails", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-verify-" });
  try {
    const file = `${dir}/bad.jsonl`;
    await Deno.writeTextFile(
      file,
      `{"id": 1, "gold": "3", "samples": [{"answer": "3", "meanLogProb": -1}]}\n{"id": 2, "gold": "3"}\n`,
    );
    const { code, stderr } = await cli(["verify-replay", "--file", file]);
    assert.equal(code, 1);
    assert.equal(stderr, `qeil verify-replay: ${file}:2: samples must be a non-empty array\n`);
    const missing = await cli(["verify-replay", "--file", `${dir}/nope.jsonl`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /read replay file .*nope\.jsonl: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verify-replay rejects bad flags with a usage error", async () => {
  for (
    const [args, pattern] of [
      [[], /--file is required/],
      [["--file", "x", "--tau", "0.3"], /--tau must be >= 0.5/],
      [["--file", "x", "--tau", "0.5"], /--tau must be above 0.5/],
      [["--file", "x", "--k", "0"], /--k must be >= 1/],
      [["--file", "x", "--task", "mmlu"], /--task must be one of gsm8k, arc_challenge, text/],
      [["--file", "x", "--temperature", "0"], /--temperature must be a number > 0 or "auto", got "0"/],
      [["--file", "x", "--temperature", "warm"], /--temperature must be a number, got "warm"/],
      [["--file", "x", "--min-samples", "20"], /--min-samples must be <= 16/],
      [["--file", "x", "--horizon", "never"], /--horizon must be one of unbounded, budget/],
    ] as [string[], RegExp][]
  ) {
    const { code, stderr } = await cli(["verify-replay", ...args]);
    assert.equal(code, 2, args.join(" "));
    assert.match(stderr, pattern);
  }
});
