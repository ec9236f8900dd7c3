/**
 * Cumulative energy counters: the one place where wrap-around is handled
 * (powercap `energy_uj` wraps at `max_energy_range_uj`; hwmon `energyK_input`
 * is 64-bit on most drivers and only goes backwards on a reset, but a chip may
 * model a narrower register: the per-chip ranges live in board.ts).
 */
import { fail, ok, type Reading } from "../core/mod.ts";

/**
 * Energy between two counter readings, J. When the counter went backwards it
 * wrapped once if a range is known (`current + range - previous`); otherwise
 * the interval cannot be trusted (a reset) and is a failure.
 */
export function counterDeltaJ(previousJ: number, currentJ: number, rangeJ?: number): Reading<number> {
  if (currentJ >= previousJ) return ok(currentJ - previousJ);
  if (rangeJ !== undefined && rangeJ > 0 && previousJ <= rangeJ) return ok(currentJ + rangeJ - previousJ);
  return fail(
    `energy counter went backwards from ${previousJ} J to ${currentJ} J` +
      (rangeJ === undefined ? " with no wrap range (counter reset)" : ` beyond its wrap range ${rangeJ} J`),
  );
}
