import assert from "node:assert/strict";
import type { BoardPriors } from "../../src/core/mod.ts";
import { getProfile, listProfiles } from "../../src/hal/mod.ts";
import { createBoardModel, effectiveOpp, voltageForFreq } from "../../src/physics/mod.ts";
import { RK3588_PRIORS } from "./fixtures.ts";

Deno.test("createBoardModel() copies every prior and starts the power RLS at multipliers of 1", () => {
  const model = createBoardModel(RK3588_PRIORS);
  assert.deepEqual(model.unitIds, ["cpu_big", "cpu_little", "gpu", "npu"]);
  const big = model.units.cpu_big;
  const prior = RK3588_PRIORS.units[0];
  for (
    const key of [
      "idlePowerW",
      "leakagePowerW",
      "leakageKappaPerK",
      "ceffF",
      "energyPerByteJ",
      "computeEfficiency",
    ] as const
  ) {
    assert.equal(big[key], prior[key]);
  }
  assert.deepEqual(big.opps, prior.opps);
  assert.notEqual(big.opps, prior.opps); // a copy
  assert.equal(model.rhoMax, 0.85);
  assert.equal(model.allocLambda, 0.02);
  assert.equal(model.zones[0].ambientOffsetK, 0);
  const power = model.calibration.power;
  assert.equal(power.theta.length, 1 + 5 * 4);
  assert.ok(power.theta.every((t) => t === 1));
  assert.equal(power.covariance[0], 0.25); // (50% relative prior std)^2
  // JSON round trip: the model is plain data (the service may persist it).
  assert.deepEqual(JSON.parse(JSON.stringify(model)), model);
});

Deno.test("createBoardModel() builds a model from every board profile", () => {
  for (const profile of listProfiles()) {
    const model = createBoardModel(getProfile(profile.id).priors);
    assert.ok(model.unitIds.includes(model.defaultUnit), profile.id);
  }
});

Deno.test("createBoardModel() rejects inconsistent priors, naming the unit or zone and the field", () => {
  const bad = (priors: BoardPriors, re: RegExp) => assert.throws(() => createBoardModel(priors), re);
  const unit0 = RK3588_PRIORS.units[0];
  const withUnit = (patch: object) => ({
    ...RK3588_PRIORS,
    units: [{ ...unit0, ...patch }, ...RK3588_PRIORS.units.slice(1)],
  });
  bad(withUnit({ opps: [] }), /unit "cpu_big" has no operating points/);
  bad(withUnit({ opps: [unit0.opps[1], unit0.opps[0]] }), /unit "cpu_big" opps must ascend by frequency \(opp 1\)/);
  bad(withUnit({ memoryEfficiency: 1.2 }), /unit "cpu_big" memoryEfficiency must be in \(0, 1\]/);
  bad(withUnit({ thermalZone: "nowhere" }), /unit "cpu_big" thermalZone "nowhere" is not a zone of the board/);
  bad(withUnit({ peakOpsPerS: {} }), /unit "cpu_big" has no peakOpsPerS entry/);
  bad({ ...RK3588_PRIORS, defaultUnit: "tpu" }, /defaultUnit "tpu" is not a unit of the board/);
  bad(
    { ...RK3588_PRIORS, zones: [{ ...RK3588_PRIORS.zones[0], rthKPerW: { tpu: 1 } }, ...RK3588_PRIORS.zones.slice(1)] },
    /zone "soc" rthKPerW names unknown unit "tpu"/,
  );
  assert.throws(() => createBoardModel(RK3588_PRIORS, { rhoMax: 1 }), /rhoMax must be in \(0, 1\)/);
});

Deno.test("effectiveOpp() lowers a level to the highest OPP under the cap, as the kernel clamps", () => {
  const big = createBoardModel(RK3588_PRIORS).units.cpu_big; // 408, 1008, 1608, 2016, 2400 MHz
  assert.equal(effectiveOpp(big, 4, undefined).freqHz, 2400e6);
  assert.equal(effectiveOpp(big, 4, 2.1e9).freqHz, 2016e6);
  assert.equal(effectiveOpp(big, 2, 2.1e9).freqHz, 1608e6);
  assert.equal(effectiveOpp(big, 4, 1e8).freqHz, 408e6);
});

Deno.test("voltageForFreq() takes the voltage of the OPP serving a frequency", () => {
  const big = createBoardModel(RK3588_PRIORS).units.cpu_big;
  assert.equal(voltageForFreq(big, 2016e6), 0.9);
  assert.equal(voltageForFreq(big, 1700e6), 0.9); // served by the 2016 MHz OPP
  assert.equal(voltageForFreq(big, 3e9), 1.0);
  assert.equal(voltageForFreq(big, 1e8), 0.675);
});
