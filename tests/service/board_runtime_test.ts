/** The board runtime on a virtual-time simulated rk3588: sampling on the simulator's steps, the grid, idling. */
import assert from "node:assert/strict";
import { discoverBoard, type Sample } from "../../src/hal/mod.ts";
import { createBoardRuntime } from "../../src/service/mod.ts";
import { createSimBoard } from "../../src/sim/mod.ts";

async function rig() {
  const root = await Deno.makeTempDir({ prefix: "qeil-runtime-" });
  const sim = await createSimBoard({ profileId: "rk3588", root, seed: 4, timeMode: "virtual" });
  const board = await discoverBoard(root, { profileId: "rk3588", clock: sim.clock });
  const seen: { sample: Sample; onGrid: boolean }[] = [];
  const runtime = createBoardRuntime({
    board,
    sim,
    idlePeriodMs: 1000,
    onSample: (sample, info) => seen.push({ sample, ...info }),
  });
  return {
    sim,
    runtime,
    seen,
    [Symbol.asyncDispose]: async () => {
      await runtime.stop();
      await sim[Symbol.asyncDispose]();
      await Deno.remove(root, { recursive: true });
    },
  };
}

Deno.test("idle, the runtime samples once per period of simulated time, on a grid", async () => {
  await using r = await rig();
  await r.runtime.start();
  assert.equal(r.seen.length, 1, "a first sample at start");
  await r.runtime.idle(3000);
  const grid = r.seen.filter((s) => s.onGrid).map((s) => s.sample.monotonicMs);
  assert.deepEqual(grid.map((t) => Math.round(t - grid[0])), [0, 1000, 2000, 3000]);
  assert.equal(r.runtime.lastSampleMs(), grid.at(-1));
});

Deno.test("while a job runs the runtime samples every simulator step; extra samples stay off the grid", async () => {
  await using r = await rig();
  await r.runtime.start();
  const done = r.runtime.busy();
  assert.equal(r.runtime.busyPeriodMs, r.sim.stepMs);
  await r.sim.advance(1000);
  const busy = r.seen.filter((s) => s.onGrid).length;
  assert.ok(busy >= 10, `a sample per 100 ms step, got ${busy}`);
  await r.sim.advance(50);
  const extra = await r.runtime.sampleNow();
  assert.equal(r.seen.at(-1)!.sample, extra);
  assert.equal(r.seen.at(-1)!.onGrid, false);
  done();
  const before = r.seen.length;
  await r.sim.advance(2000);
  assert.ok(r.seen.length - before <= 3, "back to one sample per second");
});

Deno.test("a zone that stops reading keeps its last good value; the energy meter gets every sample", async () => {
  await using r = await rig();
  await r.runtime.start();
  const soc = r.sim.paths.zones.find((z) => z.type === "soc-thermal")!;
  await r.runtime.idle(1000);
  const good = r.runtime.lastGoodZoneTempsC().soc;
  assert.ok(good !== undefined);
  r.sim.inject({ kind: "sensor-remove", path: `${soc.path}/temp` });
  await r.runtime.idle(2000);
  const latest = r.runtime.latest()!;
  assert.ok(latest.thermal.some((t) => t.zone === "soc" && !t.ok));
  assert.equal(r.runtime.lastGoodZoneTempsC().soc.value, good.value);
  const window = r.runtime.meter.begin("test");
  await r.runtime.idle(2000);
  const measured = window.end();
  assert.ok(measured.energyJ > 0 && Math.abs(measured.durationMs - 2000) < 1e-6);
  assert.equal(r.runtime.throttleEvents(), 0);
});
