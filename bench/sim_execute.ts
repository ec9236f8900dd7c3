/**
 * Throughput of a virtual-time simulated board: execute() calls per second of
 * wall time for decode-sized work items, with the tree on tmpfs and on the
 * default temp directory, and the wall cost of one physics step (tree rewrite
 * included). Prints figures; asserts nothing.
 *
 * Usage: deno run -A bench/sim_execute.ts [CALLS]
 */
import { createSimBoard, type SimBoard } from "../src/sim/mod.ts";

const calls = Number(Deno.args[0] ?? 5000);

async function rootIn(dir: string | undefined): Promise<string> {
  return await Deno.makeTempDir({ ...(dir ? { dir } : {}), prefix: "qeil-sim-bench-" });
}

async function measure(label: string, dir: string | undefined, stepMs: number): Promise<void> {
  let root: string;
  try {
    root = await rootIn(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      console.log(`${label}: ${dir} not available`);
      return;
    }
    throw error;
  }
  try {
    await using sim: SimBoard = await createSimBoard({ profileId: "rk3588", root, seed: 1, stepMs });
    // One decode step of a ~1 GB int8 model split between the NPU and the A76 cluster (~20-40 ms each).
    const items = [
      { unitId: "npu", flops: 1.2e9, bytes: 6e8, precision: "int8" as const },
      { unitId: "cpu_big", flops: 2e8, bytes: 1e8, precision: "int8" as const },
    ];
    for (let i = 0; i < 50; i++) await sim.execute(items);
    const t0 = performance.now();
    const sim0 = sim.clock.monotonicMs();
    for (let i = 0; i < calls; i++) await sim.execute(items);
    const wallMs = performance.now() - t0;
    const simMs = sim.clock.monotonicMs() - sim0;
    const steps = simMs / stepMs;
    // Idle stepping alone: the cost of one physics step with its tree rewrite.
    const t1 = performance.now();
    await sim.advance(200 * stepMs);
    const stepWallMs = (performance.now() - t1) / 200;
    console.log(
      `${label.padEnd(24)} step ${String(stepMs).padStart(3)} ms: ${
        (calls / wallMs * 1000).toFixed(0).padStart(6)
      } execute/s, ` +
        `${(simMs / wallMs).toFixed(0).padStart(5)}x real time, ${steps.toFixed(0)} steps, ` +
        `${stepWallMs.toFixed(3)} ms wall per idle step`,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

console.log(`rk3588, ${calls} execute() calls of one NPU + one CPU item each`);
for (const stepMs of [100, 500]) {
  await measure("tmpfs (/dev/shm)", "/dev/shm", stepMs);
  await measure(`default temp dir`, undefined, stepMs);
}
