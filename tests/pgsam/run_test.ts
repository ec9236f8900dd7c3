import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import {
  hypervolumeStagnation,
  maxEvaluations,
  maxSteps,
  minimize,
  type Problem,
  RandomSearch,
} from "../../src/pgsam/mod.ts";

function tinyProblem(calls: { n: number }): Problem<number> {
  return {
    objectiveCount: 2,
    evaluate(x) {
      calls.n++;
      return { objectives: [x, 4 - x], feasible: true, violation: 0 };
    },
    random: (rng) => rng.int(5),
    moves: [{ name: "step", numeric: true, apply: (x, _r, d) => x + d }],
    key: (x) => String(x),
  };
}

Deno.test("minimize() evaluates each candidate once and answers repeats from its cache", () => {
  const calls = { n: 0 };
  const problem = tinyProblem(calls);
  const run = minimize(problem, new RandomSearch(problem, {}, createRng(1)), [maxEvaluations(100), maxSteps(200)]);
  // Five candidates exist: the evaluation budget cannot be spent, the step budget stops the run.
  assert.equal(calls.n, 5);
  assert.equal(run.evaluations, 5);
  assert.equal(run.steps, 200);
  assert.equal(run.stoppedBy, "maxSteps");
  assert.equal(run.archive.length, 5);
});

Deno.test("minimize() records history rows and always the last step", () => {
  const problem = tinyProblem({ n: 0 });
  const run = minimize(problem, new RandomSearch(problem, {}, createRng(1)), [maxSteps(250)], {
    historyEverySteps: 100,
  });
  assert.deepEqual(run.history.map((h) => h.steps), [100, 200, 250]);
});

Deno.test("minimize() needs a budget criterion and honours an aborted signal", () => {
  const problem = tinyProblem({ n: 0 });
  assert.throws(
    () => minimize(problem, new RandomSearch(problem, {}, createRng(1)), [hypervolumeStagnation()]),
    /at least one budget criterion/,
  );
  const controller = new AbortController();
  controller.abort(new Error("stop now"));
  assert.throws(
    () => minimize(problem, new RandomSearch(problem, {}, createRng(1)), [maxSteps(10)], { signal: controller.signal }),
    /stop now/,
  );
});
