/** The DVFS controller on the knobs of a simulated rk3588's tree, through the HAL actuators. */
import assert from "node:assert/strict";
import { createActuators, discoverBoard } from "../../src/hal/mod.ts";
import { createBoardModel, type Placement } from "../../src/physics/mod.ts";
import { createDvfsController } from "../../src/service/mod.ts";
import { createSimBoard } from "../../src/sim/mod.ts";

async function rig() {
  const root = await Deno.makeTempDir({ prefix: "qeil-dvfs-" });
  const sim = await createSimBoard({ profileId: "rk3588", root, seed: 1, timeMode: "virtual" });
  const board = await discoverBoard(root, { profileId: "rk3588", clock: sim.clock });
  const actuators = createActuators(board);
  const model = createBoardModel(board.profile.priors);
  const dvfs = createDvfsController({ board, actuators, model: () => model });
  return {
    sim,
    board,
    actuators,
    model,
    dvfs,
    [Symbol.asyncDispose]: async () => {
      await actuators[Symbol.asyncDispose]();
      await sim[Symbol.asyncDispose]();
      await Deno.remove(root, { recursive: true });
    },
  };
}

const placement: Placement = {
  prefillUnit: "npu",
  lanes: [{ samples: 2, segments: [{ unitId: "cpu_big", layerStart: 0, layerEnd: 24 }] }],
  freqLevel: { npu: 2, cpu_big: 5 },
};

Deno.test("apply() pins the used units at the plan's operating point and reads them back", async () => {
  await using r = await rig();
  const running = await r.dvfs.apply(placement, await r.board.read());
  assert.equal(running.npu, r.model.units.npu.opps[2].freqHz);
  assert.equal(running.cpu_big, r.model.units.cpu_big.opps[5].freqHz);
  const sample = await r.board.read();
  assert.ok(sample.units.cpu_big.maxFreqHz.ok && sample.units.cpu_big.maxFreqHz.value === running.cpu_big);
  assert.ok(sample.units.npu.maxFreqHz.ok && sample.units.npu.maxFreqHz.value === running.npu);
  assert.deepEqual(r.dvfs.pinned(), running);
  assert.equal(r.dvfs.capHz("cpu_big", sample), undefined, "the service's own pin is not a cap");
});

Deno.test("apply() writes only what changes and releases units the next placement does not use", async () => {
  await using r = await rig();
  await r.dvfs.apply(placement, undefined);
  const writes = r.actuators.history.length;
  await r.dvfs.apply(placement, undefined);
  assert.equal(r.actuators.history.length, writes, "the same setting again writes nothing");
  await r.dvfs.apply({ ...placement, prefillUnit: "cpu_big", freqLevel: { cpu_big: 5 } }, undefined);
  const last = r.actuators.history.at(-1)!;
  assert.equal(last.action, "release");
  assert.equal(last.unitId, "npu");
  const initial = r.board.devfreq.find((d) => d.unitId === "npu")!.initial!;
  const sample = await r.board.read();
  assert.ok(sample.units.npu.maxFreqHz.ok && sample.units.npu.maxFreqHz.value === initial.maxFreqHz);
  await r.dvfs.releaseAll();
  assert.deepEqual(r.dvfs.pinned(), {});
});

Deno.test("capHz() reports a max below the service's own setting as the kernel's cap", async () => {
  await using r = await rig();
  const sample = await r.board.read();
  const max = sample.units.npu.maxFreqHz;
  assert.ok(max.ok);
  const capped = {
    ...sample,
    units: { ...sample.units, npu: { ...sample.units.npu, maxFreqHz: { ok: true as const, value: max.value / 2 } } },
  };
  assert.equal(r.dvfs.capHz("npu", capped), max.value / 2);
  assert.equal(r.dvfs.capHz("npu", sample), undefined);
  // With a cap in force, a pin never asks for more than the cap.
  const running = await r.dvfs.apply({ ...placement, freqLevel: { npu: 7, cpu_big: 5 } }, capped);
  assert.ok(running.npu <= max.value / 2);
});
