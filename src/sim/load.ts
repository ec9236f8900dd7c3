/**
 * A background load for a simulated unit: a closed loop that keeps the unit
 * busy for a given fraction of the time through the public `execute()` API
 * (it never reads the truth: chunk sizes adapt to the durations it observes).
 */
import type { SimBoard } from "./api.ts";

/** Options of `runLoad()`. */
export interface LoadOptions {
  unitId: string;
  /** Busy share to keep, [0, 1]. */
  fraction: number;
  /** Stops the load (the promise then resolves). */
  signal: AbortSignal;
  /** Busy time of one work chunk the loop aims at, ms. @default 200 */
  chunkMs?: number;
  /** Arithmetic intensity of the chunks, FLOP per byte (compute-bound by default). @default 64 */
  flopsPerByte?: number;
}

/**
 * Keeps `unitId` busy `fraction` of the time until `signal` aborts: runs a
 * chunk, then idles `duration x (1 - fraction) / fraction` (virtual boards
 * advance their clock, realtime boards sleep on it).
 * @throws RangeError for an unknown unit or a fraction outside [0, 1]
 */
export async function runLoad(sim: SimBoard, options: LoadOptions): Promise<void> {
  const { unitId, fraction, signal } = options;
  const unit = sim.units.find((u) => u.id === unitId);
  if (!unit) {
    throw new RangeError(`runLoad(): unknown unit "${unitId}" (units: ${sim.units.map((u) => u.id).join(", ")})`);
  }
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`runLoad(): fraction must be in [0, 1], got ${fraction}`);
  const chunkMs = options.chunkMs ?? 200;
  const flopsPerByte = options.flopsPerByte ?? 64;
  const precision = unit.precisions[0];
  if (precision === undefined) throw new RangeError(`runLoad(): unit "${unitId}" computes no precision`);
  let flops = 1e9;
  try {
    while (!signal.aborted) {
      let idleMs: number;
      if (fraction === 0) {
        idleMs = chunkMs;
      } else {
        const [run] = await sim.execute([{ unitId, flops, bytes: flops / flopsPerByte, precision }], { signal });
        const ratio = run.durationMs > 0 ? chunkMs / run.durationMs : 4;
        flops *= Math.min(4, Math.max(0.25, ratio));
        idleMs = run.durationMs * (1 - fraction) / fraction;
      }
      if (idleMs <= 0) continue;
      if (sim.timeMode === "virtual") await sim.advance(idleMs);
      else await sim.clock.sleep(idleMs, signal);
    }
  } catch (error) {
    // Stopping is the normal end of a load; any other failure is the caller's to see.
    if (!signal.aborted) throw error;
  }
}
