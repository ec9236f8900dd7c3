import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import { createDiscreteDtlz2, createKnapsack, exhaustive } from "../../src/pgsam/mod.ts";

Deno.test("createDiscreteDtlz2() puts its exhaustive front on the unit sphere", () => {
  const problem = createDiscreteDtlz2({ levels: 5, distanceVariables: 2 });
  const front = exhaustive(problem).archive;
  // Position levels 5 x 5 with distance variables at 0.5, minus duplicates where cos(pi/2) folds the octant edge.
  assert.ok(front.length >= 17 && front.length <= 25, `front ${front.length}`);
  for (const s of front) {
    const r2 = s.objectives.reduce((a, v) => a + v * v, 0);
    assert.ok(Math.abs(r2 - 1) < 1e-12, `${s.key}: |f|^2 = ${r2}`);
  }
});

Deno.test("createDiscreteDtlz2() evaluates a hand-computed point", () => {
  const problem = createDiscreteDtlz2({ levels: 3, distanceVariables: 1 });
  // x = (0, 0, 1): g = 0.25, f = 1.25 * (cos 0 cos 0, cos 0 sin 0, sin 0).
  assert.deepEqual(problem.evaluate([0, 0, 2]).objectives, [1.25, 0, 0]);
  assert.equal(problem.moves[0].apply([0, 0, 2], createRng(1), -1), undefined);
  assert.throws(() => createDiscreteDtlz2({ objectives: 1 }), /objectives must be an integer >= 2/);
});

Deno.test("createKnapsack() reports value left out and the relative overweight", () => {
  const problem = createKnapsack({ items: 4, objectives: 2, seed: 3 });
  const none = problem.evaluate([false, false, false, false]);
  const all = problem.evaluate([true, true, true, true]);
  assert.deepEqual(all.objectives, [0, 0]);
  assert.equal(none.feasible, true);
  // Everything weighs twice the capacity (capacity = half the total): violation 1.
  assert.equal(all.feasible, false);
  assert.equal(all.violation, 1);
  const sum = none.objectives[0];
  const single = [0, 1, 2, 3].map((i) => sum - problem.evaluate([0, 1, 2, 3].map((j) => j === i)).objectives[0]);
  assert.equal(single.reduce((a, b) => a + b), sum);
});
