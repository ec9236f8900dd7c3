import assert from "node:assert/strict";
import { createRng, isQeilError } from "../../src/core/mod.ts";
import { plan } from "../../src/pgsam/mod.ts";
import { boardModel, idleState, job, llama32OneB } from "./fixtures.ts";

const rk = boardModel("rk3588");

Deno.test("plan() returns a feasible front, the policy's choice and both baselines", () => {
  const result = plan(rk, idleState(rk), job(llama32OneB(), 8), { maxEvaluations: 800 }, createRng(1));
  assert.equal(result.policy, "energy");
  assert.ok(result.front.length > 1);
  assert.ok(result.front.every((p) => p.prediction.feasible));
  // Sorted by energy, and the energy policy takes the least.
  for (let i = 1; i < result.front.length; i++) {
    assert.ok(result.front[i - 1].prediction.energyJ <= result.front[i].prediction.energyJ);
  }
  assert.equal(result.chosen.key, result.front[0].key);
  assert.equal(result.standard.placement.prefillUnit, "cpu_big");
  assert.equal(result.greedy.placement.prefillUnit, "npu");
  // The search starts from the baselines, so the choice is never worse in energy than a feasible one.
  for (const base of [result.standard, result.greedy]) {
    if (base.prediction.feasible) assert.ok(result.chosen.prediction.energyJ <= base.prediction.energyJ);
  }
  assert.ok(result.evaluations <= 800);
});

Deno.test("plan() gives the same plan for the same seed", () => {
  const a = plan(rk, idleState(rk), job(llama32OneB(), 4), { maxEvaluations: 400, policy: "balanced" }, createRng(9));
  const b = plan(rk, idleState(rk), job(llama32OneB(), 4), { maxEvaluations: 400, policy: "balanced" }, createRng(9));
  assert.deepEqual(a, b);
});

Deno.test("plan() keeps every front member within the latency SLO", () => {
  const free = plan(rk, idleState(rk), job(llama32OneB(), 8), { maxEvaluations: 600 }, createRng(2));
  const fastest = Math.min(...free.front.map((p) => p.prediction.latencyMs));
  const sloMs = fastest * 1.5;
  const bound = plan(rk, idleState(rk), job(llama32OneB(), 8, sloMs), { maxEvaluations: 600 }, createRng(2));
  assert.ok(bound.front.every((p) => p.prediction.latencyMs <= sloMs));
  const latency = plan(
    rk,
    idleState(rk),
    job(llama32OneB(), 8),
    { maxEvaluations: 600, policy: "latency" },
    createRng(2),
  );
  assert.equal(latency.chosen.prediction.latencyMs, Math.min(...latency.front.map((p) => p.prediction.latencyMs)));
});

Deno.test("plan() throws InfeasibleError naming the violations when nothing fits", () => {
  const tiny = { ...idleState(rk), memAvailableBytes: 0.2e9 };
  assert.throws(
    () => plan(rk, tiny, job(llama32OneB(), 8), { maxEvaluations: 200 }, createRng(1)),
    (error: unknown) => {
      assert.ok(isQeilError(error, "Infeasible"));
      assert.match(error.message, /no feasible placement among \d+ evaluated/);
      assert.ok(Array.isArray(error.details.violations) && error.details.violations.length > 0);
      return true;
    },
  );
  // An SLO below any achievable latency is infeasible too.
  assert.throws(
    () => plan(rk, idleState(rk), job(llama32OneB(), 8, 1), { maxEvaluations: 200 }, createRng(1)),
    /latency|SLO/i,
  );
});

Deno.test("plan() with policy efficient never picks a placement predicted slower than the standard one", () => {
  for (const id of ["rk3588", "jetson-orin-nano"] as const) {
    const m = boardModel(id);
    for (const samples of [1, 5]) {
      const result = plan(
        m,
        idleState(m),
        job(llama32OneB(), samples),
        { maxEvaluations: 600, policy: "efficient" },
        createRng(4),
      );
      assert.equal(result.policy, "efficient");
      assert.ok(result.standard.prediction.feasible, `${id}: the standard placement is feasible`);
      assert.ok(
        result.chosen.prediction.latencyMs <= result.standard.prediction.latencyMs * (1 + 1e-9),
        `${id} k=${samples}: chosen ${result.chosen.prediction.latencyMs} ms, standard ${result.standard.prediction.latencyMs} ms`,
      );
      assert.ok(result.chosen.prediction.energyJ <= result.standard.prediction.energyJ * (1 + 1e-9));
      // The least energy within that bound.
      for (const p of result.front) {
        if (p.prediction.latencyMs <= result.standard.prediction.latencyMs) {
          assert.ok(result.chosen.prediction.energyJ <= p.prediction.energyJ);
        }
      }
    }
  }
});
