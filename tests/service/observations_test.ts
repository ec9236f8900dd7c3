import assert from "node:assert/strict";
import { fail, ok } from "../../src/core/mod.ts";
import { createActuators, discoverBoard, getProfile, type Sample, type UnitSample } from "../../src/hal/mod.ts";
import { createSimBoard } from "../../src/sim/mod.ts";
import {
  calibrate,
  concurrentBusShare,
  createBoardModel,
  unitWorkTime,
  voltageForFreq,
} from "../../src/physics/mod.ts";
import {
  busShares,
  railCoverage,
  stateFromSample,
  telemetryObservations,
  timingObservations,
  type WorkRecord,
  zoneTempsC,
} from "../../src/service/observations.ts";
import { BoardSession, simCalibrationTarget } from "../../src/service/calibration_driver.ts";

const RK = createBoardModel(getProfile("rk3588").priors);
const TOP = (id: string) => RK.units[id].opps.at(-1)!.freqHz;

function rec(unitId: string, startMs: number, endMs: number, bytes: number, flops = 0): WorkRecord {
  return { unitId, precision: "int8", flops, bytes, freqHz: TOP(unitId), startMs, endMs };
}

const close = (got: number, want: number, rel = 1e-9) =>
  assert.ok(Math.abs(got - want) <= rel * Math.abs(want), `got ${got}, want ${want}`);

Deno.test("busShares() averages the bus share over the pieces of an item's interval", () => {
  // The NPU and the A76 cluster each stream at their own roof; together they exceed the 33.8 GB/s bus.
  const npu = rec("npu", 0, 1000, 20e9);
  const cpu = rec("cpu_big", 500, 1500, 18e9);
  const shares = busShares(RK, [npu, cpu]);
  const work = (r: WorkRecord) => ({ ...r });
  const together = concurrentBusShare(RK, [work(npu), work(cpu)]);
  assert.ok(together < 1, `${together}`);
  // Each is alone for half its interval and shares for the other half.
  close(shares[0], 0.5 * 1 + 0.5 * together);
  close(shares[1], 0.5 * together + 0.5 * 1);
  // An item the model cannot time (unknown unit) neither gets a share nor takes one.
  const ghost = rec("npu", 0, 1000, 1e12);
  const withGhost = busShares(RK, [npu, { ...ghost, unitId: "dsp" }]);
  assert.deepEqual(withGhost, [concurrentBusShare(RK, [work(npu)]), 1]);
});

Deno.test("timingObservations() times every usable record with its bus share and says why others were skipped", () => {
  const records = [
    rec("npu", 0, 1000, 20e9, 1e9),
    rec("cpu_big", 500, 1500, 18e9),
    rec("npu", 2000, 2000, 1e9),
    { ...rec("gpu", 3000, 3100, 1e8), unitId: "dsp" },
    { ...rec("cpu_big", 4000, 4100, 1e8), precision: "fp16" as const },
  ];
  const built = timingObservations(RK, records);
  const shares = busShares(RK, records);
  assert.deepEqual(built.recordIndex, [0, 1, 4]);
  assert.deepEqual(built.observations[0], {
    kind: "timing",
    unitId: "npu",
    precision: "int8",
    flops: 1e9,
    bytes: 20e9,
    freqHz: 1e9,
    measuredDurationMs: 1000,
    busShare: shares[0],
  });
  assert.equal(built.observations[2].precision, "fp16");
  assert.equal(built.skipped.length, 2);
  assert.match(built.skipped[0], /record 2 \(npu, 2000-2000 ms\): needs a positive duration/);
  assert.match(built.skipped[1], /record 3 \(dsp, .*\): unknown unit/);
});

Deno.test("railCoverage() maps the RK3588 unit rails and board total, and Jetson's shared rails", async () => {
  for (
    const [profileId, want, skipped] of [
      [
        "rk3588",
        {
          cpu_big: { unitIds: ["cpu_big"], includesBase: false },
          cpu_little: { unitIds: ["cpu_little"], includesBase: false },
          gpu: { unitIds: ["gpu"], includesBase: false },
          npu: { unitIds: ["npu"], includesBase: false },
          board_total: { unitIds: ["cpu_big", "cpu_little", "gpu", "npu"], includesBase: true },
        },
        [],
      ],
      [
        "jetson-orin-nano",
        {
          // VDD_IN is the module input: both units and the rest of the board.
          VDD_IN: { unitIds: ["cpu", "gpu"], includesBase: true },
          // One rail for the CPU, the GPU and the (absent) CV blocks.
          VDD_CPU_GPU_CV: { unitIds: ["cpu", "gpu"], includesBase: false },
        },
        [/rail "VDD_SOC": names no unit of the model/],
      ],
    ] as const
  ) {
    const root = await Deno.makeTempDir({ prefix: "qeil-obs-" });
    try {
      await using _sim = await createSimBoard({ profileId, root, seed: 1 });
      const board = await discoverBoard(root, { profileId });
      const model = createBoardModel(getProfile(profileId).priors);
      const got = railCoverage(board, model);
      assert.deepEqual(got.rails, want, profileId);
      assert.equal(got.skipped.length, skipped.length);
      skipped.forEach((re, i) => assert.match(got.skipped[i], re));
      if (profileId === "jetson-orin-nano") {
        const o = railCoverage(board, model, { VDD_CPU_GPU_CV: null, VDD_SOC: { unitIds: [], includesBase: false } });
        assert.deepEqual(Object.keys(o.rails).sort(), ["VDD_IN", "VDD_SOC"]);
        assert.match(o.skipped[0], /rail "VDD_CPU_GPU_CV": left out by the caller/);
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  }
});

function unitSample(curFreqHz: number, maxFreqHz = curFreqHz): UnitSample {
  return {
    tempC: ok(40),
    curFreqHz: ok(curFreqHz),
    maxFreqHz: ok(maxFreqHz),
    utilization: ok(0),
    powerW: fail("not read"),
  };
}

/** A hand-made HAL sample: rails in W (null = a failed reading), one temperature per sysfs zone. */
function sample(
  monotonicMs: number,
  rails: Record<string, number | null>,
  temps: [string, string, number | null][],
): Sample {
  const units: Record<string, UnitSample> = {};
  for (const id of RK.unitIds) units[id] = unitSample(RK.units[id].opps[0].freqHz, TOP(id));
  return {
    timestampMs: monotonicMs,
    monotonicMs,
    thermal: temps.map(([name, zone, tempC]) =>
      tempC === null
        ? { name, zone, trips: [], ok: false, reason: "EAGAIN" }
        : { name, zone, trips: [], ok: true, tempC }
    ),
    coolingDevices: [],
    devfreq: [],
    cpufreq: [],
    power: Object.entries(rails).map(([name, powerW]) =>
      powerW === null
        ? { name, role: "unit" as const, ok: false as const, reason: "garbage" }
        : { name, role: "unit" as const, ok: true as const, powerW }
    ),
    load: [],
    memory: ok({ totalBytes: 8e9, availableBytes: 5e9 }),
    units,
    totalPowerW: fail("no input rail in this sample"),
    totalPowerRails: [],
    throttled: false,
  };
}

const ZONES = (t: number): [string, string, number | null][] =>
  RK.zones.map((z) => [`${z.id}-thermal`, z.id, t] as [string, string, number]);

Deno.test("zoneTempsC() keeps the hottest good reading of each logical zone", () => {
  const s = sample(0, {}, [
    ["bigcore1-thermal", "bigcore1", 41],
    ["bigcore2-thermal", "bigcore1", 44],
    ["gpu-thermal", "gpu", null],
    ["npu-thermal", "npu", 39],
    ["cv0-thermal", "cv0", 99],
  ]);
  assert.deepEqual(zoneTempsC(s, ["bigcore1", "gpu", "npu"]), { bigcore1: 44, npu: 39 });
});

Deno.test("stateFromSample() reads zones, free memory, discovered and healthy units, and caps", () => {
  const s = sample(0, {}, ZONES(45));
  s.units.gpu = unitSample(300e6, 800e6);
  const board = { units: ["cpu_big", "gpu", "npu"].map((id) => ({ id })) } as never;
  const state = stateFromSample(RK, board, s, { unhealthyUnits: ["npu"] });
  assert.deepEqual(state.healthyUnits, ["cpu_big", "gpu"]);
  assert.deepEqual(state.maxFreqHz, { cpu_big: 2.4e9, gpu: 800e6 });
  assert.equal(state.memAvailableBytes, 5e9);
  assert.equal(state.tempsC.soc, 45);
  assert.equal(state.ambientC, RK.ambientC);
  const noMem = stateFromSample(RK, board, { ...s, memory: fail("no meminfo") });
  assert.equal(noMem.memAvailableBytes, 0.8 * RK.memoryTotalBytes);
});

Deno.test("telemetryObservations() averages rails and zones over each period and derives activity from the work", () => {
  // Samples every 100 ms for 2 s. The NPU works from 250 to 750 ms; its rail reads 2 W while busy.
  const samples: Sample[] = [];
  for (let i = 0; i <= 20; i++) {
    const t = i * 100;
    const busy = t > 200 && t <= 800;
    samples.push(
      sample(t, { npu: busy ? 2 : 0, board_total: busy ? 4 : 2, cpu_big: i === 15 ? null : 0.3 }, ZONES(40 + i / 10)),
    );
  }
  const item = { ...rec("npu", 250, 750, 5e9, 2e10), freqHz: 800e6 };
  const rails = {
    npu: { unitIds: ["npu"], includesBase: false },
    cpu_big: { unitIds: ["cpu_big"], includesBase: false },
    board_total: { unitIds: [...RK.unitIds], includesBase: true },
  };
  const built = telemetryObservations({ model: RK, samples, records: [item], rails, periodMs: 1000 });
  assert.deepEqual(built.skipped, []);
  assert.equal(built.observations.length, 2);
  const [first, second] = built.observations;
  assert.equal(first.timeS, 1);
  // Six 100 ms steps at 2 W in a 1 s period.
  close(first.rails.find((r) => r.name === "npu")!.powerW, 1.2);
  close(first.rails.find((r) => r.name === "board_total")!.powerW, 3.2);
  assert.deepEqual(first.rails.find((r) => r.name === "board_total")!.unitIds, RK.unitIds);
  assert.equal(first.rails.find((r) => r.name === "board_total")!.includesBase, true);
  // The A76 rail failed once in the second period: left out of that point only.
  assert.ok(first.rails.some((r) => r.name === "cpu_big"));
  assert.ok(!second.rails.some((r) => r.name === "cpu_big"));
  // Zones: the mean of the period's readings (samples 1..10: 40.1..41.0).
  close(first.zoneTempsC.npu, 40.55);
  const npu = first.units.npu;
  const dasi = unitWorkTime(RK, { ...item }, { busShare: 1 }).dasi;
  assert.ok(dasi > 0 && dasi < 1);
  assert.equal(npu.freqHz, 800e6);
  close(npu.busyFraction!, 0.5);
  close(npu.activity, 0.5 * dasi);
  close(npu.bytesPerS!, 5e9);
  // Idle units at the clock the sample shows, with no activity.
  assert.deepEqual(first.units.gpu, { activity: 0, freqHz: 300e6, busyFraction: 0, bytesPerS: 0 });
  assert.equal(second.units.npu.busyFraction, 0);
  assert.equal(voltageForFreq(RK.units.npu, 800e6), 0.75);
});

Deno.test("telemetryObservations() takes a rail's mean from its energy counter when every reading has one", () => {
  // The power readings say 1 W; the counter, which wraps at 100 J, says 30 J over 2 s.
  const counterJ = [90, 95, 100 - 1e-9, 5, 10, 15, 20];
  const samples = counterJ.map((energyJ, i) => {
    const s = sample(i * 1000 / 3, { npu: 1 }, ZONES(40));
    s.power = [{ name: "npu", role: "unit", ok: true, powerW: 1, energyJ, energyRangeJ: 100 }];
    return s;
  });
  const rails = { npu: { unitIds: ["npu"], includesBase: false } };
  const built = telemetryObservations({ model: RK, samples, records: [], rails, periodMs: 2000 });
  assert.equal(built.observations.length, 1);
  close(built.observations[0].rails[0].powerW, 15);
  // One reading without a counter: back to the power readings.
  delete (samples[3].power[0] as { energyJ?: number }).energyJ;
  close(
    telemetryObservations({ model: RK, samples, records: [], rails, periodMs: 2000 }).observations[0].rails[0].powerW,
    1,
  );
});

Deno.test("telemetryObservations() restarts its grid after a gap and refuses a non-positive period", () => {
  const at = [0, 100, 200, 300, 700, 800, 900, 1000];
  const samples = at.map((t) => sample(t, { npu: 0 }, ZONES(40)));
  const built = telemetryObservations({
    model: RK,
    samples,
    records: [],
    rails: { npu: { unitIds: ["npu"], includesBase: false } },
    periodMs: 300,
  });
  assert.deepEqual(built.observations.map((o) => o.timeS), [0.3, 1.0]);
  assert.equal(built.skipped.length, 1);
  assert.match(built.skipped[0], /samples 3-4: 400 ms between samples does not divide into periods of 300 ms/);
  assert.throws(() => telemetryObservations({ model: RK, samples, records: [], rails: {}, periodMs: 0 }), RangeError);
});

Deno.test("observations built from a simulated Jetson through the HAL are all usable by calibrate()", async () => {
  const root = await Deno.makeTempDir({ prefix: "qeil-obs-" });
  try {
    await using sim = await createSimBoard({ profileId: "jetson-orin-nano", root, seed: 3 });
    const board = await discoverBoard(root, { profileId: "jetson-orin-nano", clock: sim.clock });
    await using actuators = createActuators(board);
    const model = createBoardModel(getProfile("jetson-orin-nano").priors);
    await using session = new BoardSession(simCalibrationTarget(sim, board, actuators));
    await session.alignToSample();
    await session.pin("gpu", 612e6);
    for (let i = 0; i < 10; i++) {
      await session.run([
        { unitId: "gpu", flops: 2e12, bytes: 8e9, precision: "int4" },
        { unitId: "cpu", flops: 3e9, bytes: 4e9, precision: "int8" },
      ]);
    }
    await session.release("gpu");
    await sim.advance(3000);
    const timing = timingObservations(model, session.records);
    const telemetry = telemetryObservations({
      model,
      samples: session.samples,
      records: session.records,
      rails: railCoverage(board, model).rails,
      periodMs: 1000,
    });
    assert.deepEqual(timing.skipped, []);
    assert.deepEqual(telemetry.skipped, []);
    assert.ok(telemetry.observations.length >= 5, `${telemetry.observations.length}`);
    for (const o of telemetry.observations) {
      assert.deepEqual(o.rails.map((r) => r.name), ["VDD_IN", "VDD_CPU_GPU_CV"]);
      for (const u of Object.values(o.units)) assert.ok(u.activity >= 0 && u.activity <= 1);
      assert.deepEqual(Object.keys(o.zoneTempsC).sort(), ["cpu", "gpu", "tj"]);
    }
    assert.ok(timing.observations.every((t) => t.busShare! > 0 && t.busShare! <= 1));
    assert.ok(timing.observations.filter((t) => t.unitId === "gpu").every((t) => t.freqHz === 612e6));
    const r = calibrate(model, [...timing.observations, ...telemetry.observations]);
    assert.deepEqual(r.error.skipped, []);
    assert.equal(r.error.timingCount, 20);
    assert.equal(r.error.railCount, 2 * telemetry.observations.length);
    assert.ok(r.error.thermalPairCount > 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
