/**
 * The reader of a discovered board: each `read()` opens only the files that
 * discovery found, all at once, and turns them into a `Sample` in SI units.
 * A bad channel becomes a failed reading in its place; nothing throws.
 */
import { type Clock, fail, ok, type Reading } from "../core/mod.ts";
import { type BoardProfile, SIM_POWER_CHIP } from "./profile.ts";
import { counterDeltaJ } from "./counter.ts";
import { readValue } from "./fs.ts";
import {
  type CpuTimes,
  type LoadValue,
  parseCount,
  parseDevfreqLoad,
  parseGalcoreLoad,
  parseHertz,
  parseKiloHertz,
  parseMeminfo,
  parseMicroJoules,
  parseMicroWatts,
  parseMilliAmps,
  parseMilliCelsius,
  parseMilliVolts,
  parsePermille,
  parseProcStat,
  parseRknpuLoad,
} from "./parse.ts";
import type {
  Board,
  CoolingDeviceInfo,
  CoolingDeviceSample,
  CpufreqPolicyInfo,
  CpufreqSample,
  DevfreqInfo,
  DevfreqSample,
  LoadSample,
  MemoryInfo,
  RailInfo,
  RailSample,
  Sample,
  ThermalZoneInfo,
  ThermalZoneSample,
  UnitInfo,
  UnitSample,
} from "./types.ts";

/** Everything discovery hands to the reader. */
export interface BoardLayout {
  profile: BoardProfile;
  model: string;
  compatible: readonly string[];
  root: string;
  units: readonly UnitInfo[];
  thermalZones: readonly ThermalZoneInfo[];
  coolingDevices: readonly CoolingDeviceInfo[];
  devfreq: readonly DevfreqInfo[];
  cpufreq: readonly CpufreqPolicyInfo[];
  rails: readonly RailInfo[];
  warnings: readonly string[];
  memoryPath: string;
  clock: Clock;
}

/** Reads each distinct path once per sample. */
class ReadBatch {
  #pending = new Map<string, Promise<Reading<string>>>();

  text(path: string): Promise<Reading<string>> {
    let p = this.#pending.get(path);
    if (!p) {
      p = readValue(path);
      this.#pending.set(path, p);
    }
    return p;
  }

  async parsed<T>(path: string, parse: (text: string, path: string) => Reading<T>): Promise<Reading<T>> {
    const text = await this.text(path);
    return text.ok ? parse(text.value, path) : text;
  }
}

/** All failure reasons of several readings, or `undefined` when every one is ok. */
function failures(...readings: Reading<unknown>[]): string | undefined {
  const reasons = readings.flatMap((r) => (r.ok ? [] : [r.reason]));
  return reasons.length > 0 ? reasons.join("; ") : undefined;
}

/**
 * Wrap ranges of hwmon `energyK_input` counters, µJ, per chip `name`. hwmon
 * states no range (most drivers keep 64 bits); a chip listed here wraps at
 * this value. `qeil_sim`: the simulated-only rails of qeil's simulated boards
 * count in a 32-bit register of 1 µJ (src/sim/sensors.ts).
 */
const HWMON_ENERGY_RANGE_MICROJ: ReadonlyMap<string, number> = new Map([[SIM_POWER_CHIP, 2 ** 32]]);

interface CounterState {
  energyJ: number;
  monotonicMs: number;
}

/** The `Board` implementation over a sysfs tree. */
export class SysfsBoard implements Board {
  readonly profile: BoardProfile;
  readonly model: string;
  readonly compatible: readonly string[];
  readonly root: string;
  readonly units: readonly UnitInfo[];
  readonly thermalZones: readonly ThermalZoneInfo[];
  readonly coolingDevices: readonly CoolingDeviceInfo[];
  readonly devfreq: readonly DevfreqInfo[];
  readonly cpufreq: readonly CpufreqPolicyInfo[];
  readonly rails: readonly RailInfo[];
  readonly warnings: readonly string[];
  readonly #memoryPath: string;
  readonly #clock: Clock;
  readonly #procStatPath: string | undefined;
  #previousCpuTimes: Map<number, CpuTimes> | undefined;
  #previousCpuReason = "no previous /proc/stat reading";
  readonly #counters = new Map<string, CounterState>();
  readonly #counterRangesJ = new Map<string, number>();
  #actuatorsClaimed = false;

  constructor(layout: BoardLayout) {
    this.profile = layout.profile;
    this.model = layout.model;
    this.compatible = layout.compatible;
    this.root = layout.root;
    this.units = layout.units;
    this.thermalZones = layout.thermalZones;
    this.coolingDevices = layout.coolingDevices;
    this.devfreq = layout.devfreq;
    this.cpufreq = layout.cpufreq;
    this.rails = layout.rails;
    this.warnings = layout.warnings;
    this.#memoryPath = layout.memoryPath;
    this.#clock = layout.clock;
    this.#procStatPath = layout.units.map((u) => u.load).find((l) => l.kind === "procstat")?.path;
  }

  /**
   * Takes the first readings of the delta channels (CPU times, energy
   * counters) and the counters' wrap ranges. Called once by discovery.
   */
  async prime(): Promise<void> {
    const now = this.#clock.monotonicMs();
    const batch = new ReadBatch();
    const jobs: Promise<void>[] = [];
    if (this.#procStatPath) {
      jobs.push(
        batch.parsed(this.#procStatPath, parseProcStat).then((times) => {
          if (times.ok) this.#previousCpuTimes = times.value;
          else this.#previousCpuReason = times.reason;
        }),
      );
    }
    for (const rail of this.rails) {
      const s = rail.strategy;
      const energyPath = s.energyPath;
      if (!energyPath) continue;
      jobs.push(
        batch.parsed(energyPath, parseMicroJoules).then((e) => {
          if (e.ok) this.#counters.set(rail.name, { energyJ: e.value, monotonicMs: now });
        }),
      );
      if (s.kind === "energy" && s.maxRangePath) {
        jobs.push(
          batch.parsed(s.maxRangePath, parseMicroJoules).then((r) => {
            if (r.ok) this.#counterRangesJ.set(rail.name, r.value);
          }),
        );
      } else if (rail.source === "hwmon" && HWMON_ENERGY_RANGE_MICROJ.has(rail.chip)) {
        this.#counterRangesJ.set(rail.name, HWMON_ENERGY_RANGE_MICROJ.get(rail.chip)! / 1e6);
      }
    }
    await Promise.all(jobs);
  }

  /**
   * Claims the right to write this board's knobs (one writer per actuator).
   * @internal used by `createActuators()`.
   */
  claimActuators(): boolean {
    if (this.#actuatorsClaimed) return false;
    this.#actuatorsClaimed = true;
    return true;
  }

  /** @internal releases the claim of `claimActuators()`. */
  releaseActuators(): void {
    this.#actuatorsClaimed = false;
  }

  async read(): Promise<Sample> {
    const timestampMs = this.#clock.nowMs();
    const monotonicMs = this.#clock.monotonicMs();
    const batch = new ReadBatch();
    const [thermal, coolingDevices, devfreq, cpufreq, power, memory, load] = await Promise.all([
      Promise.all(this.thermalZones.map((z) => this.#readZone(batch, z))),
      Promise.all(this.coolingDevices.map((c) => this.#readCoolingDevice(batch, c))),
      Promise.all(this.devfreq.map((d) => this.#readDevfreq(batch, d))),
      Promise.all(this.cpufreq.map((p) => this.#readPolicy(batch, p))),
      Promise.all(this.rails.map((r) => this.#readRail(batch, r, monotonicMs))),
      batch.parsed<MemoryInfo>(this.#memoryPath, parseMeminfo),
      this.#readLoads(batch),
    ]);
    const units: Record<string, UnitSample> = {};
    for (const unit of this.units) units[unit.id] = this.#unitView(unit, thermal, devfreq, cpufreq, load, power);
    const { totalPowerW, totalPowerRails } = this.#total(power);
    return {
      timestampMs,
      monotonicMs,
      thermal,
      coolingDevices,
      devfreq,
      cpufreq,
      power,
      load,
      memory,
      units,
      totalPowerW,
      totalPowerRails,
      throttled: coolingDevices.some((c) => c.passive && c.ok && c.curState > 0),
    };
  }

  async #readZone(batch: ReadBatch, zone: ThermalZoneInfo): Promise<ThermalZoneSample> {
    const tempC = await batch.parsed(`${zone.path}/temp`, parseMilliCelsius);
    const base = { name: zone.name, ...(zone.zone ? { zone: zone.zone } : {}), trips: zone.trips };
    return tempC.ok ? { ...base, ok: true, tempC: tempC.value } : { ...base, ok: false, reason: tempC.reason };
  }

  async #readCoolingDevice(batch: ReadBatch, cdev: CoolingDeviceInfo): Promise<CoolingDeviceSample> {
    const [cur, max] = await Promise.all([
      batch.parsed(`${cdev.path}/cur_state`, parseCount),
      batch.parsed(`${cdev.path}/max_state`, parseCount),
    ]);
    const base = { type: cdev.type, passive: cdev.passive };
    if (!cur.ok || !max.ok) return { ...base, ok: false, reason: failures(cur, max)! };
    return { ...base, ok: true, curState: cur.value, maxState: max.value };
  }

  async #readDevfreq(batch: ReadBatch, dev: DevfreqInfo): Promise<DevfreqSample> {
    const [cur, min, max, governor] = await Promise.all([
      batch.parsed(`${dev.path}/cur_freq`, parseHertz),
      batch.parsed(`${dev.path}/min_freq`, parseHertz),
      batch.parsed(`${dev.path}/max_freq`, parseHertz),
      batch.text(`${dev.path}/governor`),
    ]);
    const base = {
      name: dev.name,
      ...(dev.unitId ? { unitId: dev.unitId } : {}),
      availableFreqsHz: dev.availableFreqsHz,
    };
    if (!cur.ok || !min.ok || !max.ok || !governor.ok) {
      return { ...base, ok: false, reason: failures(cur, min, max, governor)! };
    }
    return {
      ...base,
      ok: true,
      curFreqHz: cur.value,
      minFreqHz: min.value,
      maxFreqHz: max.value,
      governor: governor.value,
    };
  }

  async #readPolicy(batch: ReadBatch, policy: CpufreqPolicyInfo): Promise<CpufreqSample> {
    const [cur, min, max, governor] = await Promise.all([
      batch.parsed(`${policy.path}/scaling_cur_freq`, parseKiloHertz),
      batch.parsed(`${policy.path}/scaling_min_freq`, parseKiloHertz),
      batch.parsed(`${policy.path}/scaling_max_freq`, parseKiloHertz),
      batch.text(`${policy.path}/scaling_governor`),
    ]);
    const base = {
      policy: policy.name,
      cpus: policy.cpus,
      ...(policy.unitId ? { unitId: policy.unitId } : {}),
      availableFreqsHz: policy.availableFreqsHz,
    };
    if (!cur.ok || !min.ok || !max.ok || !governor.ok) {
      return { ...base, ok: false, reason: failures(cur, min, max, governor)! };
    }
    return {
      ...base,
      ok: true,
      curFreqHz: cur.value,
      minFreqHz: min.value,
      maxFreqHz: max.value,
      governor: governor.value,
    };
  }

  async #readRail(batch: ReadBatch, rail: RailInfo, monotonicMs: number): Promise<RailSample> {
    const base = { name: rail.name, role: rail.role, ...(rail.unitId ? { unitId: rail.unitId } : {}) };
    const s = rail.strategy;
    const energyRead = s.energyPath ? batch.parsed(s.energyPath, parseMicroJoules) : undefined;
    const [energy, powerRead, voltageRead, currentRead] = await Promise.all([
      energyRead,
      s.kind === "power" ? batch.parsed(s.powerPath, parseMicroWatts) : undefined,
      s.kind !== "energy" && s.voltagePath ? batch.parsed(s.voltagePath, parseMilliVolts) : undefined,
      s.kind !== "energy" && s.currentPath ? batch.parsed(s.currentPath, parseMilliAmps) : undefined,
    ]);
    const rangeJ = this.#counterRangesJ.get(rail.name);
    const counter = energy?.ok
      ? { energyJ: energy.value, ...(rangeJ !== undefined ? { energyRangeJ: rangeJ } : {}) }
      : {};
    switch (s.kind) {
      case "power": {
        const [powerW, voltageV, currentA] = [powerRead!, voltageRead, currentRead];
        if (energy?.ok) this.#counters.set(rail.name, { energyJ: energy.value, monotonicMs });
        if (!powerW.ok) return { ...base, ok: false, reason: powerW.reason };
        return {
          ...base,
          ok: true,
          powerW: powerW.value,
          ...(voltageV?.ok ? { voltageV: voltageV.value } : {}),
          ...(currentA?.ok ? { currentA: currentA.value } : {}),
          ...counter,
        };
      }
      case "voltage-current": {
        const [voltageV, currentA] = [voltageRead!, currentRead!];
        if (energy?.ok) this.#counters.set(rail.name, { energyJ: energy.value, monotonicMs });
        if (!voltageV.ok || !currentA.ok) return { ...base, ok: false, reason: failures(voltageV, currentA)! };
        return {
          ...base,
          ok: true,
          // Both are whole mV and mA in sysfs: multiplying the integers keeps the product exact.
          powerW: Math.round(voltageV.value * 1e3) * Math.round(currentA.value * 1e3) / 1e6,
          voltageV: voltageV.value,
          currentA: currentA.value,
          ...counter,
        };
      }
      case "energy": {
        if (!energy!.ok) return { ...base, ok: false, reason: energy!.reason };
        const previous = this.#counters.get(rail.name);
        this.#counters.set(rail.name, { energyJ: energy!.value, monotonicMs });
        if (!previous) return { ...base, ok: false, reason: `${s.energyPath}: no previous counter reading yet` };
        const elapsedMs = monotonicMs - previous.monotonicMs;
        if (elapsedMs <= 0) {
          return { ...base, ok: false, reason: `${s.energyPath}: no time elapsed since the previous counter reading` };
        }
        const delta = counterDeltaJ(previous.energyJ, energy!.value, rangeJ);
        if (!delta.ok) return { ...base, ok: false, reason: `${s.energyPath}: ${delta.reason}` };
        return { ...base, ok: true, powerW: delta.value / (elapsedMs / 1000), ...counter };
      }
    }
  }

  async #readLoads(batch: ReadBatch): Promise<LoadSample[]> {
    let cpuTimes: Reading<Map<number, CpuTimes>> | undefined;
    if (this.#procStatPath) cpuTimes = await batch.parsed(this.#procStatPath, parseProcStat);
    const previous = this.#previousCpuTimes;
    const samples = await Promise.all(this.units.map(async (unit): Promise<LoadSample> => {
      const source = unit.load;
      if (source.kind === "none") return { unit: unit.id, ok: false, reason: source.reason };
      let value: Reading<LoadValue>;
      switch (source.kind) {
        case "procstat":
          value = cpuUtilization(source.path, source.cpus, previous, cpuTimes!, this.#previousCpuReason);
          break;
        case "devfreq-load":
          value = await batch.parsed(source.path, parseDevfreqLoad);
          break;
        case "permille":
          value = await batch.parsed(source.path, parsePermille);
          break;
        case "rknpu":
          value = await batch.parsed(source.path, parseRknpuLoad);
          break;
        case "galcore":
          value = await batch.parsed(source.path, (text, path) => parseGalcoreLoad(text, path, source.core));
          break;
      }
      if (!value.ok) return { unit: unit.id, source: source.path, ok: false, reason: value.reason };
      return {
        unit: unit.id,
        source: source.path,
        ok: true,
        utilization: value.value.utilization,
        ...(value.value.coreUtilizations ? { coreUtilizations: value.value.coreUtilizations } : {}),
      };
    }));
    if (cpuTimes?.ok) this.#previousCpuTimes = cpuTimes.value;
    else if (cpuTimes) this.#previousCpuReason = cpuTimes.reason;
    return samples;
  }

  #unitView(
    unit: UnitInfo,
    thermal: ThermalZoneSample[],
    devfreq: DevfreqSample[],
    cpufreq: CpufreqSample[],
    load: LoadSample[],
    power: RailSample[],
  ): UnitSample {
    return {
      tempC: this.#unitTemp(unit, thermal),
      ...unitFrequencies(unit, devfreq, cpufreq),
      utilization: (() => {
        const l = load.find((x) => x.unit === unit.id)!;
        return l.ok ? ok(l.utilization) : fail(l.reason);
      })(),
      powerW: (() => {
        if (!unit.rail) return fail(`no power rail measures ${unit.id} alone`);
        const r = power.find((x) => x.name === unit.rail)!;
        return r.ok ? ok(r.powerW) : fail(r.reason);
      })(),
    };
  }

  #unitTemp(unit: UnitInfo, thermal: ThermalZoneSample[]): Reading<number> {
    if (unit.thermalZones.length === 0) {
      const binding = this.profile.units.find((u) => u.id === unit.id);
      const types = binding?.zones.flatMap((z) => this.profile.zones[z] ?? []) ?? [];
      return fail(`no thermal zone of type ${types.join(" or ") || "(none in profile)"} found for ${unit.id}`);
    }
    const zones = thermal.filter((z) => unit.thermalZones.includes(z.name));
    const temps = zones.flatMap((z) => (z.ok ? [z.tempC] : []));
    if (temps.length > 0) return ok(Math.max(...temps));
    return fail(zones.map((z) => (z.ok ? "" : z.reason)).join("; "));
  }

  #total(power: RailSample[]): { totalPowerW: Reading<number>; totalPowerRails: string[] } {
    const input = power.find((r) => r.role === "input");
    if (input) {
      return { totalPowerW: input.ok ? ok(input.powerW) : fail(input.reason), totalPowerRails: [input.name] };
    }
    const unitRails = power.filter((r) => r.role === "unit");
    if (unitRails.length === 0) {
      return { totalPowerW: fail("no board input rail and no unit rails found"), totalPowerRails: [] };
    }
    const reason = failures(...unitRails.map((r) => (r.ok ? ok(r.powerW) : fail(r.reason))));
    return {
      totalPowerW: reason ? fail(reason) : ok(unitRails.reduce((s, r) => s + (r.ok ? r.powerW : 0), 0)),
      totalPowerRails: unitRails.map((r) => r.name),
    };
  }
}

function cpuUtilization(
  path: string,
  cpus: readonly number[],
  previous: Map<number, CpuTimes> | undefined,
  current: Reading<Map<number, CpuTimes>>,
  previousReason: string,
): Reading<LoadValue> {
  if (!current.ok) return current;
  if (!previous) return fail(`${path}: ${previousReason}`);
  let busy = 0;
  let total = 0;
  for (const cpu of cpus) {
    const now = current.value.get(cpu);
    const before = previous.get(cpu);
    // An offline CPU has no line; a counter that went backwards means a hotplug reset.
    if (!now || !before || now.total < before.total || now.busy < before.busy) continue;
    busy += now.busy - before.busy;
    total += now.total - before.total;
  }
  if (total <= 0) return fail(`${path}: no CPU time elapsed for cpus ${cpus.join(" ")} since the previous read`);
  return ok({ utilization: busy / total });
}

function unitFrequencies(
  unit: UnitInfo,
  devfreq: DevfreqSample[],
  cpufreq: CpufreqSample[],
): Pick<UnitSample, "curFreqHz" | "maxFreqHz"> {
  const source = unit.freq;
  switch (source.kind) {
    case "none":
      return { curFreqHz: fail(source.reason), maxFreqHz: fail(source.reason) };
    case "devfreq": {
      const d = devfreq.find((x) => x.name === source.device)!;
      return d.ok
        ? { curFreqHz: ok(d.curFreqHz), maxFreqHz: ok(d.maxFreqHz) }
        : { curFreqHz: fail(d.reason), maxFreqHz: fail(d.reason) };
    }
    case "cpufreq": {
      // Work spread over all the unit's cores runs at the pace of its slowest cluster.
      const policies = cpufreq.filter((p) => source.policies.includes(p.policy));
      const bad = policies.flatMap((p) => (p.ok ? [] : [p.reason]));
      if (bad.length > 0) return { curFreqHz: fail(bad.join("; ")), maxFreqHz: fail(bad.join("; ")) };
      const oks = policies.flatMap((p) => (p.ok ? [p] : []));
      return {
        curFreqHz: ok(Math.min(...oks.map((p) => p.curFreqHz))),
        maxFreqHz: ok(Math.min(...oks.map((p) => p.maxFreqHz))),
      };
    }
  }
}
