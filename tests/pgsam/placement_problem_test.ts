import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import { predict } from "../../src/physics/mod.ts";
import {
  createPlacementProblem,
  greedyPlacement,
  PLACEMENT_OBJECTIVES,
  runPgsam,
  standardPlacement,
} from "../../src/pgsam/mod.ts";
import { boardModel, idleState, job, llama32OneB } from "./fixtures.ts";

const rk = boardModel("rk3588");

Deno.test("createPlacementProblem() takes its objectives and feasibility from physics predict()", () => {
  const state = idleState(rk);
  const j = job(llama32OneB(), 4);
  const problem = createPlacementProblem(rk, state, j);
  assert.deepEqual(problem.objectiveNames, PLACEMENT_OBJECTIVES);
  const rng = createRng(1);
  for (let i = 0; i < 50; i++) {
    const x = problem.random(rng);
    const e = problem.evaluate(x);
    const p = predict(rk, state, j, x);
    assert.deepEqual(e.objectives, [p.energyJ, p.latencyMs, p.underutilization]);
    assert.equal(e.feasible, p.feasible);
    assert.equal(e.violation, p.feasible ? 0 : p.constraintViolation);
  }
});

Deno.test("createPlacementProblem() marks placements over the memory limit infeasible", () => {
  // 0.5 GB free cannot hold the int4 Llama-3.2-1B weights (about 0.7 GB) under rho_max.
  const tight = { ...idleState(rk), memAvailableBytes: 0.5e9 };
  const problem = createPlacementProblem(rk, tight, job(llama32OneB(), 8));
  const e = problem.evaluate(standardPlacement(rk, job(llama32OneB(), 8)));
  assert.equal(e.feasible, false);
  assert.ok(e.violation > 0);
  assert.ok(e.prediction.violations.some((v) => /rho|memory/i.test(v)), e.prediction.violations.join("; "));
});

Deno.test("a search never places work on a unit the state reports unhealthy", () => {
  const state = idleState(rk, ["cpu_big", "cpu_little", "gpu"]);
  const problem = createPlacementProblem(rk, state, job(llama32OneB(), 4));
  assert.deepEqual(problem.space.units, ["cpu_big", "cpu_little", "gpu"]);
  const run = runPgsam(problem, { maxEvaluations: 300 }, createRng(4));
  for (const s of run.archive) {
    assert.notEqual(s.x.prefillUnit, "npu");
    assert.ok(s.x.lanes.every((l) => l.segments.every((seg) => seg.unitId !== "npu")));
  }
  assert.throws(() => createPlacementProblem(rk, idleState(rk, []), job(llama32OneB(), 4)), /no usable unit/);
});

Deno.test("standardPlacement() runs everything on the default unit at its top OPP", () => {
  const p = standardPlacement(rk, job(llama32OneB(), 8));
  assert.deepEqual(p, {
    prefillUnit: "cpu_big",
    lanes: [{ samples: 8, segments: [{ unitId: "cpu_big", layerStart: 0, layerEnd: 16 }] }],
    freqLevel: { cpu_big: rk.units.cpu_big.opps.length - 1 },
  });
});

Deno.test("greedyPlacement() follows QEIL v1's rule on the RK3588 priors", () => {
  // Highest int4 peak: the NPU (6 TOPS). Bandwidth per watt at full activity, from the priors.
  const perWatt = (u: string) => {
    const m = rk.units[u];
    const top = m.opps[m.opps.length - 1];
    return m.bandwidthBytesPerS / (m.idlePowerW + m.leakagePowerW + m.ceffF * top.voltageV ** 2 * top.freqHz);
  };
  const bestDecode = [...rk.unitIds].sort((a, b) => perWatt(b) - perWatt(a))[0];
  const p = greedyPlacement(rk, idleState(rk), job(llama32OneB(), 8));
  assert.equal(p.prefillUnit, "npu");
  assert.equal(p.lanes[0].segments[0].unitId, bestDecode);
  // Without the NPU, prefill goes to the GPU (1 TOPS int4), the next highest peak.
  const noNpu = greedyPlacement(rk, idleState(rk, ["cpu_big", "cpu_little", "gpu"]), job(llama32OneB(), 8));
  assert.equal(noNpu.prefillUnit, "gpu");
  assert.notEqual(noNpu.lanes[0].segments[0].unitId, "npu");
});
