import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import type { Placement } from "../../src/physics/mod.ts";
import {
  canonicalPlacement,
  createPlacementSpace,
  enumeratePlacements,
  placementKey,
  placementMoves,
  placementProblems,
  randomPlacement,
} from "../../src/pgsam/mod.ts";
import { boardModel, idleState, job, llama32OneB } from "./fixtures.ts";

const rk = boardModel("rk3588");

Deno.test("createPlacementSpace() leaves out unhealthy units and units without the job's precision", () => {
  const space = createPlacementSpace(rk, idleState(rk, ["cpu_big", "gpu", "npu"]), job(llama32OneB(), 4));
  assert.deepEqual(space.units, ["cpu_big", "gpu", "npu"]);
  const fp32 = { ...llama32OneB(), weightPrecision: "fp32" as const, kvPrecision: "fp32" as const };
  // The RK3588 NPU has no fp32 rate.
  assert.deepEqual(createPlacementSpace(rk, idleState(rk), job(fp32, 4)).units, ["cpu_big", "cpu_little", "gpu"]);
  assert.equal(space.maxLanes, 3);
  assert.throws(
    () => createPlacementSpace(rk, idleState(rk), job(llama32OneB(), 0)),
    /job.samples must be an integer >= 1/,
  );
});

Deno.test("createPlacementSpace() spreads frequency levels up to the highest OPP under the cap", () => {
  const opps = rk.units.gpu.opps;
  const space = createPlacementSpace(rk, idleState(rk), job(llama32OneB(), 2), { frequencyLevels: 3 });
  assert.deepEqual(space.levels.gpu, [0, Math.round((opps.length - 1) / 2), opps.length - 1]);
  const capped = { ...idleState(rk), maxFreqHz: { gpu: opps[3].freqHz } };
  const under = createPlacementSpace(rk, capped, job(llama32OneB(), 2), { frequencyLevels: 3 });
  assert.equal(under.levels.gpu.at(-1), 3);
  assert.ok(under.levels.gpu.every((l) => opps[l].freqHz <= opps[3].freqHz));
});

Deno.test("enumeratePlacements() yields every placement of a tiny space once (hand count)", () => {
  // 2 layers, units gpu and npu, 2 samples, 2 levels each. Lane structures: [g], [n], [g|n], [n|g] (one lane,
  // both samples) and [g]+[n] (one sample each). Used units = prefill and lanes; 2 levels per used unit:
  // [g]: prefill g -> 2, prefill n -> 4; same for [n]; the other three use both units: 2 prefills x 4.
  const space = createPlacementSpace(rk, idleState(rk, ["gpu", "npu"]), job(llama32OneB(2), 2), { frequencyLevels: 2 });
  const all = [...enumeratePlacements(space)];
  assert.equal(all.length, 6 + 6 + 8 + 8 + 8);
  assert.equal(new Set(all.map(placementKey)).size, all.length);
  for (const p of all) assert.deepEqual(placementProblems(space, p), []);
});

Deno.test("enumeratePlacements() agrees with canonical random placements on a larger space", () => {
  const space = createPlacementSpace(rk, idleState(rk, ["cpu_big", "gpu", "npu"]), job(llama32OneB(8), 4), {
    frequencyLevels: 4,
  });
  const keys = new Set<string>();
  for (const p of enumeratePlacements(space)) keys.add(placementKey(p));
  const rng = createRng(3);
  for (let i = 0; i < 500; i++) {
    const p = randomPlacement(space, rng);
    assert.deepEqual(placementProblems(space, p), [], placementKey(p));
    assert.ok(keys.has(placementKey(p)), `random ${placementKey(p)} is not enumerated`);
  }
  assert.ok(keys.size > 10_000 && keys.size < 100_000, `${keys.size} placements`);
});

Deno.test("placementMoves() keep a random walk inside the space and every move applies somewhere", () => {
  const space = createPlacementSpace(rk, idleState(rk), job(llama32OneB(), 8), { maxSegmentsPerLane: 3 });
  const moves = placementMoves(space);
  const rng = createRng(11);
  const applied = new Map<string, number>();
  let p = randomPlacement(space, rng);
  for (let i = 0; i < 5000; i++) {
    const move = moves[rng.int(moves.length)];
    const before = placementKey(p);
    const q = move.apply(p, rng, rng.next() < 0.5 ? -1 : 1);
    assert.equal(placementKey(p), before, `${move.name} mutated its input`);
    if (q === undefined) continue;
    applied.set(move.name, (applied.get(move.name) ?? 0) + 1);
    assert.deepEqual(placementProblems(space, q), [], `${move.name}: ${before} -> ${placementKey(q)}`);
    p = i % 40 === 0 ? randomPlacement(space, rng) : q;
  }
  assert.deepEqual([...applied.keys()].sort(), moves.map((m) => m.name).sort());
});

const byName = (name: string) => {
  const space = createPlacementSpace(rk, idleState(rk), job(llama32OneB(), 4));
  return { space, move: placementMoves(space).find((m) => m.name === name)! };
};

const pipeline: Placement = {
  prefillUnit: "npu",
  lanes: [
    {
      samples: 3,
      segments: [{ unitId: "gpu", layerStart: 0, layerEnd: 8 }, { unitId: "npu", layerStart: 8, layerEnd: 16 }],
    },
    { samples: 1, segments: [{ unitId: "cpu_big", layerStart: 0, layerEnd: 16 }] },
  ],
  freqLevel: { cpu_big: 13, gpu: 7, npu: 7 },
};

Deno.test("shiftCut moves a cut one granule in the direction it is given", () => {
  const { space, move } = byName("shiftCut");
  const p = canonicalPlacement(space, pipeline);
  const up = move.apply(p, createRng(1), 1)!;
  const down = move.apply(p, createRng(1), -1)!;
  const gpuLane = (x: Placement) => x.lanes.find((l) => l.segments.length === 2)!;
  assert.equal(gpuLane(up).segments[0].layerEnd, 9);
  assert.equal(gpuLane(down).segments[0].layerEnd, 7);
});

Deno.test("stepFrequency steps one allowed level and refuses to pass the ends", () => {
  const { space, move } = byName("stepFrequency");
  const top = canonicalPlacement(space, pipeline);
  // Every used unit is at its top level: stepping up never applies.
  for (let seed = 0; seed < 20; seed++) assert.equal(move.apply(top, createRng(seed), 1), undefined);
  const down = move.apply(top, createRng(1), -1)!;
  const changed = Object.keys(down.freqLevel).filter((u) => down.freqLevel[u] !== top.freqLevel[u]);
  assert.equal(changed.length, 1);
  const levels = space.levels[changed[0]];
  assert.equal(down.freqLevel[changed[0]], levels[levels.length - 2]);
});

Deno.test("swapPrefillDecode trades the prefill unit and a decode unit everywhere", () => {
  const { space, move } = byName("swapPrefillDecode");
  const p = canonicalPlacement(space, pipeline);
  for (let seed = 0; seed < 10; seed++) {
    const q = move.apply(p, createRng(seed), 1)!;
    assert.notEqual(q.prefillUnit, "npu");
    // The old prefill unit now decodes where the new one did.
    const where = (x: Placement, u: string) =>
      x.lanes.flatMap((l) => l.segments.filter((s) => s.unitId === u).map((s) => `${s.layerStart}-${s.layerEnd}`));
    assert.deepEqual(where(q, "npu"), where(p, q.prefillUnit));
    assert.deepEqual(where(q, q.prefillUnit), where(p, "npu"));
  }
});

Deno.test("splitLane and mergeLanes conserve samples and units stay unique", () => {
  const { space, move: split } = byName("splitLane");
  const merge = placementMoves(space).find((m) => m.name === "mergeLanes")!;
  const p = canonicalPlacement(space, pipeline);
  const s = split.apply(p, createRng(2), 1)!;
  assert.equal(s.lanes.length, 3);
  assert.ok(s.lanes.some((l) => l.segments.length === 1 && l.segments[0].unitId === "cpu_little"));
  assert.equal(s.lanes.reduce((a, l) => a + l.samples, 0), 4);
  const m = merge.apply(p, createRng(2), 1)!;
  assert.equal(m.lanes.length, 1);
  assert.equal(m.lanes[0].samples, 4);
  // A unit no lane uses anymore (and not the prefill) loses its frequency entry.
  assert.ok(Object.keys(m.freqLevel).length < 3);
});

Deno.test("placementKey() does not depend on lane order; placementProblems() names what is wrong", () => {
  const { space } = byName("shiftCut");
  const swapped = { ...pipeline, lanes: [pipeline.lanes[1], pipeline.lanes[0]] };
  assert.equal(placementKey(canonicalPlacement(space, swapped)), placementKey(canonicalPlacement(space, pipeline)));
  const broken: Placement = {
    prefillUnit: "dsp",
    lanes: [
      { samples: 2, segments: [{ unitId: "gpu", layerStart: 0, layerEnd: 10 }] },
      { samples: 1, segments: [{ unitId: "gpu", layerStart: 0, layerEnd: 16 }] },
    ],
    freqLevel: { gpu: 7, npu: 7 },
  };
  const problems = placementProblems(space, broken).join("\n");
  assert.match(problems, /prefill unit "dsp" is not usable/);
  assert.match(problems, /unit "gpu" appears in more than one segment/);
  assert.match(problems, /lane 0 covers 10 of 16 layers/);
  assert.match(problems, /lanes hold 3 samples, the job has 4/);
  assert.match(problems, /freqLevel names unused unit "npu"/);
});
