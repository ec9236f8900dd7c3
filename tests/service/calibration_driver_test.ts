/**
 * Issue 3's convergence test: on simulated rk3588 and Jetson Orin Nano boards
 * with a hidden truth perturbed from the profile's priors (several seeds),
 * after the calibration workload the model predicts NEW jobs (prefill and
 * decode lanes of a Llama-3.2-1B-shaped int4 decoder on various placements,
 * run step by step on the simulator as the service would, energy from the HAL
 * energy meter over the job's window, latency on the board's clock) within
 * 10% MAPE of energy and latency and within 2 °C of the peak zone
 * temperatures. Everything is read through the HAL; nothing here reads the
 * simulator's truth. The errors before (priors) and after are printed.
 *
 * Also: the pure helpers of the driver (job work, bus and ridge estimators) on
 * hand-built records and samples.
 */
import assert from "node:assert/strict";
import { type DecoderShape, ManualClock } from "../../src/core/mod.ts";
import { type Board, createActuators, discoverBoard, getProfile, type Sample } from "../../src/hal/mod.ts";
import { createSimBoard } from "../../src/sim/mod.ts";
import {
  type BoardModel,
  createBoardModel,
  decodeWork,
  type Job,
  type JobOutcome,
  kvHandoffBytes,
  type Placement,
  predict,
  predictionError,
  type PredictionErrorReport,
  prefillWork,
} from "../../src/physics/mod.ts";
import {
  applyBusEstimate,
  applyRidgeEstimate,
  BoardSession,
  type CalibrationTarget,
  defaultValidationJobs,
  estimateBus,
  estimateRidge,
  jobWork,
  LLAMA_3_2_1B_INT4,
  runCalibrationWorkload,
  simCalibrationTarget,
} from "../../src/service/calibration_driver.ts";
import type { WorkRecord } from "../../src/service/observations.ts";

/** tmpfs when there is one: the simulated tree is rewritten every 100 ms of virtual time. */
async function tempRoot(): Promise<string> {
  try {
    return await Deno.makeTempDir({ dir: "/dev/shm", prefix: "qeil-calib-" });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return await Deno.makeTempDir({ prefix: "qeil-calib-" });
  }
}

const SHAPE = LLAMA_3_2_1B_INT4;

function lane(samples: number, ...segments: [string, number, number][]) {
  return { samples, segments: segments.map(([unitId, layerStart, layerEnd]) => ({ unitId, layerStart, layerEnd })) };
}

const ALL: [number, number] = [0, SHAPE.layers];

interface TestJob {
  name: string;
  promptTokens: number;
  genTokens: number;
  placement: Placement;
}

function placement(prefillUnit: string, lanes: ReturnType<typeof lane>[], freqLevel: Record<string, number> = {}) {
  return { prefillUnit, lanes, freqLevel };
}

/** New jobs, unlike anything in the workload or its validation: batches, pipelines, mixed clocks, a long one. */
const JOBS: Record<string, TestJob[]> = {
  "rk3588": [
    {
      name: "standard: all on the A76 cluster",
      promptTokens: 128,
      genTokens: 24,
      placement: placement("cpu_big", [lane(4, ["cpu_big", ...ALL])]),
    },
    {
      name: "NPU, 8 samples",
      promptTokens: 200,
      genTokens: 64,
      placement: placement("npu", [lane(8, ["npu", ...ALL])]),
    },
    {
      name: "sample-parallel NPU + A76 + Mali",
      promptTokens: 96,
      genTokens: 40,
      placement: placement("npu", [lane(4, ["npu", ...ALL]), lane(2, ["cpu_big", ...ALL]), lane(2, ["gpu", ...ALL])]),
    },
    {
      name: "pipeline Mali > NPU",
      promptTokens: 64,
      genTokens: 48,
      placement: placement("npu", [lane(4, ["gpu", 0, 3], ["npu", 3, 16])]),
    },
    {
      name: "lowered clocks: NPU 700 MHz + A55 1.4 GHz",
      promptTokens: 128,
      genTokens: 48,
      placement: placement("npu", [lane(2, ["npu", ...ALL]), lane(1, ["cpu_little", ...ALL])], {
        npu: 4,
        cpu_little: 5,
      }),
    },
    {
      name: "long: A76 + NPU lanes for a minute (heats the board)",
      promptTokens: 256,
      genTokens: 200,
      placement: placement("cpu_big", [lane(4, ["cpu_big", ...ALL]), lane(4, ["npu", ...ALL])]),
    },
  ],
  "jetson-orin-nano": [
    {
      name: "standard: all on the GPU, 8 samples",
      promptTokens: 128,
      genTokens: 160,
      placement: placement("gpu", [lane(8, ["gpu", ...ALL])]),
    },
    { name: "CPU only", promptTokens: 64, genTokens: 24, placement: placement("cpu", [lane(2, ["cpu", ...ALL])]) },
    {
      name: "sample-parallel GPU + CPU",
      promptTokens: 128,
      genTokens: 48,
      placement: placement("gpu", [lane(6, ["gpu", ...ALL]), lane(2, ["cpu", ...ALL])]),
    },
    {
      name: "pipeline CPU > GPU",
      promptTokens: 96,
      genTokens: 64,
      placement: placement("gpu", [lane(2, ["cpu", 0, 4], ["gpu", 4, 16])]),
    },
    {
      name: "GPU at 612 MHz",
      promptTokens: 256,
      genTokens: 200,
      placement: placement("gpu", [lane(8, ["gpu", ...ALL])], { gpu: 3 }),
    },
    {
      name: "long: GPU batch 8 + CPU lane (heats the board)",
      promptTokens: 512,
      genTokens: 400,
      placement: placement("gpu", [lane(8, ["gpu", ...ALL]), lane(1, ["cpu", ...ALL])]),
    },
  ],
};

const SEEDS = [1, 2, 3];

interface BoardRun {
  profileId: string;
  seed: number;
  before: PredictionErrorReport;
  after: PredictionErrorReport;
  driverBefore: PredictionErrorReport;
  driverAfter: PredictionErrorReport;
  workloadS: number;
  lines: string[];
}

function pct(x: number | undefined): string {
  return x === undefined ? "-" : `${x.toFixed(1)}%`;
}

function fmt(e: PredictionErrorReport): string {
  return `energy ${pct(e.energyMapePct)}, latency ${pct(e.latencyMapePct)}, temp ${e.tempMaeC?.toFixed(2)} °C`;
}

async function convergence(profileId: string, seed: number): Promise<BoardRun> {
  const root = await tempRoot();
  try {
    await using sim = await createSimBoard({ profileId, root, seed, timeMode: "virtual" });
    const board = await discoverBoard(root, { profileId, clock: sim.clock });
    await using actuators = createActuators(board);
    const target = simCalibrationTarget(sim, board, actuators);
    const prior = createBoardModel(getProfile(profileId).priors);
    const result = await runCalibrationWorkload({ ...target, model: prior });

    await using session = new BoardSession(target);
    const before: JobOutcome[] = [];
    const after: JobOutcome[] = [];
    const lines: string[] = [];
    for (const t of JOBS[profileId]) {
      const samples = t.placement.lanes.reduce((s, l) => s + l.samples, 0);
      const job: Job = { shape: SHAPE, promptTokens: t.promptTokens, genTokens: t.genTokens, samples };
      const m = await session.runJob(result.model, job, t.placement);
      const measured = { energyJ: m.energyJ, latencyMs: m.latencyMs, peakTempC: m.peakTempC };
      const p0 = predict(prior, m.state, job, t.placement);
      const p1 = predict(result.model, m.state, job, t.placement);
      before.push({ predicted: p0, measured });
      after.push({ predicted: p1, measured });
      const hottest = Object.entries(m.peakTempC).sort((a, b) => b[1] - a[1])[0];
      lines.push(
        `    ${t.name}: ${(m.latencyMs / 1000).toFixed(1)} s (prior ${(p0.latencyMs / 1000).toFixed(1)}, ` +
          `calibrated ${(p1.latencyMs / 1000).toFixed(1)}), ${m.energyJ.toFixed(1)} J (prior ${
            p0.energyJ.toFixed(1)
          }, calibrated ${p1.energyJ.toFixed(1)}), ${hottest[0]} peak ${hottest[1].toFixed(1)} °C ` +
          `(prior ${p0.peakTempC[hottest[0]].toFixed(1)}, calibrated ${p1.peakTempC[hottest[0]].toFixed(1)})`,
      );
    }
    return {
      profileId,
      seed,
      before: predictionError(before),
      after: predictionError(after),
      driverBefore: result.before,
      driverAfter: result.after,
      workloadS: result.durationMs / 1000,
      lines,
    };
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

for (const profileId of Object.keys(JOBS)) {
  Deno.test(`calibration converges on simulated ${profileId}: new jobs within 10% energy and latency MAPE, 2 °C`, async () => {
    const failures: string[] = [];
    for (const seed of SEEDS) {
      const r = await convergence(profileId, seed);
      console.log(
        `${profileId} seed ${seed} (workload ${r.workloadS.toFixed(0)} s of board time):\n` +
          `  new jobs before: ${fmt(r.before)}\n  new jobs after:  ${fmt(r.after)}\n` +
          `  driver validation before: ${fmt(r.driverBefore)}; after: ${fmt(r.driverAfter)}\n` +
          r.lines.join("\n"),
      );
      const a = r.after;
      assert.equal(a.energyCount, JOBS[profileId].length);
      assert.equal(a.latencyCount, JOBS[profileId].length);
      assert.ok(a.tempCount >= JOBS[profileId].length, "every job has measured zone peaks");
      if (!(a.energyMapePct! < 10)) failures.push(`seed ${seed}: energy MAPE ${pct(a.energyMapePct)}`);
      if (!(a.latencyMapePct! < 10)) failures.push(`seed ${seed}: latency MAPE ${pct(a.latencyMapePct)}`);
      if (!(a.tempMaeC! < 2)) failures.push(`seed ${seed}: temperature error ${a.tempMaeC} °C`);
      // The driver's own validation must agree with what the new jobs show.
      if (!(r.driverAfter.energyMapePct! < 10 && r.driverAfter.latencyMapePct! < 10)) {
        failures.push(`seed ${seed}: driver validation ${fmt(r.driverAfter)}`);
      }
    }
    assert.deepEqual(failures, []);
  });
}

// ------------------------------------------------------------------------------------------------ helpers

const RK = createBoardModel(getProfile("rk3588").priors);

Deno.test("jobWork() charges the prefill, KV hand-offs and every decode step as predict() counts them", () => {
  const job: Job = { shape: SHAPE, promptTokens: 50, genTokens: 4, samples: 3 };
  const p: Placement = placement("npu", [lane(2, ["gpu", 0, 5], ["npu", 5, 16]), lane(1, ["npu", ...ALL])]);
  const w = jobWork(job, p);
  const pre = prefillWork(SHAPE, { tokens: 50 });
  assert.deepEqual(w.prefill, { unitId: "npu", flops: pre.flops, bytes: pre.bytes, precision: "int4" });
  assert.equal(w.lanes.length, 2);
  // Lane 0 decodes a batch of 2, so both segments receive the prompt's cache; lane 1 decodes one sample on the
  // unit that prefilled, where the cache already is.
  assert.deepEqual(w.lanes[0].handoffs.map((h) => [h.unitId, h.flops, h.bytes]), [
    ["gpu", 0, kvHandoffBytes(SHAPE, { layerStart: 0, layerEnd: 5, promptTokens: 50, batch: 2 })],
    ["npu", 0, kvHandoffBytes(SHAPE, { layerStart: 5, layerEnd: 16, promptTokens: 50, batch: 2 })],
  ]);
  assert.deepEqual(w.lanes[1].handoffs, []);
  assert.equal(w.lanes[0].steps, 3);
  const step2 = w.lanes[0].stepItems(2);
  const gpu = decodeWork(SHAPE, { context: 52, batch: 2, layerStart: 0, layerEnd: 5 });
  const npu = decodeWork(SHAPE, { context: 52, batch: 2, layerStart: 5, layerEnd: 16 });
  assert.deepEqual(step2[0], { unitId: "gpu", flops: gpu.flops, bytes: gpu.bytes, precision: "int4" });
  // The hidden state handed from the GPU (2 x 2048 fp16) counts as NPU traffic.
  assert.deepEqual(step2[1], { unitId: "npu", flops: npu.flops, bytes: npu.bytes + 2 * 2048 * 2, precision: "int4" });
  assert.equal(jobWork({ ...job, genTokens: 1 }, p).lanes[0].steps, 0);
  assert.deepEqual(jobWork({ ...job, genTokens: 1 }, p).lanes[0].handoffs, [], "no decode, no hand-off");
});

function rec(unitId: string, startMs: number, endMs: number, bytes: number, flops = bytes / 4): WorkRecord {
  return { unitId, precision: "int8", flops, bytes, freqHz: RK.units[unitId].opps.at(-1)!.freqHz, startMs, endMs };
}

Deno.test("estimateBus() finds the bus and each unit's demand, also for a unit the bus limits alone", () => {
  // Truth: bus 30 GB/s; demands cpu_big 20, npu 40 (bus-limited alone: it streams at 30), gpu 5 GB/s.
  const bus = 30e9;
  const demand: Record<string, number> = { cpu_big: 20e9, npu: 40e9, gpu: 5e9 };
  const solo = Object.entries(demand).map(([id, d], i) => rec(id, i * 1000, i * 1000 + 500, Math.min(d, bus) * 0.5));
  const share = bus / (20e9 + 40e9 + 5e9);
  // Each unit a queue of items of 0.1 s at its shared rate, all starting at 10 s; the fastest finishes first.
  const concurrent: WorkRecord[] = [];
  for (const [id, d] of Object.entries(demand)) {
    for (let k = 0; k < 4; k++) concurrent.push(rec(id, 10000 + 100 * k, 10100 + 100 * k, d * share * 0.1));
  }
  const e = estimateBus(RK, solo, concurrent);
  assert.ok(e.contended);
  assert.ok(Math.abs(e.busBandwidthBytesPerS / bus - 1) < 1e-9, `${e.busBandwidthBytesPerS}`);
  assert.ok(Math.abs(e.share / share - 1) < 1e-9);
  for (const [id, d] of Object.entries(demand)) assert.ok(Math.abs(e.demandBytesPerS[id] / d - 1) < 1e-9, id);
  const m = applyBusEstimate(RK, e);
  assert.equal(m.busBandwidthBytesPerS, e.busBandwidthBytesPerS);
  assert.ok(Math.abs(m.units.npu.bandwidthBytesPerS * m.units.npu.memoryEfficiency / 40e9 - 1) < 1e-9);

  // No contention: the bus is at least what all drew together; demands are the solo rates.
  const free = estimateBus(RK, solo.slice(0, 1), [rec("cpu_big", 0, 100, 2e9)]);
  assert.equal(free.contended, false);
  assert.equal(free.busBandwidthBytesPerS, RK.busBandwidthBytesPerS);
  assert.throws(() => estimateBus(RK, [], concurrent), /no solo memory-bound record of unit "cpu_big"/);
});

/** A sample as the HAL would give it: rails in W and one zone temperature per unit. */
function railSample(monotonicMs: number, rails: Record<string, number>, tempC: number): Sample {
  return {
    timestampMs: monotonicMs,
    monotonicMs,
    thermal: RK.zones.map((z) => ({ name: `${z.id}-thermal`, zone: z.id, trips: [], ok: true as const, tempC })),
    coolingDevices: [],
    devfreq: [],
    cpufreq: [],
    power: Object.entries(rails).map(([name, powerW]) => ({ name, role: "unit" as const, ok: true as const, powerW })),
    load: [],
    memory: { ok: true, value: { totalBytes: 8e9, availableBytes: 6e9 } },
    units: {},
    totalPowerW: { ok: false, reason: "not in this test" },
    totalPowerRails: [],
    throttled: false,
  };
}

Deno.test("estimateRidge() recovers the ridge F/B from the unit's power across intensities", () => {
  // A unit with ridge 18 FLOP/B (the prior says 614.4 / 22 = 27.9): P = 0.4 + 3.5 min(1, I/18) + 2e-10 B/s.
  const trueRidge = 18;
  const f = RK.units.cpu_big.opps.at(-1)!.freqHz;
  const records: WorkRecord[] = [];
  const samples: Sample[] = [railSample(0, { cpu_big: 0.4 }, 40)];
  let t = 0;
  for (const intensity of [0, 0.25, 8, 14, 20, 30, 45, 72, 2000]) {
    const bytesPerS = intensity >= 27.9 * 0.18 ? 1e9 : 15e9;
    records.push({ ...rec("cpu_big", t, t + 500, bytesPerS * 0.5, intensity * bytesPerS * 0.5), freqHz: f });
    for (let k = 1; k <= 5; k++) {
      const powerW = 0.4 + 3.5 * Math.min(1, intensity / trueRidge) + 2e-10 * bytesPerS;
      samples.push(railSample(t + 100 * k, { cpu_big: powerW }, 40 + 0.01 * (t + 100 * k) / 100));
    }
    t += 500;
  }
  const e = estimateRidge(RK, "cpu_big", f, samples, records, "cpu_big");
  assert.equal(e.points, 45);
  assert.ok(Math.abs(e.ridgeFlopPerByte / trueRidge - 1) < 0.01, `${e.ridgeFlopPerByte}`);
  assert.ok(e.rmsResidualW < 1e-6);
  // Applying it keeps every achieved rate (and so every time) and moves only the roof.
  const m = applyRidgeEstimate(RK, e, "int8");
  const u = m.units.cpu_big;
  assert.ok(Math.abs(u.peakOpsPerS.int8! / u.bandwidthBytesPerS / trueRidge - 1) < 0.01);
  for (const p of ["int8", "int4", "fp32"] as const) {
    const before = RK.units.cpu_big.peakOpsPerS[p]! * RK.units.cpu_big.computeEfficiency;
    assert.ok(Math.abs(u.peakOpsPerS[p]! * u.computeEfficiency / before - 1) < 1e-12, p);
  }
  assert.throws(
    () => estimateRidge(RK, "cpu_big", f, samples.slice(0, 5), records, "cpu_big"),
    /needs 8 rail samples inside single items/,
  );
});

Deno.test("defaultValidationJobs() runs every unit alone and the two widest together, each about 2.5 s", () => {
  const board = { units: RK.unitIds.map((id) => ({ id })) } as unknown as Pick<Board, "units">;
  const jobs = defaultValidationJobs(RK, board, SHAPE);
  assert.deepEqual(jobs.map((j) => j.placement.prefillUnit), ["cpu_big", "cpu_little", "gpu", "npu", "npu"]);
  assert.deepEqual(jobs[4].placement.lanes.map((l) => l.segments[0].unitId), ["npu", "cpu_big"]);
  const state = { tempsC: {}, ambientC: 25, memAvailableBytes: 6e9, healthyUnits: [...RK.unitIds], maxFreqHz: {} };
  for (const v of jobs) {
    const ms = predict(RK, state, v.job, v.placement).latencyMs;
    // A slow unit whose prefill alone takes longer, or one capped at 400 steps, can miss the target.
    assert.ok(ms > 1000 && ms < 20000, `${v.placement.prefillUnit}: ${ms} ms`);
  }
});

Deno.test("BoardSession.runJob() meters a job through the HAL and leaves the clocks as it found them", async () => {
  const root = await tempRoot();
  try {
    const clock = new ManualClock();
    await using sim = await createSimBoard({ profileId: "rk3588", root, seed: 7, timeMode: "virtual", clock });
    const board = await discoverBoard(root, { profileId: "rk3588", clock });
    await using actuators = createActuators(board);
    const target: CalibrationTarget = simCalibrationTarget(sim, board, actuators);
    await using session = new BoardSession(target);
    const before = await board.read();
    const job: Job = { shape: SHAPE, promptTokens: 32, genTokens: 12, samples: 2 };
    const m = await session.runJob(RK, job, placement("npu", [lane(2, ["npu", ...ALL])], { npu: 5 }));
    // 1 prefill + 1 hand-off + 11 steps, all on the NPU at its level-5 clock (800 MHz).
    assert.equal(m.records.length, 13);
    assert.ok(m.records.every((r) => r.unitId === "npu" && r.freqHz === 800e6));
    assert.ok(Math.abs(m.latencyMs - (m.records.at(-1)!.endMs - m.records[0].startMs)) < 1e-6);
    assert.ok(m.energyJ > 0 && m.energyJ < 50, `${m.energyJ} J`);
    assert.ok(Object.keys(m.peakTempC).length === RK.zones.length);
    const after = await board.read();
    for (const id of ["npu"]) {
      assert.ok(before.units[id].maxFreqHz.ok && after.units[id].maxFreqHz.ok);
      assert.equal(after.units[id].maxFreqHz.value, before.units[id].maxFreqHz.value, "released to its governor");
    }
    assert.deepEqual(actuators.history.map((h) => [h.unitId, h.action]), [["npu", "pinFrequency"], ["npu", "release"]]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** A shape the driver never saw (Qwen2.5-1.5B's dimensions, int8) for a driver run with caller-given validation jobs. */
const QWEN_INT8: DecoderShape = {
  family: "qwen2",
  mlpMatrices: 3,
  layers: 28,
  hiddenSize: 1536,
  intermediateSize: 8960,
  heads: 12,
  kvHeads: 2,
  headDim: 128,
  vocabSize: 151936,
  maxSeqLen: 32768,
  tiedEmbeddings: true,
  weightPrecision: "int8",
  groupSize: 32,
  kvPrecision: "fp16",
};

Deno.test("runCalibrationWorkload() validates on the caller's jobs, releases every knob and reports its fit", async () => {
  const root = await tempRoot();
  try {
    await using sim = await createSimBoard({ profileId: "jetson-orin-nano", root, seed: 11, timeMode: "virtual" });
    const board = await discoverBoard(root, { profileId: "jetson-orin-nano", clock: sim.clock });
    await using actuators = createActuators(board);
    const prior: BoardModel = createBoardModel(getProfile("jetson-orin-nano").priors);
    const job: Job = { shape: QWEN_INT8, promptTokens: 64, genTokens: 64, samples: 4 };
    const r = await runCalibrationWorkload({
      ...simCalibrationTarget(sim, board, actuators),
      model: prior,
      validation: [{ job, placement: placement("gpu", [lane(4, ["gpu", 0, 28])]) }],
    });
    assert.equal(r.validation.length, 1);
    assert.equal(r.after.latencyCount, 1);
    assert.ok(r.after.latencyMapePct! < r.before.latencyMapePct!, `${fmt(r.before)} -> ${fmt(r.after)}`);
    assert.ok(r.fit.timingCount > 50 && r.fit.railCount > 100 && r.fit.thermalPairCount > 50, JSON.stringify(r.fit));
    assert.deepEqual(r.fit.skipped, []);
    assert.deepEqual(r.ridges.map((x) => x.unitId), ["cpu", "gpu"]);
    assert.ok(r.bus.busBandwidthBytesPerS > 30e9 && r.bus.busBandwidthBytesPerS < 200e9);
    // Every unit it pinned is back with its governor: the last action on each unit is a release.
    const last = new Map(actuators.history.map((h) => [h.unitId, h.action]));
    assert.deepEqual([...last.values()].filter((a) => a !== "release"), []);
    // The prior model is untouched.
    assert.deepEqual(prior, createBoardModel(getProfile("jetson-orin-nano").priors));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
