import assert from "node:assert/strict";
import fc from "fast-check";
import type { BoardPriors } from "../../src/core/mod.ts";
import {
  type BoardModel,
  type BoardState,
  createBoardModel,
  dasi,
  decodeWork,
  type Job,
  type Lane,
  leakagePowerW,
  type Placement,
  predict,
  prefillWork,
  rooflineTimeS,
} from "../../src/physics/mod.ts";
import { GPT2, idleState, LLAMA_1B_INT4, RK3588_PRIORS } from "./fixtures.ts";

const closeRel = (a: number, b: number, rel = 1e-9) =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${a} vs ${b} (rel ${Math.abs(a - b) / Math.abs(b)})`);

const UNITS = ["cpu_big", "cpu_little", "gpu", "npu"];

/** The RK3588 fixture with thermally isolated zones (R = 0): temperatures stay at their start. */
function isothermalPriors(): BoardPriors {
  return {
    ...RK3588_PRIORS,
    busBandwidthBytesPerS: 1e15, // no contention
    zones: RK3588_PRIORS.zones.map((z) => ({ ...z, rthKPerW: {} })),
  };
}

function oneLane(unitId: string, samples: number, layers: number): Lane {
  return { segments: [{ unitId, layerStart: 0, layerEnd: layers }], samples };
}

/**
 * Reference loads of a job without bus contention or allocation inflation:
 * loops over every decode step and segment with the equation-level functions,
 * the slow way predict() must agree with. Per phase (prefill, decode): its
 * duration and each unit's busy time, busy x DASI time and bytes.
 */
function referenceLoads(model: BoardModel, job: Job, placement: Placement) {
  const shape = job.shape;
  const P = job.promptTokens;
  const steps = Math.max(0, job.genTokens - 1);
  const used = new Set([placement.prefillUnit, ...placement.lanes.flatMap((l) => l.segments.map((s) => s.unitId))]);
  const opp = (id: string) => {
    const u = model.units[id];
    const top = u.opps.length - 1;
    return u.opps[placement.freqLevel[id] ?? (used.has(id) ? top : 0)];
  };
  const run = (id: string, flops: number, bytes: number) => {
    const u = model.units[id];
    const f = opp(id).freqHz;
    const peak = u.peakOpsPerS[shape.weightPrecision]! * f / u.opps[u.opps.length - 1].freqHz;
    const t = rooflineTimeS(flops, bytes, peak, u.bandwidthBytesPerS, {
      computeEfficiency: u.computeEfficiency,
      memoryEfficiency: u.memoryEfficiency,
    });
    return { t, active: t * dasi(flops, bytes, peak, u.bandwidthBytesPerS) };
  };
  const zero = () => Object.fromEntries(model.unitIds.map((id) => [id, 0]));
  const busy = [zero(), zero()];
  const active = [zero(), zero()];
  const bytes = [zero(), zero()];
  const pre = prefillWork(shape, { tokens: P });
  const p = run(placement.prefillUnit, pre.flops, pre.bytes);
  busy[0][placement.prefillUnit] = p.t;
  active[0][placement.prefillUnit] = p.active;
  bytes[0][placement.prefillUnit] = pre.bytes;
  let decodeS = 0;
  const kvPerTokenLayer = 2 * shape.kvHeads * shape.headDim * (shape.kvPrecision === "fp32" ? 4 : 2);
  const act = shape.hiddenSize * (shape.kvPrecision === "fp32" ? 4 : 2);
  for (const lane of placement.lanes) {
    let laneS = 0;
    if (steps === 0) continue;
    for (const seg of lane.segments) {
      if (seg.unitId !== placement.prefillUnit || lane.samples > 1) {
        const kv = (1 + lane.samples) * P * (seg.layerEnd - seg.layerStart) * kvPerTokenLayer;
        const u = model.units[seg.unitId];
        const copy = kv / (u.bandwidthBytesPerS * u.memoryEfficiency);
        laneS += copy;
        busy[1][seg.unitId] += copy;
        bytes[1][seg.unitId] += kv;
      }
    }
    for (let c = P; c < P + steps; c++) {
      let prev: string | undefined;
      for (const seg of lane.segments) {
        const w = decodeWork(shape, {
          context: c,
          batch: lane.samples,
          layerStart: seg.layerStart,
          layerEnd: seg.layerEnd,
        });
        const r = run(seg.unitId, w.flops, w.bytes);
        busy[1][seg.unitId] += r.t;
        active[1][seg.unitId] += r.active;
        bytes[1][seg.unitId] += w.bytes;
        laneS += r.t;
        if (prev !== undefined && prev !== seg.unitId) {
          const slower = Math.min(model.units[prev].bandwidthBytesPerS, model.units[seg.unitId].bandwidthBytesPerS);
          laneS += model.transferOverheadS + lane.samples * act / slower;
          bytes[1][seg.unitId] += lane.samples * act;
        }
        prev = seg.unitId;
      }
    }
    decodeS = Math.max(decodeS, laneS);
  }
  for (const id of model.unitIds) decodeS = Math.max(decodeS, busy[1][id]);
  return { durations: [p.t, decodeS], busy, active, bytes, used, opp };
}

/** Reference energy on an isothermal board (temperatures stay at their start). */
function reference(model: BoardModel, state: BoardState, job: Job, placement: Placement) {
  const r = referenceLoads(model, job, placement);
  const span = r.durations[0] + r.durations[1];
  let energy = model.basePowerW * span;
  for (const id of model.unitIds) {
    const u = model.units[id];
    if (!r.used.has(id) && u.powerGateable) continue;
    const o = r.opp(id);
    const leak = leakagePowerW(
      u.leakagePowerW,
      u.leakageKappaPerK,
      u.leakageRefTempC,
      state.tempsC[u.thermalZone],
      o.voltageV / u.opps[u.opps.length - 1].voltageV,
    );
    // A power-gateable unit is on only while it works.
    const on = u.powerGateable ? r.busy[0][id] + r.busy[1][id] : span;
    energy += (u.idlePowerW + leak) * on + u.ceffF * o.voltageV ** 2 * o.freqHz * (r.active[0][id] + r.active[1][id]) +
      u.energyPerByteJ * (r.bytes[0][id] + r.bytes[1][id]);
  }
  return { ttftS: r.durations[0], latencyS: span, energyJ: energy };
}

/**
 * Reference energy and peak temperatures on a thermally coupled board: the RC
 * equations of every zone with leakage following the temperature, integrated
 * by RK4 in 4000 steps per phase (each unit's work spread evenly over its phase).
 */
function odeReference(model: BoardModel, state: BoardState, job: Job, placement: Placement) {
  const r = referenceLoads(model, job, placement);
  const temps: Record<string, number> = { ...state.tempsC };
  const peak: Record<string, number> = { ...state.tempsC };
  let energy = 0;
  for (let phase = 0; phase < 2; phase++) {
    const D = r.durations[phase];
    if (!(D > 0)) continue;
    const powers = (t: Record<string, number>) => {
      const out: Record<string, number> = {};
      for (const id of model.unitIds) {
        const u = model.units[id];
        if (!r.used.has(id) && u.powerGateable) {
          out[id] = 0;
          continue;
        }
        const o = r.opp(id);
        const on = u.powerGateable ? r.busy[phase][id] / D : 1;
        const leak = leakagePowerW(
          u.leakagePowerW,
          u.leakageKappaPerK,
          u.leakageRefTempC,
          t[u.thermalZone],
          o.voltageV / u.opps[u.opps.length - 1].voltageV,
        );
        out[id] = on * (u.idlePowerW + leak) +
          (u.ceffF * o.voltageV ** 2 * o.freqHz * r.active[phase][id] + u.energyPerByteJ * r.bytes[phase][id]) / D;
      }
      return out;
    };
    const deriv = (t: Record<string, number>) => {
      const p = powers(t);
      const d: Record<string, number> = {};
      for (const z of model.zones) {
        let ss = state.ambientC + z.ambientOffsetK;
        for (const id of model.unitIds) ss += (z.rthKPerW[id] ?? 0) * p[id];
        d[z.id] = (ss - t[z.id]) / z.tauS;
      }
      return { d, total: Object.values(p).reduce((a, b) => a + b, 0) };
    };
    const n = 4000;
    const h = D / n;
    const shift = (t: Record<string, number>, d: Record<string, number>, k: number) =>
      Object.fromEntries(Object.keys(t).map((z) => [z, t[z] + k * d[z]]));
    for (let i = 0; i < n; i++) {
      const k1 = deriv(temps);
      const k2 = deriv(shift(temps, k1.d, h / 2));
      const k3 = deriv(shift(temps, k2.d, h / 2));
      const k4 = deriv(shift(temps, k3.d, h));
      energy += (h / 6) * (k1.total + 2 * k2.total + 2 * k3.total + k4.total);
      for (const z of Object.keys(temps)) {
        temps[z] += (h / 6) * (k1.d[z] + 2 * k2.d[z] + 2 * k3.d[z] + k4.d[z]);
        if (temps[z] > peak[z]) peak[z] = temps[z];
      }
    }
  }
  const span = r.durations[0] + r.durations[1];
  return { energyJ: energy + model.basePowerW * span, peakTempC: peak };
}

/** A random well-formed placement over the four RK3588 units. */
function placementArb(layers: number, samples: number) {
  const unit = fc.constantFrom(...UNITS);
  const lane = fc.tuple(
    fc.array(unit, { minLength: 1, maxLength: 3 }),
    fc.array(fc.integer({ min: 1, max: layers - 1 }), { minLength: 2, maxLength: 2 }),
  );
  return fc.record({
    prefillUnit: unit,
    lanes: fc.array(lane, { minLength: 1, maxLength: Math.min(3, samples) }),
    levels: fc.tuple(
      fc.integer({ min: 0, max: 4 }),
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 3 }),
    ),
  }).map(({ prefillUnit, lanes, levels }) => {
    const built: Lane[] = lanes.map(([units, cuts]) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b).slice(0, units.length - 1);
      const bounds = [0, ...points, layers];
      return {
        segments: bounds.slice(0, -1).map((s, i) => ({ unitId: units[i], layerStart: s, layerEnd: bounds[i + 1] })),
        samples: 0,
      };
    });
    // Spread the samples over the lanes, at least one each.
    built.forEach((l, i) => (l.samples = Math.floor(samples / built.length) + (i < samples % built.length ? 1 : 0)));
    const freqLevel: Record<string, number> = {};
    UNITS.forEach((id, i) => (freqLevel[id] = levels[i]));
    return { prefillUnit, lanes: built, freqLevel } as Placement;
  });
}

Deno.test("predict() agrees with a step-by-step reference on an isothermal board (any placement)", () => {
  const model = createBoardModel(isothermalPriors(), { allocLambda: 0 });
  const state = idleState({ tempsC: { soc: 25, bigcore: 25, littlecore: 25, gpu: 25, npu: 25 }, ambientC: 25 });
  fc.assert(
    fc.property(
      placementArb(LLAMA_1B_INT4.layers, 6),
      fc.integer({ min: 1, max: 300 }),
      fc.integer({ min: 0, max: 60 }),
      (placement, P, G) => {
        const job: Job = { shape: LLAMA_1B_INT4, promptTokens: P, genTokens: G, samples: 6 };
        const got = predict(model, state, job, placement);
        const want = reference(model, state, job, placement);
        closeRel(got.ttftMs, want.ttftS * 1000, 1e-9);
        closeRel(got.latencyMs, want.latencyS * 1000, 1e-9);
        closeRel(got.energyJ, want.energyJ, 1e-9);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("predict() matches an RK4 integration of the coupled RC zones with temperature-dependent leakage", () => {
  // No bus contention or allocation inflation (the reference leaves them out); thermal coupling as in the fixture.
  const model = createBoardModel({ ...RK3588_PRIORS, busBandwidthBytesPerS: 1e15 }, { allocLambda: 0 });
  const cases: [Placement, number, number][] = [
    [{ prefillUnit: "cpu_big", lanes: [oneLane("cpu_big", 4, 16)], freqLevel: {} }, 40, 300],
    [
      {
        prefillUnit: "npu",
        lanes: [oneLane("npu", 2, 16), oneLane("gpu", 1, 16), oneLane("cpu_big", 1, 16)],
        freqLevel: { gpu: 2 },
      },
      55,
      400,
    ],
    [
      {
        prefillUnit: "gpu",
        lanes: [{
          segments: [{ unitId: "cpu_little", layerStart: 0, layerEnd: 6 }, {
            unitId: "npu",
            layerStart: 6,
            layerEnd: 16,
          }],
          samples: 4,
        }],
        freqLevel: {},
      },
      35,
      200,
    ],
  ];
  for (const [placement, t0, G] of cases) {
    const state = idleState({ tempsC: { soc: t0, bigcore: t0 + 3, littlecore: t0 - 2, gpu: t0, npu: t0 - 1 } });
    const job: Job = { shape: LLAMA_1B_INT4, promptTokens: 300, genTokens: G, samples: 4 };
    const got = predict(model, state, job, placement);
    const want = odeReference(model, state, job, placement);
    closeRel(got.energyJ, want.energyJ, 5e-4);
    for (const z of model.zones) {
      assert.ok(
        Math.abs(got.peakTempC[z.id] - want.peakTempC[z.id]) < 0.05,
        `${z.id}: ${got.peakTempC[z.id]} vs ${want.peakTempC[z.id]}`,
      );
    }
  }
});

Deno.test("predict() of a prefill-only job is the hand-computed roofline and energy equation (worked example)", () => {
  const model = createBoardModel(isothermalPriors(), { allocLambda: 0 });
  const state = idleState({ tempsC: { soc: 25, bigcore: 25, littlecore: 25, gpu: 25, npu: 25 } });
  // GPT-2 fp32, 128 tokens on the A76 cluster at 2.4 GHz: 22.12 GFLOP (hand count in workload_test.ts).
  const job: Job = { shape: GPT2, promptTokens: 128, genTokens: 1, samples: 1 };
  const placement: Placement = { prefillUnit: "cpu_big", lanes: [oneLane("cpu_big", 1, 12)], freqLevel: {} };
  const p = predict(model, state, job, placement);
  const w = prefillWork(GPT2, { tokens: 128 });
  assert.equal(w.flops, 22_124_815_872);
  const tS = w.flops / (153.6e9 * 0.5); // compute-bound: 0.288 s at eta_c 0.5
  assert.ok(w.bytes / (20e9 * 0.7) < tS);
  closeRel(p.ttftMs, tS * 1000);
  closeRel(p.latencyMs, tS * 1000);
  // Energy: base 1.5 W, A76 idle 0.3 W + leakage 0.15 W at 25 °C, A55 (not gateable, idle at its lowest OPP 0.675 V
  // of 0.95 V) 0.15 W + 0.1 x 0.675 / 0.95 W; A76 dynamic 2.5 nF x 1 V^2 x 2.4 GHz x DASI 1; DRAM 0.15 nJ/B.
  const expected = 1.5 * tS + (0.3 + 0.15) * tS + (0.15 + 0.05 * 0.675 / 0.95) * tS + 2.5e-9 * 2.4e9 * tS +
    1.5e-10 * w.bytes;
  closeRel(p.energyJ, expected);
  assert.deepEqual(Object.keys(p.perUnit).sort(), ["cpu_big", "cpu_little"]); // GPU and NPU power-gated
  assert.equal(p.perUnit.cpu_big.dasi, 1);
  closeRel(p.perUnit.cpu_little.energyJ, (0.15 + 0.05 * 0.675 / 0.95) * tS);
  // One of four units busy at DASI 1 for the whole span.
  closeRel(p.underutilization, 0.75);
  assert.equal(p.feasible, true);
  assert.equal(p.constraintViolation, 0);
});

Deno.test("predict() divides a shared bus between concurrent memory-bound lanes (worked example)", () => {
  // Two identical units of 20 GB/s each at eta_m 1 on a 30 GB/s bus: each gets 75%.
  const unit = RK3588_PRIORS.units[3];
  const priors: BoardPriors = {
    ...RK3588_PRIORS,
    busBandwidthBytesPerS: 30e9,
    defaultUnit: "a",
    zones: [{ id: "soc", tauS: 50, rthKPerW: {} }],
    units: ["a", "b"].map((id) => ({
      ...unit,
      id,
      bandwidthBytesPerS: 20e9,
      memoryEfficiency: 1,
      peakOpsPerS: { int4: 1e15 }, // never compute-bound
      thermalZone: "soc",
    })),
  };
  const model = createBoardModel(priors, { allocLambda: 0 });
  const state: BoardState = {
    tempsC: { soc: 25 },
    ambientC: 25,
    memAvailableBytes: 6e9,
    healthyUnits: ["a", "b"],
    maxFreqHz: {},
  };
  const job: Job = { shape: LLAMA_1B_INT4, promptTokens: 16, genTokens: 101, samples: 2 };
  const alone = predict(model, state, { ...job, samples: 1 }, {
    prefillUnit: "a",
    lanes: [oneLane("a", 1, 16)],
    freqLevel: {},
  });
  const both = predict(model, state, job, {
    prefillUnit: "a",
    lanes: [oneLane("a", 1, 16), oneLane("b", 1, 16)],
    freqLevel: {},
  });
  // Lane b also copies the prompt's KV cache; lane a does not (it did the prefill, batch 1).
  const kvCopyS = (2 * 16 * 16 * 2 * 8 * 64 * 2) / 20e9;
  const decodeAloneS = (alone.latencyMs - alone.ttftMs) / 1000;
  closeRel((both.latencyMs - both.ttftMs) / 1000, (decodeAloneS + kvCopyS) / 0.75, 1e-3);
});

Deno.test("predict() inflates time by 1 + lambda_alloc CPQ under memory pressure (worked example)", () => {
  const model = createBoardModel(isothermalPriors(), { allocLambda: 0.05 });
  const job: Job = { shape: GPT2, promptTokens: 128, genTokens: 1, samples: 1 };
  const placement: Placement = { prefillUnit: "cpu_big", lanes: [oneLane("cpu_big", 1, 12)], freqLevel: {} };
  const p = predict(model, idleState(), job, placement);
  const rho = p.perUnit.cpu_big.rho;
  assert.ok(rho > 0 && rho < 0.85);
  closeRel(p.perUnit.cpu_big.cpq, rho / (1 - rho));
  const free = predict(createBoardModel(isothermalPriors(), { allocLambda: 0 }), idleState(), job, placement);
  closeRel(p.ttftMs, free.ttftMs * (1 + 0.05 * rho / (1 - rho)));
});

Deno.test("predict() charges idle units that cannot be power-gated for the whole span, gateable ones only while busy", () => {
  const model = createBoardModel(isothermalPriors());
  const state = idleState({ tempsC: { soc: 25, bigcore: 25, littlecore: 25, gpu: 25, npu: 25 } });
  const job: Job = { shape: LLAMA_1B_INT4, promptTokens: 64, genTokens: 32, samples: 1 };
  const p = predict(model, state, job, { prefillUnit: "npu", lanes: [oneLane("npu", 1, 16)], freqLevel: {} });
  const spanS = p.latencyMs / 1000;
  // Both CPU clusters idle at their lowest OPP: (idle + leakage at 25 °C x V / V_top) x span.
  closeRel(p.perUnit.cpu_big.energyJ, (0.3 + 0.15 * 0.675 / 1.0) * spanS);
  closeRel(p.perUnit.cpu_little.energyJ, (0.15 + 0.05 * 0.675 / 0.95) * spanS);
  assert.equal(p.perUnit.gpu, undefined);
  assert.equal(p.perUnit.cpu_big.busyMs, 0);
  // The NPU (gateable) is busy the whole job here; on a job where it only prefills, it draws nothing after.
  const prefillOnly = predict(model, state, job, {
    prefillUnit: "npu",
    lanes: [oneLane("cpu_big", 1, 16)],
    freqLevel: {},
  });
  assert.ok(Math.abs(prefillOnly.perUnit.npu.busyMs - prefillOnly.ttftMs) < 1e-9);
  // Were it not gateable, it would pay idle 0.2 W + leakage 0.08 W (25 °C, top OPP) through the decode too.
  const ungated = createBoardModel({
    ...isothermalPriors(),
    units: RK3588_PRIORS.units.map((u) => (u.id === "npu" ? { ...u, powerGateable: false } : u)),
  });
  const always = predict(ungated, state, job, {
    prefillUnit: "npu",
    lanes: [oneLane("cpu_big", 1, 16)],
    freqLevel: {},
  });
  const decodeS = (prefillOnly.latencyMs - prefillOnly.ttftMs) / 1000;
  closeRel(always.perUnit.npu.energyJ - prefillOnly.perUnit.npu.energyJ, (0.2 + 0.08) * decodeS);
  let sum = 1.5 * spanS;
  for (const u of Object.values(p.perUnit)) sum += u.energyJ;
  closeRel(p.energyJ, sum);
});

Deno.test("predict() runs a pipeline lane as the sum of its segments plus transfers", () => {
  const model = createBoardModel(isothermalPriors(), { allocLambda: 0 });
  const job: Job = { shape: LLAMA_1B_INT4, promptTokens: 32, genTokens: 65, samples: 2 };
  const whole = (id: string) =>
    predict(model, idleState(), job, { prefillUnit: "npu", lanes: [oneLane(id, 2, 16)], freqLevel: {} });
  const split = predict(model, idleState(), job, {
    prefillUnit: "npu",
    lanes: [{
      segments: [{ unitId: "cpu_big", layerStart: 0, layerEnd: 8 }, { unitId: "npu", layerStart: 8, layerEnd: 16 }],
      samples: 2,
    }],
    freqLevel: {},
  });
  const decode = (p: { latencyMs: number; ttftMs: number }) => p.latencyMs - p.ttftMs;
  // Slower than the faster unit alone, faster than the slower alone (both halves read half the layers).
  assert.ok(decode(split) > Math.min(decode(whole("cpu_big")), decode(whole("npu"))));
  assert.ok(decode(split) < Math.max(decode(whole("cpu_big")), decode(whole("npu"))));
  // The lane is at least as long as each unit's busy time.
  assert.ok(decode(split) >= split.perUnit.cpu_big.busyMs);
});

Deno.test("predict() reports memory pressure above rho_max as infeasible, naming the pool", () => {
  const model = createBoardModel(RK3588_PRIORS);
  const job: Job = { shape: LLAMA_1B_INT4, promptTokens: 128, genTokens: 128, samples: 8 };
  const placement: Placement = { prefillUnit: "npu", lanes: [oneLane("npu", 8, 16)], freqLevel: {} };
  const ok = predict(model, idleState(), job, placement);
  assert.equal(ok.feasible, true);
  const tight = predict(model, idleState({ memAvailableBytes: 0.8e9 }), job, placement);
  assert.equal(tight.feasible, false);
  assert.match(tight.violations[0], /^shared memory \(npu\): rho 0\.\d+ exceeds rho_max 0\.85/);
  assert.ok(tight.constraintViolation > 0);
  assert.ok(Number.isFinite(tight.energyJ) && Number.isFinite(tight.latencyMs));
  // A unit with dedicated memory is checked against its own memory.
  const dedicated = createBoardModel({
    ...RK3588_PRIORS,
    units: RK3588_PRIORS.units.map((u) => (u.id === "gpu" ? { ...u, memoryBytes: 0.5e9 } : u)),
  });
  const onGpu = predict(dedicated, idleState(), job, {
    prefillUnit: "npu",
    lanes: [oneLane("gpu", 8, 16)],
    freqLevel: {},
  });
  assert.ok(
    onGpu.violations.some((v) => /^unit "gpu" memory: rho \d+\.\d+ exceeds rho_max/.test(v)),
    onGpu.violations.join(),
  );
});

Deno.test("predict() rejects unhealthy units, missing precisions and frequency levels out of range by name", () => {
  const model = createBoardModel(RK3588_PRIORS);
  const job: Job = { shape: LLAMA_1B_INT4, promptTokens: 16, genTokens: 8, samples: 1 };
  const sick = predict(model, idleState({ healthyUnits: ["cpu_big", "cpu_little", "gpu"] }), job, {
    prefillUnit: "npu",
    lanes: [oneLane("npu", 1, 16)],
    freqLevel: {},
  });
  assert.deepEqual(sick.violations, ['unit "npu" is unhealthy']);
  assert.equal(sick.constraintViolation, 1);

  const fp32: Job = { ...job, shape: { ...GPT2 } };
  const noPrecision = predict(model, idleState(), fp32, {
    prefillUnit: "npu",
    lanes: [oneLane("npu", 1, 12)],
    freqLevel: {},
  });
  assert.deepEqual(noPrecision.violations, ['unit "npu" cannot run fp32 weights (supports fp16, int8, int4)']);
  assert.equal(noPrecision.energyJ, Infinity);
  assert.equal(noPrecision.feasible, false);

  const badLevel = predict(model, idleState(), job, {
    prefillUnit: "gpu",
    lanes: [oneLane("gpu", 1, 16)],
    freqLevel: { gpu: 4 },
  });
  assert.deepEqual(badLevel.violations, ['unit "gpu" frequency level 4 is out of range [0, 3]']);
  assert.ok(Number.isFinite(badLevel.energyJ));
});

Deno.test("predict() keeps a placement off a passive trip: infeasible when the zone would reach trip - margin", () => {
  const model = createBoardModel(RK3588_PRIORS);
  // Heavy CPU job of ~40 s (one soc tau): the soc zone (85 °C trip, 5 K margin) heads for 25 + 8 K/W x ~7.6 W.
  const job: Job = { shape: LLAMA_1B_INT4, promptTokens: 512, genTokens: 500, samples: 8 };
  const placement: Placement = { prefillUnit: "cpu_big", lanes: [oneLane("cpu_big", 8, 16)], freqLevel: {} };
  const cool = predict(model, idleState(), job, placement);
  assert.equal(cool.feasible, true, cool.violations.join());
  const hot = { soc: 78, bigcore: 80, littlecore: 70, gpu: 70, npu: 70 };
  const p = predict(model, idleState({ tempsC: hot }), job, placement);
  assert.equal(p.feasible, false);
  assert.match(p.violations[0], /^zone "soc" reaches 80\.0 °C \(passive trip 85 °C - margin 5 K\) after \d+\.\d s/);
  assert.ok(p.peakTempC.soc >= 80);
  // The same hot board is fine with a light job that lets the zone cool (a 1-token GPT-2 int8 on the A55
  // at its lowest clock: ~4.4 W in total, a soc steady state near 60 °C).
  const gpt2int8 = { ...GPT2, weightPrecision: "int8" as const, kvPrecision: "fp16" as const };
  const light = predict(model, idleState({ tempsC: { ...hot, soc: 81 } }), {
    shape: gpt2int8,
    promptTokens: 1,
    genTokens: 1,
    samples: 1,
  }, { prefillUnit: "cpu_little", lanes: [oneLane("cpu_little", 1, 12)], freqLevel: { cpu_little: 0 } });
  assert.equal(light.feasible, true, light.violations.join());
  assert.equal(light.peakTempC.soc, 81);
});

Deno.test("predict() flags an SLO miss and a context beyond maxSeqLen", () => {
  const model = createBoardModel(RK3588_PRIORS);
  const placement: Placement = { prefillUnit: "cpu_big", lanes: [oneLane("cpu_big", 1, 12)], freqLevel: {} };
  const p = predict(
    model,
    idleState(),
    { shape: GPT2, promptTokens: 64, genTokens: 64, samples: 1, sloMs: 1 },
    placement,
  );
  assert.equal(p.violations.length, 1);
  assert.match(p.violations[0], /^latency \d+ ms exceeds the SLO of 1 ms$/);
  closeRel(p.constraintViolation, p.latencyMs / 1 - 1);
  const long = predict(model, idleState(), { shape: GPT2, promptTokens: 1000, genTokens: 100, samples: 1 }, placement);
  assert.deepEqual(long.violations, ["context of 1099 tokens exceeds the model's maxSeqLen 1024"]);
});

Deno.test("predict() rejects malformed placements with a RangeError naming the problem", () => {
  const model = createBoardModel(RK3588_PRIORS);
  const job: Job = { shape: GPT2, promptTokens: 8, genTokens: 8, samples: 2 };
  const bad = (p: Placement, re: RegExp) => assert.throws(() => predict(model, idleState(), job, p), re);
  bad({ prefillUnit: "tpu", lanes: [oneLane("cpu_big", 2, 12)], freqLevel: {} }, /unknown unit "tpu"/);
  bad(
    { prefillUnit: "cpu_big", lanes: [oneLane("cpu_big", 1, 12)], freqLevel: {} },
    /decode 1 samples; the job asks for 2/,
  );
  bad({ prefillUnit: "cpu_big", lanes: [oneLane("cpu_big", 2, 11)], freqLevel: {} }, /lane 0 covers layers \[0, 11\)/);
  bad(
    {
      prefillUnit: "cpu_big",
      lanes: [{
        segments: [{ unitId: "cpu_big", layerStart: 0, layerEnd: 5 }, { unitId: "gpu", layerStart: 6, layerEnd: 12 }],
        samples: 2,
      }],
      freqLevel: {},
    },
    /lane 0 segment 1 covers \[6, 12\); expected a non-empty range starting at 5/,
  );
  bad({ prefillUnit: "cpu_big", lanes: [], freqLevel: {} }, /no lanes/);
  assert.throws(
    () =>
      predict(model, idleState(), { ...job, promptTokens: 0 }, {
        prefillUnit: "cpu_big",
        lanes: [oneLane("cpu_big", 2, 12)],
        freqLevel: {},
      }),
    /promptTokens/,
  );
});

Deno.test("predict() lowers the frequency to the current cap, as the kernel does", () => {
  const model = createBoardModel(RK3588_PRIORS);
  const job: Job = { shape: GPT2, promptTokens: 128, genTokens: 1, samples: 1 };
  const placement: Placement = { prefillUnit: "cpu_big", lanes: [oneLane("cpu_big", 1, 12)], freqLevel: {} };
  const free = predict(model, idleState(), job, placement);
  const capped = predict(model, idleState({ maxFreqHz: { cpu_big: 1.7e9 } }), job, placement);
  assert.equal(capped.perUnit.cpu_big.freqHz, 1608e6);
  // Compute-bound prefill: time scales with 1 / f.
  closeRel(capped.ttftMs, free.ttftMs * 2400 / 1608, 1e-6);
});

Deno.test("predict() invariants: energy >= 0, latency >= TTFT > 0, U in [0, 1], feasible iff no violation", () => {
  const model = createBoardModel(RK3588_PRIORS);
  fc.assert(
    fc.property(
      placementArb(16, 4),
      fc.integer({ min: 1, max: 2000 }),
      fc.integer({ min: 0, max: 500 }),
      fc.double({ min: 20, max: 90, noNaN: true }),
      fc.double({ min: 0.3e9, max: 8e9, noNaN: true }),
      (placement, P, G, t0, mem) => {
        const state = idleState({
          tempsC: { soc: t0, bigcore: t0, littlecore: t0, gpu: t0, npu: t0 },
          memAvailableBytes: mem,
        });
        const p = predict(model, state, { shape: LLAMA_1B_INT4, promptTokens: P, genTokens: G, samples: 4 }, placement);
        assert.ok(p.energyJ >= 0 && p.ttftMs > 0 && p.latencyMs >= p.ttftMs);
        assert.ok(p.underutilization >= 0 && p.underutilization <= 1);
        assert.equal(p.feasible, p.violations.length === 0);
        assert.equal(p.feasible, p.constraintViolation === 0);
        for (const [zone, peak] of Object.entries(p.peakTempC)) assert.ok(peak >= state.tempsC[zone] - 1e-9);
        for (const u of Object.values(p.perUnit)) {
          assert.ok(u.dasi >= 0 && u.dasi <= 1 && u.phi >= 0 && u.phi <= 1 && u.energyJ >= 0 && u.busyMs >= 0);
          assert.ok(u.busyMs <= p.latencyMs * (1 + 1e-9));
        }
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("predict() energy and latency grow with the tokens generated and with the prompt", () => {
  const model = createBoardModel(RK3588_PRIORS);
  fc.assert(
    fc.property(
      placementArb(16, 3),
      fc.integer({ min: 1, max: 1000 }),
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: 1, max: 50 }),
      (
        placement,
        P,
        G,
        more,
      ) => {
        const job: Job = { shape: LLAMA_1B_INT4, promptTokens: P, genTokens: G, samples: 3 };
        const a = predict(model, idleState(), job, placement);
        const b = predict(model, idleState(), { ...job, genTokens: G + more }, placement);
        const c = predict(model, idleState(), { ...job, promptTokens: P + more }, placement);
        // genTokens 0 and 1 both stop after the prefill (its logits give the first token).
        assert.ok(G + more <= 1 ? b.energyJ === a.energyJ : b.energyJ > a.energyJ);
        assert.ok(b.latencyMs >= a.latencyMs);
        assert.ok(c.energyJ > a.energyJ && c.latencyMs > a.latencyMs);
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("predict() heats a busy zone above its start, below the steady state of thrice the average power, more for longer jobs", () => {
  const model = createBoardModel(RK3588_PRIORS);
  const job: Job = { shape: LLAMA_1B_INT4, promptTokens: 256, genTokens: 512, samples: 4 };
  const p = predict(model, idleState(), job, {
    prefillUnit: "cpu_big",
    lanes: [oneLane("cpu_big", 4, 16)],
    freqLevel: {},
  });
  // Bound: steady state of the soc zone if every powered unit drew its whole-job average for ever, leakage at 85 °C.
  const z = RK3588_PRIORS.zones[0];
  let bound = 25;
  for (const [id, u] of Object.entries(p.perUnit)) bound += (z.rthKPerW[id] ?? 0) * u.powerW * 3;
  assert.ok(p.peakTempC.soc > 40 && p.peakTempC.soc < bound);
  // A longer job gets hotter, never above the one-phase bound.
  const longer = predict(model, idleState(), { ...job, genTokens: 4000 }, {
    prefillUnit: "cpu_big",
    lanes: [oneLane("cpu_big", 4, 16)],
    freqLevel: {},
  });
  assert.ok(longer.peakTempC.soc > p.peakTempC.soc);
});
