import assert from "node:assert/strict";
import { isPolicy, selectByPolicy, type Solution } from "../../src/pgsam/mod.ts";

const s = (key: string, ...objectives: number[]): Solution<string> => ({
  x: key,
  key,
  objectives,
  feasible: true,
  violation: 0,
});

const front = [s("frugal", 1, 10, 0.5), s("fast", 10, 1, 0.5), s("knee", 3, 3, 0.5), s("busy", 4, 4, 0.1)];

Deno.test("selectByPolicy() picks least energy, least latency, or the knee", () => {
  assert.equal(selectByPolicy(front, "energy").key, "frugal");
  assert.equal(selectByPolicy(front, "latency").key, "fast");
  // Normalised sums: frugal 0+1+1, fast 1+0+1, knee 2/9+2/9+1, busy 3/9+3/9+0 -> busy.
  assert.equal(selectByPolicy(front, "balanced").key, "busy");
  assert.equal(selectByPolicy(front.slice(0, 3), "balanced").key, "knee");
});

Deno.test("selectByPolicy() breaks ties by the other objectives, then by key", () => {
  assert.equal(selectByPolicy([s("b", 1, 5, 0), s("a", 1, 4, 0)], "energy").key, "a");
  assert.equal(selectByPolicy([s("b", 1, 4, 0), s("a", 1, 4, 0)], "energy").key, "a");
  assert.equal(selectByPolicy([s("b", 0, 1, 0), s("a", 1, 0, 0)], "balanced").key, "a");
  assert.throws(() => selectByPolicy([], "energy"), /front is empty/);
  assert.ok(isPolicy("balanced") && !isPolicy("cheapest"));
});

Deno.test("selectByPolicy() efficient: least energy among members within the latency bound, else the fastest", () => {
  // Objectives (energy, latency, underutilisation).
  const front = [s("cheap-slow", 1, 10, 0), s("mid", 2, 5, 0), s("fast", 4, 2, 0)];
  assert.equal(selectByPolicy(front, "efficient", { latencyBound: 6 }).key, "mid");
  assert.equal(selectByPolicy(front, "efficient", { latencyBound: 10 }).key, "cheap-slow");
  assert.equal(selectByPolicy(front, "efficient", { latencyBound: 5 }).key, "mid", "a member at the bound is within");
  assert.equal(selectByPolicy(front, "efficient", { latencyBound: 1 }).key, "fast", "none within: the fastest");
  assert.equal(selectByPolicy(front, "efficient").key, "cheap-slow", "no bound: energy");
  assert.ok(isPolicy("efficient"));
});
