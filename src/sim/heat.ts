/**
 * The thermal side of a simulated board: first-order RC nodes coupled through
 * per-unit thermal resistances, the temperature sensors that read them (with
 * a calibration offset, noise and quantisation), the step_wise governor over
 * every bound trip, fans that lower the thermal resistance, vendor
 * temperature caps on devfreq devices, and the shutdown conditions (critical
 * trips, the hardware's own limit).
 */
import type { Rng, ThermalZonePriors } from "../core/mod.ts";
import type { FrequencyDomain } from "./dvfs.ts";
import type { BoardLayout, HardwareShutdownSpec, ZoneSpec } from "./layout.ts";
import { rcStepC } from "./physics.ts";
import { coolingState, type InstanceState, NO_TARGET, stepWiseTarget, trendOf, tripCrossed } from "./thermal.ts";

/** Fan effect on every zone: R and tau divided by 1 + this x duty (official Pi 5 active cooler, estimate). */
const FAN_COOLING_GAIN = 1.5;
/** Half-width of the fixed calibration error of each temperature sensor, K. */
const SENSOR_OFFSET_C = 0.5;

interface RcNode {
  id: string;
  tauS: number;
  rthKPerW: Readonly<Record<string, number>>;
  tempC: number;
}

interface Sensor {
  spec: ZoneSpec;
  /** RC node the sensor reads; undefined for unreadable sensors and `max` zones. */
  node: RcNode | undefined;
  offsetC: number;
  previousC: number | undefined;
  crossed: boolean[];
  readingMilliC: number | undefined;
}

interface Instance extends InstanceState {
  zone: number;
  trip: number;
  cdev: number;
}

interface VendorCap {
  domain: FrequencyDomain;
  zone: number;
  tempC: number;
  hystC: number;
  maxFreqHz: number;
  active: boolean;
}

/** A sensor reading that calls for a shutdown. */
export interface ShutdownCrossing {
  /** `critical-trip`: the kernel's critical trip of the zone; `hardware`: the hardware's own limit. */
  kind: "critical-trip" | "hardware";
  /** Sysfs `type` of the zone whose sensor read it. */
  zoneType: string;
  /** The reading, °C. */
  tempC: number;
  /** The trip or limit it reached, °C. */
  limitC: number;
}

/** What the thermal model needs to be built. */
export interface ThermalModelInput {
  layout: BoardLayout;
  /** Profile's logical zone id -> sysfs `type` names. */
  profileZones: Readonly<Record<string, readonly string[]>>;
  /** Truth of the logical zones with RC priors. */
  zones: readonly ThermalZonePriors[];
  unitIds: readonly string[];
  /** The board's frequency domains, in layout order (cooling devices and caps act on them). */
  domains: readonly FrequencyDomain[];
  ambientC: number;
  /** Draws the sensors' calibration offsets. */
  offsets: Rng;
}

/** RC nodes, sensors and thermal governors of one board. */
export class ThermalModel {
  ambientC: number;
  readonly #layout: BoardLayout;
  readonly #nodes = new Map<string, RcNode>();
  readonly #sensors: Sensor[] = [];
  readonly #instances: Instance[] = [];
  readonly #cdevStates: number[];
  readonly #cdevDomains: (FrequencyDomain | undefined)[];
  readonly #caps: VendorCap[] = [];

  constructor(input: ThermalModelInput) {
    const { layout } = input;
    this.#layout = layout;
    this.ambientC = input.ambientC;
    for (const z of input.zones) {
      this.#nodes.set(z.id, { id: z.id, tauS: z.tauS, rthKPerW: { ...z.rthKPerW }, tempC: input.ambientC });
    }
    const logicalOf = (type: string): string | undefined =>
      Object.entries(input.profileZones).find(([, types]) => types.includes(type))?.[0];
    for (const spec of layout.zones) {
      this.#sensors.push({
        spec,
        node: this.#nodeFor(spec, logicalOf(spec.type), input.unitIds),
        offsetC: input.offsets.uniform(-SENSOR_OFFSET_C, SENSOR_OFFSET_C),
        previousC: undefined,
        crossed: spec.trips.map(() => false),
        readingMilliC: undefined,
      });
    }
    this.#cdevDomains = layout.cooling.map((c) => {
      if (c.kind !== "freq") return undefined;
      const domain = input.domains.find((d) => d.spec.name === c.domain);
      if (!domain) throw new Error(`layout ${layout.id}: cooling device ${c.type} names unknown domain ${c.domain}`);
      return domain;
    });
    this.#cdevStates = layout.cooling.map(() => 0);
    layout.zones.forEach((spec, zone) => {
      for (const b of spec.bindings) {
        const cdev = layout.cooling.findIndex((c) => c.type === b.cdev);
        if (cdev < 0) throw new Error(`layout ${layout.id}: zone ${spec.type} binds unknown cooling device ${b.cdev}`);
        const maxState = this.#maxState(cdev);
        this.#instances.push({
          zone,
          trip: b.trip,
          cdev,
          lower: b.lower ?? 0,
          upper: Math.min(b.upper ?? maxState, maxState),
          target: NO_TARGET,
          initialized: false,
        });
      }
    });
    for (const cap of layout.highTempCaps ?? []) {
      const domain = input.domains.find((d) => d.spec.name === cap.domain);
      const zone = layout.zones.findIndex((z) => z.type === cap.zoneType);
      if (!domain || zone < 0) throw new Error(`layout ${layout.id}: bad high-temperature cap on ${cap.domain}`);
      this.#caps.push({ domain, zone, tempC: cap.tempC, hystC: cap.hystC, maxFreqHz: cap.maxFreqHz, active: false });
    }
  }

  #nodeFor(spec: ZoneSpec, logical: string | undefined, unitIds: readonly string[]): RcNode | undefined {
    if (spec.source === "max") return undefined;
    if (logical !== undefined && this.#nodes.has(logical)) return this.#nodes.get(logical);
    if (spec.readable === false) return undefined;
    if (!spec.fallback) {
      throw new Error(`layout ${this.#layout.id}: no thermal priors for zone ${spec.type} and no fallback`);
    }
    const from = spec.fallback.from.map((id) => {
      const n = this.#nodes.get(id);
      if (!n) throw new Error(`layout ${this.#layout.id}: zone ${spec.type} derives from unknown zone ${id}`);
      return n;
    });
    const rthKPerW: Record<string, number> = {};
    for (const unitId of unitIds) {
      let sum = 0;
      for (const n of from) sum += n.rthKPerW[unitId] ?? 0;
      rthKPerW[unitId] = spec.fallback.rthScale * sum / from.length;
    }
    const node: RcNode = {
      id: logical ?? spec.type,
      tauS: from.reduce((s, n) => s + n.tauS, 0) / from.length,
      rthKPerW,
      tempC: this.ambientC,
    };
    this.#nodes.set(node.id, node);
    return node;
  }

  #maxState(cdev: number): number {
    const c = this.#layout.cooling[cdev];
    if (c.kind === "freq") return this.#cdevDomains[cdev]!.tableHz.length - 1;
    if (c.kind === "fan") return c.levels.length - 1;
    return c.maxState;
  }

  /** True when a logical zone has an RC node. */
  has(zoneId: string): boolean {
    return this.#nodes.has(zoneId);
  }

  /** Temperature of an RC node, °C. @throws RangeError for an unknown zone */
  tempC(zoneId: string): number {
    const node = this.#nodes.get(zoneId);
    if (!node) throw new RangeError(`no thermal zone "${zoneId}"`);
    return node.tempC;
  }

  /** Every RC node's temperature, °C. */
  temps(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of this.#nodes.values()) out[n.id] = n.tempC;
    return out;
  }

  /** Cooling device states, in layout order. */
  coolingStates(): number[] {
    return [...this.#cdevStates];
  }

  /** Sensor readings of the last sample, m°C per layout zone (undefined where unreadable). */
  readingsMilliC(): (number | undefined)[] {
    return this.#sensors.map((s) => s.readingMilliC);
  }

  /** R and tau multiplier of the fans' current duty. */
  #fanFactor(): number {
    let factor = 1;
    this.#layout.cooling.forEach((c, j) => {
      if (c.kind === "fan") factor = 1 / (1 + FAN_COOLING_GAIN * (c.levels[this.#cdevStates[j]] ?? 0) / 255);
    });
    return factor;
  }

  #steadyC(node: RcNode, powersW: ReadonlyMap<string, number>, fan: number): number {
    let rise = 0;
    for (const [unitId, powerW] of powersW) rise += (node.rthKPerW[unitId] ?? 0) * powerW;
    return this.ambientC + fan * rise;
  }

  /**
   * Puts every node at its steady state under the power `powerOf` gives for the
   * current temperatures (a fixed point: leakage grows with temperature). A
   * truth whose leakage outgrows its cooling has no such point: the iteration
   * would run away to Infinity, so no node goes above `ceilingC` (a board
   * that starts there powers off at its first step).
   */
  settle(powerOf: () => ReadonlyMap<string, number>, ceilingC = Number.POSITIVE_INFINITY, iterations = 40): void {
    const fan = this.#fanFactor();
    for (let i = 0; i < iterations; i++) {
      const powers = powerOf();
      for (const node of this.#nodes.values()) node.tempC = Math.min(this.#steadyC(node, powers, fan), ceilingC);
    }
  }

  /** Moves every node one exact RC step under constant unit powers (W) for `durationMs`. */
  step(powersW: ReadonlyMap<string, number>, durationMs: number): void {
    const fan = this.#fanFactor();
    for (const node of this.#nodes.values()) {
      node.tempC = rcStepC(node.tempC, this.#steadyC(node, powersW, fan), durationMs, node.tauS * fan);
    }
  }

  /** Reads every sensor: node + offset + noise, quantised; `max` zones take the hottest other reading. */
  sample(gauss: (sigma: number) => number): void {
    for (const s of this.#sensors) {
      if (s.spec.readable === false || s.node === undefined) {
        s.readingMilliC = undefined;
        continue;
      }
      const tempC = s.node.tempC + s.offsetC + gauss(s.spec.noiseC);
      const quantum = s.spec.quantumMC ?? 1;
      s.readingMilliC = Math.round(tempC * 1000 / quantum) * quantum;
    }
    for (const s of this.#sensors) {
      if (s.spec.source !== "max") continue;
      let max: number | undefined;
      for (const other of this.#sensors) {
        if (other.spec.source !== "max" && other.readingMilliC !== undefined) {
          max = max === undefined ? other.readingMilliC : Math.max(max, other.readingMilliC);
        }
      }
      s.readingMilliC = max;
    }
  }

  /**
   * The first reading of the last sample at or above a shutdown temperature:
   * a zone's critical trip (the kernel's check, `temp >= trip`, in layout
   * order), else the hardware's limit on any readable sensor of its own
   * (derived `max` zones excluded). Undefined when nothing calls for one.
   */
  shutdownCrossing(hardware: HardwareShutdownSpec | undefined): ShutdownCrossing | undefined {
    for (const s of this.#sensors) {
      if (s.readingMilliC === undefined) continue;
      const tempC = s.readingMilliC / 1000;
      for (const trip of s.spec.trips) {
        if (trip.type === "critical" && tempC >= trip.tempC) {
          return { kind: "critical-trip", zoneType: s.spec.type, tempC, limitC: trip.tempC };
        }
      }
    }
    if (hardware === undefined) return undefined;
    for (const s of this.#sensors) {
      if (s.readingMilliC === undefined || s.spec.source === "max") continue;
      const tempC = s.readingMilliC / 1000;
      if (tempC >= hardware.tempC) return { kind: "hardware", zoneType: s.spec.type, tempC, limitC: hardware.tempC };
    }
    return undefined;
  }

  /**
   * Forgets every governor's state, as a kernel that stops (and one that
   * boots) does: no trip crossed, no cooling state (fans stop), no cap on any
   * domain.
   */
  resetGovernors(): void {
    for (const s of this.#sensors) {
      s.previousC = undefined;
      s.crossed.fill(false);
    }
    for (const inst of this.#instances) {
      inst.target = NO_TARGET;
      inst.initialized = false;
    }
    this.#cdevStates.fill(0);
    for (const domain of this.#cdevDomains) if (domain) domain.coolCapHz = Number.POSITIVE_INFINITY;
    for (const cap of this.#caps) {
      cap.active = false;
      cap.domain.vendorCapHz = Number.POSITIVE_INFINITY;
    }
  }

  /**
   * One poll of the thermal governors on the last readings: step_wise on every
   * bound trip sets the cooling states and the caps of the cooled domains; the
   * vendor caps follow their zone with hysteresis.
   */
  govern(): void {
    this.#sensors.forEach((s, zi) => {
      if (s.readingMilliC === undefined) return;
      const tempC = s.readingMilliC / 1000;
      const trend = trendOf(s.previousC ?? tempC, tempC);
      s.previousC = tempC;
      s.spec.trips.forEach((trip, ti) => {
        s.crossed[ti] = tripCrossed(s.crossed[ti], tempC, trip.tempC, trip.hystC);
      });
      for (const inst of this.#instances) {
        if (inst.zone !== zi) continue;
        inst.target = stepWiseTarget(inst, this.#cdevStates[inst.cdev], s.crossed[inst.trip], trend);
        inst.initialized = true;
      }
    });
    this.#layout.cooling.forEach((c, j) => {
      if (c.kind === "inert") return;
      const targets = this.#instances.filter((i) => i.cdev === j).map((i) => i.target);
      const state = coolingState(targets, this.#maxState(j));
      this.#cdevStates[j] = state;
      const domain = this.#cdevDomains[j];
      if (domain) {
        domain.coolCapHz = state === 0 ? Number.POSITIVE_INFINITY : domain.tableHz[domain.tableHz.length - 1 - state];
      }
    });
    for (const cap of this.#caps) {
      const milliC = this.#sensors[cap.zone].readingMilliC;
      if (milliC === undefined) continue;
      cap.active = tripCrossed(cap.active, milliC / 1000, cap.tempC, cap.hystC);
      cap.domain.vendorCapHz = cap.active ? cap.maxFreqHz : Number.POSITIVE_INFINITY;
    }
  }
}
