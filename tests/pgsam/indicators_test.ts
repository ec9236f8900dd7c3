import assert from "node:assert/strict";
import fc from "fast-check";
import {
  boundsOf,
  crowdingDistance,
  hypervolume,
  igdPlus,
  nonDominatedIndices,
  nonDominatedSort,
  normalize,
  normalizedHypervolume,
} from "../../src/pgsam/mod.ts";

Deno.test("hypervolume() of two 2-D points equals the union of their boxes", () => {
  // Boxes [1,4]x[3,4] (area 3) and [2,4]x[1,4] (area 6) overlap in [2,4]x[3,4] (area 2): 3 + 6 - 2.
  assert.equal(hypervolume([[1, 3], [2, 1]], [4, 4]), 7);
});

Deno.test("hypervolume() of one 3-D point is its box", () => {
  assert.equal(hypervolume([[0, 0, 0]], [1, 2, 3]), 6);
});

Deno.test("hypervolume() of three 3-D points follows inclusion-exclusion", () => {
  // Each box is 3x1x1 = 3; every pair and the triple overlap in the unit cube [2,3]^3: 9 - 3 + 1.
  assert.equal(hypervolume([[0, 2, 2], [2, 0, 2], [2, 2, 0]], [3, 3, 3]), 7);
  // Two boxes 2x2x1 and 1x1x2 that overlap in a unit cube: 4 + 2 - 1.
  assert.equal(hypervolume([[1, 1, 2], [2, 2, 1]], [3, 3, 3]), 5);
});

Deno.test("hypervolume() ignores dominated, duplicate and out-of-reference points", () => {
  const base = hypervolume([[0, 2, 2], [2, 0, 2], [2, 2, 0]], [3, 3, 3]);
  assert.equal(
    hypervolume([[0, 2, 2], [2, 0, 2], [2, 2, 0], [2, 2, 2], [0, 2, 2], [1, 5, 0], [3, 0, 0]], [3, 3, 3]),
    base,
  );
  assert.equal(hypervolume([], [1, 1, 1]), 0);
});

Deno.test("hypervolume() handles 1, 4 and 5 objectives exactly", () => {
  assert.equal(hypervolume([[2], [1], [3]], [5]), 4);
  // Two 4-D boxes 2x2x2x1 and 1x1x1x2 overlapping in 1x1x1x1: 8 + 2 - 1.
  assert.equal(hypervolume([[1, 1, 1, 2], [2, 2, 2, 1]], [3, 3, 3, 3]), 9);
  assert.equal(hypervolume([[0, 0, 0, 0, 0]], [1, 2, 1, 2, 1]), 4);
});

Deno.test("hypervolume() rejects points of the wrong length and NaN", () => {
  assert.throws(() => hypervolume([[1, 2]], [3, 3, 3]), /point 0 has 2 objectives, expected 3/);
  assert.throws(() => hypervolume([[1, NaN, 2]], [3, 3, 3]), /NaN/);
  assert.throws(() => hypervolume([[1, 2, 2]], [3, Infinity, 3]), /not finite/);
});

/** Counts the unit cells of [0, ref)^m dominated by integer points: the exact hypervolume of such sets. */
function gridCount(points: number[][], ref: number): number {
  const m = points[0].length;
  let count = 0;
  const cell = new Array<number>(m).fill(0);
  for (;;) {
    if (points.some((p) => p.every((v, i) => v <= cell[i]))) count++;
    let i = m - 1;
    while (i >= 0 && cell[i] === ref - 1) cell[i--] = 0;
    if (i < 0) return count;
    cell[i]++;
  }
}

Deno.test("hypervolume() matches a brute-force grid count on random integer fronts (3-D)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 3, maxLength: 3 }), {
        minLength: 1,
        maxLength: 25,
      }),
      (points) => {
        assert.equal(hypervolume(points, [10, 10, 10]), gridCount(points, 10));
      },
    ),
    { seed: 42, numRuns: 150 },
  );
});

Deno.test("hypervolume() matches a brute-force grid count on random integer fronts (2-D and 4-D)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 4, maxLength: 4 }), {
        minLength: 1,
        maxLength: 12,
      }),
      (points) => {
        assert.equal(hypervolume(points, [6, 6, 6, 6]), gridCount(points, 6));
        const flat = points.map((p) => p.slice(0, 2));
        assert.equal(hypervolume(flat, [6, 6]), gridCount(flat, 6));
      },
    ),
    { seed: 7, numRuns: 100 },
  );
});

Deno.test("hypervolume() of a real-valued random front agrees with a Monte-Carlo estimate", () => {
  // A deterministic low-discrepancy point set (golden-ratio sequence) keeps the estimate reproducible.
  const front: number[][] = [];
  for (let i = 0; i < 60; i++) {
    const a = (i * 0.7548776662466927) % 1 * Math.PI / 2;
    const b = (i * 0.5698402909980532) % 1 * Math.PI / 2;
    front.push([Math.cos(a) * Math.cos(b), Math.cos(a) * Math.sin(b), Math.sin(a)]);
  }
  const exact = hypervolume(front, [1.1, 1.1, 1.1]);
  let inside = 0;
  const samples = 200_000;
  for (let s = 0; s < samples; s++) {
    const u = [
      ((s + 1) * 0.8191725133961645) % 1,
      ((s + 1) * 0.6710436067037893) % 1,
      ((s + 1) * 0.5497004779019703) % 1,
    ]
      .map((v) => v * 1.1);
    if (front.some((p) => p[0] <= u[0] && p[1] <= u[1] && p[2] <= u[2])) inside++;
  }
  const estimate = inside / samples * 1.1 ** 3;
  assert.ok(Math.abs(exact - estimate) < 0.005, `exact ${exact} vs Monte-Carlo ${estimate}`);
});

Deno.test("igdPlus() is 0 on the reference itself and counts only worse objectives", () => {
  const ref = [[0, 1], [1, 0]];
  assert.equal(igdPlus(ref, ref), 0);
  // (0.5, 0.5) is 0.5 worse than (0, 1) in the first objective only, and than (1, 0) in the second only.
  assert.equal(igdPlus([[0.5, 0.5]], ref), 0.5);
  // A point better than the whole reference has distance 0 (IGD would not).
  assert.equal(igdPlus([[0, 0]], ref), 0);
  // (1, 1) is worse by (1, 0) and (0, 1): distance 1 to each.
  assert.equal(igdPlus([[1, 1]], ref), 1);
  assert.equal(igdPlus([], ref), Infinity);
  assert.throws(() => igdPlus([[0, 0]], []), /reference front is empty/);
});

Deno.test("nonDominatedSort() groups points into fronts by hand", () => {
  const points = [[1, 5], [2, 2], [5, 1], [3, 3], [4, 4], [2, 2], [6, 6]];
  assert.deepEqual(nonDominatedSort(points), [[0, 1, 2, 5], [3], [4], [6]]);
  assert.deepEqual(nonDominatedIndices(points), [0, 1, 2, 5]);
  assert.deepEqual(nonDominatedSort([]), []);
});

Deno.test("nonDominatedSort() puts every point in exactly one front, none dominated within its front", () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 3, maxLength: 3 }), { maxLength: 30 }),
      (points) => {
        const fronts = nonDominatedSort(points);
        const all = fronts.flat().sort((a, b) => a - b);
        assert.deepEqual(all, points.map((_, i) => i));
        const dominates = (a: number[], b: number[]) => a.every((v, i) => v <= b[i]) && a.some((v, i) => v < b[i]);
        for (let f = 0; f < fronts.length; f++) {
          for (const i of fronts[f]) {
            for (const j of fronts[f]) assert.ok(!dominates(points[i], points[j]));
            // Everything in a later front is dominated by something in an earlier one.
            if (f > 0) assert.ok(fronts[f - 1].some((j) => dominates(points[j], points[i])));
          }
        }
      },
    ),
    { seed: 3, numRuns: 100 },
  );
});

Deno.test("crowdingDistance() gives extremes Infinity and interior points their normalised gaps", () => {
  const d = crowdingDistance([[0, 4], [1, 2], [2, 1], [4, 0]]);
  // (1,2): gaps (2-0)/4 + (4-1)/4; (2,1): (4-1)/4 + (2-0)/4.
  assert.deepEqual(d, [Infinity, 1.25, 1.25, Infinity]);
  assert.deepEqual(crowdingDistance([[1, 1], [2, 0]]), [Infinity, Infinity]);
  // An objective without spread adds nothing.
  assert.deepEqual(crowdingDistance([[0, 5], [1, 5], [3, 5]]), [Infinity, 1, Infinity]);
});

Deno.test("normalize() maps the bounds to the unit box and leaves flat objectives unscaled", () => {
  const points = [[2, 10, 7], [4, 30, 7]];
  const bounds = boundsOf(points);
  assert.deepEqual(bounds, { ideal: [2, 10, 7], nadir: [4, 30, 7] });
  assert.deepEqual(normalize([[3, 20, 7], [4, 10, 8]], bounds), [[0.5, 0.5, 0], [1, 0, 1]]);
  assert.throws(() => boundsOf([]), /empty/);
});

Deno.test("normalizedHypervolume() is scale-free", () => {
  const front = [[1, 3, 2], [2, 1, 3], [3, 2, 1]];
  const scaled = front.map(([a, b, c]) => [a * 1000, b * 0.001, c + 50]);
  const h1 = normalizedHypervolume(front, boundsOf(front));
  const h2 = normalizedHypervolume(scaled, boundsOf(scaled));
  assert.ok(Math.abs(h1 - h2) < 1e-12, `${h1} vs ${h2}`);
  assert.ok(h1 > 0 && h1 < 1.1 ** 3);
});
