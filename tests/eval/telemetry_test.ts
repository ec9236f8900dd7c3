import assert from "node:assert/strict";
import { createSampler, discoverBoard, type Sample, type Sampler } from "../../src/hal/mod.ts";
import { createSimBoard } from "../../src/sim/mod.ts";
import { RunTelemetry } from "../../src/eval/mod.ts";
import { ScriptedBoard } from "./_samples.ts";

/** A telemetry fed by a HAL sampler over `board`. */
function telemetryOver(board: { read(): Promise<Sample> }): { telemetry: RunTelemetry; sampler: Sampler } {
  const telemetry = new RunTelemetry({ sampleNow: () => sampler.sampleOnce() });
  const sampler = createSampler({ board, periodMs: 100, onSample: (s) => telemetry.add(s) });
  return { telemetry, sampler };
}

Deno.test("RunTelemetry measures a window's energy by the trapezoid of the board's power when no counter exists", async () => {
  // Power 2 W, 4 W, 6 W, 2 W at 0, 1, 2, 4 s; the window opens at 1 s and closes at 4 s.
  const board = new ScriptedBoard([
    { tMs: 0, totalPowerW: 2 },
    { tMs: 1000, totalPowerW: 4 },
    { tMs: 2000, totalPowerW: 6 },
    { tMs: 4000, totalPowerW: 2 },
  ]);
  const { telemetry, sampler } = telemetryOver(board);
  await sampler.sampleOnce();
  const window = await telemetry.begin("q1 standard");
  await sampler.sampleOnce();
  const m = await window.end();
  // (4 + 6) / 2 x 1 s + (6 + 2) / 2 x 2 s = 5 + 8 = 13 J over 3 s.
  assert.deepEqual(m, {
    energyJ: 13,
    perRailJ: { board_total: 13 },
    incompleteRails: [],
    totalRails: ["board_total"],
    durationMs: 3000,
    throttleEvents: 0,
    samples: 3,
  });
  assert.equal(board.remaining, 0);
  assert.equal(telemetry.samples, 4);
});

Deno.test("RunTelemetry counts rising edges of the throttled state inside each window", async () => {
  const script = [false, true, true, false, true, true, false].map((throttled, i) => ({
    tMs: i * 100,
    totalPowerW: 5,
    throttled,
  }));
  const { telemetry, sampler } = telemetryOver(new ScriptedBoard(script));
  // The edge at sample 1 is the opening sample's own state: before the window.
  await sampler.sampleOnce();
  const w = await telemetry.begin("a"); // sample 1 (throttled: edge, but it opens the window)
  await sampler.sampleOnce(); // 2: still throttled
  await sampler.sampleOnce(); // 3: released
  const inner = await telemetry.begin("b"); // 4: edge, opens b
  const first = await w.end(); // 5: still throttled
  const second = await inner.end(); // 6: released
  assert.equal(first.throttleEvents, 1);
  assert.equal(second.throttleEvents, 0);
  assert.deepEqual(telemetry.traces().throttleEventsMs, [100, 400]);
});

Deno.test("RunTelemetry keeps per-unit traces, the board total and the zones' trips", async () => {
  const trips = [{ type: "passive", tempC: 85 }, { type: "critical", tempC: 115 }];
  const board = new ScriptedBoard([
    { tMs: 500, totalPowerW: 3, units: { cpu: { tempC: 40, powerW: 1 }, npu: { tempC: 38 } }, trips },
    { tMs: 700, totalPowerW: 4, units: { cpu: { powerW: 2 }, npu: { tempC: 39 } }, trips },
  ]);
  const { telemetry, sampler } = telemetryOver(board);
  await sampler.sampleOnce();
  await sampler.sampleOnce();
  const t = telemetry.traces();
  assert.deepEqual(t.units, [
    { unitId: "cpu", powerW: [{ tMs: 0, value: 1 }, { tMs: 200, value: 2 }], tempC: [{ tMs: 0, value: 40 }] },
    { unitId: "npu", powerW: [], tempC: [{ tMs: 0, value: 38 }, { tMs: 200, value: 39 }] },
  ]);
  assert.deepEqual(t.totalPowerW, [{ tMs: 0, value: 3 }, { tMs: 200, value: 4 }]);
  assert.deepEqual(t.trips, [
    { type: "passive", tempC: 85, zones: ["soc-thermal"] },
    { type: "critical", tempC: 115, zones: ["soc-thermal"] },
  ]);
});

Deno.test("RunTelemetry reports a window over no time as no energy", async () => {
  // Two reads at the same instant (a virtual clock nothing advanced).
  const { telemetry } = telemetryOver(new ScriptedBoard([{ tMs: 10, totalPowerW: 3 }, { tMs: 10, totalPowerW: 3 }]));
  const w = await telemetry.begin("instant");
  assert.deepEqual(await w.end(), {
    energyJ: 0,
    perRailJ: {},
    incompleteRails: [],
    totalRails: ["board_total"],
    durationMs: 0,
    throttleEvents: 0,
    samples: 1,
  });
  assert.equal(telemetry.samples, 2);
});

Deno.test("RunTelemetry reports energy as not measured on a board with no total-power rail", async () => {
  const board = new ScriptedBoard([
    { tMs: 0, totalPowerW: 0, noTotalRail: true },
    { tMs: 800, totalPowerW: 0, noTotalRail: true },
  ]);
  const { telemetry } = telemetryOver(board);
  const w = await telemetry.begin("blind");
  const m = await w.end();
  assert.equal(m.energyJ, null);
  assert.match(m.energyUnavailable!, /no rail that gives its total power/);
  assert.equal(m.durationMs, 800);
  assert.equal(m.samples, 2);
});

Deno.test("RunTelemetry refuses a sampleNow that never hands it a sample", async () => {
  const telemetry = new RunTelemetry({ sampleNow: () => Promise.resolve() });
  await assert.rejects(telemetry.begin("q"), /open energy window "q": sampleNow\(\) resolved without handing a sample/);
});

Deno.test("RunTelemetry over a simulated rk3588: energy from its rails, time from its virtual clock", async () => {
  const root = await Deno.makeTempDir({ prefix: "qeil-eval-sim-" });
  await using sim = await createSimBoard({ profileId: "rk3588", root, seed: 3 });
  const board = await discoverBoard(root, { clock: sim.clock });
  const samples: Sample[] = [];
  const telemetry = new RunTelemetry({ sampleNow: () => sampler.sampleOnce() });
  const sampler = createSampler({
    board,
    periodMs: 100,
    clock: sim.clock,
    onSample: (s) => {
      samples.push(s);
      telemetry.add(s);
    },
  });
  // Sample after every physics step, as a service driving the simulator in virtual time does.
  const off = sim.onStep(() => sampler.sampleOnce().then(() => undefined));
  await sim.advance(200);
  const window = await telemetry.begin("work");
  const [run] = await sim.execute([{ unitId: "cpu_big", flops: 2e10, bytes: 4e8, precision: "fp32" }]);
  const m = await window.end();
  off();
  const inside = samples.filter((s) => s.monotonicMs >= run.startMs && s.monotonicMs <= run.endMs + 100);
  // The window spans the work in virtual time, give or take one step at each end.
  assert.ok(Math.abs(m.durationMs - (run.endMs - run.startMs)) <= 100, `${m.durationMs} vs ${run.endMs - run.startMs}`);
  // Independent check: the simulated board_total rail's energy counter (µJ, wrapping at 2^32) over the
  // window's own first and last samples; the meter prefers counters over the trapezoid where they exist.
  const opened = samples.findIndex((s) => s.monotonicMs === samples.at(-1)!.monotonicMs - m.durationMs);
  assert.ok(opened >= 0 && inside.length >= 2);
  const counterJ = (s: Sample) => {
    const rail = s.power.find((r) => r.name === "board_total");
    assert.ok(rail?.ok && rail.energyJ !== undefined, "board_total has an energy counter");
    return rail.energyJ;
  };
  const rangeJ = 2 ** 32 / 1e6;
  const counterDeltaJ = (counterJ(samples.at(-1)!) - counterJ(samples[opened]) + rangeJ) % rangeJ;
  assert.ok(m.energyJ !== null);
  assert.ok(Math.abs(m.energyJ - counterDeltaJ) < 1e-9, `${m.energyJ} vs ${counterDeltaJ}`);
  // The trapezoid of the sampled power agrees with the counter to within a few percent.
  let trapezoidJ = 0;
  for (let i = opened + 1; i < samples.length; i++) {
    const a = samples[i - 1].totalPowerW;
    const b = samples[i].totalPowerW;
    assert.ok(a.ok && b.ok);
    trapezoidJ += ((a.value + b.value) / 2) * ((samples[i].monotonicMs - samples[i - 1].monotonicMs) / 1000);
  }
  assert.ok(Math.abs(trapezoidJ - m.energyJ) / m.energyJ < 0.05, `trapezoid ${trapezoidJ} vs counter ${m.energyJ}`);
  // Busy cpu_big draws more than the idle board did before.
  const idle = samples[0].totalPowerW;
  assert.ok(idle.ok && m.energyJ / (m.durationMs / 1000) > idle.value);
  assert.ok(telemetry.traces().units.some((u) => u.unitId === "cpu_big" && u.tempC.length >= 3));
});
