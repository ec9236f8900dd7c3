/**
 * Quality indicators of objective-space point sets (all objectives minimised):
 * exact hypervolume, IGD+, fast non-dominated sorting, crowding distance and
 * ideal/nadir normalisation. Written here because no JavaScript library
 * computes these exactly; each is checked in tests against fronts computed by
 * hand and against a brute-force grid count.
 */
import { compareDominance } from "./dominance.ts";

/** A point in objective space. */
export type ObjectiveVector = readonly number[];

/** Per-objective bounds of a point set: the ideal (best) and nadir (worst) corners. */
export interface Bounds {
  ideal: readonly number[];
  nadir: readonly number[];
}

function checkDimensions(points: readonly ObjectiveVector[], m: number, what: string): void {
  for (let i = 0; i < points.length; i++) {
    if (points[i].length !== m) {
      throw new RangeError(`${what}: point ${i} has ${points[i].length} objectives, expected ${m}`);
    }
    for (const v of points[i]) {
      if (Number.isNaN(v)) throw new RangeError(`${what}: point ${i} has a NaN objective`);
    }
  }
}

/** Area dominated by 2-D points sorted by x ascending (ties: y ascending) and bounded by `rx, ry`. */
function area2d(xs: readonly number[], ys: readonly number[], rx: number, ry: number): number {
  let area = 0;
  let yBound = ry;
  for (let i = 0; i < xs.length; i++) {
    if (ys[i] < yBound) {
      area += (rx - xs[i]) * (yBound - ys[i]);
      yBound = ys[i];
    }
  }
  return area;
}

/**
 * Exact 3-D hypervolume by slicing along the third objective: points are added
 * in ascending z, each slab between successive z values contributes the 2-D area
 * of the points below it times its depth. The 2-D set is kept sorted by
 * insertion, so the cost is O(n^2).
 */
function hypervolume3d(points: readonly ObjectiveVector[], ref: readonly number[]): number {
  const order = points.map((_, i) => i).sort((a, b) => points[a][2] - points[b][2] || a - b);
  const xs: number[] = [];
  const ys: number[] = [];
  let volume = 0;
  for (let k = 0; k < order.length; k++) {
    const p = points[order[k]];
    // Binary search for the insertion index keeping (x asc, y asc).
    let lo = 0;
    let hi = xs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (xs[mid] < p[0] || (xs[mid] === p[0] && ys[mid] <= p[1])) lo = mid + 1;
      else hi = mid;
    }
    xs.splice(lo, 0, p[0]);
    ys.splice(lo, 0, p[1]);
    const zNext = k + 1 < order.length ? points[order[k + 1]][2] : ref[2];
    const depth = zNext - p[2];
    if (depth > 0) volume += area2d(xs, ys, ref[0], ref[1]) * depth;
  }
  return volume;
}

/** Exact hypervolume in any dimension by recursive slicing on the last objective (HSO); O(n^(m-1)). */
function hypervolumeSlicing(points: readonly ObjectiveVector[], ref: readonly number[]): number {
  const m = ref.length;
  if (m === 1) {
    let best = ref[0];
    for (const p of points) best = Math.min(best, p[0]);
    return ref[0] - best;
  }
  if (m === 2) {
    const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return area2d(sorted.map((p) => p[0]), sorted.map((p) => p[1]), ref[0], ref[1]);
  }
  if (m === 3) return hypervolume3d(points, ref);
  const sorted = [...points].sort((a, b) => a[m - 1] - b[m - 1]);
  const subRef = ref.slice(0, m - 1);
  const below: ObjectiveVector[] = [];
  let volume = 0;
  for (let k = 0; k < sorted.length; k++) {
    below.push(sorted[k].slice(0, m - 1));
    const zNext = k + 1 < sorted.length ? sorted[k + 1][m - 1] : ref[m - 1];
    const depth = zNext - sorted[k][m - 1];
    if (depth > 0) volume += hypervolumeSlicing(below, subRef) * depth;
  }
  return volume;
}

/**
 * Exact hypervolume: the measure of the region dominated by `points` and
 * bounded by `reference` (every objective minimised). Points that do not
 * strictly dominate the reference in every objective add nothing; dominated
 * and duplicate points are allowed. O(n log n) in 2-D, O(n^2) in 3-D,
 * O(n^(m-1)) above.
 *
 * @param points objective vectors, each of the reference's length
 * @param reference the bounding corner, usually a little worse than the nadir
 */
export function hypervolume(points: readonly ObjectiveVector[], reference: readonly number[]): number {
  const m = reference.length;
  if (m === 0) throw new RangeError("hypervolume: the reference point has no objectives");
  for (const r of reference) {
    if (!Number.isFinite(r)) throw new RangeError(`hypervolume: reference ${JSON.stringify(reference)} is not finite`);
  }
  checkDimensions(points, m, "hypervolume");
  const inside = points.filter((p) => p.every((v, i) => v < reference[i]));
  if (inside.length === 0) return 0;
  return hypervolumeSlicing(inside, reference);
}

/**
 * IGD+ (Ishibuchi et al., "Modified distance calculation in generational
 * distance and inverted generational distance", EMO 2015): the mean, over the
 * reference front, of the distance to the nearest approximation point counting
 * only the objectives where the approximation is worse. Weakly Pareto
 * compliant; 0 when the approximation covers the reference front. Normalise
 * both sets with the same bounds first when objectives have different scales.
 *
 * @returns Infinity when the approximation is empty
 */
export function igdPlus(approximation: readonly ObjectiveVector[], referenceFront: readonly ObjectiveVector[]): number {
  if (referenceFront.length === 0) throw new RangeError("igdPlus: the reference front is empty");
  const m = referenceFront[0].length;
  checkDimensions(referenceFront, m, "igdPlus reference front");
  checkDimensions(approximation, m, "igdPlus approximation");
  if (approximation.length === 0) return Infinity;
  let total = 0;
  for (const z of referenceFront) {
    let best = Infinity;
    for (const a of approximation) {
      let sq = 0;
      for (let i = 0; i < m; i++) {
        const d = a[i] - z[i];
        if (d > 0) sq += d * d;
      }
      if (sq < best) best = sq;
    }
    total += Math.sqrt(best);
  }
  return total / referenceFront.length;
}

/**
 * Fast non-dominated sorting (Deb et al., NSGA-II, 2002): the indices of
 * `points` grouped into fronts, the first front being the non-dominated
 * points. O(m n^2). Equal points share a front. Indices within a front ascend.
 */
export function nonDominatedSort(points: readonly ObjectiveVector[]): number[][] {
  const n = points.length;
  if (n === 0) return [];
  checkDimensions(points, points[0].length, "nonDominatedSort");
  const dominatedBy = new Array<number>(n).fill(0);
  const dominating: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const c = compareDominance(points[i], points[j]);
      if (c < 0) {
        dominating[i].push(j);
        dominatedBy[j]++;
      } else if (c > 0) {
        dominating[j].push(i);
        dominatedBy[i]++;
      }
    }
  }
  const fronts: number[][] = [];
  let current: number[] = [];
  for (let i = 0; i < n; i++) if (dominatedBy[i] === 0) current.push(i);
  while (current.length > 0) {
    fronts.push(current);
    const next: number[] = [];
    for (const i of current) {
      for (const j of dominating[i]) if (--dominatedBy[j] === 0) next.push(j);
    }
    next.sort((a, b) => a - b);
    current = next;
  }
  return fronts;
}

/** Indices of the non-dominated points (the first front of `nonDominatedSort`). */
export function nonDominatedIndices(points: readonly ObjectiveVector[]): number[] {
  return nonDominatedSort(points)[0] ?? [];
}

/**
 * NSGA-II crowding distance of each point within its set: the sum over
 * objectives of the normalised gap between its two neighbours along that
 * objective. Extremes of any objective with a spread get Infinity; an
 * objective on which all points are equal adds nothing. Ties in an objective
 * are ordered by index, so the result is deterministic.
 */
export function crowdingDistance(points: readonly ObjectiveVector[]): number[] {
  const n = points.length;
  const distance = new Array<number>(n).fill(0);
  if (n === 0) return distance;
  if (n <= 2) return distance.fill(Infinity);
  const m = points[0].length;
  const values = new Float64Array(n);
  const order = new Uint32Array(n);
  // Called on every archive prune: typed arrays and a plain comparator keep it cheap.
  const byValue = (a: number, b: number) => values[a] - values[b] || a - b;
  for (let k = 0; k < m; k++) {
    for (let i = 0; i < n; i++) {
      values[i] = points[i][k];
      order[i] = i;
    }
    order.sort(byValue);
    const lo = values[order[0]];
    const range = values[order[n - 1]] - lo;
    if (range <= 0) continue;
    distance[order[0]] = Infinity;
    distance[order[n - 1]] = Infinity;
    for (let i = 1; i < n - 1; i++) {
      distance[order[i]] += (values[order[i + 1]] - values[order[i - 1]]) / range;
    }
  }
  return distance;
}

/** Component-wise minimum and maximum of a non-empty point set. */
export function boundsOf(points: readonly ObjectiveVector[]): Bounds {
  if (points.length === 0) throw new RangeError("boundsOf: the point set is empty");
  const m = points[0].length;
  checkDimensions(points, m, "boundsOf");
  const ideal = [...points[0]];
  const nadir = [...points[0]];
  for (const p of points) {
    for (let i = 0; i < m; i++) {
      if (p[i] < ideal[i]) ideal[i] = p[i];
      if (p[i] > nadir[i]) nadir[i] = p[i];
    }
  }
  return { ideal, nadir };
}

/**
 * Maps each point to (f - ideal) / (nadir - ideal) per objective, so the
 * bounds become the unit box. An objective with no spread (nadir = ideal) is
 * shifted but not scaled.
 */
export function normalize(points: readonly ObjectiveVector[], bounds: Bounds): number[][] {
  const m = bounds.ideal.length;
  if (bounds.nadir.length !== m) {
    throw new RangeError(`normalize: ideal has ${m} objectives, nadir ${bounds.nadir.length}`);
  }
  checkDimensions(points, m, "normalize");
  const scale = bounds.ideal.map((lo, i) => (bounds.nadir[i] > lo ? bounds.nadir[i] - lo : 1));
  return points.map((p) => p.map((v, i) => (v - bounds.ideal[i]) / scale[i]));
}

/**
 * Hypervolume of `points` after normalising with `bounds`, against the
 * reference point (1 + referenceOffset) in every objective: the usual way of
 * comparing fronts of one problem on a common scale.
 *
 * @param referenceOffset how far beyond the nadir the reference lies, in normalised units. @default 0.1
 */
export function normalizedHypervolume(
  points: readonly ObjectiveVector[],
  bounds: Bounds,
  referenceOffset = 0.1,
): number {
  const reference = bounds.ideal.map(() => 1 + referenceOffset);
  return hypervolume(normalize(points, bounds), reference);
}
