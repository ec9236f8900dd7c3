/**
 * How often the orchestrator's sampler looks at a simulated board in virtual
 * time. A virtual board writes its tree only when an observer can look (an
 * `onStep` callback), and the board runtime observes every physics step to
 * decide whether a sample is due, so a long evaluation spends most of its
 * wall time writing files nobody reads: the runtime samples at most once per
 * busy period. Observing at that period changes no value the HAL reads (the
 * physics still steps every `stepMs`; the simulator's energy counters are
 * exact at every publish; a sample is taken at the same grid instants), and
 * cuts the files written per virtual second by `periodMs / stepMs`.
 */
import type { SimBoard } from "../sim/mod.ts";

/**
 * The same board, whose `onStep` observers that name no period are called
 * every `periodMs` (a multiple of the board's step) instead of every step.
 * Everything else is the board itself.
 * @throws RangeError for a period that is not a positive multiple of the board's step
 */
export function observedEvery(sim: SimBoard, periodMs: number): SimBoard {
  const steps = periodMs / sim.stepMs;
  if (!(periodMs > 0) || Math.abs(steps - Math.round(steps)) > 1e-9) {
    throw new RangeError(
      `observation period must be a positive multiple of the ${sim.stepMs} ms step, got ${periodMs}`,
    );
  }
  const onStep: SimBoard["onStep"] = (callback, options) =>
    sim.onStep(callback, { periodMs: options?.periodMs ?? periodMs });
  return new Proxy(sim, {
    get(target, key) {
      if (key === "onStep") return onStep;
      const value = Reflect.get(target, key, target);
      // The board's methods use its private fields: call them on the board, not on the view.
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * Lets the board idle until its clock sits on an instant where observers of
 * period `periodMs` are called (at most one period and one step): a sampler
 * started there finds its grid of whole periods on the observation instants,
 * so its samples count as on-grid for the calibration's telemetry.
 */
export async function alignToObservations(sim: SimBoard, periodMs: number): Promise<void> {
  let observedAtMs: number | undefined;
  const off = sim.onStep(() => {
    observedAtMs ??= sim.clock.monotonicMs();
  }, { periodMs });
  try {
    await sim.advance(periodMs + sim.stepMs);
  } finally {
    off();
  }
  if (observedAtMs === undefined) throw new Error(`no observation within ${periodMs + sim.stepMs} ms of idle`);
  const nowMs = sim.clock.monotonicMs();
  const waitMs = (((observedAtMs - nowMs) % periodMs) + periodMs) % periodMs;
  if (waitMs > 1e-6) await sim.advance(waitMs);
}
