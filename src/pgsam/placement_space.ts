/**
 * The placement encoding of DESIGN.md section 4 on physics's `Placement`: a
 * prefill unit, decode lanes of contiguous layer segments (one unit each) with
 * a sample count per lane, and a frequency level per used unit; the moves
 * PGSAM walks it with; a random generator and an enumerator for small
 * instances.
 *
 * Encoding choices, so that one candidate has one representation and small
 * instances stay enumerable:
 * - a unit appears in at most one segment of one lane (a unit shared by two
 *   lanes would only serve them in turn, which one lane with the combined batch
 *   does better, reading the weights once);
 * - lanes are sorted by the position of their first unit in the board's unit
 *   order;
 * - cuts fall on multiples of `cutGranularityLayers`;
 * - `freqLevel` holds exactly the used units (prefill and lanes), each at one
 *   of `frequencyLevels` operating points spread evenly over those allowed by
 *   the unit's current frequency cap (higher ones would be clamped to the same
 *   frequency and only duplicate candidates).
 */
import type { Rng } from "../core/mod.ts";
import type { BoardModel, BoardState, Job, Lane, Placement } from "../physics/mod.ts";
import type { Direction, MoveType } from "./problem.ts";

/** Options of the placement encoding. */
export interface PlacementSpaceOptions {
  /** Most decode lanes. @default min(usable units, samples) */
  maxLanes?: number;
  /** Most segments (pipeline stages) per lane. @default 2 */
  maxSegmentsPerLane?: number;
  /** Cuts between segments fall on multiples of this many layers. @default 1 */
  cutGranularityLayers?: number;
  /** Operating points considered per unit, spread evenly and always including the top allowed one. @default 5 */
  frequencyLevels?: number;
}

/** The decision space of one planning problem. */
export interface PlacementSpace {
  /** Decoder layers of the job's model. */
  layers: number;
  /** Samples to distribute over lanes. */
  samples: number;
  /** Usable units (healthy, able to run the job's precision), in the board model's order. */
  units: readonly string[];
  /** OPP indices each usable unit may run at, ascending. */
  levels: Readonly<Record<string, readonly number[]>>;
  maxLanes: number;
  maxSegmentsPerLane: number;
  cutGranularityLayers: number;
}

function positiveInt(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`placement space: ${what} must be an integer >= 1, got ${value}`);
  }
  return value;
}

/** Indices of `count` elements of 0..n-1 spread evenly, the last always included. */
function spread(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const out = new Set<number>();
  for (let i = 0; i < count; i++) out.add(Math.round(i * (n - 1) / (count - 1)));
  return [...out].sort((a, b) => a - b);
}

/**
 * The decision space of a job on a board in a state. Units that the state does
 * not list as healthy, or that cannot run the job's weight precision, are left
 * out.
 *
 * @throws RangeError for invalid options or a job without layers or samples
 */
export function createPlacementSpace(
  model: BoardModel,
  state: BoardState,
  job: Job,
  options: PlacementSpaceOptions = {},
): PlacementSpace {
  const layers = positiveInt(job.shape.layers, "job.shape.layers");
  const samples = positiveInt(job.samples, "job.samples");
  const healthy = new Set(state.healthyUnits);
  const units = model.unitIds.filter((id) =>
    healthy.has(id) && (model.units[id].peakOpsPerS[job.shape.weightPrecision] ?? 0) > 0
  );
  const maxSegmentsPerLane = positiveInt(options.maxSegmentsPerLane ?? 2, "maxSegmentsPerLane");
  const cutGranularityLayers = positiveInt(options.cutGranularityLayers ?? 1, "cutGranularityLayers");
  const frequencyLevels = positiveInt(options.frequencyLevels ?? 5, "frequencyLevels");
  const maxLanes = positiveInt(options.maxLanes ?? Math.max(1, Math.min(units.length, samples)), "maxLanes");
  const levels: Record<string, number[]> = {};
  for (const id of units) {
    const opps = model.units[id].opps;
    const cap = state.maxFreqHz[id];
    let top = opps.length - 1;
    if (cap !== undefined) { while (top > 0 && opps[top].freqHz > cap) top--; }
    levels[id] = spread(top + 1, frequencyLevels);
  }
  return { layers, samples, units, levels, maxLanes, maxSegmentsPerLane, cutGranularityLayers };
}

/** The units a placement's lanes use, in lane and segment order. */
export function laneUnits(p: Placement): string[] {
  return p.lanes.flatMap((l) => l.segments.map((s) => s.unitId));
}

/** The units a placement powers up: its prefill unit and its lanes' units. */
export function usedUnits(p: Placement): Set<string> {
  return new Set([p.prefillUnit, ...laneUnits(p)]);
}

function cloneLanes(lanes: readonly Lane[]): Lane[] {
  return lanes.map((l) => ({ samples: l.samples, segments: l.segments.map((s) => ({ ...s })) }));
}

/**
 * An allowed level for a requested OPP index: the index itself when allowed,
 * else the highest allowed one below it (a top OPP above the unit's frequency
 * cap becomes the top allowed one, which is where the kernel clamps it
 * anyway), else the lowest allowed. Undefined asks for the top allowed level.
 */
function snapLevel(space: PlacementSpace, unit: string, level: number | undefined): number {
  const levels = space.levels[unit];
  if (levels === undefined) return level ?? 0;
  if (level === undefined) return levels[levels.length - 1];
  let best = levels[0];
  for (const l of levels) if (l <= level) best = l;
  return best;
}

/**
 * Puts a placement in canonical form: lanes sorted by their first unit's
 * position in `space.units`; `freqLevel` restricted to the used units, each
 * snapped to an allowed level, a unit new to the placement starting at its top
 * allowed level.
 */
export function canonicalPlacement(space: PlacementSpace, p: Placement): Placement {
  const order = new Map(space.units.map((u, i) => [u, i]));
  const lanes = cloneLanes(p.lanes).sort((a, b) =>
    (order.get(a.segments[0].unitId) ?? 0) - (order.get(b.segments[0].unitId) ?? 0)
  );
  const freqLevel: Record<string, number> = {};
  for (const u of space.units) {
    if (u !== p.prefillUnit && !lanes.some((l) => l.segments.some((s) => s.unitId === u))) continue;
    freqLevel[u] = snapLevel(space, u, p.freqLevel[u]);
  }
  return { prefillUnit: p.prefillUnit, lanes, freqLevel };
}

/**
 * Canonical identity of a placement, e.g. `P=npu|gpu[0,16)cpu_big[16,32)x3|npu[0,32)x5|cpu_big:4,gpu:2,npu:4`.
 * Equal keys mean equal placements (given canonical form).
 */
export function placementKey(p: Placement): string {
  const lanes = p.lanes.map((l) =>
    l.segments.map((s) => `${s.unitId}[${s.layerStart},${s.layerEnd})`).join("") + `x${l.samples}`
  );
  const levels = Object.keys(p.freqLevel).sort().map((u) => `${u}:${p.freqLevel[u]}`);
  return `P=${p.prefillUnit}|${lanes.join("|")}|${levels.join(",")}`;
}

/**
 * Checks that `p` belongs to the space (canonical form included); returns the
 * problems found, empty when it does.
 */
export function placementProblems(space: PlacementSpace, p: Placement): string[] {
  const out: string[] = [];
  const allowed = new Set(space.units);
  if (!allowed.has(p.prefillUnit)) out.push(`prefill unit "${p.prefillUnit}" is not usable`);
  if (p.lanes.length < 1 || p.lanes.length > space.maxLanes) {
    out.push(`${p.lanes.length} lanes, allowed 1..${space.maxLanes}`);
  }
  const seen = new Set<string>();
  let samples = 0;
  for (const [i, lane] of p.lanes.entries()) {
    if (!Number.isInteger(lane.samples) || lane.samples < 1) out.push(`lane ${i} has ${lane.samples} samples`);
    samples += lane.samples;
    const segs = lane.segments;
    if (segs.length < 1 || segs.length > space.maxSegmentsPerLane) {
      out.push(`lane ${i} has ${segs.length} segments, allowed 1..${space.maxSegmentsPerLane}`);
    }
    let at = 0;
    for (const s of segs) {
      if (!allowed.has(s.unitId)) out.push(`lane ${i} uses unusable unit "${s.unitId}"`);
      if (seen.has(s.unitId)) out.push(`unit "${s.unitId}" appears in more than one segment`);
      seen.add(s.unitId);
      if (s.layerStart !== at || s.layerEnd <= s.layerStart) {
        out.push(`lane ${i} segments do not tile the layers at ${at}`);
      }
      if (s.layerEnd !== space.layers && s.layerEnd % space.cutGranularityLayers !== 0) {
        out.push(`lane ${i} cut at ${s.layerEnd} is off the ${space.cutGranularityLayers}-layer grid`);
      }
      at = s.layerEnd;
    }
    if (at !== space.layers) out.push(`lane ${i} covers ${at} of ${space.layers} layers`);
  }
  if (samples !== space.samples) out.push(`lanes hold ${samples} samples, the job has ${space.samples}`);
  const used = usedUnits(p);
  for (const [u, level] of Object.entries(p.freqLevel)) {
    if (!used.has(u)) out.push(`freqLevel names unused unit "${u}"`);
    else if (!(space.levels[u] ?? []).includes(level)) out.push(`unit "${u}" level ${level} is not an allowed level`);
  }
  for (const u of used) if (allowed.has(u) && p.freqLevel[u] === undefined) out.push(`used unit "${u}" has no level`);
  const canonical = canonicalPlacement(space, p);
  if (placementKey(canonical) !== placementKey(p)) out.push("lanes are not in canonical order");
  return out;
}

/** Fisher-Yates shuffle of a copy. */
function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** `count` distinct sorted values drawn from `pool`. */
function choose(rng: Rng, pool: readonly number[], count: number): number[] {
  return shuffled(rng, pool).slice(0, count).sort((a, b) => a - b);
}

/** Cut positions a lane may use: multiples of the granularity strictly inside (0, layers). */
function cutSlots(space: PlacementSpace): number[] {
  const out: number[] = [];
  for (let c = space.cutGranularityLayers; c < space.layers; c += space.cutGranularityLayers) out.push(c);
  return out;
}

function segmentsOf(units: readonly string[], cuts: readonly number[], layers: number) {
  const bounds = [0, ...cuts, layers];
  return units.map((unitId, i) => ({ unitId, layerStart: bounds[i], layerEnd: bounds[i + 1] }));
}

/** A random placement of the space: random lane count, pipelines, cuts, sample split, prefill unit and levels. */
export function randomPlacement(space: PlacementSpace, rng: Rng): Placement {
  const slots = cutSlots(space);
  const maxSegs = Math.min(space.maxSegmentsPerLane, slots.length + 1);
  const laneCount = 1 + rng.int(Math.min(space.maxLanes, space.samples, space.units.length));
  const pool = shuffled(rng, space.units);
  const lanes: Lane[] = [];
  let next = 0;
  for (let i = 0; i < laneCount; i++) {
    const spare = pool.length - next - (laneCount - i - 1);
    const segs = 1 + rng.int(Math.min(maxSegs, spare));
    const units = pool.slice(next, next + segs);
    next += segs;
    lanes.push({ samples: 0, segments: segmentsOf(units, choose(rng, slots, segs - 1), space.layers) });
  }
  const splits = choose(rng, Array.from({ length: space.samples - 1 }, (_, i) => i + 1), laneCount - 1);
  const bounds = [0, ...splits, space.samples];
  lanes.forEach((l, i) => (l.samples = bounds[i + 1] - bounds[i]));
  const prefillUnit = space.units[rng.int(space.units.length)];
  const freqLevel: Record<string, number> = {};
  for (const u of new Set([prefillUnit, ...lanes.flatMap((l) => l.segments.map((s) => s.unitId))])) {
    const levels = space.levels[u];
    freqLevel[u] = levels[rng.int(levels.length)];
  }
  return canonicalPlacement(space, { prefillUnit, lanes, freqLevel });
}

/** Ordered compositions of `total` into `parts` positive integers. */
function* compositions(total: number, parts: number): Generator<number[]> {
  if (parts === 1) {
    yield [total];
    return;
  }
  for (let first = 1; first <= total - parts + 1; first++) {
    for (const rest of compositions(total - first, parts - 1)) yield [first, ...rest];
  }
}

/** k-combinations of `pool` (ascending). */
function* combinations(pool: readonly number[], k: number, start = 0): Generator<number[]> {
  if (k === 0) {
    yield [];
    return;
  }
  for (let i = start; i <= pool.length - k; i++) {
    for (const rest of combinations(pool, k - 1, i + 1)) yield [pool[i], ...rest];
  }
}

/**
 * Every placement of the space, each once, in canonical form. The count grows
 * quickly; use it on small instances (a few layers, units and levels).
 */
export function* enumeratePlacements(space: PlacementSpace): Generator<Placement> {
  const slots = cutSlots(space);
  const maxSegs = Math.min(space.maxSegmentsPerLane, slots.length + 1);
  const n = space.units.length;
  const maxLanes = Math.min(space.maxLanes, space.samples);
  // Lane sets: disjoint unit sequences, sorted by the index of their first unit.
  const laneSets: string[][][] = [];
  const used = new Array<boolean>(n).fill(false);
  const build = (lanes: string[][], minFirst: number) => {
    if (lanes.length > 0) laneSets.push(lanes.map((l) => [...l]));
    if (lanes.length === maxLanes) return;
    for (let f = minFirst; f < n; f++) {
      if (used[f]) continue;
      used[f] = true;
      const extend = (seq: number[]) => {
        build([...lanes, seq.map((i) => space.units[i])], f + 1);
        if (seq.length === maxSegs) return;
        for (let j = 0; j < n; j++) {
          if (used[j]) continue;
          used[j] = true;
          extend([...seq, j]);
          used[j] = false;
        }
      };
      extend([f]);
      used[f] = false;
    }
  };
  build([], 0);
  for (const unitLanes of laneSets) {
    const cutChoices = unitLanes.map((u) => [...combinations(slots, u.length - 1)]);
    const index = new Array<number>(unitLanes.length).fill(0);
    for (;;) {
      for (const split of compositions(space.samples, unitLanes.length)) {
        const lanes: Lane[] = unitLanes.map((u, i) => ({
          samples: split[i],
          segments: segmentsOf(u, cutChoices[i][index[i]], space.layers),
        }));
        for (const prefillUnit of space.units) {
          const usedUnits = space.units.filter((u) => u === prefillUnit || unitLanes.some((l) => l.includes(u)));
          const levelIndex = new Array<number>(usedUnits.length).fill(0);
          for (;;) {
            const freqLevel: Record<string, number> = {};
            usedUnits.forEach((u, i) => (freqLevel[u] = space.levels[u][levelIndex[i]]));
            yield { prefillUnit, lanes: cloneLanes(lanes), freqLevel };
            let i = usedUnits.length - 1;
            while (i >= 0 && levelIndex[i] === space.levels[usedUnits[i]].length - 1) levelIndex[i--] = 0;
            if (i < 0) break;
            levelIndex[i]++;
          }
        }
      }
      let i = unitLanes.length - 1;
      while (i >= 0 && index[i] === cutChoices[i].length - 1) index[i--] = 0;
      if (i < 0) break;
      index[i]++;
    }
  }
}

/** Lane and segment index of every segment. */
function segmentRefs(p: Placement): [number, number][] {
  return p.lanes.flatMap((l, i) => l.segments.map((_, j): [number, number] => [i, j]));
}

function pick<T>(rng: Rng, items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[rng.int(items.length)];
}

/**
 * The moves of DESIGN.md section 4 over a space: reassign a segment, shift a
 * cut (numeric), add or remove a cut, move a sample between lanes, split or
 * merge lanes, step a frequency (numeric), move the prefill, swap the prefill
 * and a decode unit. Each returns a canonical placement, or undefined when it
 * cannot apply.
 */
export function placementMoves(space: PlacementSpace): MoveType<Placement>[] {
  const finish = (p: Placement) => canonicalPlacement(space, p);
  const freeUnits = (p: Placement) => {
    const inLanes = new Set(laneUnits(p));
    return space.units.filter((u) => !inLanes.has(u));
  };
  const g = space.cutGranularityLayers;
  return [
    {
      name: "reassignSegment",
      numeric: false,
      apply(p, rng) {
        const [laneAt, segAt] = segmentRefs(p)[rng.int(segmentRefs(p).length)];
        const lanes = cloneLanes(p.lanes);
        const seg = lanes[laneAt].segments[segAt];
        const target = pick(rng, space.units.filter((u) => u !== seg.unitId));
        if (target === undefined) return undefined;
        // A unit already in use swaps places with this segment's unit, keeping units unique.
        for (const l of lanes) for (const s of l.segments) if (s.unitId === target) s.unitId = seg.unitId;
        seg.unitId = target;
        return finish({ ...p, lanes });
      },
    },
    {
      name: "shiftCut",
      numeric: true,
      apply(p, rng, direction: Direction) {
        const cuts = p.lanes.flatMap((l, i) => l.segments.slice(1).map((_, j): [number, number] => [i, j + 1]));
        const ref = pick(rng, cuts);
        if (ref === undefined) return undefined;
        const lanes = cloneLanes(p.lanes);
        const segs = lanes[ref[0]].segments;
        const before = segs[ref[1] - 1];
        const after = segs[ref[1]];
        const cut = after.layerStart + direction * g;
        if (cut <= before.layerStart || cut >= after.layerEnd) return undefined;
        before.layerEnd = cut;
        after.layerStart = cut;
        return finish({ ...p, lanes });
      },
    },
    {
      name: "addCut",
      numeric: false,
      apply(p, rng) {
        const target = pick(rng, freeUnits(p));
        const candidates = segmentRefs(p).filter(([i, j]) => {
          const s = p.lanes[i].segments[j];
          return p.lanes[i].segments.length < space.maxSegmentsPerLane &&
            Math.floor((s.layerEnd - 1) / g) > Math.floor(s.layerStart / g);
        });
        const ref = pick(rng, candidates);
        if (target === undefined || ref === undefined) return undefined;
        const lanes = cloneLanes(p.lanes);
        const segs = lanes[ref[0]].segments;
        const s = segs[ref[1]];
        const first = Math.floor(s.layerStart / g) + 1;
        const last = Math.floor((s.layerEnd - 1) / g);
        const cut = (first + rng.int(last - first + 1)) * g;
        const head = { unitId: s.unitId, layerStart: s.layerStart, layerEnd: cut };
        const tail = { unitId: s.unitId, layerStart: cut, layerEnd: s.layerEnd };
        // The new unit takes the head or the tail.
        (rng.next() < 0.5 ? head : tail).unitId = target;
        segs.splice(ref[1], 1, head, tail);
        return finish({ ...p, lanes });
      },
    },
    {
      name: "removeCut",
      numeric: false,
      apply(p, rng) {
        const cuts = p.lanes.flatMap((l, i) => l.segments.slice(1).map((_, j): [number, number] => [i, j + 1]));
        const ref = pick(rng, cuts);
        if (ref === undefined) return undefined;
        const lanes = cloneLanes(p.lanes);
        const segs = lanes[ref[0]].segments;
        const before = segs[ref[1] - 1];
        const after = segs[ref[1]];
        const merged = {
          unitId: rng.next() < 0.5 ? before.unitId : after.unitId,
          layerStart: before.layerStart,
          layerEnd: after.layerEnd,
        };
        segs.splice(ref[1] - 1, 2, merged);
        return finish({ ...p, lanes });
      },
    },
    {
      name: "moveSample",
      numeric: false,
      apply(p, rng) {
        if (p.lanes.length < 2) return undefined;
        const from = pick(rng, p.lanes.flatMap((l, i) => (l.samples > 1 ? [i] : [])));
        if (from === undefined) return undefined;
        const to = (from + 1 + rng.int(p.lanes.length - 1)) % p.lanes.length;
        const lanes = cloneLanes(p.lanes);
        lanes[from].samples--;
        lanes[to].samples++;
        return finish({ ...p, lanes });
      },
    },
    {
      name: "splitLane",
      numeric: false,
      apply(p, rng) {
        const target = pick(rng, freeUnits(p));
        const from = pick(rng, p.lanes.flatMap((l, i) => (l.samples > 1 ? [i] : [])));
        if (target === undefined || from === undefined || p.lanes.length >= space.maxLanes) return undefined;
        const lanes = cloneLanes(p.lanes);
        const moved = 1 + rng.int(lanes[from].samples - 1);
        lanes[from].samples -= moved;
        lanes.push({ samples: moved, segments: [{ unitId: target, layerStart: 0, layerEnd: space.layers }] });
        return finish({ ...p, lanes });
      },
    },
    {
      name: "mergeLanes",
      numeric: false,
      apply(p, rng) {
        if (p.lanes.length < 2) return undefined;
        const gone = rng.int(p.lanes.length);
        const into = (gone + 1 + rng.int(p.lanes.length - 1)) % p.lanes.length;
        const lanes = cloneLanes(p.lanes);
        lanes[into].samples += lanes[gone].samples;
        lanes.splice(gone, 1);
        return finish({ ...p, lanes });
      },
    },
    {
      name: "stepFrequency",
      numeric: true,
      apply(p, rng, direction: Direction) {
        const unit = pick(rng, [...usedUnits(p)]);
        if (unit === undefined) return undefined;
        const levels = space.levels[unit];
        const at = levels.indexOf(p.freqLevel[unit]) + direction;
        if (at < 0 || at >= levels.length) return undefined;
        return finish({ ...p, lanes: cloneLanes(p.lanes), freqLevel: { ...p.freqLevel, [unit]: levels[at] } });
      },
    },
    {
      name: "movePrefill",
      numeric: false,
      apply(p, rng) {
        const target = pick(rng, space.units.filter((u) => u !== p.prefillUnit));
        if (target === undefined) return undefined;
        return finish({ ...p, prefillUnit: target, lanes: cloneLanes(p.lanes) });
      },
    },
    {
      name: "swapPrefillDecode",
      numeric: false,
      apply(p, rng) {
        // The prefill unit and a decode unit trade roles everywhere.
        const decode = pick(rng, laneUnits(p).filter((u) => u !== p.prefillUnit));
        if (decode === undefined) return undefined;
        const prefill = p.prefillUnit;
        const lanes = cloneLanes(p.lanes);
        for (const l of lanes) {
          for (const s of l.segments) {
            if (s.unitId === decode) s.unitId = prefill;
            else if (s.unitId === prefill) s.unitId = decode;
          }
        }
        return finish({ ...p, prefillUnit: decode, lanes });
      },
    },
  ];
}
