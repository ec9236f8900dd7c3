import assert from "node:assert/strict";
import {
  hypervolumeStagnation,
  maxEvaluations,
  maxSteps,
  type SearchStatus,
  type Solution,
  timeBudget,
} from "../../src/pgsam/mod.ts";

const status = (evaluations: number, steps: number, fronts: number[][] = []): SearchStatus => ({
  evaluations,
  steps,
  archive: fronts.map((objectives, i): Solution<unknown> => ({
    x: i,
    key: String(i),
    objectives,
    feasible: true,
    violation: 0,
  })),
});

Deno.test("maxEvaluations() and maxSteps() report progress as a share of their budget", () => {
  assert.equal(maxEvaluations(200).update(status(50, 70)), 0.25);
  assert.equal(maxSteps(100).update(status(50, 70)), 0.7);
  assert.equal(maxEvaluations(200).kind, "budget");
  assert.throws(() => maxEvaluations(0), /must be a positive number/);
});

Deno.test("timeBudget() measures from its first update on the injected clock", () => {
  let nowMs = 1000;
  const t = timeBudget(50, () => nowMs);
  assert.equal(t.update(status(0, 0)), 0);
  nowMs = 1025;
  assert.equal(t.update(status(1, 1)), 0.5);
  nowMs = 1050;
  assert.equal(t.update(status(2, 2)), 1);
});

Deno.test("hypervolumeStagnation() reaches 1 only after a window without hypervolume gain", () => {
  const t = hypervolumeStagnation({ windowSteps: 100, checkEverySteps: 10 });
  assert.equal(t.kind, "convergence");
  const front = [[1, 3], [3, 1]];
  assert.equal(t.update(status(0, 0, front)), 0);
  // Same front: no gain, progress grows.
  assert.equal(t.update(status(50, 50, front)), 0.5);
  // A better front resets the window.
  const better = [[1, 3], [2, 2], [3, 1]];
  assert.equal(t.update(status(60, 60, better)), 0);
  assert.equal(t.update(status(159, 159, better)), 0.99);
  assert.equal(t.update(status(160, 160, better)), 1);
});

Deno.test("termination progress never exceeds 1", () => {
  assert.equal(maxEvaluations(10).update(status(25, 30)), 1);
  assert.equal(maxSteps(10).update(status(5, 30)), 1);
  let nowMs = 0;
  const t = timeBudget(10, () => nowMs);
  t.update(status(0, 0));
  nowMs = 500;
  assert.equal(t.update(status(0, 1)), 1);
});
