import assert from "node:assert/strict";
import { runLoad } from "../../src/sim/mod.ts";
import { readText, simBoard } from "./helpers.ts";

Deno.test("runLoad() keeps a unit busy the requested share of the time and stops on abort", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 5, stepMs: 1000 });
  const loads: number[] = [];
  sim.onStep(() => {
    const m = /^(\d+)@/.exec(readText(sim.root, "sys/class/devfreq/fb000000.gpu/load"));
    loads.push(Number(m![1]));
  });
  const stop = new AbortController();
  sim.onStep((timeMs) => {
    if (timeMs >= 30_000) stop.abort();
  });
  await runLoad(sim, { unitId: "gpu", fraction: 0.4, signal: stop.signal });
  const settled = loads.slice(5);
  const mean = settled.reduce((s, x) => s + x, 0) / settled.length;
  assert.ok(Math.abs(mean - 40) < 5, `mean GPU load ${mean.toFixed(1)}%`);
});

Deno.test("runLoad() refuses an unknown unit and a fraction outside [0, 1]", async () => {
  await using sim = await simBoard({ profileId: "imx8mp", seed: 1 });
  const signal = new AbortController().signal;
  await assert.rejects(
    runLoad(sim, { unitId: "gpu", fraction: 0.5, signal }),
    /unknown unit "gpu" \(units: cpu, npu\)/,
  );
  await assert.rejects(runLoad(sim, { unitId: "cpu", fraction: 1.5, signal }), /fraction must be in \[0, 1\]/);
});
