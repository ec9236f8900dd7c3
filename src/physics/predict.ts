/**
 * predict(): energy, latency, temperatures and feasibility of a job under a
 * placement, from the board model (DESIGN.md section 3; CONTRACTS.md).
 *
 * The job has two phases. Prefill: the prompt (batch 1, all layers) on the
 * prefill unit. Decode: every lane first receives the prompt's KV cache
 * (broadcast to its batch; a copy on each segment's unit unless that unit did
 * the prefill and the batch is 1), then runs genTokens - 1 steps, each step
 * its segments in order with activation transfers between units. Powers are
 * constant within a phase (each unit's busy work spread over the phase), so
 * each zone follows one exponential per phase and the leakage integrals are
 * exact series (power.ts). Leakage and temperature are coupled; three
 * fixed-point passes per phase (leakage at the phase's mean zone temperature)
 * land within 0.1 K and 0.03% energy of the converged point (checked against
 * eight passes on the rk3588 profile, 30-72 °C starts); a zone in thermal
 * runaway is capped at its critical trip and infeasible anyway.
 *
 * Conventions beyond DESIGN.md: the board's base power is paid over the whole
 * span; a unit that cannot be power-gated pays idle and leakage power over the
 * whole span, one that can pays them only while it works (runtime PM gates it
 * between jobs and phases, as the simulator does), and both pay dynamic power
 * and DRAM energy for their own work; an activation transfer costs a fixed overhead plus its bytes
 * at the slower unit's bandwidth and is charged to the lane, not to a unit's
 * busy time; a zone without a current temperature starts at ambient plus its
 * calibrated offset.
 *
 * Called tens of thousands of times per plan: no loop over layers or decode
 * steps (closed forms, latency.ts), a few small arrays per call.
 */
import { allocationInflation, busShare, cpq as cpqOf, memoryRho } from "./roofline.ts";
import { leakageEnergyJ, leakagePowerW, phi as phiOf } from "./power.ts";
import { meanTransientC, timeToReachS, transientC } from "./thermal.ts";
import { sumAffine, sumMaxAffine, sumTimeDasiS, timeDasiS, underutilization } from "./latency.ts";
import {
  decodeAffineOf,
  prefillWorkOf,
  type ShapeConstants,
  shapeConstants,
  weightsBytesOf,
  workspaceBytesOf,
} from "./workload.ts";
import { type BoardModel, effectiveOpp, type UnitModel } from "./model.ts";
import type { BoardState, Job, Placement, Prediction, UnitPrediction } from "./types.ts";

/** Fixed-point passes between leakage and temperature per phase. */
const LEAKAGE_PASSES = 3;

/**
 * Temperature ceiling of a zone without a critical trip, °C. Past the critical
 * trip the board shuts down, so a steady state above it (thermal runaway:
 * leakage heating faster than the package sheds heat) is capped there; such a
 * placement is infeasible long before, and the cap keeps its figures finite.
 */
const DEFAULT_CEILING_C = 125;

/** rho counted in `constraintViolation` at most (a pool with nothing available would count Infinity). */
const MAX_RHO_PENALTY = 100;

/** Normalisation of a thermal overshoot in `constraintViolation`, K. */
const THERMAL_VIOLATION_SCALE_K = 10;

function checkJob(job: Job): void {
  const ok = (v: number, min: number) => Number.isInteger(v) && v >= min;
  if (!ok(job.promptTokens, 1)) {
    throw new RangeError(`predict: job.promptTokens must be an integer >= 1, got ${job.promptTokens}`);
  }
  if (!ok(job.genTokens, 0)) {
    throw new RangeError(`predict: job.genTokens must be an integer >= 0, got ${job.genTokens}`);
  }
  if (!ok(job.samples, 1)) throw new RangeError(`predict: job.samples must be an integer >= 1, got ${job.samples}`);
  if (job.sloMs !== undefined && !(job.sloMs > 0)) {
    throw new RangeError(`predict: job.sloMs must be positive when given, got ${job.sloMs}`);
  }
}

function slotOf(model: BoardModel, unitId: string, where: string): number {
  const i = model.unitIds.indexOf(unitId);
  if (i < 0) throw new RangeError(`predict: ${where} names unknown unit "${unitId}" (board has ${model.unitIds})`);
  return i;
}

/**
 * Checks a placement's structure against a job: lanes cover the layers
 * contiguously, their samples add up, units exist.
 *
 * @throws RangeError naming the lane, segment and problem
 */
export function checkPlacement(model: BoardModel, job: Job, placement: Placement): void {
  slotOf(model, placement.prefillUnit, "placement.prefillUnit");
  if (placement.lanes.length === 0) throw new RangeError("predict: placement has no lanes");
  const layers = job.shape.layers;
  let samples = 0;
  for (let l = 0; l < placement.lanes.length; l++) {
    const lane = placement.lanes[l];
    if (!Number.isInteger(lane.samples) || lane.samples < 1) {
      throw new RangeError(`predict: lane ${l} samples must be an integer >= 1, got ${lane.samples}`);
    }
    samples += lane.samples;
    if (lane.segments.length === 0) throw new RangeError(`predict: lane ${l} has no segments`);
    let next = 0;
    for (let s = 0; s < lane.segments.length; s++) {
      const seg = lane.segments[s];
      slotOf(model, seg.unitId, `lane ${l} segment ${s}`);
      if (seg.layerStart !== next || !Number.isInteger(seg.layerEnd) || seg.layerEnd <= seg.layerStart) {
        throw new RangeError(
          `predict: lane ${l} segment ${s} covers [${seg.layerStart}, ${seg.layerEnd}); expected a non-empty range starting at ${next}`,
        );
      }
      next = seg.layerEnd;
    }
    if (next !== layers) {
      throw new RangeError(`predict: lane ${l} covers layers [0, ${next}); it must cover [0, ${layers})`);
    }
  }
  if (samples !== job.samples) {
    throw new RangeError(`predict: the lanes decode ${samples} samples; the job asks for ${job.samples}`);
  }
}

function fmtBytes(bytes: number): string {
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

/** Stored weights of the union of a unit's layer ranges (ranges as flat [start, end, ...]). */
function unionWeightsBytes(k: ShapeConstants, tied: boolean, ranges: number[]): number {
  const count = ranges.length / 2;
  if (count === 1) return weightsBytesOf(k, tied, ranges[0], ranges[1]);
  const order: number[] = [];
  for (let i = 0; i < count; i++) order.push(i);
  order.sort((a, b) => ranges[2 * a] - ranges[2 * b]);
  let total = 0;
  let hasFirst = false;
  let hasLast = false;
  let curStart = -1;
  let curEnd = -1;
  for (const i of order) {
    const s = ranges[2 * i];
    const e = ranges[2 * i + 1];
    if (s > curEnd) {
      if (curEnd > curStart) total += (curEnd - curStart) * k.layerWeightBytes;
      curStart = s;
      curEnd = e;
    } else if (e > curEnd) curEnd = e;
    if (s === 0) hasFirst = true;
    if (e === k.layers) hasLast = true;
  }
  total += (curEnd - curStart) * k.layerWeightBytes;
  // First/last extras exactly as weightsBytesOf counts them for one range.
  if (hasFirst) total += k.embeddingParams * k.weightBytesPerParam + k.positionParams * k.activationBytes;
  if (hasLast) {
    total += k.finalNormParams * k.activationBytes;
    if (!tied || !hasFirst) total += k.embeddingParams * k.weightBytesPerParam;
  }
  return total;
}

interface UnitPlan {
  unit: UnitModel;
  used: boolean;
  powered: boolean;
  freqHz: number;
  voltageRatio: number;
  voltageV: number;
  /** Peak at the running frequency for the job's precision, ops/s (0 when unsupported). */
  peakOpsPerS: number;
  inflation: number;
  rho: number;
  cpq: number;
  zone: number;
  busyS: [number, number];
  activeS: [number, number];
  bytes: [number, number];
}

/**
 * Predicts a job under a placement. Infeasibility is a value (`feasible`,
 * `violations`, `constraintViolation`); energy and latency are Infinity only
 * when a used unit cannot run the job's precision at all.
 *
 * @throws RangeError for a malformed job or placement (see {@linkcode checkPlacement})
 */
export function predict(model: BoardModel, state: BoardState, job: Job, placement: Placement): Prediction {
  checkJob(job);
  checkPlacement(model, job, placement);
  const shape = job.shape;
  const k = shapeConstants(shape);
  const L = shape.layers;
  const P = job.promptTokens;
  const steps = job.genTokens > 1 ? job.genTokens - 1 : 0;
  const finalContext = P + steps;
  const U = model.unitIds.length;
  const violations: string[] = [];
  let amount = 0;

  if (finalContext > shape.maxSeqLen) {
    violations.push(`context of ${finalContext} tokens exceeds the model's maxSeqLen ${shape.maxSeqLen}`);
    amount += 1;
  }

  // Units: used?, frequency, health, precision.
  const plans: UnitPlan[] = new Array(U);
  const prefillSlot = model.unitIds.indexOf(placement.prefillUnit);
  const used = new Array<boolean>(U).fill(false);
  used[prefillSlot] = true;
  for (const lane of placement.lanes) for (const seg of lane.segments) used[model.unitIds.indexOf(seg.unitId)] = true;
  let unsupported = false;
  for (let u = 0; u < U; u++) {
    const id = model.unitIds[u];
    const unit = model.units[id];
    const top = unit.opps.length - 1;
    let level = placement.freqLevel[id];
    if (level === undefined) level = used[u] ? top : 0;
    else if (!Number.isInteger(level) || level < 0 || level > top) {
      violations.push(`unit "${id}" frequency level ${level} is out of range [0, ${top}]`);
      amount += 1;
      level = Number.isFinite(level) ? Math.min(top, Math.max(0, Math.round(level))) : top;
    }
    const opp = effectiveOpp(unit, level, state.maxFreqHz[id]);
    const peakMax = unit.peakOpsPerS[shape.weightPrecision];
    if (used[u]) {
      if (!state.healthyUnits.includes(id)) {
        violations.push(`unit "${id}" is unhealthy`);
        amount += 1;
      }
      if (peakMax === undefined) {
        violations.push(
          `unit "${id}" cannot run ${shape.weightPrecision} weights (supports ${
            Object.keys(unit.peakOpsPerS).join(", ")
          })`,
        );
        amount += 1;
        unsupported = true;
      }
    }
    let zone = 0;
    while (zone < model.zones.length && model.zones[zone].id !== unit.thermalZone) zone++;
    plans[u] = {
      unit,
      used: used[u],
      powered: used[u] || !unit.powerGateable,
      freqHz: opp.freqHz,
      voltageV: opp.voltageV,
      voltageRatio: opp.voltageV / unit.opps[top].voltageV,
      peakOpsPerS: peakMax === undefined ? 0 : peakMax * opp.freqHz / unit.opps[top].freqHz,
      inflation: 1,
      rho: 0,
      cpq: 0,
      zone,
      busyS: [0, 0],
      activeS: [0, 0],
      bytes: [0, 0],
    };
  }
  const startTempsC: Record<string, number> = {};
  for (const z of model.zones) startTempsC[z.id] = state.tempsC[z.id] ?? state.ambientC + z.ambientOffsetK;
  if (unsupported) {
    return {
      energyJ: Infinity,
      latencyMs: Infinity,
      ttftMs: Infinity,
      underutilization: 1,
      peakTempC: startTempsC,
      feasible: false,
      violations,
      constraintViolation: amount,
      perUnit: {},
    };
  }

  // Memory pressure: weights of every layer a unit holds, plus the larger of
  // its prefill-phase and decode-phase caches and workspace. The time
  // inflation is capped at rho_max so an infeasible placement still gets
  // finite, comparable figures.
  const weightsB = new Array<number>(U).fill(0);
  const prefillExtraB = new Array<number>(U).fill(0);
  const decodeExtraB = new Array<number>(U).fill(0);
  for (let u = 0; u < U; u++) {
    if (!used[u]) continue;
    const id = model.unitIds[u];
    const ranges: number[] = u === prefillSlot ? [0, L] : [];
    for (const lane of placement.lanes) {
      for (const seg of lane.segments) {
        if (seg.unitId !== id) continue;
        ranges.push(seg.layerStart, seg.layerEnd);
        if (steps > 0) {
          decodeExtraB[u] += lane.samples * finalContext * (seg.layerEnd - seg.layerStart) * k.kvBytesPerTokenLayer +
            workspaceBytesOf(k, lane.samples, 1, finalContext, 1);
        }
      }
    }
    weightsB[u] = unionWeightsBytes(k, shape.tiedEmbeddings, ranges);
  }
  prefillExtraB[prefillSlot] = P * L * k.kvBytesPerTokenLayer + workspaceBytesOf(k, 1, P, P, 1);
  // The unified pool (units without dedicated memory) first, then each dedicated unit.
  {
    let need = 0;
    let pre = 0;
    let dec = 0;
    const poolIds: string[] = [];
    for (let u = 0; u < U; u++) {
      if (!used[u] || plans[u].unit.memoryBytes !== undefined) continue;
      need += weightsB[u];
      pre += prefillExtraB[u];
      dec += decodeExtraB[u];
      poolIds.push(model.unitIds[u]);
    }
    if (poolIds.length > 0) {
      need += Math.max(pre, dec);
      const rho = memoryRho(need, state.memAvailableBytes);
      const c = rho >= 1 ? Infinity : cpqOf(rho);
      if (rho > model.rhoMax) {
        violations.push(
          `shared memory (${poolIds.join(", ")}): rho ${rho.toFixed(3)} exceeds rho_max ${model.rhoMax} (needs ${
            fmtBytes(need)
          } of ${fmtBytes(state.memAvailableBytes)} available)`,
        );
        amount += Math.min(rho, MAX_RHO_PENALTY) - model.rhoMax;
      }
      for (let u = 0; u < U; u++) {
        if (!used[u] || plans[u].unit.memoryBytes !== undefined) continue;
        plans[u].rho = rho;
        plans[u].cpq = c;
        plans[u].inflation = allocationInflation(cpqOf(Math.min(rho, model.rhoMax)), model.allocLambda);
      }
    }
    for (let u = 0; u < U; u++) {
      const mem = plans[u].unit.memoryBytes;
      if (!used[u] || mem === undefined) continue;
      const needU = weightsB[u] + Math.max(prefillExtraB[u], decodeExtraB[u]);
      const rho = memoryRho(needU, mem);
      if (rho > model.rhoMax) {
        violations.push(
          `unit "${model.unitIds[u]}" memory: rho ${rho.toFixed(3)} exceeds rho_max ${model.rhoMax} (needs ${
            fmtBytes(needU)
          } of ${fmtBytes(mem)})`,
        );
        amount += Math.min(rho, MAX_RHO_PENALTY) - model.rhoMax;
      }
      plans[u].rho = rho;
      plans[u].cpq = rho >= 1 ? Infinity : cpqOf(rho);
      plans[u].inflation = allocationInflation(cpqOf(Math.min(rho, model.rhoMax)), model.allocLambda);
    }
  }

  // Prefill phase.
  const pp = plans[prefillSlot];
  const pre = prefillWorkOf(k, 0, L, P, 1, 0, 1);
  const preComputeS = pre.flops / (pp.peakOpsPerS * pp.unit.computeEfficiency);
  const preMemoryUncontendedS = pre.bytes / (pp.unit.bandwidthBytesPerS * pp.unit.memoryEfficiency);
  const preDrawBps = pre.bytes / Math.max(preComputeS, preMemoryUncontendedS);
  const preShare = busShare(model.busBandwidthBytesPerS, preDrawBps);
  const preMemoryS = preMemoryUncontendedS / preShare;
  const prefillS = Math.max(preComputeS, preMemoryS) * pp.inflation;
  pp.busyS[0] = prefillS;
  pp.activeS[0] = pp.inflation * timeDasiS(
    pre.flops,
    pre.bytes,
    pp.peakOpsPerS,
    pp.unit.bandwidthBytesPerS * preShare,
    pp.unit.computeEfficiency,
    pp.unit.memoryEfficiency,
  );
  pp.bytes[0] = pre.bytes;

  // Decode phase: pass 1 uncontended gives the bus demand; pass 2 applies the share.
  let decodeS = 0;
  if (steps > 0) {
    const lanes = placement.lanes;
    const laneS = new Array<number>(lanes.length).fill(0);
    const sumContexts = sumAffine(0, 1, P, steps);
    let share = 1;
    for (let pass = 0; pass < 2; pass++) {
      for (let u = 0; u < U; u++) {
        plans[u].busyS[1] = 0;
        plans[u].activeS[1] = 0;
        plans[u].bytes[1] = 0;
      }
      for (let l = 0; l < lanes.length; l++) {
        const lane = lanes[l];
        const b = lane.samples;
        let t = 0;
        let prevSlot = -1;
        for (const seg of lane.segments) {
          const u = model.unitIds.indexOf(seg.unitId);
          const pl = plans[u];
          const bw = pl.unit.bandwidthBytesPerS * share * pl.unit.memoryEfficiency;
          const ceff = pl.peakOpsPerS * pl.unit.computeEfficiency;
          const n = seg.layerEnd - seg.layerStart;
          // Prompt KV broadcast to this lane's batch on this unit (kvHandoffBytes).
          if (u !== prefillSlot || b > 1) {
            const kvB = (1 + b) * P * n * k.kvBytesPerTokenLayer;
            const copyS = (kvB / bw) * pl.inflation;
            pl.busyS[1] += copyS;
            pl.bytes[1] += kvB;
            t += copyS;
          }
          if (prevSlot >= 0 && prevSlot !== u) {
            const xferB = b * k.hiddenSize * k.activationBytes;
            const src = plans[prevSlot].unit.bandwidthBytesPerS;
            const slower = src < pl.unit.bandwidthBytesPerS ? src : pl.unit.bandwidthBytesPerS;
            t += steps * (model.transferOverheadS + xferB / (slower * share));
            pl.bytes[1] += steps * xferB;
          }
          const a = decodeAffineOf(k, seg.layerStart, seg.layerEnd, b);
          const segS = pl.inflation *
            sumMaxAffine(a.flops0 / ceff, a.flops1 / ceff, a.bytes0 / bw, a.bytes1 / bw, P, steps);
          pl.busyS[1] += segS;
          pl.activeS[1] += pl.inflation * sumTimeDasiS(
            a.flops0,
            a.flops1,
            a.bytes0,
            a.bytes1,
            pl.peakOpsPerS,
            pl.unit.bandwidthBytesPerS * share,
            pl.unit.computeEfficiency,
            pl.unit.memoryEfficiency,
            P,
            steps,
          );
          pl.bytes[1] += steps * a.bytes0 + a.bytes1 * sumContexts;
          t += segS;
          prevSlot = u;
        }
        laneS[l] = t;
      }
      decodeS = 0;
      for (const t of laneS) if (t > decodeS) decodeS = t;
      for (let u = 0; u < U; u++) if (plans[u].busyS[1] > decodeS) decodeS = plans[u].busyS[1];
      if (pass === 0) {
        let bytes = 0;
        for (let u = 0; u < U; u++) bytes += plans[u].bytes[1];
        share = busShare(model.busBandwidthBytesPerS, bytes / decodeS);
        if (share === 1) break;
      }
    }
  }
  const durations = [prefillS, decodeS];
  const spanS = prefillS + decodeS;

  // Thermal and energy, phase by phase.
  const Z = model.zones.length;
  const rth = new Array<number>(Z * U);
  for (let z = 0; z < Z; z++) {
    const r = model.zones[z].rthKPerW;
    for (let u = 0; u < U; u++) rth[z * U + u] = r[model.unitIds[u]] ?? 0;
  }
  const ambient = new Array<number>(Z);
  const tempC = new Array<number>(Z);
  const peakC = new Array<number>(Z);
  const limitC = new Array<number>(Z);
  const ceilingC = new Array<number>(Z);
  const tripAtS = new Array<number>(Z).fill(Infinity);
  const heats = new Array<boolean>(Z).fill(false);
  for (let z = 0; z < Z; z++) {
    const zone = model.zones[z];
    ambient[z] = state.ambientC + zone.ambientOffsetK;
    tempC[z] = startTempsC[zone.id];
    peakC[z] = tempC[z];
    limitC[z] = zone.passiveTripC === undefined ? Infinity : zone.passiveTripC - model.thermalMarginC;
    ceilingC[z] = Math.max(zone.criticalTripC ?? DEFAULT_CEILING_C, tempC[z]);
  }
  const energyU = new Array<number>(U).fill(0);
  const meanTempWeighted = new Array<number>(Z).fill(0);
  const powerU = new Array<number>(U);
  const meanC = new Array<number>(Z);
  const steadyC = new Array<number>(Z);
  // Share of each phase a powered unit is switched on: all of it, unless it can be power-gated, then
  // its busy time (its work is spread evenly over the phase).
  const onShare = new Array<number>(2 * U);
  for (let phase = 0; phase < 2; phase++) {
    for (let u = 0; u < U; u++) {
      const D = durations[phase];
      const pl = plans[u];
      onShare[phase * U + u] = !pl.unit.powerGateable ? 1 : D > 0 ? Math.min(1, pl.busyS[phase] / D) : 0;
    }
  }
  let elapsedS = 0;
  for (let phase = 0; phase < 2; phase++) {
    const D = durations[phase];
    if (!(D > 0)) continue;
    for (let z = 0; z < Z; z++) meanC[z] = tempC[z];
    for (let pass = 0; pass < LEAKAGE_PASSES; pass++) {
      for (let u = 0; u < U; u++) {
        const pl = plans[u];
        if (!pl.powered) {
          powerU[u] = 0;
          continue;
        }
        const un = pl.unit;
        const dynJ = un.ceffF * pl.voltageV * pl.voltageV * pl.freqHz * pl.activeS[phase];
        powerU[u] = onShare[phase * U + u] * (un.idlePowerW +
              leakagePowerW(
                un.leakagePowerW,
                un.leakageKappaPerK,
                un.leakageRefTempC,
                meanC[pl.zone],
                pl.voltageRatio,
              )) +
          (dynJ + un.energyPerByteJ * pl.bytes[phase]) / D;
      }
      for (let z = 0; z < Z; z++) {
        let ss = ambient[z];
        for (let u = 0; u < U; u++) ss += rth[z * U + u] * powerU[u];
        steadyC[z] = ss < ceilingC[z] ? ss : ceilingC[z];
        meanC[z] = meanTransientC(tempC[z], steadyC[z], model.zones[z].tauS, D);
      }
    }
    for (let u = 0; u < U; u++) {
      const pl = plans[u];
      if (!pl.powered) continue;
      const un = pl.unit;
      const z = pl.zone;
      const leakSteadyW = leakagePowerW(
        un.leakagePowerW,
        un.leakageKappaPerK,
        un.leakageRefTempC,
        steadyC[z],
        pl.voltageRatio,
      );
      energyU[u] += onShare[phase * U + u] * (un.idlePowerW * D +
            leakageEnergyJ(leakSteadyW, un.leakageKappaPerK, tempC[z], steadyC[z], model.zones[z].tauS, D)) +
        un.ceffF * pl.voltageV * pl.voltageV * pl.freqHz * pl.activeS[phase] +
        un.energyPerByteJ * pl.bytes[phase];
    }
    for (let z = 0; z < Z; z++) {
      const tau = model.zones[z].tauS;
      if (steadyC[z] > tempC[z]) heats[z] = true;
      if (tripAtS[z] === Infinity && steadyC[z] > tempC[z]) {
        const t = timeToReachS(tempC[z], steadyC[z], tau, limitC[z]);
        if (t <= D) tripAtS[z] = elapsedS + t;
      }
      meanTempWeighted[z] += meanC[z] * D;
      tempC[z] = transientC(tempC[z], steadyC[z], tau, D);
      if (tempC[z] > peakC[z]) peakC[z] = tempC[z];
    }
    elapsedS += D;
  }

  const peakTempC: Record<string, number> = {};
  for (let z = 0; z < Z; z++) {
    const zone = model.zones[z];
    peakTempC[zone.id] = peakC[z];
    // A zone already over its limit that this job lets cool is not a violation.
    if (peakC[z] >= limitC[z] && heats[z]) {
      violations.push(
        `zone "${zone.id}" reaches ${
          limitC[z].toFixed(1)
        } °C (passive trip ${zone.passiveTripC} °C - margin ${model.thermalMarginC} K) after ${
          tripAtS[z].toFixed(1)
        } s, peaking at ${peakC[z].toFixed(1)} °C`,
      );
      amount += (peakC[z] - limitC[z]) / THERMAL_VIOLATION_SCALE_K + 1e-9;
    }
  }
  const latencyMs = spanS * 1000;
  if (job.sloMs !== undefined && latencyMs > job.sloMs) {
    violations.push(`latency ${latencyMs.toFixed(0)} ms exceeds the SLO of ${job.sloMs} ms`);
    amount += latencyMs / job.sloMs - 1;
  }

  let energyJ = model.basePowerW * spanS;
  let activeTotalS = 0;
  let available = 0;
  for (const id of state.healthyUnits) if (model.units[id] !== undefined) available++;
  const perUnit: Record<string, UnitPrediction> = {};
  for (let u = 0; u < U; u++) {
    const pl = plans[u];
    if (!pl.powered) continue;
    const un = pl.unit;
    energyJ += energyU[u];
    const busyS = pl.busyS[0] + pl.busyS[1];
    const activeS = pl.activeS[0] + pl.activeS[1];
    activeTotalS += activeS;
    const dynBusyW = busyS > 0 ? (un.ceffF * pl.voltageV * pl.voltageV * pl.freqHz * activeS) / busyS : 0;
    const meanJobC = spanS > 0 ? meanTempWeighted[pl.zone] / spanS : tempC[pl.zone];
    perUnit[model.unitIds[u]] = {
      busyMs: busyS * 1000,
      energyJ: energyU[u],
      dasi: busyS > 0 ? activeS / busyS : 0,
      cpq: pl.cpq,
      rho: pl.rho,
      phi: phiOf(
        dynBusyW,
        leakagePowerW(un.leakagePowerW, un.leakageKappaPerK, un.leakageRefTempC, meanJobC, pl.voltageRatio),
      ),
      powerW: spanS > 0 ? energyU[u] / spanS : 0,
      freqHz: pl.freqHz,
    };
  }
  return {
    energyJ,
    latencyMs,
    ttftMs: prefillS * 1000,
    underutilization: underutilization(activeTotalS, available, spanS),
    peakTempC,
    feasible: violations.length === 0,
    violations,
    constraintViolation: amount,
    perUnit,
  };
}
