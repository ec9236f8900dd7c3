/**
 * A per-channel result: expected failures (a sensor that is power-gated, a file
 * with garbage) are values, never sentinel numbers and never exceptions.
 */
export type Reading<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A successful reading. */
export function ok<T>(value: T): Reading<T> {
  return { ok: true, value };
}

/** A failed reading with a human-readable reason that names what was wrong. */
export function fail<T = never>(reason: string): Reading<T> {
  return { ok: false, reason };
}

/** Maps the value of a successful reading; failures pass through unchanged. */
export function mapReading<T, U>(reading: Reading<T>, fn: (value: T) => U): Reading<U> {
  return reading.ok ? ok(fn(reading.value)) : reading;
}

/** The value of a successful reading, or `undefined`. */
export function valueOf<T>(reading: Reading<T>): T | undefined {
  return reading.ok ? reading.value : undefined;
}
