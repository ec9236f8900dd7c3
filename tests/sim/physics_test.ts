import assert from "node:assert/strict";
import type { UnitPriors } from "../../src/core/mod.ts";
import { busShare, dynamicPowerW, leakagePowerW, rcStepC, roofline, voltageAtV } from "../../src/sim/physics.ts";

const unit: UnitPriors = {
  id: "cpu",
  kind: "cpu",
  label: "test",
  opps: [
    { freqHz: 1e9, voltageV: 0.7 },
    { freqHz: 2e9, voltageV: 0.9 },
  ],
  peakOpsPerS: { fp32: 100e9 },
  bandwidthBytesPerS: 20e9,
  computeEfficiency: 0.5,
  memoryEfficiency: 0.8,
  idlePowerW: 0.1,
  leakagePowerW: 0.2,
  leakageRefTempC: 25,
  leakageKappaPerK: 0.03,
  ceffF: 1e-9,
  energyPerByteJ: 100e-12,
  powerGateable: false,
  thermalZone: "cpu",
  sources: [],
};

Deno.test("voltageAtV() interpolates between operating points and holds the end voltages outside", () => {
  assert.equal(voltageAtV(unit.opps, 0.5e9), 0.7);
  assert.ok(Math.abs(voltageAtV(unit.opps, 1.5e9) - 0.8) < 1e-12);
  assert.equal(voltageAtV(unit.opps, 3e9), 0.9);
  assert.throws(() => voltageAtV([], 1e9), RangeError);
});

Deno.test("leakagePowerW() grows by exp(kappa dT) and scales with the supply voltage", () => {
  assert.ok(Math.abs(leakagePowerW(unit, 25, 0.9) - 0.2) < 1e-12);
  const hot = leakagePowerW(unit, 75, 0.9);
  assert.ok(Math.abs(hot / 0.2 - Math.exp(0.03 * 50)) < 1e-9);
  assert.ok(Math.abs(leakagePowerW(unit, 25, 0.45) - 0.1) < 1e-12);
});

Deno.test("dynamicPowerW() is C V^2 f times the activity", () => {
  assert.ok(Math.abs(dynamicPowerW(unit, 2e9, 0.9, 1) - 1e-9 * 0.81 * 2e9) < 1e-12);
  assert.equal(dynamicPowerW(unit, 2e9, 0.9, 0), 0);
});

Deno.test("roofline() takes the slower of compute and memory and reports DASI", () => {
  // Compute-bound: 10 GFLOP at 100 GF/s x 0.5 = 200 ms; 1 MB at 16 GB/s = 0.0625 ms.
  const compute = roofline({
    flops: 10e9,
    bytes: 1e6,
    peakOpsPerS: 100e9,
    freqRatio: 1,
    computeEfficiency: 0.5,
    bandwidthBytesPerS: 20e9,
    memoryEfficiency: 0.8,
  });
  assert.ok(Math.abs(compute.durationMs - 200) < 1e-9);
  assert.equal(compute.dasi, 1);
  // Half the clock doubles compute-bound time.
  const slow = roofline({
    flops: 10e9,
    bytes: 1e6,
    peakOpsPerS: 100e9,
    freqRatio: 0.5,
    computeEfficiency: 0.5,
    bandwidthBytesPerS: 20e9,
    memoryEfficiency: 0.8,
  });
  assert.ok(Math.abs(slow.durationMs - 400) < 1e-9);
  // Memory-bound: 1.6 GB at 16 GB/s = 100 ms whatever the clock; DASI = I B / F.
  const memory = roofline({
    flops: 1.6e9,
    bytes: 1.6e9,
    peakOpsPerS: 100e9,
    freqRatio: 0.5,
    computeEfficiency: 0.5,
    bandwidthBytesPerS: 20e9,
    memoryEfficiency: 0.8,
  });
  assert.ok(Math.abs(memory.durationMs - 100) < 1e-9);
  assert.ok(Math.abs(memory.dasi - 1 * 20e9 / 50e9) < 1e-12);
  const nothing = roofline({
    flops: 0,
    bytes: 0,
    peakOpsPerS: 1,
    freqRatio: 1,
    computeEfficiency: 1,
    bandwidthBytesPerS: 1,
    memoryEfficiency: 1,
  });
  assert.deepEqual([nothing.durationMs, nothing.dasi], [0, 0]);
});

Deno.test("busShare() scales every unit down only when the total demand exceeds the bus", () => {
  assert.equal(busShare([10e9, 10e9], 30e9), 1);
  assert.ok(Math.abs(busShare([20e9, 20e9], 30e9) - 0.75) < 1e-12);
  assert.equal(busShare([], 30e9), 1);
});

Deno.test("rcStepC() covers 63.2% of a step after one time constant", () => {
  const after = rcStepC(25, 75, 60_000, 60);
  assert.ok(Math.abs((after - 25) / 50 - (1 - Math.exp(-1))) < 1e-12);
  // Composing small steps gives the same exponential as one big step.
  let t = 25;
  for (let i = 0; i < 600; i++) t = rcStepC(t, 75, 100, 60);
  assert.ok(Math.abs(t - after) < 1e-9);
});
