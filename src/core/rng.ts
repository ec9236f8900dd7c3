/**
 * Seeded pseudo-random numbers: sfc32 (Chris Doty-Humphrey's Small Fast
 * Counting generator, 128-bit state), seeded through splitmix32. Integer-only
 * state updates, so the same seed gives bit-identical streams on every platform.
 */
export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextU32(): number;
  /** Uniform float in [0, 1), 32 bits of randomness. */
  next(): number;
  /** Uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
  /** Uniform float in [min, max). */
  uniform(min: number, max: number): number;
  /** Standard normal deviate (Box-Muller). */
  normal(): number;
  /** An independent stream derived from this one's seed and `label` (does not advance this one). */
  fork(label: string | number): Rng;
  /** The seed this stream was created from (forks report their derived seed). */
  readonly seed: number;
}

/** 32-bit FNV-1a hash of a string, for turning labels into seeds. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

class Sfc32 implements Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spareNormal: number | undefined;
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    const sm = { s: this.seed };
    this.#a = splitmix32(sm);
    this.#b = splitmix32(sm);
    this.#c = splitmix32(sm);
    this.#d = 1;
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t >>> 0;
  }

  next(): number {
    return this.nextU32() / 4294967296;
  }

  int(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive <= 0 || maxExclusive > 4294967296) {
      throw new RangeError(`int() needs an integer bound in [1, 2^32], got ${maxExclusive}`);
    }
    // Rejection sampling removes modulo bias.
    const limit = 4294967296 - (4294967296 % maxExclusive);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % maxExclusive;
    }
  }

  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  normal(): number {
    if (this.#spareNormal !== undefined) {
      const v = this.#spareNormal;
      this.#spareNormal = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  fork(label: string | number): Rng {
    return new Sfc32((hashString(`${this.seed}/${label}`) ^ Math.imul(this.seed, 0x9e3779b1)) >>> 0);
  }
}

/** Creates a seeded generator. A string seed is hashed. */
export function createRng(seed: number | string): Rng {
  const n = typeof seed === "string" ? hashString(seed) : seed;
  if (!Number.isFinite(n)) throw new RangeError(`createRng() needs a finite seed, got ${seed}`);
  return new Sfc32(Math.trunc(n) >>> 0);
}
