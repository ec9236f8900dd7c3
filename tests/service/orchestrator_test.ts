/**
 * The orchestrator on a simulated rk3588 in virtual time with the real tiny
 * model: results, modes, the cascade, DVFS through the HAL, calibration, and
 * recovery from every fault the simulator can inject.
 */
import assert from "node:assert/strict";
import { discoverBoard } from "../../src/hal/mod.ts";
import { loadModel, OrtCpuBackend, scoreContinuations } from "../../src/runtime/mod.ts";
import { createOrchestrator, type JobRequest } from "../../src/service/mod.ts";
import { createSimBoard } from "../../src/sim/mod.ts";
import { createRig, QWEN2_05B_INT8, tinyModelDir } from "./_sim_board.ts";

function request(id: string, extra: Partial<JobRequest> = {}): JobRequest {
  return {
    id,
    task: "text",
    prompt: "Once upon a time there was",
    samples: 5,
    maxTokens: 24,
    temperature: 0.8,
    ...extra,
  };
}

function usedUnits(p: { prefillUnit: string; lanes: { segments: { unitId: string }[] }[] }): Set<string> {
  return new Set([p.prefillUnit, ...p.lanes.flatMap((l) => l.segments.map((s) => s.unitId))]);
}

Deno.test("runJob() reports the HAL meter's energy over the job window and the simulated device time", async () => {
  await using rig = await createRig({ costShape: QWEN2_05B_INT8 });
  const r = await rig.orchestrator.runJob(request("a"));
  assert.equal(r.id, "a");
  assert.equal(r.mode, "qeil");
  assert.equal(r.measurement.latencyClock, "simulated-device");
  // In virtual time nothing but the job moves the simulator's clock: the window is the device time.
  assert.ok(
    Math.abs(r.latencyMs - r.measurement.energyWindowMs) < 1,
    `${r.latencyMs} vs ${r.measurement.energyWindowMs}`,
  );
  assert.ok(r.latencyMs > 50, `a Qwen2-0.5B job takes the simulated units real time, got ${r.latencyMs} ms`);
  const avgPowerW = r.energyJ / (r.measurement.energyWindowMs / 1000);
  assert.ok(avgPowerW > 1 && avgPowerW < 20, `average board power ${avgPowerW} W`);
  assert.equal(r.samples.length, r.samplesUsed);
  assert.ok(r.samples.every((s) => s.tokens >= 1 && s.tokens <= 24));
  // The post-hoc prediction of the calibrated model is in the same range as the measurement.
  assert.ok(r.predicted.energyJ > r.energyJ / 3 && r.predicted.energyJ < r.energyJ * 3, JSON.stringify(r.predicted));
  assert.ok(r.standardEnergyJ !== undefined && r.standardEnergyJ > 0);
});

Deno.test("runJob() pins the clocks of the units the plan uses through the HAL and releases them after", async () => {
  await using rig = await createRig({ costShape: QWEN2_05B_INT8 });
  const r = await rig.orchestrator.runJob(request("b"));
  const pins = rig.actuators.history.filter((h) => h.action === "pinFrequency");
  const used = usedUnits(r.placement);
  assert.deepEqual(new Set(pins.map((p) => p.unitId)), used);
  for (const pin of pins) {
    const info = rig.board.units.find((u) => u.id === pin.unitId)!;
    assert.ok(info.availableFreqsHz.includes(pin.value as number), `${pin.unitId} pinned to an offered clock`);
    assert.ok(pin.writes.length >= 2 && pin.writes.every((w) => w.readBack !== undefined), "written and read back");
  }
  const released = rig.actuators.history.filter((h) => h.action === "release").map((h) => h.unitId);
  assert.deepEqual(new Set(released), used, "every pinned unit is released after the job");
});

Deno.test("qeil stops at n_min when the samples agree and cancels the rest of the batch", async () => {
  await using rig = await createRig();
  const r = await rig.orchestrator.runJob(request("c", { samples: 8, temperature: 0 }));
  assert.equal(r.stopReason, "unanimous");
  assert.equal(r.samplesUsed, 3);
  assert.equal(r.k, 8);
  assert.equal(r.votes.length, 1);
  assert.equal(r.votes[0].count, 3);
  assert.ok(r.confidence > 0.5);
  assert.equal(r.answer, r.samples[0].answer);
});

Deno.test("standard mode runs on the default unit at its top clock and votes over all k samples", async () => {
  await using rig = await createRig({ costShape: QWEN2_05B_INT8 });
  const r = await rig.orchestrator.runJob(request("d", { samples: 4, temperature: 0 }), { mode: "standard" });
  assert.equal(r.mode, "standard");
  assert.equal(r.placement.prefillUnit, "cpu_big");
  assert.deepEqual(r.placement.lanes.map((l) => l.segments.map((s) => s.unitId)), [["cpu_big"]]);
  assert.equal(r.samplesUsed, 4, "fixed k: no early stop");
  assert.equal(r.stopReason, "budget");
  const pin = rig.actuators.history.find((h) => h.action === "pinFrequency" && h.unitId === "cpu_big")!;
  const top = rig.board.units.find((u) => u.id === "cpu_big")!.availableFreqsHz.at(-1);
  assert.equal(pin.value, top);
});

Deno.test("greedy mode prefills on the highest-peak unit and decodes on the best bandwidth per watt", async () => {
  await using rig = await createRig({ costShape: QWEN2_05B_INT8 });
  const r = await rig.orchestrator.runJob(request("e"), { mode: "greedy" });
  assert.equal(r.mode, "greedy");
  // rk3588 at int8: the NPU has both the highest peak and the best bandwidth per watt.
  assert.equal(r.placement.prefillUnit, "npu");
  assert.deepEqual(r.placement.lanes.map((l) => l.segments.map((s) => s.unitId)), [["npu"]]);
});

Deno.test("measurements feed the calibration: timing and telemetry observations, and the job prediction error", async () => {
  await using rig = await createRig({ costShape: QWEN2_05B_INT8 });
  for (let i = 0; i < 3; i++) await rig.orchestrator.runJob(request(`cal-${i}`, { maxTokens: 48 }));
  const report = rig.orchestrator.calibration();
  assert.ok(report.timingObservations > 0);
  assert.ok(report.telemetryObservations > 0, "grid samples during the jobs became telemetry observations");
  assert.equal(report.jobs.energyCount, 3);
  assert.equal(report.jobs.latencyCount, 3);
  assert.ok(report.jobs.energyMapePct !== undefined && report.jobs.energyMapePct < 50, JSON.stringify(report.jobs));
  assert.ok(report.fit.durationMapePct !== undefined);
  const plan = rig.orchestrator.planView();
  assert.ok(plan.front.length > 0 && plan.chosen && plan.standard && plan.greedy);
  assert.equal(plan.job?.shape.layers, 24);
});

Deno.test("with online calibration off the planner keeps its starting model and still reports its prediction error", async () => {
  await using rig = await createRig({ costShape: QWEN2_05B_INT8, onlineCalibration: false });
  const start = rig.orchestrator.calibrator.model;
  for (let i = 0; i < 2; i++) await rig.orchestrator.runJob(request(`frozen-${i}`, { maxTokens: 48 }));
  assert.equal(rig.orchestrator.calibrator.model, start);
  const report = rig.orchestrator.calibration();
  assert.equal(report.jobs.energyCount, 2);
  assert.equal(report.telemetryObservations, 0);
  assert.equal(report.timingObservations, 0);
});

Deno.test("a unit that throws mid-job is failed, published, and the job finishes on healthy units", async () => {
  await using rig = await createRig({ costShape: QWEN2_05B_INT8 });
  const first = await rig.orchestrator.runJob(request("warm", { maxTokens: 48 }));
  const victim = first.placement.lanes[0].segments[0].unitId;
  let steps = 0;
  const off = rig.sim.onStep(() => {
    if (++steps === 3) rig.sim.inject({ kind: "unit-fail", unitId: victim });
  });
  const r = await rig.orchestrator.runJob(request("faulty", { maxTokens: 48 }));
  off();
  assert.ok(steps >= 3, "the fault was injected while the job ran");
  assert.equal(r.faultsRecovered, 1);
  assert.ok(!usedUnits(r.placement).has(victim), `the retry avoids ${victim}`);
  assert.equal(r.samplesUsed >= 1, true);
  const event = rig.faults.find((f) => f.kind === "unit-failed");
  assert.equal(event?.unitId, victim);
  assert.equal(event?.requestId, "faulty");
  assert.equal(rig.orchestrator.units().find((u) => u.unitId === victim)?.state, "failed");
  // The next job plans around the failed unit from the start.
  const next = await rig.orchestrator.runJob(request("after"));
  assert.ok(!usedUnits(next.placement).has(victim));
  assert.equal(next.faultsRecovered, 0);
});

Deno.test("a unit that hangs misses its deadline and the job finishes on other units", async () => {
  await using rig = await createRig({ costShape: QWEN2_05B_INT8, itemDeadline: { minMs: 500 } });
  const first = await rig.orchestrator.runJob(request("warm", { maxTokens: 48 }));
  const victim = first.placement.lanes[0].segments[0].unitId;
  let steps = 0;
  const off = rig.sim.onStep(() => {
    if (++steps === 2) rig.sim.inject({ kind: "unit-hang", unitId: victim });
  });
  const r = await rig.orchestrator.runJob(request("hung", { maxTokens: 48 }));
  off();
  assert.equal(r.faultsRecovered, 1);
  assert.ok(!usedUnits(r.placement).has(victim));
  const event = rig.faults.find((f) => f.kind === "unit-timeout");
  assert.equal(event?.unitId, victim);
  assert.match(event!.message, /missed its deadline/);
});

Deno.test("a failed unit returns on probation after its delay, within its limits unless on a trial", async () => {
  await using rig = await createRig({ costShape: QWEN2_05B_INT8, faults: { probationMs: 2000 } });
  const first = await rig.orchestrator.runJob(request("warm"));
  const victim = first.placement.prefillUnit;
  rig.sim.inject({ kind: "unit-fail", unitId: victim });
  const r = await rig.orchestrator.runJob(request("fails"));
  assert.equal(r.faultsRecovered, 1);
  rig.sim.clear({ kind: "unit-fail", unitId: victim });
  await rig.sim.advance(2500);
  const status = rig.orchestrator.units().find((u) => u.unitId === victim)!;
  assert.equal(status.state, "probation");
  assert.ok(rig.faults.some((f) => f.kind === "unit-probation" && f.unitId === victim));
  for (let i = 0; i < 3; i++) {
    const job = await rig.orchestrator.runJob(request(`probation-${i}`, { samples: 4 }));
    const trial = rig.faults.find((f) =>
      f.kind === "unit-probation" && f.requestId === `probation-${i}` && f.message.includes("as a trial")
    );
    if (trial) {
      assert.equal(trial.unitId, victim);
      continue;
    }
    assert.notEqual(job.placement.prefillUnit, victim, "a unit on probation prefills only on a trial");
    const onVictim = job.placement.lanes.filter((l) => l.segments.some((s) => s.unitId === victim))
      .reduce((a, l) => a + l.samples, 0);
    assert.ok(onVictim <= 2, `at most half of the 4 samples on ${victim} unless on a trial, got ${onVictim}`);
  }
});

Deno.test("with only units on probation left, a job runs on them rather than fail", async () => {
  await using rig = await createRig({ costShape: QWEN2_05B_INT8, faults: { probationMs: 1000 } });
  const units = rig.orchestrator.units().map((u) => u.unitId);
  for (const u of units) rig.orchestrator.faults.unitFault(u, "failed", "test: every unit failed");
  await rig.sim.advance(1500);
  assert.ok(rig.orchestrator.units().every((u) => u.state === "probation"));
  const r = await rig.orchestrator.runJob(request("degraded"));
  assert.ok(r.samplesUsed >= 1);
  assert.ok(
    rig.faults.some((f) => f.kind === "unit-probation" && f.message.includes("runs on units still on probation")),
  );
});

Deno.test("with every unit that can run it failed, a job waits for the first to return, within its budget", async () => {
  await using rig = await createRig({ costShape: QWEN2_05B_INT8, faults: { probationMs: 3000 } });
  for (const u of rig.orchestrator.units()) rig.orchestrator.faults.unitFault(u.unitId, "failed", "test");
  const before = rig.sim.clock.monotonicMs();
  const r = await rig.orchestrator.runJob(request("waits"));
  assert.ok(r.samplesUsed >= 1);
  assert.ok(rig.sim.clock.monotonicMs() - before >= 3000, "the board idled until a unit returned on probation");
  assert.ok(r.measurement.energyWindowMs >= 3000, "the wait is in the job's energy window");

  await using impatient = await createRig({
    costShape: QWEN2_05B_INT8,
    faults: { probationMs: 60_000, maxUnitWaitMs: 1000 },
  });
  for (const u of impatient.orchestrator.units()) impatient.orchestrator.faults.unitFault(u.unitId, "failed", "test");
  // The first return is beyond the job's wait budget: rather than refuse this job (and, in virtual time, every
  // later one: no time passes while jobs are refused), the first unit to return comes back on probation now.
  const t0 = impatient.sim.clock.monotonicMs();
  const early = await impatient.orchestrator.runJob(request("early"));
  assert.ok(early.samplesUsed >= 1);
  assert.ok(impatient.sim.clock.monotonicMs() - t0 < 60_000, "no wait for the 60 s delay");
  const events = impatient.faults.filter((f) =>
    f.kind === "unit-probation" && f.severity === "warning" && f.message.includes("before its delay was over")
  );
  assert.equal(events.length, 1, JSON.stringify(impatient.faults));
  assert.match(
    events[0].message,
    /returns on probation before its delay was over \(job early: no other unit can run it/,
  );
  const states = impatient.orchestrator.faults.status().map((u) => u.state);
  assert.equal(states.filter((s) => s !== "failed").length, 1, `one unit is back: ${states}`);
});

Deno.test("a sensor that disappears degrades the model, not the service", async () => {
  await using rig = await createRig({ costShape: QWEN2_05B_INT8 });
  await rig.orchestrator.runJob(request("before"));
  const soc = rig.sim.paths.zones.find((z) => z.type === "soc-thermal")!;
  const total = rig.sim.paths.power.find((p) => p.units.length === 0 || p.label.includes("total"))!;
  rig.sim.inject({ kind: "sensor-remove", path: `${soc.path}/temp` });
  rig.sim.inject({ kind: "sensor-remove", path: Object.values(total.files)[0] });
  for (let i = 0; i < 3; i++) {
    const before = rig.sim.truthForTests().energyJ.totalJ;
    // Standard mode: the A76 cluster at its top clock draws watts more than the idle board.
    const r = await rig.orchestrator.runJob(request(`blind-${i}`, { maxTokens: 32 }), { mode: "standard" });
    const trueJ = rig.sim.truthForTests().energyJ.totalJ - before;
    assert.ok(r.samplesUsed >= 1);
    // The board-total rail is lost: its energy comes from the rest of the board at its last reading plus the
    // unit rails, which still read (not its idle power before the job).
    assert.ok(Math.abs(r.energyJ - trueJ) <= 0.05 * trueJ, `measured ${r.energyJ} J, true ${trueJ} J`);
    assert.ok(r.measurement.incompleteRails.length > 0, "the lost rail is named as incomplete");
  }
  const lost = rig.faults.filter((f) => f.kind === "sensor-lost" && f.severity === "warning").map((f) => f.message);
  assert.ok(lost.some((m) => m.includes("soc-thermal")), lost.join("\n"));
  assert.ok(Object.keys(rig.orchestrator.faults.lostSensors()).some((c) => c.startsWith("rail:")));
  // The planner still sees the zone, at its last good value.
  assert.ok(rig.orchestrator.boardState().tempsC.soc !== undefined);
  rig.sim.clear();
  await rig.orchestrator.runJob(request("after"));
  assert.ok(
    rig.faults.some((f) => f.kind === "sensor-lost" && f.severity === "info" && f.message.includes("soc-thermal")),
  );
});

Deno.test("an ambient step toward the trip: qeil never throttles where standard inference does", async () => {
  const run = async (mode: "qeil" | "standard") => {
    await using rig = await createRig({ costShape: QWEN2_05B_INT8, stepMs: 500, seed: 3 });
    rig.sim.inject({ kind: "ambient-step", deltaC: 30 });
    await rig.sim.advance(200_000);
    let completed = 0;
    for (let i = 0; i < 14; i++) {
      const r = await rig.orchestrator.runJob(request(`hot-${i}`, { samples: 8, maxTokens: 96 }), { mode });
      if (r.samplesUsed >= 1) completed++;
    }
    const cooling = Object.values(rig.orchestrator.runtime.maxCoolingStates());
    return { completed, throttles: rig.orchestrator.runtime.throttleEvents(), maxCooling: Math.max(...cooling) };
  };
  const standard = await run("standard");
  assert.ok(standard.throttles > 0, "the scenario is hot enough to make standard inference throttle");
  const qeil = await run("qeil");
  assert.equal(qeil.completed, 14, "every job completed");
  assert.equal(qeil.throttles, 0, "the kernel-style governor never throttled");
  assert.equal(qeil.maxCooling, 0, "no passive cooling device ever engaged");
});

Deno.test("runCharged() charges log-likelihood scoring to the planned prefill unit and measures it like a job", async () => {
  await using rig = await createRig({ costShape: QWEN2_05B_INT8 });
  const context = "Question: which is larger?\nAnswer:";
  const choices = [" the sun", " a pebble", " an ant"];
  const r = await rig.orchestrator.runCharged(
    { id: "arc-1", promptTokens: 40 },
    (charger, signal) =>
      scoreContinuations(rig.model, choices.map((c) => ({ context, continuation: c })), {
        charger,
        ...(signal ? { signal } : {}),
      }),
  );
  assert.equal(r.value.length, 3);
  assert.ok(r.value.every((s) => Number.isFinite(s.logLikelihood) && s.logLikelihood < 0));
  assert.ok(r.latencyMs > 0 && r.energyJ > 0);
  assert.ok(Math.abs(r.latencyMs - r.measurement.energyWindowMs) < 1);
  const standard = await rig.orchestrator.runCharged(
    { id: "arc-1-standard", promptTokens: 40 },
    (charger) => scoreContinuations(rig.model, choices.map((c) => ({ context, continuation: c })), { charger }),
    { mode: "standard" },
  );
  assert.equal(standard.placement.prefillUnit, "cpu_big");
  assert.deepEqual(standard.value.map((s) => s.logLikelihood), r.value.map((s) => s.logLikelihood), "same scores");
});

Deno.test("scoring jobs alone bring a unit on probation back: it prefills them as trials until it is healthy", async () => {
  await using rig = await createRig({ costShape: QWEN2_05B_INT8, faults: { probationMs: 1000 } });
  const context = "Once upon a time there was a little girl who lived in a village near the forest. ".repeat(4);
  const score = (id: string) =>
    rig.orchestrator.runCharged(
      { id, promptTokens: 1500 },
      (charger) => scoreContinuations(rig.model, [{ context, continuation: " The end." }], { charger }),
    );
  const warm = await score("long-warm");
  const unit = warm.placement.prefillUnit;
  rig.orchestrator.faults.unitFault(unit, "failed", "test: a fault an hour ago");
  await rig.sim.advance(1500);
  assert.equal(rig.orchestrator.units().find((u) => u.unitId === unit)?.state, "probation");
  for (let i = 0; i < 3; i++) {
    const r = await score(`long-${i}`);
    assert.equal(r.placement.prefillUnit, unit, `trial ${i}`);
    assert.ok(
      rig.faults.some((f) => f.requestId === `long-${i}` && /as a trial: .*\(prefill\): expected/.test(f.message)),
    );
  }
  assert.equal(rig.orchestrator.units().find((u) => u.unitId === unit)?.state, "healthy");
  assert.ok(rig.faults.some((f) => f.kind === "unit-recovered" && f.unitId === unit));
});

Deno.test("on a real board only units with a backend are placeable, and latency is wall time", async () => {
  // A board the orchestrator reads like a real one: a live tree kept by a realtime simulator it does not know of.
  const root = await Deno.makeTempDir({ prefix: "qeil-orch-real-" });
  await using sim = await createSimBoard({ profileId: "rk3588", root, seed: 9, timeMode: "realtime", stepMs: 100 });
  sim.start();
  const board = await discoverBoard(root, { profileId: "rk3588" });
  await using model = await loadModel(await tinyModelDir());
  await using orchestrator = createOrchestrator({
    board,
    model,
    backends: { cpu_little: new OrtCpuBackend({ name: "ort-cpu:test" }) },
  });
  await orchestrator.start();
  assert.deepEqual(orchestrator.units().filter((u) => u.placeable).map((u) => u.unitId), ["cpu_little"]);
  const r = await orchestrator.runJob(request("real", { samples: 3, maxTokens: 8 }));
  assert.deepEqual(usedUnits(r.placement), new Set(["cpu_little"]));
  assert.equal(r.measurement.latencyClock, "wall");
  assert.ok(r.latencyMs > 0 && r.latencyMs <= r.measurement.wallMs + 1e-9);
  assert.equal(r.samples.length, r.samplesUsed);
  assert.ok(orchestrator.calibration().timingObservations > 0, "the host's ORT runs were timed");
  await orchestrator.close();
  await sim.stop();
  await Deno.remove(root, { recursive: true });
});
