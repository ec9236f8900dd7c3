/**
 * Wall cost of a virtual-time simulated board, on tmpfs (/dev/shm) and on the
 * default temp directory: idle time (`advance(60_000)` at 100 ms steps, with
 * nobody watching, watched every step, and sampled by the HAL every second),
 * and `execute()` calls per second for decode-sized work items. Prints each
 * figure next to its target; asserts nothing. Every figure is the median of a
 * few repetitions (the machine is shared).
 *
 * Usage: deno run -A bench/sim_execute.ts [CALLS]
 */
import { discoverBoard } from "../src/hal/mod.ts";
import { createSimBoard, type SimBoard, type SimWorkItem } from "../src/sim/mod.ts";

const calls = Number(Deno.args[0] ?? 5000);
const REPEATS = 5;
const IDLE_MS = 60_000;
const STEP_MS = 100;

/** Filesystem type of the mount holding `dir` (from /proc/mounts; "?" when unknown). */
function fsType(dir: string): string {
  try {
    const real = Deno.realPathSync(dir);
    let best = { mount: "", type: "?" };
    for (const line of Deno.readTextFileSync("/proc/mounts").split("\n")) {
      const [, mount, type] = line.split(" ");
      if (!mount || !type) continue;
      const inside = real === mount || real.startsWith(mount.endsWith("/") ? mount : mount + "/");
      if (inside && mount.length > best.mount.length) best = { mount, type };
    }
    return best.type;
  } catch {
    // No /proc (not Linux): the label only loses its filesystem name.
    return "?";
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function withBoard<T>(dir: string | undefined, fn: (sim: SimBoard) => Promise<T>): Promise<T> {
  const root = await Deno.makeTempDir({ ...(dir ? { dir } : {}), prefix: "qeil-sim-bench-" });
  try {
    await using sim = await createSimBoard({ profileId: "rk3588", root, seed: 1, stepMs: STEP_MS });
    return await fn(sim);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Wall ms of one advance(IDLE_MS) after a warm-up, with `watch` subscribing observers first. */
async function idleMs(dir: string | undefined, watch: (sim: SimBoard) => Promise<void>): Promise<number> {
  return await withBoard(dir, async (sim) => {
    await watch(sim);
    await sim.advance(1000);
    const t0 = performance.now();
    await sim.advance(IDLE_MS);
    return performance.now() - t0;
  });
}

/** execute() calls per wall second for `items`, after a warm-up. */
async function executeRate(dir: string | undefined, items: SimWorkItem[]): Promise<number> {
  return await withBoard(dir, async (sim) => {
    for (let i = 0; i < 50; i++) await sim.execute(items);
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) await sim.execute(items);
    return calls / ((performance.now() - t0) / 1000);
  });
}

async function repeat(fn: () => Promise<number>): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < REPEATS; i++) values.push(await fn());
  return median(values);
}

function row(label: string, value: string, target = ""): void {
  console.log(`  ${label.padEnd(58)} ${value.padStart(12)}  ${target}`);
}

function verdict(ok: boolean, text: string): string {
  return `${ok ? "meets" : "MISSES"} target ${text}`;
}

// One decode step of a ~1 GB int8 model: on the NPU alone, and split between the NPU and the A76 cluster.
const npuStep: SimWorkItem[] = [{ unitId: "npu", flops: 1.2e9, bytes: 6e8, precision: "int8" }];
const splitStep: SimWorkItem[] = [...npuStep, { unitId: "cpu_big", flops: 2e8, bytes: 1e8, precision: "int8" }];

console.log(`rk3588, ${STEP_MS} ms steps, medians of ${REPEATS} runs, ${calls} execute() calls per run`);
for (const [name, dir] of [["/dev/shm", "/dev/shm"], ["default temp dir", undefined]] as const) {
  // Deno.makeTempDir() without `dir` uses TMPDIR, else /tmp.
  const path = dir ?? (Deno.env.get("TMPDIR") || "/tmp");
  try {
    Deno.statSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    console.log(`${name}: ${path} not available`);
    continue;
  }
  const type = fsType(path);
  const tmpfs = type === "tmpfs";
  console.log(`${name}: ${path} (${type})`);
  const unwatched = await repeat(() => idleMs(dir, () => Promise.resolve()));
  row(
    `advance(${IDLE_MS}), nobody watching`,
    `${unwatched.toFixed(1)} ms`,
    verdict(unwatched < (tmpfs ? 200 : 1000), tmpfs ? "< 200 ms on tmpfs" : "< 1000 ms on ext4"),
  );
  const everyStep = await repeat(() =>
    idleMs(dir, (sim) => {
      sim.onStep(() => {});
      return Promise.resolve();
    })
  );
  row(`advance(${IDLE_MS}), onStep every step (tree published 600x)`, `${everyStep.toFixed(1)} ms`);
  const sampled = await repeat(() =>
    idleMs(dir, async (sim) => {
      const board = await discoverBoard(sim.root, { clock: sim.clock });
      sim.onStep(async () => void await board.read(), { periodMs: 1000 });
    })
  );
  row(`advance(${IDLE_MS}), HAL read() every 1000 ms via onStep`, `${sampled.toFixed(1)} ms`);
  const npu = await repeat(() => executeRate(dir, npuStep));
  row("execute() of one NPU item", `${npu.toFixed(0)} /s`, tmpfs ? verdict(npu >= 5000, ">= 5000/s on tmpfs") : "");
  const split = await repeat(() => executeRate(dir, splitStep));
  row("execute() of one NPU + one CPU item", `${split.toFixed(0)} /s`);
}
