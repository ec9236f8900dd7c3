import assert from "node:assert/strict";
import {
  allocationInflation,
  concurrentBusShare,
  cpq,
  createBoardModel,
  predict,
  prefillWork,
  unitWorkTime,
} from "../../src/physics/mod.ts";
import { GPT2, idleState, LLAMA_1B_INT4, RK3588_PRIORS } from "./fixtures.ts";

Deno.test("unitWorkTime() is the roofline of a work item on a unit of the model (worked example)", () => {
  const model = createBoardModel(RK3588_PRIORS);
  // 1 GB at int4 on the NPU at 600 MHz: memory 1e9 / (28e9 x 0.95) = 37.6 ms; compute 2e9 / (6e12 x 0.6 x 0.4) = 1.4 ms
  const t = unitWorkTime(model, { unitId: "npu", precision: "int4", flops: 2e9, bytes: 1e9, freqHz: 600e6 });
  assert.ok(Math.abs(t.memoryS - 1e9 / (28e9 * 0.95)) < 1e-15);
  assert.ok(Math.abs(t.computeS - 2e9 / (6e12 * 0.6 * 0.4)) < 1e-15);
  assert.equal(t.durationS, t.memoryS);
  assert.ok(Math.abs(t.dasi - (2 * 28e9) / (6e12 * 0.6)) < 1e-12);
  const slow = unitWorkTime(model, { unitId: "npu", precision: "int4", flops: 2e9, bytes: 1e9, freqHz: 600e6 }, {
    busShare: 0.5,
    inflation: 1.1,
  });
  assert.ok(Math.abs(slow.durationS - 2 * 1.1 * t.memoryS) < 1e-15);
  assert.throws(
    () => unitWorkTime(model, { unitId: "npu", precision: "fp32", flops: 1, bytes: 1, freqHz: 1e9 }),
    /unit "npu" cannot run fp32/,
  );
  assert.throws(
    () => unitWorkTime(model, { unitId: "tpu", precision: "fp32", flops: 1, bytes: 1, freqHz: 1e9 }),
    /unknown unit "tpu"/,
  );
});

Deno.test("concurrentBusShare() divides the bus by the bandwidth the items would draw alone", () => {
  const model = createBoardModel(RK3588_PRIORS); // bus 28 GB/s
  const npu = { unitId: "npu", precision: "int4" as const, flops: 1e9, bytes: 1e9, freqHz: 1e9 }; // draws 26.6 GB/s
  const cpu = { unitId: "cpu_big", precision: "int4" as const, flops: 1e9, bytes: 1e9, freqHz: 2.4e9 }; // 14 GB/s
  assert.equal(concurrentBusShare(model, [npu]), 1);
  const share = concurrentBusShare(model, [npu, cpu]);
  assert.ok(Math.abs(share - 28e9 / (28e9 * 0.95 + 20e9 * 0.7)) < 1e-12);
  assert.equal(concurrentBusShare(model, []), 1);
});

Deno.test("predict()'s TTFT is unitWorkTime() of the prefill with the job's CPQ inflation", () => {
  const model = createBoardModel(RK3588_PRIORS);
  for (const [shape, unitId] of [[GPT2, "cpu_big"], [LLAMA_1B_INT4, "npu"], [LLAMA_1B_INT4, "gpu"]] as const) {
    const job = { shape, promptTokens: 200, genTokens: 1, samples: 1 };
    const p = predict(model, idleState(), job, {
      prefillUnit: unitId,
      lanes: [{ segments: [{ unitId, layerStart: 0, layerEnd: shape.layers }], samples: 1 }],
      freqLevel: {},
    });
    const w = prefillWork(shape, { tokens: 200 });
    const unit = model.units[unitId];
    const item = { unitId, precision: shape.weightPrecision, ...w, freqHz: unit.opps[unit.opps.length - 1].freqHz };
    const t = unitWorkTime(model, item, {
      busShare: concurrentBusShare(model, [item]),
      inflation: allocationInflation(cpq(p.perUnit[unitId].rho), model.allocLambda),
    });
    assert.ok(
      Math.abs(p.ttftMs - t.durationS * 1000) < 1e-9 * p.ttftMs,
      `${unitId}: ${p.ttftMs} vs ${t.durationS * 1000}`,
    );
  }
});
