/**
 * `qeil eval` end to end through the CLI: a simulated rk3588 with stories260k
 * charged for a small declared shape (fast), one query per task, `--json`
 * and `--out`; a real board from a copied fixture tree; bad arguments.
 */
import assert from "node:assert/strict";
import { runCli } from "../../main.ts";
import { MODE_NAMES, TASK_NAMES } from "../../src/eval/mod.ts";
import { findAll, parseXml } from "./xml_check.ts";

const DATA = new URL("../../../shared/data/", import.meta.url).pathname;
const STORIES = `${DATA}models/stories260k`;
const FIXTURES = new URL("../fixtures/sysfs/", import.meta.url).pathname;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(["eval", ...args], {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    isTerminal: false,
    env: {},
    signal: new AbortController().signal,
  });
  return { code, stdout, stderr };
}

const COMMON = ["accuracy", "passAtK", "energyJ", "joulesPerQuery", "avgPowerW", "latencyP50Ms", "latencyP95Ms"]
  .concat(["ipw", "ipj", "samplesMean", "throttleEvents", "faultsInjected", "faultsRecovered"]);
const TASK_METRICS: Record<string, string[]> = {
  wikitext: ["word_perplexity", "byte_perplexity", "bits_per_byte"],
  gsm8k: ["exact_match,strict-match", "exact_match,flexible-extract"],
  arc_challenge: ["acc", "acc_norm"],
};

/** A small Llama shape: the simulated board is charged for something, quickly. */
const SMALL_SHAPE = {
  _name: "small llama",
  model_type: "llama",
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  vocab_size: 32000,
  max_position_embeddings: 2048,
  qeil_weight_precision: "int8",
};

Deno.test("qeil eval --json prints the report object and --out writes report.json, report.md and the SVG plots", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-eval-cli-" });
  try {
    const shapePath = `${dir}/small.json`;
    await Deno.writeTextFile(shapePath, JSON.stringify(SMALL_SHAPE));
    const out = `${dir}/report`;
    const { code, stdout, stderr } = await cli([
      "--board",
      "sim:rk3588",
      "--model",
      STORIES,
      "--cost-shape",
      shapePath,
      "--tasks",
      "wikitext,gsm8k,arc_challenge",
      "--limit",
      "1",
      "--samples",
      "2",
      "--seed",
      "3",
      "--out",
      out,
      "--json",
    ]);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout);
    assert.deepEqual(Object.keys(report), ["board", "model", "costShape", "tasks"]);
    assert.equal(report.board, "sim:rk3588");
    assert.equal(report.model, "stories260k");
    assert.deepEqual(
      { source: report.costShape.source, name: report.costShape.name, layers: report.costShape.layers },
      { source: "file", name: "small llama", layers: 4 },
    );
    assert.deepEqual(Object.keys(report.tasks), [...TASK_NAMES]);
    for (const task of TASK_NAMES) {
      assert.deepEqual(Object.keys(report.tasks[task]), ["modes"]);
      assert.deepEqual(Object.keys(report.tasks[task].modes), [...MODE_NAMES]);
      for (const mode of MODE_NAMES) {
        const row = report.tasks[task].modes[mode];
        assert.deepEqual(Object.keys(row).sort(), [...COMMON, ...TASK_METRICS[task]].sort(), `${task} ${mode}`);
        assert.ok(
          row.energyJ > 0 && row.latencyP50Ms > 0 && row.avgPowerW > 0,
          `${task} ${mode}: ${JSON.stringify(row)}`,
        );
      }
    }
    assert.ok(report.tasks.wikitext.modes.qeil.word_perplexity > 1);
    // stories260k's perplexity is the same whichever unit was charged.
    assert.equal(
      report.tasks.wikitext.modes.standard.word_perplexity,
      report.tasks.wikitext.modes.qeil.word_perplexity,
    );

    const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    for (const f of ["report.json", "report.md", "energy_accuracy.svg", "power.svg", "temperature.svg"]) {
      assert.ok(names.includes(f), `${f} in ${names}`);
    }
    assert.ok(names.some((n) => /^pareto_.*\.svg$/.test(n)), `a Pareto plot in ${names}`);
    for (const svg of names.filter((n) => n.endsWith(".svg"))) {
      const root = parseXml(await Deno.readTextFile(`${out}/${svg}`));
      assert.equal(root.name, "svg", svg);
      assert.ok(findAll(root, (e) => e.name === "title").length >= 1, `${svg} has a title`);
    }
    const file = JSON.parse(await Deno.readTextFile(`${out}/report.json`));
    assert.deepEqual(file.tasks, report.tasks);
    assert.equal(file.settings.calibration.source, "calibration-workload");
    assert.equal(file.settings.board.latencyClock, "simulated-device");
    assert.equal(file.settings.samplesK, 2);
    assert.equal(file.settings.seed, 3);
    assert.equal(file.settings.fewShot, 0, "stories260k's 512-token context takes no GSM8K exemplar");
    assert.ok(file.targets.some((t: { id: string; scope: string }) => t.id === "energy" && t.scope === "all"));
    const md = await Deno.readTextFile(`${out}/report.md`);
    assert.match(md, /\| metric \| standard \| greedy \| qeil \| greedy \/ standard \| qeil \/ standard \|/);
    assert.match(md, /calibrated on this board before the run/);
    assert.match(md, /!\[.*\]\(energy_accuracy\.svg\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("qeil eval on a real board (a copied fixture tree) runs on its CPU backend and prints the table", async () => {
  const root = await Deno.makeTempDir({ prefix: "qeil-eval-real-" });
  try {
    // The generic fixture's first cluster is CPUs 0-1, which every CI host has.
    await new Deno.Command("cp", { args: ["-r", `${FIXTURES}generic/.`, root] }).output();
    const { code, stdout, stderr } = await cli([
      "--board",
      "generic",
      "--root",
      root,
      "--model",
      STORIES,
      "--tasks",
      "arc_challenge",
      "--limit",
      "1",
      "--modes",
      "standard,qeil",
      "--samples",
      "2",
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /board generic, model stories260k, cost shape stories260k \(model\)/);
    assert.match(stdout, /^arc_challenge$/m);
    assert.match(stdout, /^\s*standard\s+\S+/m);
    assert.match(stdout, /^\s*qeil\s+\S+/m);
    assert.match(stdout, /arc_challenge answered: MET/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("qeil eval names what is wrong with bad arguments and exits 2", async () => {
  const model = ["--model", STORIES];
  const cases: [string[], RegExp][] = [
    [[...model], /--board is required/],
    [["--board", "sim:nope", ...model], /no simulated board "nope"/],
    [["--board", "nope", ...model], /unknown board profile/],
    [["--board", "sim:rk3588"], /--model is required/],
    [["--board", "rk3588", "--cost-shape", "x.json", ...model], /--cost-shape is for simulated boards/],
    [["--board", "rk3588", "--inject-faults", ...model], /--inject-faults needs a simulated board/],
    [["--board", "sim:rk3588", "--root", "/", ...model], /--root is for a real board/],
    [["--board", "sim:rk3588", "--tasks", "wikitext,mmlu", ...model], /--tasks: unknown name "mmlu"/],
    [["--board", "sim:rk3588", "--tasks", "gsm8k,gsm8k", ...model], /--tasks names "gsm8k" twice/],
    [["--board", "sim:rk3588", "--modes", ",", ...model], /--modes is empty/],
    [["--board", "sim:rk3588", "--modes", "qeil,fast", ...model], /--modes: unknown name "fast"/],
    [["--board", "sim:rk3588", "--limit", "0", ...model], /--limit must be >= 1/],
    [["--board", "sim:rk3588", "--samples", "0", ...model], /--samples must be >= 1/],
    [["--board", "sim:rk3588", "--samples", "2.5", ...model], /--samples must be an integer/],
    [["--board", "sim:rk3588", "--seed=-1", ...model], /--seed must be >= 0/],
    [["--board", "sim:rk3588", "--bogus", ...model], /bogus/],
    [["--board", "sim:rk3588", "--cost-shape", "/nonexistent/shape.json", ...model], /shape\.json does not exist/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await cli(args);
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, message, args.join(" "));
  }
});

Deno.test("qeil eval fails naming the folder when the model or the dataset is missing", async () => {
  const missingModel = await cli(["--board", "sim:rk3588", "--model", "/nonexistent/model"]);
  assert.notEqual(missingModel.code, 0);
  assert.match(missingModel.stderr, /\/nonexistent\/model/);
  const missingData = await cli(["--board", "sim:rk3588", "--model", STORIES, "--data", "/nonexistent/data"]);
  assert.notEqual(missingData.code, 0);
  assert.match(missingData.stderr, /\/nonexistent\/data/);
});
