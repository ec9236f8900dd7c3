import assert from "node:assert/strict";
import { DatasetError } from "../../src/core/mod.ts";
import {
  datasetPaths,
  type Gsm8kQuery,
  isModeName,
  isTaskName,
  loadGsm8k,
  loadTaskQueries,
  MODE_NAMES,
  TASK_NAMES,
} from "../../src/eval/mod.ts";

const DATA = new URL("../../../shared/data/", import.meta.url).pathname;

Deno.test("datasetPaths() lays out a data folder like ../shared/data", () => {
  assert.deepEqual(datasetPaths("/data/"), {
    gsm8kTest: "/data/gsm8k/test.jsonl",
    gsm8kTrain: "/data/gsm8k/train.jsonl",
    arcChallengeTest: "/data/arc/ARC-Challenge-Test.jsonl",
    wikitextTest: "/data/wikitext/wiki.test.raw",
  });
});

Deno.test("loadTaskQueries() builds each task's queries in the order asked", async () => {
  const tasks = await loadTaskQueries({
    paths: datasetPaths(DATA),
    tasks: ["arc_challenge", "wikitext", "gsm8k"],
    seed: 3,
    shots: 8,
  });
  assert.deepEqual(tasks.map((t) => [t.task, t.queries.length]), [["arc_challenge", 1172], ["wikitext", 62], [
    "gsm8k",
    1319,
  ]]);
  const arc = tasks[0].queries[0];
  assert.equal(arc.id, "arc_challenge/Mercury_7175875");
  assert.ok(arc.task === "arc_challenge" && arc.continuations.length === 4 && arc.context.endsWith("\nAnswer:"));
  const gsm = tasks[2].queries as readonly Gsm8kQuery[];
  assert.equal(gsm[5].id, "gsm8k/5");
  // Every prompt carries the same 8 exemplars, all from train and none from test.
  const train = await loadGsm8k(`${DATA}gsm8k/train.jsonl`);
  const trainQuestions = new Set(train.map((t) => t.question));
  const testQuestions = new Set(gsm.map((q) => q.item.question));
  const shots = gsm[0].prompt.split("\n\n").slice(0, -1);
  assert.equal(shots.length, 8);
  for (const shot of shots) {
    const question = shot.slice("Question: ".length, shot.indexOf("\nAnswer: "));
    assert.ok(trainQuestions.has(question), question);
    assert.ok(!testQuestions.has(question));
  }
  assert.ok(
    gsm.every((q) =>
      q.prompt.startsWith(shots.join("\n\n")) && q.prompt.endsWith(`Question: ${q.item.question}\nAnswer:`)
    ),
  );
});

Deno.test("loadTaskQueries() reads only the files of the tasks asked for", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-eval-data-" });
  await Deno.mkdir(`${dir}/arc`);
  await Deno.copyFile(`${DATA}arc/ARC-Challenge-Test.jsonl`, `${dir}/arc/ARC-Challenge-Test.jsonl`);
  const [arc] = await loadTaskQueries({ paths: datasetPaths(dir), tasks: ["arc_challenge"], seed: 1 });
  assert.equal(arc.queries.length, 1172);
  await assert.rejects(
    loadTaskQueries({ paths: datasetPaths(dir), tasks: ["gsm8k"], seed: 1 }),
    (e: unknown) =>
      e instanceof DatasetError && e.details.path === `${dir}/gsm8k/test.jsonl` && /no such file/.test(e.message),
  );
});

Deno.test("task and mode names", () => {
  assert.deepEqual([...TASK_NAMES], ["wikitext", "gsm8k", "arc_challenge"]);
  assert.deepEqual([...MODE_NAMES], ["standard", "greedy", "qeil"]);
  assert.ok(isTaskName("gsm8k") && !isTaskName("mmlu") && !isTaskName(3));
  assert.ok(isModeName("qeil") && !isModeName("fast"));
});
