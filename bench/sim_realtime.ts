/**
 * CPU cost of a realtime simulated board (the kind `qeil serve` runs, paced by
 * the system clock), on tmpfs (/dev/shm) and on the default temp directory:
 * CPU time (user + system, every thread of the process, so file system work
 * in Deno's blocking pool counts too) per physics step of an idle board, per
 * step while the HAL's actuators hold the clocks pinned, and per `execute()`
 * of a short decode-sized item (its share of the steps it spans included).
 * Realtime boards write their tree atomically, so the file system matters:
 * ext4 flushes a new file renamed over an old one. Prints figures; asserts
 * nothing. Medians of a few runs (the machine is shared).
 *
 * Usage: deno run -A bench/sim_realtime.ts [IDLE_SECONDS] [CALLS]
 */
import process from "node:process";
import { createActuators, discoverBoard } from "../src/hal/mod.ts";
import { createSimBoard, type SimBoard, type SimWorkItem } from "../src/sim/mod.ts";

const idleSeconds = Number(Deno.args[0] ?? 4);
const calls = Number(Deno.args[1] ?? 1000);
const REPEATS = 3;
/** Step of the idle runs: short, so a run of a few seconds has enough steps. */
const IDLE_STEP_MS = 20;
/** Step of the execute runs (the service's configurations use 100 to 500 ms). */
const EXECUTE_STEP_MS = 100;

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

/** CPU time of the whole process (all threads), µs. */
function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function withBoard<T>(dir: string | undefined, stepMs: number, fn: (sim: SimBoard) => Promise<T>): Promise<T> {
  const root = await Deno.makeTempDir({ ...(dir ? { dir } : {}), prefix: "qeil-sim-bench-" });
  try {
    await using sim = await createSimBoard({ profileId: "rk3588", root, seed: 1, stepMs, timeMode: "realtime" });
    sim.start();
    return await fn(sim);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Resolves after `ms` of wall time (the board steps meanwhile). */
function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** CPU µs per step while the board idles, with the HAL's actuators pinning every clock first when `pin`. */
async function stepCost(dir: string | undefined, pin: boolean): Promise<number> {
  return await withBoard(dir, IDLE_STEP_MS, async (sim) => {
    const board = await discoverBoard(sim.root);
    await using actuators = createActuators(board);
    if (pin) {
      for (const unit of board.units) {
        if (unit.availableFreqsHz.length > 1) await actuators.pinFrequency(unit.id, unit.availableFreqsHz[1]);
      }
    }
    await wait(200);
    const steps0 = sim.readings().timeMs;
    const cpu0 = cpuMicros();
    await wait(idleSeconds * 1000);
    const cpu = cpuMicros() - cpu0;
    const steps = (sim.readings().timeMs - steps0) / IDLE_STEP_MS;
    return cpu / steps;
  });
}

/** CPU µs per execute() of `items` called back to back. */
async function executeCost(dir: string | undefined, items: SimWorkItem[]): Promise<{ cpuUs: number; wallMs: number }> {
  return await withBoard(dir, EXECUTE_STEP_MS, async (sim) => {
    for (let i = 0; i < 50; i++) await sim.execute(items);
    const t0 = performance.now();
    const cpu0 = cpuMicros();
    for (let i = 0; i < calls; i++) await sim.execute(items);
    return { cpuUs: (cpuMicros() - cpu0) / calls, wallMs: (performance.now() - t0) / calls };
  });
}

function row(label: string, value: string): void {
  console.log(`  ${label.padEnd(66)} ${value.padStart(10)}`);
}

// A short decode-sized item on the A76 cluster (~1.75 ms at the top clock).
const cpuItem: SimWorkItem[] = [{ unitId: "cpu_big", flops: 3e7, bytes: 2e6, precision: "fp32" }];

console.log(
  `rk3588 realtime, system clock; medians of ${REPEATS} runs: ${idleSeconds} s idle at ${IDLE_STEP_MS} ms steps, ` +
    `${calls} execute() calls at ${EXECUTE_STEP_MS} ms steps`,
);
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
  console.log(`${name}: ${path} (${fsType(path)})`);
  const idle: number[] = [];
  const pinned: number[] = [];
  const exec: { cpuUs: number; wallMs: number }[] = [];
  for (let r = 0; r < REPEATS; r++) {
    idle.push(await stepCost(dir, false));
    pinned.push(await stepCost(dir, true));
    exec.push(await executeCost(dir, cpuItem));
  }
  row("CPU per step, idle", `${median(idle).toFixed(0)} µs`);
  row("CPU per step, every clock pinned by the HAL's actuators", `${median(pinned).toFixed(0)} µs`);
  row(
    `CPU per execute() of one cpu_big item, ${median(exec.map((x) => x.wallMs)).toFixed(2)} ms wall (steps included)`,
    `${median(exec.map((x) => x.cpuUs)).toFixed(0)} µs`,
  );
}
