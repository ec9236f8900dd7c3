import assert from "node:assert/strict";
import {
  compareConstrained,
  compareDominance,
  constraintDominates,
  dominates,
  weaklyDominates,
} from "../../src/pgsam/mod.ts";

const feasible = (...objectives: number[]) => ({ objectives, feasible: true, violation: 0 });
const infeasible = (violation: number, ...objectives: number[]) => ({ objectives, feasible: false, violation });

Deno.test("dominates() needs no worse everywhere and better somewhere", () => {
  assert.ok(dominates([1, 2, 3], [1, 2, 4]));
  assert.ok(!dominates([1, 2, 3], [1, 2, 3]));
  assert.ok(!dominates([1, 2, 5], [2, 1, 5]));
  assert.ok(weaklyDominates([1, 2, 3], [1, 2, 3]));
  assert.deepEqual([
    compareDominance([0, 0], [1, 1]),
    compareDominance([1, 1], [0, 0]),
    compareDominance([0, 1], [1, 0]),
  ], [
    -1,
    1,
    0,
  ]);
});

Deno.test("constraintDominates() puts feasible before infeasible and compares violations", () => {
  assert.ok(constraintDominates(feasible(9, 9), infeasible(0.1, 0, 0)));
  assert.ok(!constraintDominates(infeasible(0.1, 0, 0), feasible(9, 9)));
  assert.ok(constraintDominates(infeasible(0.1, 9, 9), infeasible(0.2, 0, 0)));
  assert.ok(!constraintDominates(infeasible(0.2, 0, 0), infeasible(0.2, 1, 1)));
  assert.ok(constraintDominates(feasible(1, 1), feasible(1, 2)));
  assert.equal(compareConstrained(infeasible(0.3, 0), infeasible(0.1, 5)), 1);
  assert.equal(compareConstrained(feasible(1, 2), feasible(2, 1)), 0);
});
