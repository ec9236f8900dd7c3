/**
 * The bounded non-dominated archive of PGSAM and its baselines. It keeps the
 * candidates that no other candidate seen so far constraint-dominates (a
 * feasible candidate beats any infeasible one, infeasible ones compare by
 * violation), one per objective vector, at most `capacity` of them: when full,
 * the member with the smallest crowding distance goes (NSGA-II's diversity
 * rule, so the extremes of the front are kept).
 */
import type { Rng } from "../core/mod.ts";
import { compareConstrained } from "./dominance.ts";
import { crowdingDistance } from "./indicators.ts";
import type { Solution } from "./problem.ts";

/** Options of `ParetoArchive`. */
export interface ArchiveOptions {
  /** Most members kept; Infinity keeps the whole front (exhaustive search). @default 100 */
  capacity?: number;
}

/** What `ParetoArchive.add()` did with a candidate. */
export interface ArchiveInsert<X> {
  /** True when the candidate entered in this call and survived pruning (not dominated, not already present). */
  added: boolean;
  /**
   * Members that constraint-dominate the candidate: all of them when it was
   * refused as dominated; empty when it was added or duplicates a member (then
   * nothing in the archive dominates it).
   */
  dominators: Solution<X>[];
  /** Members removed: those the candidate dominates, then any pruned by crowding. */
  removed: Solution<X>[];
}

function sameObjectives(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A bounded archive of mutually non-dominated solutions. */
export class ParetoArchive<X> {
  readonly capacity: number;
  #members: Solution<X>[] = [];
  #keys = new Set<string>();
  #crowding: number[] | undefined;

  constructor(options: ArchiveOptions = {}) {
    const capacity = options.capacity ?? 100;
    if (!(capacity >= 1) || (Number.isFinite(capacity) && !Number.isInteger(capacity))) {
      throw new RangeError(`ParetoArchive: capacity must be an integer >= 1 or Infinity, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** Number of members. */
  get size(): number {
    return this.#members.length;
  }

  /** The members, in insertion order. Do not mutate. */
  get members(): readonly Solution<X>[] {
    return this.#members;
  }

  /** True when the archive holds at least one feasible member (then every member is feasible). */
  get feasible(): boolean {
    return this.#members.length > 0 && this.#members[0].feasible;
  }

  /** True when a member has this key. */
  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /** Members that constraint-dominate `candidate`. */
  dominatorsOf(candidate: Solution<X>): Solution<X>[] {
    return this.#members.filter((m) => compareConstrained(m, candidate) < 0);
  }

  /** Offers a candidate; see `ArchiveInsert` for the outcome. */
  add(candidate: Solution<X>): ArchiveInsert<X> {
    if (this.#keys.has(candidate.key)) return { added: false, dominators: [], removed: [] };
    const dominators: Solution<X>[] = [];
    const kept: Solution<X>[] = [];
    const removed: Solution<X>[] = [];
    for (const m of this.#members) {
      const c = compareConstrained(m, candidate);
      if (c < 0) dominators.push(m);
      else if (c > 0) removed.push(m);
      else if (m.feasible === candidate.feasible && sameObjectives(m.objectives, candidate.objectives)) {
        // One member per objective vector: a second candidate with the same
        // outcome adds nothing to the front and would crowd out real diversity.
        return { added: false, dominators: [], removed: [] };
      } else kept.push(m);
    }
    if (dominators.length > 0) return { added: false, dominators, removed: [] };
    kept.push(candidate);
    this.#members = kept;
    for (const r of removed) this.#keys.delete(r.key);
    this.#keys.add(candidate.key);
    this.#crowding = undefined;
    while (this.#members.length > this.capacity) removed.push(this.#pruneOne());
    return { added: this.#keys.has(candidate.key), dominators, removed };
  }

  /** Crowding distance of each member (same order as `members`). */
  crowding(): readonly number[] {
    this.#crowding ??= crowdingDistance(this.#members.map((m) => m.objectives));
    return this.#crowding;
  }

  /**
   * Pareto guidance: a member from the least crowded region of the front, by a
   * tournament of `tournamentSize` members drawn with replacement, the one with
   * the largest crowding distance winning (ties: the first drawn).
   *
   * @throws RangeError when the archive is empty
   */
  pickSparse(rng: Rng, tournamentSize = 2): Solution<X> {
    const n = this.#members.length;
    if (n === 0) throw new RangeError("pickSparse: the archive is empty");
    let best = rng.int(n);
    let bestCrowding = this.#crowdingOf(best);
    for (let t = 1; t < tournamentSize; t++) {
      const i = rng.int(n);
      const c = this.#crowdingOf(i);
      if (c > bestCrowding) {
        best = i;
        bestCrowding = c;
      }
    }
    return this.#members[best];
  }

  /**
   * Crowding distance of one member without sorting the archive: its
   * neighbours along each objective are the members just before and after it
   * in (value, index) order, exactly as in `crowdingDistance`. O(m n), which
   * beats recomputing every distance after each archive change.
   */
  #crowdingOf(i: number): number {
    if (this.#crowding !== undefined) return this.#crowding[i];
    const members = this.#members;
    const n = members.length;
    if (n <= 2) return Infinity;
    const m = members[i].objectives.length;
    let distance = 0;
    for (let k = 0; k < m; k++) {
      const v = members[i].objectives[k];
      let lo = Infinity;
      let hi = -Infinity;
      let below = -Infinity;
      let belowAt = -1;
      let above = Infinity;
      let aboveAt = n;
      for (let j = 0; j < n; j++) {
        const w = members[j].objectives[k];
        if (w < lo) lo = w;
        if (w > hi) hi = w;
        if (j === i) continue;
        // Predecessor: the largest (w, j) below (v, i); successor: the smallest above.
        if (w < v || (w === v && j < i)) {
          if (w > below || (w === below && j > belowAt)) {
            below = w;
            belowAt = j;
          }
        } else if (w < above || (w === above && j < aboveAt)) {
          above = w;
          aboveAt = j;
        }
      }
      const range = hi - lo;
      if (range <= 0) continue;
      if (belowAt < 0 || aboveAt === n) return Infinity;
      distance += (above - below) / range;
    }
    return distance;
  }

  #pruneOne(): Solution<X> {
    const crowding = this.crowding();
    let worst = 0;
    for (let i = 1; i < crowding.length; i++) if (crowding[i] < crowding[worst]) worst = i;
    const [gone] = this.#members.splice(worst, 1);
    this.#keys.delete(gone.key);
    this.#crowding = undefined;
    return gone;
  }
}
