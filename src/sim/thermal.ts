/**
 * A kernel-like step_wise thermal governor (drivers/thermal/gov_step_wise.c,
 * Linux 6.x), pure: trip crossing with hysteresis, temperature trend, one
 * instance per (trip, cooling device) binding whose target moves one state per
 * poll, and a cooling device state that is the highest target of its instances.
 */

/** No target: the instance does not ask for cooling (THERMAL_NO_TARGET). */
export const NO_TARGET = -1;

/** Temperature trend between two polls of a zone. */
export type Trend = "raising" | "dropping" | "stable";

/** Trend from the previous and the current reading (the kernel compares the two raw values). */
export function trendOf(previousC: number, currentC: number): Trend {
  if (currentC > previousC) return "raising";
  if (currentC < previousC) return "dropping";
  return "stable";
}

/**
 * Whether a trip counts as crossed after this poll: it is crossed when the
 * temperature reaches the trip, and stays crossed until the temperature falls
 * below trip - hysteresis.
 */
export function tripCrossed(wasCrossed: boolean, tempC: number, tripC: number, hystC: number): boolean {
  return wasCrossed ? tempC >= tripC - hystC : tempC >= tripC;
}

/** One binding of a cooling device to a trip, as the governor sees it. */
export interface InstanceState {
  /** Requested state, or NO_TARGET. */
  target: number;
  /** False until the governor evaluated the instance once. */
  initialized: boolean;
  lower: number;
  upper: number;
}

/**
 * Next target of one instance (get_target_state() of step_wise, Linux 6.10+):
 * steps are taken from the cooling device's current state; while the trip is
 * crossed, heating raises it by one and cooling lowers it by one (never below
 * lower + 1); once the trip is no longer crossed a falling temperature asks for
 * the lower limit, then for nothing.
 */
export function stepWiseTarget(
  instance: InstanceState,
  cdevState: number,
  throttle: boolean,
  trend: Trend,
): number {
  const { lower, upper } = instance;
  const clamp = (s: number, lo: number) => Math.min(upper, Math.max(lo, s));
  if (!instance.initialized) return throttle ? clamp(cdevState + 1, lower) : NO_TARGET;
  if (throttle) {
    if (trend === "raising") return clamp(cdevState + 1, lower);
    if (trend === "dropping") return clamp(cdevState - 1, Math.min(lower + 1, upper));
  } else if (trend === "dropping") {
    if (cdevState <= lower) return NO_TARGET;
    return lower;
  }
  return instance.target;
}

/** State of a cooling device: the highest target among its instances (0 when none asks). */
export function coolingState(targets: readonly number[], maxState: number): number {
  let state = 0;
  for (const t of targets) if (t !== NO_TARGET && t > state) state = t;
  return Math.min(state, maxState);
}
