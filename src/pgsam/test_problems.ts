/**
 * Synthetic discrete test problems with known structure, for tests and
 * benchmarks of the optimizer independent of the placement physics: a
 * discretised DTLZ2 (Deb, Thiele, Laumanns, Zitzler, "Scalable test problems
 * for evolutionary multiobjective optimization", 2005) and a multi-objective
 * 0/1 knapsack with a capacity constraint (Zitzler and Thiele, 1999).
 */
import { createRng, type Rng } from "../core/mod.ts";
import type { Evaluation, MoveType, Problem } from "./problem.ts";

/** Options of `createDiscreteDtlz2`. */
export interface DiscreteDtlz2Options {
  /** Number of objectives, >= 2. @default 3 */
  objectives?: number;
  /** Levels of every variable; level l maps to x = l / (levels - 1). @default 11 */
  levels?: number;
  /** Distance variables k (the Pareto front has all of them at x = 0.5). @default 5 */
  distanceVariables?: number;
}

function* odometer(length: number, levels: number): Generator<number[]> {
  const x = new Array<number>(length).fill(0);
  for (;;) {
    yield [...x];
    let i = length - 1;
    while (i >= 0 && x[i] === levels - 1) x[i--] = 0;
    if (i < 0) return;
    x[i]++;
  }
}

/**
 * DTLZ2 on a grid: variables are integer levels; the first `objectives - 1`
 * set the position on the front (a sphere octant of radius 1), the rest add
 * g = sum (x_i - 0.5)^2 of distance. With an odd level count the true front
 * lies on the grid. Moves: step a position variable, step a distance variable
 * (numeric), reset a variable to a random level.
 */
export function createDiscreteDtlz2(options: DiscreteDtlz2Options = {}): Problem<readonly number[]> {
  const m = options.objectives ?? 3;
  const levels = options.levels ?? 11;
  const k = options.distanceVariables ?? 5;
  if (!Number.isInteger(m) || m < 2) throw new RangeError(`DTLZ2: objectives must be an integer >= 2, got ${m}`);
  if (!Number.isInteger(levels) || levels < 2) {
    throw new RangeError(`DTLZ2: levels must be an integer >= 2, got ${levels}`);
  }
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`DTLZ2: distanceVariables must be an integer >= 0, got ${k}`);
  const n = m - 1 + k;
  const step = (first: number, count: number): MoveType<readonly number[]> => ({
    name: first === 0 ? "stepPosition" : "stepDistance",
    numeric: true,
    apply(x, rng, direction) {
      if (count === 0) return undefined;
      const i = first + rng.int(count);
      const v = x[i] + direction;
      if (v < 0 || v >= levels) return undefined;
      const y = [...x];
      y[i] = v;
      return y;
    },
  });
  return {
    objectiveCount: m,
    objectiveNames: Array.from({ length: m }, (_, i) => `f${i + 1}`),
    evaluate(x): Evaluation {
      const t = x.map((l) => l / (levels - 1));
      let g = 0;
      for (let i = m - 1; i < n; i++) g += (t[i] - 0.5) ** 2;
      const f: number[] = [];
      for (let j = 0; j < m; j++) {
        let v = 1 + g;
        for (let i = 0; i < m - 1 - j; i++) v *= Math.cos(t[i] * Math.PI / 2);
        if (j > 0) v *= Math.sin(t[m - 1 - j] * Math.PI / 2);
        f.push(v);
      }
      return { objectives: f, feasible: true, violation: 0 };
    },
    random: (rng) => Array.from({ length: n }, () => rng.int(levels)),
    moves: [
      step(0, m - 1),
      step(m - 1, k),
      {
        name: "resetVariable",
        numeric: false,
        apply(x, rng) {
          const i = rng.int(n);
          const y = [...x];
          y[i] = (x[i] + 1 + rng.int(levels - 1)) % levels;
          return y;
        },
      },
    ],
    key: (x) => x.join(","),
    enumerate: () => odometer(n, levels),
  };
}

/** Options of `createKnapsack`. */
export interface KnapsackOptions {
  /** Number of items. @default 12 */
  items?: number;
  /** Number of objectives (value vectors), >= 2. @default 3 */
  objectives?: number;
  /** Seed of the item values and weights. @default 1 */
  seed?: number;
  /** Capacity as a share of the total weight. @default 0.5 */
  capacityShare?: number;
}

/**
 * Multi-objective 0/1 knapsack: item i has a weight and one value per
 * objective (integers in [10, 100], drawn from `seed`); objective j is the
 * value left out (total minus chosen, so it is minimised and >= 0); a
 * selection heavier than the capacity is infeasible with violation
 * (weight - capacity) / capacity. Moves: flip an item, swap one in for one
 * out, add (+1) or remove (-1) an item (numeric).
 */
export function createKnapsack(options: KnapsackOptions = {}): Problem<readonly boolean[]> {
  const n = options.items ?? 12;
  const m = options.objectives ?? 3;
  const share = options.capacityShare ?? 0.5;
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`knapsack: items must be an integer >= 2, got ${n}`);
  if (!Number.isInteger(m) || m < 2) throw new RangeError(`knapsack: objectives must be an integer >= 2, got ${m}`);
  if (!(share > 0 && share < 1)) throw new RangeError(`knapsack: capacityShare must be in (0, 1), got ${share}`);
  const itemRng = createRng(options.seed ?? 1);
  const weights = Array.from({ length: n }, () => 10 + itemRng.int(91));
  const values = Array.from({ length: m }, () => Array.from({ length: n }, () => 10 + itemRng.int(91)));
  const totals = values.map((v) => v.reduce((a, b) => a + b, 0));
  const capacity = share * weights.reduce((a, b) => a + b, 0);
  const indices = (x: readonly boolean[], chosen: boolean) => x.flatMap((v, i) => (v === chosen ? [i] : []));
  const flip = (x: readonly boolean[], i: number) => x.map((v, j) => (j === i ? !v : v));
  return {
    objectiveCount: m,
    objectiveNames: Array.from({ length: m }, (_, j) => `valueLeft${j + 1}`),
    evaluate(x): Evaluation {
      let weight = 0;
      const left = [...totals];
      for (let i = 0; i < n; i++) {
        if (!x[i]) continue;
        weight += weights[i];
        for (let j = 0; j < m; j++) left[j] -= values[j][i];
      }
      const excess = Math.max(0, weight - capacity) / capacity;
      return { objectives: left, feasible: excess === 0, violation: excess };
    },
    random: (rng: Rng) => Array.from({ length: n }, () => rng.next() < share),
    moves: [
      { name: "flip", numeric: false, apply: (x, rng) => flip(x, rng.int(n)) },
      {
        name: "swap",
        numeric: false,
        apply(x, rng) {
          const inside = indices(x, true);
          const outside = indices(x, false);
          if (inside.length === 0 || outside.length === 0) return undefined;
          return flip(flip(x, inside[rng.int(inside.length)]), outside[rng.int(outside.length)]);
        },
      },
      {
        name: "addRemove",
        numeric: true,
        apply(x, rng, direction) {
          const pool = indices(x, direction < 0);
          return pool.length === 0 ? undefined : flip(x, pool[rng.int(pool.length)]);
        },
      },
    ],
    key: (x) => x.map((v) => (v ? "1" : "0")).join(""),
    *enumerate() {
      for (const bits of odometer(n, 2)) yield bits.map((b) => b === 1);
    },
  };
}
