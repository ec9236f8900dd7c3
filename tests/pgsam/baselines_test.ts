import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import { createKnapsack, exhaustive, nonDominatedIndices, type Problem, randomSearch } from "../../src/pgsam/mod.ts";

Deno.test("exhaustive() returns exactly the non-dominated feasible candidates", () => {
  const problem = createKnapsack({ items: 10 });
  const run = exhaustive(problem);
  assert.equal(run.evaluations, 1024);
  // Independent path: evaluate everything, keep the feasible ones, sort.
  const all = [...problem.enumerate!()].map((x) => ({ key: problem.key(x), ...problem.evaluate(x) }));
  const feasible = all.filter((e) => e.feasible);
  const front = nonDominatedIndices(feasible.map((e) => e.objectives)).map((i) => feasible[i].key);
  assert.deepEqual(run.archive.map((s) => s.key).sort(), [...new Set(front)].sort());
  assert.ok(run.archive.length > 5);
});

Deno.test("exhaustive() refuses a problem without an enumerator and a space over its limit", () => {
  const problem = createKnapsack({ items: 10 });
  const { enumerate: _, ...noEnumerate } = problem;
  assert.throws(() => exhaustive(noEnumerate as Problem<readonly boolean[]>), /cannot enumerate/);
  assert.throws(() => exhaustive(problem, { maxCandidates: 100 }), /more than 100 candidates/);
  // An explicit enumerator overrides the problem's.
  assert.equal(exhaustive(problem, {}, () => [problem.random(createRng(1))]).evaluations, 1);
});

Deno.test("randomSearch() spends exactly its evaluation budget and is seeded", () => {
  const problem = createKnapsack({ items: 12 });
  const a = randomSearch(problem, { maxEvaluations: 150 }, createRng(5));
  const b = randomSearch(problem, { maxEvaluations: 150 }, createRng(5));
  assert.equal(a.evaluations, 150);
  assert.equal(a.algorithm, "random");
  assert.deepEqual(a.archive, b.archive);
});
