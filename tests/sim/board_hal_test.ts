/**
 * The simulated boards read through the real HAL: discovery finds every unit,
 * zone and rail; the HAL's energy meter agrees with the hidden truth; the
 * HAL's actuators drive the simulator's clocks through the tree.
 */
import assert from "node:assert/strict";
import { createActuators, discoverBoard, EnergyMeter } from "../../src/hal/mod.ts";
import { SIM_BOARD_IDS } from "../../src/sim/mod.ts";
import { simBoard } from "./helpers.ts";

for (const id of SIM_BOARD_IDS) {
  Deno.test(`${id}: the HAL discovers the simulated board and reads every unit in SI units`, async () => {
    await using sim = await simBoard({ profileId: id, seed: 1, stepMs: 100 });
    // Some work first, so /proc/stat and the load files have something to show between two reads.
    await sim.execute(sim.units.map((u) => ({ unitId: u.id, flops: 1e9, bytes: 1e8, precision: u.precisions[0] })));
    const board = await discoverBoard(sim.root, { clock: sim.clock });
    assert.equal(board.profile.id, id);
    assert.deepEqual(board.units.map((u) => u.id).sort(), sim.units.map((u) => u.id).sort());
    await board.read();
    await sim.advance(500);
    const sample = await board.read();
    for (const unit of sim.units) {
      const u = sample.units[unit.id];
      assert.ok(u.tempC.ok && u.tempC.value > 15 && u.tempC.value < 90, `${unit.id} tempC ${JSON.stringify(u.tempC)}`);
      assert.ok(u.utilization.ok, `${unit.id} utilization ${JSON.stringify(u.utilization)}`);
    }
    for (const unit of board.units) {
      if (unit.freq.kind !== "none") assert.ok(sample.units[unit.id].curFreqHz.ok, `${unit.id} curFreqHz`);
    }
    assert.ok(sample.totalPowerW.ok && sample.totalPowerW.value > 0.5, JSON.stringify(sample.totalPowerW));
    assert.ok(sample.memory.ok && sample.memory.value.availableBytes < sample.memory.value.totalBytes);
    assert.equal(sample.throttled, false);
    if (id === "jetson-orin-nano") {
      const cv = sample.thermal.filter((z) => z.name.startsWith("cv"));
      assert.equal(cv.length, 3);
      for (const z of cv) assert.equal(z.ok, false, `${z.name} is unreadable, as on a real Orin Nano`);
    }
  });
}

Deno.test("the HAL's energy meter on the simulated rails matches the true energy within 2%", async () => {
  for (const id of ["rk3588", "jetson-orin-nano", "imx8mp"]) {
    await using sim = await simBoard({ profileId: id, seed: 17, stepMs: 100 });
    const board = await discoverBoard(sim.root, { clock: sim.clock });
    const meter = new EnergyMeter();
    let firstJ: number | undefined;
    let lastJ = 0;
    sim.onStep(async () => {
      meter.add(await board.read());
      const trueJ = sim.truthForTests().energyJ.totalJ;
      firstJ ??= trueJ;
      lastJ = trueJ;
    });
    await sim.advance(100);
    const window = meter.begin("run");
    const items = sim.units.map((u) => ({ unitId: u.id, flops: 4e10, bytes: 5e8, precision: u.precisions[0] }));
    for (let i = 0; i < 12; i++) {
      await sim.execute(items.slice(0, 1 + (i % items.length)));
      await sim.advance(250);
    }
    const result = window.end();
    const trueJ = lastJ - firstJ!;
    const error = Math.abs(result.energyJ - trueJ) / trueJ;
    assert.ok(error < 0.02, `${id}: meter ${result.energyJ.toFixed(3)} J vs true ${trueJ.toFixed(3)} J`);
  }
});

Deno.test("the HAL's actuators pin and release the simulated clocks; their read-back sees the thermal cap", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 2, stepMs: 500 });
  const board = await discoverBoard(sim.root, { clock: sim.clock });
  await using actuators = createActuators(board);
  const work = { unitId: "cpu_big", flops: 2e9, bytes: 1e5, precision: "fp32" } as const;
  const [top] = await sim.execute([work]);
  await actuators.pinFrequency("cpu_big", 1.2e9);
  const [pinned] = await sim.execute([work]);
  assert.ok(Math.abs(pinned.durationMs / top.durationMs - 2) < 1e-6);
  const sample = await board.read();
  assert.equal(sample.units.cpu_big.maxFreqHz.ok && sample.units.cpu_big.maxFreqHz.value, 1.2e9);
  await actuators.release("cpu_big");
  const [released] = await sim.execute([work]);
  assert.ok(Math.abs(released.durationMs / top.durationMs - 1) < 1e-6);

  await actuators.setGovernor("gpu", "userspace");
  await actuators.setSpeed("gpu", 500e6);
  await actuators.setGovernor("gpu", "performance");
  const gpuWork = { unitId: "gpu", flops: 2e10, bytes: 1e5, precision: "fp16" } as const;
  const [gpuTop] = await sim.execute([gpuWork]);
  await actuators.setGovernor("gpu", "userspace");
  await actuators.setSpeed("gpu", 500e6);
  const [gpuHalf] = await sim.execute([gpuWork]);
  assert.ok(Math.abs(gpuHalf.durationMs / gpuTop.durationMs - 2) < 1e-6);
  await actuators.release("gpu");

  // Heat the board past its trip: the HAL sees the throttle; a max written above the cap is shown capped again
  // from the simulator's next step (it notices writes when it polls, not synchronously like the kernel).
  sim.inject({ kind: "ambient-step", deltaC: 60 });
  await assert.rejects(
    sim.execute([{ unitId: "cpu_big", flops: 1e16, bytes: 1e9, precision: "fp32" }], { timeoutMs: 300_000 }),
    (e: unknown) => e instanceof Error && e.name === "TimeoutError",
  );
  const hot = await board.read();
  assert.equal(hot.throttled, true);
  const capped = hot.units.cpu_big.maxFreqHz;
  assert.ok(capped.ok && capped.value < 2.4e9, JSON.stringify(capped));
  await actuators.setMaxFreq("cpu_big", 2.4e9);
  await sim.advance(500);
  const after = (await board.read()).units.cpu_big.maxFreqHz;
  assert.ok(after.ok && after.value < 2.4e9, "the thermal cap still holds");
});
