import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import { copyRls, createRls, rlsForget, rlsUpdate } from "../../src/physics/rls.ts";

Deno.test("rlsUpdate() converges to the least-squares line through noisy points", () => {
  const rng = createRng("rls-line");
  const s = createRls([0, 0], [100, 100]);
  for (let i = 0; i < 2000; i++) {
    const x = rng.uniform(-5, 5);
    const y = 2.5 + 0.75 * x + 0.1 * rng.normal();
    rlsUpdate(s, [1, x], y, s.theta[0] + s.theta[1] * x, 0.01);
  }
  assert.ok(Math.abs(s.theta[0] - 2.5) < 0.01, `${s.theta}`);
  assert.ok(Math.abs(s.theta[1] - 0.75) < 0.005, `${s.theta}`);
  assert.equal(s.samples, 2000);
});

Deno.test("rlsUpdate() leaves a parameter its regressor never excites at its prior", () => {
  const s = createRls([3, 7], [1, 1]);
  for (let i = 0; i < 100; i++) rlsUpdate(s, [1, 0], 5, s.theta[0], 0.01);
  assert.ok(Math.abs(s.theta[0] - 5) < 1e-3);
  assert.equal(s.theta[1], 7);
});

Deno.test("rlsForget() tracks a drifting parameter and never lets the covariance grow past the prior", () => {
  const s = createRls([0], [4]);
  for (let i = 0; i < 300; i++) {
    rlsForget(s, 0.95);
    rlsUpdate(s, [1], i < 150 ? 1 : 2, s.theta[0], 0.01);
  }
  assert.ok(Math.abs(s.theta[0] - 2) < 1e-3);
  // Without measurements, forgetting alone inflates P only up to the prior variance.
  for (let i = 0; i < 1000; i++) rlsForget(s, 0.9);
  assert.ok(Math.abs(s.covariance[0] - 4) < 1e-12);
});

Deno.test("copyRls() gives an independent copy", () => {
  const a = createRls([1, 2], [1, 1]);
  const b = copyRls(a);
  rlsUpdate(b, [1, 1], 10, 3, 0.1);
  assert.deepEqual(a.theta, [1, 2]);
  assert.notDeepEqual(b.theta, [1, 2]);
});
