import assert from "node:assert/strict";
import { createRng, type Rng } from "../../src/core/mod.ts";
import {
  type BoardModel,
  calibrate,
  createBoardModel,
  type Observation,
  predictionError,
  type RailReading,
  type TelemetryObservation,
  type TimingObservation,
  type UnitModel,
  unitPowerW,
  type UnitTelemetry,
} from "../../src/physics/mod.ts";
import { RK3588_PRIORS } from "./fixtures.ts";

const within = (got: number, want: number, rel: number, what: string) =>
  assert.ok(Math.abs(got - want) <= rel * Math.abs(want), `${what}: got ${got}, want ${want} (±${rel * 100}%)`);

/** A multiplicative perturbation in [1 - spread, 1 + spread]. */
const perturb = (rng: Rng, spread: number) => 1 + rng.uniform(-spread, spread);

Deno.test("unitPowerW() is on x (idle + leakage) + C_eff V^2 f activity + e_byte traffic (worked example)", () => {
  const model = createBoardModel(RK3588_PRIORS);
  // NPU at 600 MHz / 0.75 V, 55 °C, busy half the interval at DASI 0.2 (activity 0.1), 10 GB/s:
  const leak = 0.08 * (0.75 / 0.85) * Math.exp(0.03 * 30);
  const expected = 0.5 * (0.2 + leak) + 2e-9 * 0.75 ** 2 * 600e6 * 0.1 + 1.5e-10 * 10e9;
  const got = unitPowerW(model.units.npu, {
    activity: 0.1,
    busyFraction: 0.5,
    freqHz: 600e6,
    bytesPerS: 10e9,
    tempC: 55,
  });
  assert.ok(Math.abs(got - expected) < 1e-12, `${got} vs ${expected}`);
  // Idle and gateable: nothing. The A76 cannot be gated: idle + leakage at its lowest OPP (0.675 V).
  assert.equal(unitPowerW(model.units.npu, { activity: 0, freqHz: 300e6, tempC: 55 }), 0);
  const cpuIdle = unitPowerW(model.units.cpu_big, { activity: 0, freqHz: 408e6, tempC: 55 });
  assert.ok(Math.abs(cpuIdle - (0.3 + 0.15 * 0.675 * Math.exp(0.03 * 30))) < 1e-12);
});

// ---------------------------------------------------------------- efficiencies

function timingObservations(
  rng: Rng,
  unit: UnitModel,
  truth: { computeEfficiency: number; memoryEfficiency: number },
  count: number,
): TimingObservation[] {
  const top = unit.opps[unit.opps.length - 1];
  const out: TimingObservation[] = [];
  for (let i = 0; i < count; i++) {
    const opp = unit.opps[rng.int(unit.opps.length)];
    const peak = unit.peakOpsPerS.int8! * opp.freqHz / top.freqHz;
    // Alternate prefill-like (200 FLOP/B) and decode-like (2 FLOP/B) items.
    const bytes = rng.uniform(0.2e9, 1.5e9);
    const flops = bytes * (i % 2 === 0 ? 200 : 2);
    const trueS = Math.max(
      flops / (peak * truth.computeEfficiency),
      bytes / (unit.bandwidthBytesPerS * truth.memoryEfficiency),
    );
    out.push({
      kind: "timing",
      unitId: unit.id,
      precision: "int8",
      flops,
      bytes,
      freqHz: opp.freqHz,
      measuredDurationMs: trueS * 1000 * Math.exp(0.03 * rng.normal()), // 3% timing noise
    });
  }
  return out;
}

Deno.test("calibrate() recovers a unit's compute and memory efficiencies from noisy timings", () => {
  const rng = createRng("eta");
  const model = createBoardModel(RK3588_PRIORS);
  const truth = { computeEfficiency: 0.32, memoryEfficiency: 0.86 }; // priors 0.5 / 0.7
  const obs = timingObservations(rng, model.units.cpu_big, truth, 40);
  const first = calibrate(model, obs.slice(0, 20));
  const second = calibrate(first.model, obs.slice(20));
  // The priors mispredict the first two items (one of each regime) by 17% to 56%.
  assert.ok(calibrate(model, obs.slice(0, 2)).error.durationMapePct! > 15);
  within(second.model.units.cpu_big.computeEfficiency, 0.32, 0.04, "eta_c");
  within(second.model.units.cpu_big.memoryEfficiency, 0.86, 0.04, "eta_m");
  assert.equal(second.error.timingCount, 20);
  // The prequential error falls once the efficiencies are learnt (3% timing noise).
  assert.ok(second.error.durationMapePct! < 4, `second ${second.error.durationMapePct}`);
  assert.ok(first.error.durationMapePct! > second.error.durationMapePct!);
  // Other units are untouched.
  assert.deepEqual(second.model.units.npu, model.units.npu);
});

Deno.test("calibrate() lets an efficiency exceed 1 when the roof prior is too low, up to maxEfficiency", () => {
  const rng = createRng("eta-high");
  const model = createBoardModel(RK3588_PRIORS);
  const obs = timingObservations(rng, model.units.npu, { computeEfficiency: 0.4, memoryEfficiency: 1.2 }, 40);
  const r = calibrate(model, obs);
  within(r.model.units.npu.memoryEfficiency, 1.2, 0.04, "eta_m");
  const capped = calibrate(model, obs, { maxEfficiency: 1 });
  assert.equal(capped.model.units.npu.memoryEfficiency, 1);
});

// ---------------------------------------------------------------- power

interface PowerTruth {
  model: BoardModel;
}

/** The priors with every power coefficient perturbed by up to ±25%: the hidden truth. */
function perturbedPowerTruth(rng: Rng): PowerTruth {
  const priors = structuredClone(RK3588_PRIORS) as typeof RK3588_PRIORS;
  const units = priors.units.map((u) => ({
    ...u,
    idlePowerW: u.idlePowerW * perturb(rng, 0.25),
    leakagePowerW: u.leakagePowerW * perturb(rng, 0.25),
    leakageKappaPerK: u.leakageKappaPerK * perturb(rng, 0.25),
    ceffF: u.ceffF * perturb(rng, 0.25),
    energyPerByteJ: u.energyPerByteJ * perturb(rng, 0.25),
  }));
  return { model: createBoardModel({ ...priors, basePowerW: priors.basePowerW * perturb(rng, 0.25), units }) };
}

/**
 * Random telemetry: each unit at a random OPP, activity, traffic and temperature; rails from the truth,
 * with sensor noise of `noiseRel` of the reading plus 20 mW unless `noiseRel` is 0.
 */
function telemetry(
  rng: Rng,
  truth: BoardModel,
  count: number,
  rails: (unitW: Record<string, number>, baseW: number) => RailReading[],
  noiseRel = 0.02,
): TelemetryObservation[] {
  const out: TelemetryObservation[] = [];
  for (let n = 0; n < count; n++) {
    const units: Record<string, UnitTelemetry> = {};
    const unitW: Record<string, number> = {};
    const zoneTempsC: Record<string, number> = {};
    for (const z of truth.zones) zoneTempsC[z.id] = rng.uniform(30, 85);
    for (const id of truth.unitIds) {
      const u = truth.units[id];
      const opp = u.opps[rng.int(u.opps.length)];
      const busy = rng.next() < 0.7;
      const t: UnitTelemetry = {
        activity: busy ? rng.uniform(0.05, 1) : 0,
        freqHz: opp.freqHz,
        bytesPerS: busy ? rng.uniform(0, 1) * u.bandwidthBytesPerS : 0,
      };
      units[id] = t;
      unitW[id] = unitPowerW(u, { ...t, tempC: zoneTempsC[u.thermalZone] });
    }
    const readings = rails(unitW, truth.basePowerW);
    if (noiseRel > 0) {
      for (const r of readings) r.powerW = Math.max(0, r.powerW * (1 + noiseRel * rng.normal()) + 0.02 * rng.normal());
    }
    // Random times: no thermal pairs are fitted from these (the period never settles).
    out.push({ kind: "telemetry", timeS: n * 10 + (n % 3), units, zoneTempsC, rails: readings });
  }
  return out;
}

const perUnitAndBoardRails = (unitW: Record<string, number>, baseW: number): RailReading[] => [
  ...Object.entries(unitW).map(([id, w]) => ({ name: id, powerW: w, unitIds: [id], includesBase: false })),
  {
    name: "board_in",
    powerW: baseW + Object.values(unitW).reduce((a, b) => a + b, 0),
    unitIds: Object.keys(unitW),
    includesBase: true,
  },
];

const boardOnlyRail = (unitW: Record<string, number>, baseW: number): RailReading[] => [{
  name: "VDD_IN",
  powerW: baseW + Object.values(unitW).reduce((a, b) => a + b, 0),
  unitIds: Object.keys(unitW),
  includesBase: true,
}];

/** Weighted absolute error of a model's rail predictions, %, computed here without calibrating. */
function railErrorPct(model: BoardModel, obs: readonly TelemetryObservation[]): number {
  let err = 0;
  let sum = 0;
  for (const o of obs) {
    for (const rail of o.rails) {
      let w = rail.includesBase ? model.basePowerW : 0;
      for (const id of rail.unitIds) {
        const u = model.units[id];
        w += unitPowerW(u, { ...o.units[id], tempC: o.zoneTempsC[u.thermalZone] });
      }
      err += Math.abs(w - rail.powerW);
      sum += rail.powerW;
    }
  }
  return (100 * err) / sum;
}

/** Idle plus leakage at the top OPP voltage, W: the static power curve that rails identify. */
const staticW = (u: UnitModel, tempC: number) =>
  u.idlePowerW + u.leakagePowerW * Math.exp(u.leakageKappaPerK * (tempC - u.leakageRefTempC));

Deno.test("calibrate() recovers C_eff, energy per byte, base power and each unit's static power curve from rails", () => {
  for (const seed of ["power-1", "power-2", "power-3"]) {
    const rng = createRng(seed);
    const truth = perturbedPowerTruth(rng).model;
    const model = createBoardModel(RK3588_PRIORS);
    const r = calibrate(model, telemetry(rng, truth, 600, perUnitAndBoardRails), { powerForgetting: 1 });
    for (const id of truth.unitIds) {
      const t = truth.units[id];
      const m = r.model.units[id];
      within(m.ceffF, t.ceffF, 0.03, `${seed} ${id} C_eff`);
      within(m.energyPerByteJ, t.energyPerByteJ, 0.03, `${seed} ${id} energy per byte`);
      // Idle, leakage at T0 and kappa trade off along the 30-85 °C data (each within ~20%); the curve they
      // draw is identified.
      for (const tempC of [30, 55, 85]) {
        within(staticW(m, tempC), staticW(t, tempC), 0.03, `${seed} ${id} static at ${tempC} °C`);
      }
      within(m.leakageKappaPerK, t.leakageKappaPerK, 0.15, `${seed} ${id} kappa`);
    }
    within(r.model.basePowerW, truth.basePowerW, 0.03, `${seed} base power`);
    // Held-out, noise-free readings: the calibrated model is far closer than the priors.
    const heldOut = telemetry(createRng(`${seed}-test`), truth, 100, perUnitAndBoardRails, 0);
    const after = railErrorPct(r.model, heldOut);
    const before = railErrorPct(model, heldOut);
    assert.ok(after < 0.5 && before > 4 * after, `${seed}: held-out error ${after}% calibrated, ${before}% priors`);
  }
});

Deno.test("calibrate() predicts board power from a board input rail alone (Jetson VDD_IN style)", () => {
  const rng = createRng("board-rail");
  const truth = perturbedPowerTruth(rng).model;
  const model = createBoardModel(RK3588_PRIORS);
  const r = calibrate(model, telemetry(rng, truth, 800, boardOnlyRail));
  // The split between collinear coefficients is not identifiable from one rail, but the board power is.
  const heldOut = telemetry(createRng("board-rail-test"), truth, 100, boardOnlyRail, 0);
  const after = railErrorPct(r.model, heldOut);
  const before = railErrorPct(model, heldOut);
  assert.ok(after < 1 && before > 2 * after, `held-out error ${after}% calibrated, ${before}% priors`);
});

// ---------------------------------------------------------------- thermal

/**
 * Simulates the RC zones of `truth` at a 1 s period under unit powers that change every `holdS` seconds,
 * and returns telemetry whose inputs make the (exact) power model give those powers.
 */
function thermalRun(rng: Rng, truth: BoardModel, seconds: number, holdS: number, noiseC: number, quantC = 0) {
  const obs: TelemetryObservation[] = [];
  const temps: Record<string, number> = {};
  for (const z of truth.zones) temps[z.id] = 40;
  let units: Record<string, UnitTelemetry> = {};
  for (let n = 0; n <= seconds; n++) {
    if (n % holdS === 0) {
      units = {};
      for (const id of truth.unitIds) {
        const u = truth.units[id];
        // Loads a passively cooled board sustains (the soc zone stays between ~30 and ~80 °C).
        const busy = rng.next() < 0.4;
        units[id] = {
          activity: busy ? rng.uniform(0.1, 0.6) : 0,
          freqHz: u.opps[u.opps.length - 1].freqHz,
          bytesPerS: busy ? rng.uniform(0.05, 0.3) * u.bandwidthBytesPerS : 0,
        };
      }
    }
    const unitW: Record<string, number> = {};
    for (const id of truth.unitIds) {
      const u = truth.units[id];
      unitW[id] = unitPowerW(u, { ...units[id], tempC: temps[u.thermalZone] });
    }
    const measured: Record<string, number> = {};
    for (const z of truth.zones) {
      const m = temps[z.id] + noiseC * rng.normal();
      measured[z.id] = quantC > 0 ? Math.round(m / quantC) * quantC : m;
    }
    obs.push({
      kind: "telemetry",
      timeS: n,
      units: structuredClone(units),
      zoneTempsC: measured,
      rails: Object.entries(unitW).map(([id, w]) => ({ name: id, powerW: w, unitIds: [id], includesBase: false })),
    });
    // Exact RC step over the next second with the power held (the leakage follows the start temperature).
    for (const z of truth.zones) {
      let ss = truth.ambientC + z.ambientOffsetK;
      for (const id of truth.unitIds) ss += (z.rthKPerW[id] ?? 0) * unitW[id];
      temps[z.id] = ss + (temps[z.id] - ss) * Math.exp(-1 / z.tauS);
    }
  }
  return obs;
}

function perturbedThermalTruth(rng: Rng): BoardModel {
  const model = createBoardModel(RK3588_PRIORS);
  return {
    ...model,
    zones: model.zones.map((z) => ({
      ...z,
      tauS: z.tauS * perturb(rng, 0.3),
      ambientOffsetK: rng.uniform(-3, 3),
      rthKPerW: Object.fromEntries(Object.entries(z.rthKPerW).map(([id, r]) => [id, r * perturb(rng, 0.3)])),
    })),
  };
}

Deno.test("calibrate() recovers every zone's tau, R to each unit and ambient offset (ARX on telemetry)", () => {
  const rng = createRng("thermal");
  const truth = perturbedThermalTruth(rng);
  const model = createBoardModel(RK3588_PRIORS);
  const obs = thermalRun(rng, truth, 3000, 60, 0.1);
  const r = calibrate(model, obs, { thermalForgetting: 1 });
  for (const z of truth.zones) {
    const m = r.model.zones.find((x) => x.id === z.id)!;
    within(m.tauS, z.tauS, 0.08, `${z.id} tau`);
    for (const id of truth.unitIds) within(m.rthKPerW[id], z.rthKPerW[id], 0.1, `${z.id} R from ${id}`);
    assert.ok(
      Math.abs(m.ambientOffsetK - z.ambientOffsetK) < 1,
      `${z.id} offset ${m.ambientOffsetK} vs ${z.ambientOffsetK}`,
    );
  }
  assert.equal(r.error.thermalPairCount, 3000 * truth.zones.length);
  // One-step temperature prediction on new data is within the sensor noise.
  const test = calibrate(r.model, thermalRun(createRng("thermal-test"), truth, 300, 45, 0.1));
  assert.ok(test.error.tempMaeC! < 0.25, `held-out one-step error ${test.error.tempMaeC} °C`);
});

Deno.test("calibrate() keeps the temperature error small with 1 °C sensor quantisation (RK3588 TSADC)", () => {
  const rng = createRng("thermal-quantised");
  const truth = perturbedThermalTruth(rng);
  const r = calibrate(createBoardModel(RK3588_PRIORS), thermalRun(rng, truth, 3000, 60, 0.2, 1));
  const test = calibrate(r.model, thermalRun(createRng("tq-test"), truth, 300, 45, 0.2, 1));
  assert.ok(test.error.tempMaeC! < 0.6, `held-out one-step error ${test.error.tempMaeC} °C`);
  for (const z of truth.zones) {
    const m = r.model.zones.find((x) => x.id === z.id)!;
    within(m.tauS, z.tauS, 0.25, `${z.id} tau`);
  }
});

Deno.test("calibrate() drops thermal pairs whose interval differs from the fitted period, and says why", () => {
  const model = createBoardModel(RK3588_PRIORS);
  const obs = thermalRun(createRng("gap"), model, 5, 60, 0);
  obs[4] = { ...obs[4], timeS: obs[3].timeS + 3 };
  obs[5] = { ...obs[5], timeS: obs[4].timeS + 1 };
  const r = calibrate(model, obs);
  assert.equal(r.error.thermalPairCount, 4 * model.zones.length);
  assert.deepEqual(r.error.skipped, [
    "observation 4 (telemetry at 6 s): interval 3 s differs from the fitted period 1 s; thermal pair dropped",
  ]);
});

// ---------------------------------------------------------------- purity, bad input, error reports

Deno.test("calibrate() never modifies the model it is given", () => {
  const model = createBoardModel(RK3588_PRIORS);
  const snapshot = JSON.stringify(model);
  const rng = createRng("pure");
  const obs: Observation[] = [
    ...timingObservations(rng, model.units.gpu, { computeEfficiency: 0.2, memoryEfficiency: 0.5 }, 10),
    ...thermalRun(rng, perturbedThermalTruth(rng), 20, 5, 0.1),
  ];
  const r = calibrate(model, obs);
  assert.equal(JSON.stringify(model), snapshot);
  assert.notEqual(JSON.stringify(r.model), snapshot);
  // And a second call continues from the first's state (the ARX pairs the last point with the next).
  const again = calibrate(r.model, thermalRun(rng, model, 3, 5, 0.1).map((o) => ({ ...o, timeS: o.timeS + 21 })));
  assert.equal(again.error.thermalPairCount, 4 * model.zones.length);
});

Deno.test("calibrate() skips unusable observations and names each one", () => {
  const model = createBoardModel(RK3588_PRIORS);
  const good = thermalRun(createRng("bad"), model, 0, 5, 0)[0];
  const r = calibrate(model, [
    { kind: "timing", unitId: "tpu", precision: "int8", flops: 1, bytes: 1, freqHz: 1e9, measuredDurationMs: 1 },
    { kind: "timing", unitId: "npu", precision: "fp32", flops: 1, bytes: 1, freqHz: 1e9, measuredDurationMs: 1 },
    { kind: "timing", unitId: "npu", precision: "int8", flops: 1e9, bytes: 1e6, freqHz: 1e9, measuredDurationMs: 0 },
    { ...good, zoneTempsC: { soc: 40 } },
    { ...good, rails: [{ name: "x", powerW: Number.NaN, unitIds: ["npu"], includesBase: false }] },
  ]);
  assert.deepEqual(r.error.skipped, [
    'observation 0 (timing on "tpu"): unknown unit',
    'observation 1 (timing on "npu"): the unit has no fp32 peak',
    'observation 2 (timing on "npu"): needs flops, bytes >= 0 (not both 0), freqHz > 0, duration > 0, busShare in (0, 1], inflation >= 1',
    "observation 3 (telemetry at 0 s): needs every unit's zone temperature, activity and busyFraction in [0, 1], freqHz > 0",
    'observation 4 (telemetry at 0 s): rail "x" has a non-finite or negative power or an unknown unit',
  ]);
  assert.equal(r.error.timingCount, 0);
});

Deno.test("predictionError() reports MAPE of energy and latency and the mean absolute temperature error", () => {
  const report = predictionError([
    {
      predicted: { energyJ: 110, latencyMs: 900, peakTempC: { soc: 60, gpu: 50 } },
      measured: { energyJ: 100, latencyMs: 1000, peakTempC: { soc: 61 } },
    },
    { predicted: { energyJ: 45, latencyMs: 2200 }, measured: { energyJ: 50, latencyMs: 2000, peakTempC: { soc: 70 } } },
    {
      predicted: { energyJ: 10, latencyMs: 10, peakTempC: { soc: 52, gpu: 48 } },
      measured: { latencyMs: 0, peakTempC: { soc: 50, gpu: 51 } },
    },
  ]);
  // energy: |110-100|/100 = 10%, |45-50|/50 = 10% -> 10%; latency: 10%, 10% (the 0 ms measurement is left out)
  assert.ok(Math.abs(report.energyMapePct! - 10) < 1e-9);
  assert.ok(Math.abs(report.latencyMapePct! - 10) < 1e-9);
  // temperatures: |60-61|, |52-50|, |48-51| -> 2 °C
  assert.equal(report.tempMaeC, 2);
  assert.deepEqual([report.energyCount, report.latencyCount, report.tempCount], [2, 2, 3]);
  assert.deepEqual(predictionError([]), { energyCount: 0, latencyCount: 0, tempCount: 0 });
});

Deno.test("calibrate() keeps every power coefficient finite and within 50x its prior under biased telemetry", () => {
  // A unit drawing full power while its telemetry says idle, then idling: inputs no model explains.
  // The fit must not run away (it did to 1e44 W before the bound), and stays a physical model.
  const model = createBoardModel(RK3588_PRIORS);
  const rng = createRng("biased");
  const obs: TelemetryObservation[] = [];
  for (let i = 0; i < 3000; i++) {
    const busy = Math.floor(i / 40) % 2 === 0;
    const units: Record<string, UnitTelemetry> = {};
    const zoneTempsC: Record<string, number> = {};
    for (const id of model.unitIds) {
      const u = model.units[id];
      units[id] = { activity: 0, busyFraction: 0, freqHz: u.opps.at(-1)!.freqHz };
      zoneTempsC[u.thermalZone] = 40 + 30 * rng.uniform(0, 1);
    }
    const rails: RailReading[] = model.unitIds.map((id) => ({
      name: id,
      powerW: busy ? 4 + rng.uniform(0, 0.5) : 0.4 * rng.uniform(0.5, 1),
      unitIds: [id],
      includesBase: false,
    }));
    obs.push({ kind: "telemetry", timeS: i, units, zoneTempsC, rails });
  }
  const r = calibrate(model, obs);
  assert.ok(Number.isFinite(r.model.basePowerW) && r.model.basePowerW >= 0);
  assert.ok(r.model.basePowerW <= 50 * RK3588_PRIORS.basePowerW + 1e-9, `base ${r.model.basePowerW} W`);
  for (const id of model.unitIds) {
    const m = r.model.units[id];
    const p = model.units[id];
    for (const key of ["idlePowerW", "leakagePowerW", "ceffF", "energyPerByteJ"] as const) {
      assert.ok(Number.isFinite(m[key]) && m[key] >= 0, `${id} ${key} ${m[key]}`);
      assert.ok(m[key] <= 50 * p[key] * (1 + 1e-12), `${id} ${key} ${m[key]} vs prior ${p[key]}`);
    }
    assert.ok(m.leakageKappaPerK >= 0.005 && m.leakageKappaPerK <= 0.15, `${id} kappa ${m.leakageKappaPerK}`);
  }
});
