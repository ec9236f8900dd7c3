/**
 * Shared helpers of the simulator tests: a scratch root on tmpfs when the
 * machine has one (a simulated step rewrites dozens of files; tmpfs keeps the
 * suite fast), and readers of single sysfs values.
 */
import { createSimBoard, type SimBoard, type SimBoardOptions } from "../../src/sim/mod.ts";

/** A fresh empty directory, on /dev/shm when available. */
export async function tempRoot(): Promise<string> {
  try {
    return await Deno.makeTempDir({ dir: "/dev/shm", prefix: "qeil-sim-test-" });
  } catch (error) {
    // No tmpfs here: the default temp directory works, only slower.
    if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied)) throw error;
    return await Deno.makeTempDir({ prefix: "qeil-sim-test-" });
  }
}

/** A simulated board on a fresh root that removes its root when disposed. */
export async function simBoard(
  options: Omit<SimBoardOptions, "root"> & { root?: string },
): Promise<SimBoard & { removeRoot(): Promise<void> }> {
  const root = options.root ?? await tempRoot();
  const sim = await createSimBoard({ ...options, root });
  const dispose = sim[Symbol.asyncDispose].bind(sim);
  return Object.assign(sim, {
    removeRoot: () => Deno.remove(root, { recursive: true }),
    [Symbol.asyncDispose]: async () => {
      await dispose();
      await Deno.remove(root, { recursive: true });
    },
  });
}

/** The text of a root-relative file, without the trailing newline. */
export function readText(root: string, rel: string): string {
  return Deno.readTextFileSync(`${root}/${rel}`).replace(/\n$/, "");
}

/** An integer sysfs value. */
export function readInt(root: string, rel: string): number {
  const text = readText(root, rel);
  if (!/^-?\d+$/.test(text.trim())) throw new SyntaxError(`${rel} holds "${text}", not an integer`);
  return Number(text);
}

/** Trapezoid integral of power samples, J. */
export function trapezoidJ(samples: readonly { timeMs: number; powerW: number }[]): number {
  let energyJ = 0;
  for (let i = 1; i < samples.length; i++) {
    energyJ += (samples[i].powerW + samples[i - 1].powerW) / 2 * (samples[i].timeMs - samples[i - 1].timeMs) / 1000;
  }
  return energyJ;
}
