/**
 * Placement decisions for the orchestrator: the board state the planner
 * sees (from the latest HAL sample, with last good values standing in for
 * sensors that stopped reading and a short-horizon temperature trend), and
 * the placement of a job in each mode:
 *
 * - `qeil`: PGSAM on the calibrated model and the current state; the plan is
 *   cached and redone when the state changes materially (a 5 K temperature
 *   bucket, unit health, frequency caps, free memory, the calibration epoch,
 *   or its age). Units on probation decode at most their share of the
 *   samples and never prefill, unless a trial beyond those limits is worth
 *   its risk (`probationTrial`): the policy chooses among front members
 *   that obey.
 *   When nothing is feasible (a hot board), the coolest single-unit
 *   placement at the lowest clock is used and the orchestrator lets the
 *   board cool first.
 * - `standard`: everything on the board's default unit at its top clock
 *   (the first usable unit when the default one is failed).
 * - `greedy`: QEIL v1's rule.
 */
import { type DecoderShape, InfeasibleError, isQeilError, type Rng } from "../core/mod.ts";
import type { Sample } from "../hal/mod.ts";
import {
  type BoardModel,
  type BoardState,
  type Job,
  type Placement,
  predict,
  type Prediction,
} from "../physics/mod.ts";
import {
  greedyPlacement,
  type Plan,
  plan,
  type PlannedPlacement,
  type PlanOptions,
  type Policy,
  type PolicyBounds,
  selectByPolicy,
  standardBounds,
  standardPlacement,
} from "../pgsam/mod.ts";
import type { LastGood } from "./board_runtime.ts";
import { CALIBRATED_DEADLINE_FACTOR } from "./charger.ts";
import type { ProbationLimits } from "./fault_manager.ts";

/** How a query is run: what a user gets without qeil, QEIL v1's rule, and qeil. */
export type OrchestratorMode = "standard" | "greedy" | "qeil";

/** Every mode. */
export const ORCHESTRATOR_MODES: readonly OrchestratorMode[] = ["standard", "greedy", "qeil"];

/** Inputs of `boardStateOf`. */
export interface StateInputs {
  model: BoardModel;
  /** The latest sample (undefined before the first: priors then). */
  sample: Sample | undefined;
  /** Last good zone temperatures (stand-ins for zones that stopped reading). */
  lastGoodZones: Record<string, LastGood>;
  /** Units the plan may use (discovered, placeable, not failed). */
  usableUnits: readonly string[];
  /** The current frequency cap of a unit that is not the service's own setting, Hz. */
  capHz: (unitId: string) => number | undefined;
  /** Memory the served model already holds in the shared pool (counted as available to it), bytes. @default 0 */
  heldBytes?: number;
  /** Temperature rise per second of each zone (the recent trend), K/s. @default none */
  trendKPerS?: Record<string, number>;
  /** How far ahead a rising trend is projected, s. @default 10 */
  trendHorizonS?: number;
}

/**
 * The board state for the planner: each modelled zone's temperature (the
 * latest reading, else its last good value, raised by a rising trend over
 * the horizon), MemAvailable (plus what the served model already holds), the
 * usable units and the caps the kernel put on them.
 */
export function boardStateOf(inputs: StateInputs): { state: BoardState; notes: string[] } {
  const { model, sample } = inputs;
  const notes: string[] = [];
  const zoneIds = new Set(model.zones.map((z) => z.id));
  const tempsC: Record<string, number> = {};
  if (sample) {
    for (const t of sample.thermal) {
      if (!t.ok || t.zone === undefined || !zoneIds.has(t.zone)) continue;
      tempsC[t.zone] = Math.max(tempsC[t.zone] ?? -Infinity, t.tempC);
    }
  }
  for (const zone of zoneIds) {
    if (tempsC[zone] !== undefined) continue;
    const good = inputs.lastGoodZones[zone];
    if (good !== undefined) {
      tempsC[zone] = good.value;
      notes.push(`zone ${zone} unreadable: its last good value ${good.value.toFixed(1)} °C stands in`);
    }
  }
  const horizonS = inputs.trendHorizonS ?? 10;
  for (const [zone, slope] of Object.entries(inputs.trendKPerS ?? {})) {
    if (tempsC[zone] !== undefined && slope > 0) tempsC[zone] += slope * horizonS;
  }
  let memAvailableBytes = 0.8 * model.memoryTotalBytes;
  if (sample?.memory.ok) memAvailableBytes = sample.memory.value.availableBytes;
  else notes.push("memory unreadable: 80% of the profile's memory assumed free");
  memAvailableBytes += inputs.heldBytes ?? 0;
  const healthyUnits = model.unitIds.filter((u) => inputs.usableUnits.includes(u));
  const maxFreqHz: Record<string, number> = {};
  for (const u of healthyUnits) {
    const cap = inputs.capHz(u);
    if (cap !== undefined) maxFreqHz[u] = cap;
  }
  return { state: { tempsC, ambientC: model.ambientC, memAvailableBytes, healthyUnits, maxFreqHz }, notes };
}

/** A placement decision. */
export interface Choice {
  mode: OrchestratorMode;
  placement: Placement;
  prediction: Prediction;
  /** The PGSAM plan it came from (qeil mode). */
  plan?: Plan;
  /** Answered from the plan cache. */
  cached: boolean;
  /** Nothing was feasible: the coolest single-unit placement at the lowest clock. */
  fallback: boolean;
  /** Units on probation work beyond their limits, as a trial worth its risk: which and why. */
  trial?: { units: string[]; why: string };
}

/**
 * When a unit on probation may work beyond its limits (prefill, or decode
 * more than its share of the samples). A trial that fails costs the work
 * done before the fault was caught (up to `lossFactor` times the predicted
 * duration: the deadline of a hang) and then the run within the limits; one
 * that succeeds saves the difference. With the unit failing again at
 * `refailProbability` p, the expected cost of a trial is
 * X_trial (1 - p + p F) + p X_within, for energy and for latency. The trial
 * is taken when that beats the best placement within the limits in what the
 * policy optimises: energy (`energy`), latency (`latency`), both (`balanced`),
 * or energy with the expected latency no worse than the standard placement's
 * or the run within the limits, whichever is longer (`efficient`).
 */
export interface ProbationTrialOptions {
  /**
   * Chance a unit on probation fails again on the trial, [0, 1): a unit back
   * after its delay mostly had a transient fault (a driver reset, a hung job
   * the kernel killed). @default 0.25
   */
  refailProbability?: number;
  /** Predicted durations a failing trial spends before it is caught. @default CALIBRATED_DEADLINE_FACTOR */
  lossFactor?: number;
}

/** The default chance a unit on probation fails again on a trial. */
export const TRIAL_REFAIL_PROBABILITY = 0.25;

/**
 * The expected cost of a trial predicted to cost `trial` when the run within
 * the probation limits costs `within` (energy or latency, any unit).
 * @throws RangeError for options out of range
 */
export function expectedTrialCost(trial: number, within: number, options: ProbationTrialOptions = {}): number {
  const p = options.refailProbability ?? TRIAL_REFAIL_PROBABILITY;
  const f = options.lossFactor ?? CALIBRATED_DEADLINE_FACTOR;
  if (!(p >= 0 && p < 1)) throw new RangeError(`probationTrial.refailProbability must be in [0, 1), got ${p}`);
  if (!(f >= 1)) throw new RangeError(`probationTrial.lossFactor must be >= 1, got ${f}`);
  return trial * (1 - p + p * f) + p * within;
}

/** Options of `createPlanner`. */
export interface PlannerOptions {
  /** Which front member qeil runs. @default "efficient" */
  policy?: Policy;
  /** PGSAM options (budget, space). @default maxEvaluations 600, stagnation off */
  pgsam?: Omit<PlanOptions, "policy">;
  /** A cached plan older than this is redone, ms of the planner's clock. @default 60000 */
  planTtlMs?: number;
  /** Plans kept. @default 64 */
  cacheSize?: number;
  /** When a unit on probation may work beyond its limits. @default see ProbationTrialOptions */
  probationTrial?: ProbationTrialOptions;
  /** Monotonic time, ms (the board's clock). */
  nowMs: () => number;
}

/** The cache key's view of a job and a state. */
export interface PlanKeyInputs {
  job: Job;
  state: BoardState;
  probation: ProbationLimits;
  epoch: number;
}

/** The planner. */
export interface Planner {
  /** Chooses the placement of `job` in `mode`. @throws InfeasibleError only when no unit is usable at all */
  choose(
    mode: OrchestratorMode,
    model: BoardModel,
    inputs: PlanKeyInputs,
    rng: Rng,
  ): Choice;
  /** The latest qeil plan and what it was for. */
  latest(): { plan: Plan; job: Job; state: BoardState; atMs: number; key: string } | undefined;
  /** Plans computed (cache misses). */
  readonly computed: number;
}

function shapeKey(shape: DecoderShape): string {
  return `${shape.family}/${shape.layers}x${shape.hiddenSize}x${shape.intermediateSize}/${shape.weightPrecision}`;
}

/** Prompt lengths are planned in buckets of about 25% (a placement does not hinge on a few tokens). */
function promptBucket(tokens: number): number {
  return tokens <= 8 ? tokens : Math.round(Math.pow(1.25, Math.round(Math.log(tokens) / Math.log(1.25))));
}

/** The cache key of a plan: what, if it changes, makes the cached plan stale. */
export function planKey(policy: Policy, model: BoardModel, inputs: PlanKeyInputs): string {
  const { job, state, probation, epoch } = inputs;
  const temps = model.zones.map((z) => {
    const t = state.tempsC[z.id];
    return t === undefined ? "-" : String(Math.floor(t / 5));
  });
  const caps = Object.entries(state.maxFreqHz).sort().map(([u, f]) => `${u}:${Math.round(f / 1e6)}`);
  return JSON.stringify([
    policy,
    shapeKey(job.shape),
    promptBucket(job.promptTokens),
    job.genTokens,
    job.samples,
    job.sloMs ?? null,
    temps,
    [...state.healthyUnits].sort(),
    [...probation.units].sort(),
    caps,
    Math.floor(state.memAvailableBytes / 2 ** 30),
    epoch,
  ]);
}

/** Units on probation a placement uses beyond their limits: the prefill, or more than their share of the samples. */
export function beyondProbation(p: Placement, probation: ProbationLimits, samples: number): string[] {
  if (probation.units.size === 0) return [];
  const limit = probation.maxSamples(samples);
  const perUnit = new Map<string, number>();
  for (const lane of p.lanes) {
    for (const unit of new Set(lane.segments.map((s) => s.unitId))) {
      perUnit.set(unit, (perUnit.get(unit) ?? 0) + lane.samples);
    }
  }
  return [...probation.units].filter((u) => u === p.prefillUnit || (perUnit.get(u) ?? 0) > limit).sort();
}

/** True when a placement obeys the probation limits: no unit on probation prefills or decodes more than its share. */
export function obeysProbation(p: Placement, probation: ProbationLimits, samples: number): boolean {
  return beyondProbation(p, probation, samples).length === 0;
}

/** The member of a subset of a front (all feasible) that `policy` picks, within `bounds` (see selectByPolicy). */
function pickAmong(members: readonly PlannedPlacement[], policy: Policy, bounds: PolicyBounds): PlannedPlacement {
  return selectByPolicy(
    members.map((p) => ({
      x: p,
      key: p.key,
      objectives: [p.prediction.energyJ, p.prediction.latencyMs, p.prediction.underutilization],
      feasible: true,
      violation: 0,
    })),
    policy,
    bounds,
  ).x;
}

interface CacheEntry {
  plan: Plan;
  chosen: PlannedPlacement;
  trial?: { units: string[]; why: string };
  atMs: number;
  job: Job;
  state: BoardState;
  key: string;
}

class PlacementPlanner implements Planner {
  readonly #o: PlannerOptions;
  readonly #cache = new Map<string, CacheEntry>();
  #latest: CacheEntry | undefined;
  #computed = 0;

  constructor(options: PlannerOptions) {
    this.#o = options;
    expectedTrialCost(1, 1, options.probationTrial);
  }

  get computed(): number {
    return this.#computed;
  }

  latest() {
    const e = this.#latest;
    return e && { plan: e.plan, job: e.job, state: e.state, atMs: e.atMs, key: e.key };
  }

  choose(mode: OrchestratorMode, model: BoardModel, inputs: PlanKeyInputs, rng: Rng): Choice {
    const { job, state } = inputs;
    if (state.healthyUnits.length === 0) {
      throw new InfeasibleError("no compute unit is usable: every unit is failed or has no backend", {
        details: { units: [...model.unitIds] },
      });
    }
    if (mode === "standard") {
      let placement = standardPlacement(model, job);
      if (!state.healthyUnits.includes(model.defaultUnit)) {
        // The default unit is failed: what a user would get is a run on whatever still works.
        const unit = state.healthyUnits.find((u) => (model.units[u].peakOpsPerS[job.shape.weightPrecision] ?? 0) > 0) ??
          state.healthyUnits[0];
        placement = {
          prefillUnit: unit,
          lanes: [{ samples: job.samples, segments: [{ unitId: unit, layerStart: 0, layerEnd: job.shape.layers }] }],
          freqLevel: { [unit]: model.units[unit].opps.length - 1 },
        };
      }
      return { mode, placement, prediction: predict(model, state, job, placement), cached: false, fallback: false };
    }
    if (mode === "greedy") {
      const placement = greedyPlacement(model, state, job);
      return { mode, placement, prediction: predict(model, state, job, placement), cached: false, fallback: false };
    }
    const policy = this.#o.policy ?? "efficient";
    const key = planKey(policy, model, inputs);
    const now = this.#o.nowMs();
    const hit = this.#cache.get(key);
    if (hit && now - hit.atMs <= (this.#o.planTtlMs ?? 60_000)) {
      this.#latest = hit;
      return {
        mode,
        placement: hit.chosen.placement,
        prediction: hit.chosen.prediction,
        plan: hit.plan,
        cached: true,
        fallback: false,
        ...(hit.trial ? { trial: hit.trial } : {}),
      };
    }
    let result: Plan;
    try {
      result = plan(model, state, job, { maxEvaluations: 600, ...this.#o.pgsam, policy }, rng);
    } catch (error) {
      if (!isQeilError(error, "Infeasible") && !(error instanceof RangeError)) throw error;
      return {
        mode,
        ...this.#coolest(model, state, job, inputs.probation),
        plan: undefined,
        cached: false,
        fallback: true,
      };
    }
    this.#computed++;
    const full = result;
    const allowed = result.front.filter((p) => obeysProbation(p.placement, inputs.probation, job.samples));
    let chosen: PlannedPlacement;
    if (allowed.length === result.front.length) chosen = result.chosen;
    else if (allowed.length > 0) {
      chosen = pickAmong(allowed, policy, standardBounds(result.standard.prediction));
    } else {
      // No front member obeys: plan again without the probation units.
      const without = { ...state, healthyUnits: state.healthyUnits.filter((u) => !inputs.probation.units.has(u)) };
      if (without.healthyUnits.length === 0) {
        return {
          mode,
          ...this.#coolest(model, state, job, inputs.probation),
          plan: undefined,
          cached: false,
          fallback: true,
        };
      }
      try {
        result = plan(model, without, job, { maxEvaluations: 600, ...this.#o.pgsam, policy }, rng);
      } catch (error) {
        if (!isQeilError(error, "Infeasible") && !(error instanceof RangeError)) throw error;
        return {
          mode,
          ...this.#coolest(model, without, job, inputs.probation),
          plan: undefined,
          cached: false,
          fallback: true,
        };
      }
      chosen = result.chosen;
    }
    let trial: CacheEntry["trial"];
    if (allowed.length < full.front.length) {
      const t = this.#trial(full, chosen, inputs, policy);
      if (t) {
        ({ chosen, trial } = t);
        result = full;
      }
    }
    const entry: CacheEntry = { plan: result, chosen, atMs: now, job, state, key, ...(trial ? { trial } : {}) };
    this.#cache.set(key, entry);
    if (this.#cache.size > (this.#o.cacheSize ?? 64)) this.#cache.delete(this.#cache.keys().next().value!);
    this.#latest = entry;
    return {
      mode,
      placement: chosen.placement,
      prediction: chosen.prediction,
      plan: result,
      cached: false,
      fallback: false,
      ...(trial ? { trial } : {}),
    };
  }

  /**
   * The front member beyond the probation limits (a unit on probation
   * prefilling, or decoding more than its share) the policy prefers, when its
   * expected cost as a trial beats `best`, the run within the limits, in what
   * the policy optimises (see ProbationTrialOptions).
   */
  #trial(
    plan: Plan,
    best: PlannedPlacement,
    inputs: PlanKeyInputs,
    policy: Policy,
  ): { chosen: PlannedPlacement; trial: NonNullable<CacheEntry["trial"]> } | undefined {
    const { probation, job } = inputs;
    const candidates = plan.front.filter((p) => !obeysProbation(p.placement, probation, job.samples));
    if (candidates.length === 0) return undefined;
    const bounds = standardBounds(plan.standard.prediction);
    const picked = pickAmong(candidates, policy, bounds);
    const t = picked.prediction;
    const w = best.prediction;
    const energyJ = expectedTrialCost(t.energyJ, w.energyJ, this.#o.probationTrial);
    const latencyMs = expectedTrialCost(t.latencyMs, w.latencyMs, this.#o.probationTrial);
    const latencyBoundMs = policy === "efficient"
      ? Math.max(w.latencyMs, bounds.latencyBound ?? w.latencyMs)
      : w.latencyMs;
    const energyPays = energyJ < w.energyJ;
    const latencyPays = latencyMs <= latencyBoundMs && (policy !== "latency" || latencyMs < w.latencyMs);
    const pays = policy === "energy" ? energyPays : policy === "latency" ? latencyPays : energyPays && latencyPays;
    if (!pays) return undefined;
    const units = beyondProbation(picked.placement, probation, job.samples);
    const roles = units.map((u) => u === picked.placement.prefillUnit ? `${u} (prefill)` : `${u} (beyond its share)`);
    const s = (ms: number) => `${(ms / 1000).toPrecision(3)} s`;
    return {
      chosen: picked,
      trial: {
        units,
        why: `${roles.join(", ")}: expected ${energyJ.toPrecision(3)} J and ${s(latencyMs)} with the risk of a ` +
          `fault, against ${w.energyJ.toPrecision(3)} J and ${s(w.latencyMs)} within the probation limits`,
      },
    };
  }

  /**
   * The placement least likely to heat the board: each usable unit alone
   * (never a probation unit for the prefill) at its lowest clock; the feasible
   * one with the least energy, else the least violating.
   */
  #coolest(model: BoardModel, state: BoardState, job: Job, probation: ProbationLimits) {
    const precision = job.shape.weightPrecision;
    let best: { placement: Placement; prediction: Prediction } | undefined;
    for (const unit of state.healthyUnits) {
      if ((model.units[unit].peakOpsPerS[precision] ?? 0) <= 0 || probation.units.has(unit)) continue;
      const placement: Placement = {
        prefillUnit: unit,
        lanes: [{ samples: job.samples, segments: [{ unitId: unit, layerStart: 0, layerEnd: job.shape.layers }] }],
        freqLevel: { [unit]: 0 },
      };
      const prediction = predict(model, state, job, placement);
      if (
        best === undefined ||
        (prediction.feasible && (!best.prediction.feasible || prediction.energyJ < best.prediction.energyJ)) ||
        (!prediction.feasible && !best.prediction.feasible &&
          prediction.constraintViolation < best.prediction.constraintViolation)
      ) {
        best = { placement, prediction };
      }
    }
    if (best === undefined) {
      throw new InfeasibleError(
        `no usable unit can run ${precision} weights (usable: ${state.healthyUnits.join(", ")})`,
        { details: { units: [...state.healthyUnits] } },
      );
    }
    return best;
  }
}

/** Creates the planner. */
export function createPlanner(options: PlannerOptions): Planner {
  return new PlacementPlanner(options);
}
