/**
 * Board discovery: runs once, below a filesystem root, and finds every
 * channel by its `type`, `name` or label (never by `thermal_zoneN` /
 * `hwmonN` index, which change between boots). The profile's bindings say
 * which channels belong to which compute unit.
 */
import { type Clock, ConfigError, fail, type Reading, SensorUnavailableError, systemClock } from "../core/mod.ts";
import { baseName, joinPath, listDir, pathKind, readBytes, readValue, resolveUnderRoot } from "./fs.ts";
import {
  parseCpuList,
  parseDeviceTreeStrings,
  parseFrequencyList,
  parseHertz,
  parseInteger,
  parseKiloHertz,
  parseMilliCelsius,
  parseWordList,
} from "./parse.ts";
import type { BoardProfile, LoadBinding, RailBinding } from "./profile.ts";
import { detectProfile, getProfile, specialiseGeneric } from "./profiles/mod.ts";
import { SysfsBoard } from "./board.ts";
import type {
  Board,
  CoolingDeviceInfo,
  CpufreqPolicyInfo,
  DevfreqInfo,
  KnobSnapshot,
  RailInfo,
  RailStrategy,
  ThermalZoneInfo,
  TripPoint,
  UnitInfo,
  UnitLoadSource,
} from "./types.ts";

/** Options of `discoverBoard()`. */
export interface DiscoverOptions {
  /** Profile id that overrides device-tree detection. @default detected from `compatible` / `model` */
  profileId?: string;
  /** Source of sample timestamps and of the time base for energy-counter power. @default systemClock */
  clock?: Clock;
}

/** hwmon chips whose `inK`/`currK` pairs are a rail's bus voltage and current. */
const POWER_MONITOR_CHIPS = new Set([
  "ina209",
  "ina219",
  "ina220",
  "ina226",
  "ina230",
  "ina231",
  "ina238",
  "ina260",
  "ina3221",
]);

/**
 * Channels a chip reports that are not rails: INA3221 channels 4-7 are shunt
 * voltages and the shunt sum (`in4..in7`, `curr4` = summed current).
 */
const MAX_RAIL_CHANNEL: Record<string, number> = { ina3221: 3 };

/** INA labels that mark an unconnected channel (jtop skips them too). */
function isUnconnectedLabel(label: string): boolean {
  return /(^|[^A-Za-z])NC([^A-Za-z]|$)/.test(label) || /sum of shunt/i.test(label);
}

const CPUFREQ_DIR = "sys/devices/system/cpu/cpufreq";

interface Discovery {
  root: string;
  path(rel: string): string;
  warnings: string[];
}

function toAbsolute(root: string): string {
  if (root.startsWith("/")) return joinPath(root) || "/";
  return joinPath(Deno.cwd(), root);
}

async function readDeviceTree(d: Discovery): Promise<{ compatible: string[]; model: string }> {
  for (const base of ["proc/device-tree", "sys/firmware/devicetree/base"]) {
    const [compatible, model] = await Promise.all([
      readBytes(d.path(`${base}/compatible`)),
      readBytes(d.path(`${base}/model`)),
    ]);
    if (compatible.ok || model.ok) {
      return {
        compatible: compatible.ok ? parseDeviceTreeStrings(compatible.value) : [],
        model: model.ok ? (parseDeviceTreeStrings(model.value)[0] ?? "") : "",
      };
    }
  }
  return { compatible: [], model: "" };
}

/** Resolved directories of a class folder's entries that match `pattern`. */
async function classEntries(d: Discovery, classDir: string, pattern?: RegExp): Promise<[string, string][]> {
  const names = (await listDir(d.path(classDir))) ?? [];
  const picked = pattern ? names.filter((n) => pattern.test(n)) : names;
  return await Promise.all(
    picked.map(async (name) =>
      [name, await resolveUnderRoot(d.root, d.path(`${classDir}/${name}`))] as [string, string]
    ),
  );
}

/** Reads an optional value file: the text, or `undefined` with a warning when it exists but fails. */
async function optionalValue(d: Discovery, path: string, warn = true): Promise<string | undefined> {
  const r = await readValue(path);
  if (r.ok) return r.value;
  if (warn && !r.reason.endsWith("missing file")) d.warnings.push(r.reason);
  return undefined;
}

async function snapshot(
  d: Discovery,
  dir: string,
  names: { governor: string; min: string; max: string },
  unit: "Hz" | "kHz",
): Promise<KnobSnapshot | undefined> {
  const [governor, min, max] = await Promise.all([
    readValue(`${dir}/${names.governor}`),
    readValue(`${dir}/${names.min}`),
    readValue(`${dir}/${names.max}`),
  ]);
  const parse = unit === "Hz" ? parseHertz : parseKiloHertz;
  const minHz = min.ok ? parse(min.value, `${dir}/${names.min}`) : min;
  const maxHz = max.ok ? parse(max.value, `${dir}/${names.max}`) : max;
  if (!governor.ok || !minHz.ok || !maxHz.ok) {
    const why = [governor, minHz, maxHz].flatMap((r) => (r.ok ? [] : [r.reason]));
    d.warnings.push(`no knob snapshot for ${dir} (release() cannot restore it): ${why.join("; ")}`);
    return undefined;
  }
  return { governor: governor.value, minFreqHz: minHz.value, maxFreqHz: maxHz.value };
}

interface ThermalFound {
  zones: ThermalZoneInfo[];
  coolingDevices: CoolingDeviceInfo[];
}

async function discoverThermal(d: Discovery, profile: BoardProfile): Promise<ThermalFound> {
  const [zoneDirs, cdevDirs] = await Promise.all([
    classEntries(d, "sys/class/thermal", /^thermal_zone\d+$/),
    classEntries(d, "sys/class/thermal", /^cooling_device\d+$/),
  ]);
  const cdevs = await Promise.all(cdevDirs.map(async ([name, dir]) => {
    const type = await readValue(`${dir}/type`);
    if (!type.ok) d.warnings.push(type.reason);
    return { name, dir, type: type.ok ? type.value : name };
  }));
  const typeToZone = new Map<string, string>();
  for (const [zoneId, types] of Object.entries(profile.zones)) for (const t of types) typeToZone.set(t, zoneId);

  // cooling device dir name -> types of the trips it is bound to
  const boundTrips = new Map<string, Set<string>>();
  let anyBinding = false;
  const zones = await Promise.all(zoneDirs.map(async ([entry, dir]): Promise<ThermalZoneInfo> => {
    const [typeText, files, policy] = await Promise.all([
      readValue(`${dir}/type`),
      listDir(dir),
      optionalValue(d, `${dir}/policy`, false),
    ]);
    if (!typeText.ok) d.warnings.push(`${typeText.reason}; zone reported as ${entry}`);
    const name = typeText.ok ? typeText.value : entry;
    const tripIds = (files ?? []).flatMap((f) => {
      const m = /^trip_point_(\d+)_temp$/.exec(f);
      return m ? [Number(m[1])] : [];
    }).sort((a, b) => a - b);
    const tripsById = new Map<number, TripPoint>();
    await Promise.all(tripIds.map(async (id) => {
      const base = `${dir}/trip_point_${id}`;
      const [tempText, typeValue, hystText] = await Promise.all([
        readValue(`${base}_temp`),
        readValue(`${base}_type`),
        readValue(`${base}_hyst`),
      ]);
      const tempC = tempText.ok ? parseMilliCelsius(tempText.value, `${base}_temp`) : tempText;
      if (!tempC.ok || !typeValue.ok) {
        d.warnings.push(`trip ${id} of ${name} skipped: ${[tempC, typeValue].flatMap((r) => r.ok ? [] : [r.reason])}`);
        return;
      }
      const hystC = hystText.ok ? parseMilliCelsius(hystText.value, `${base}_hyst`) : undefined;
      tripsById.set(id, { type: typeValue.value, tempC: tempC.value, ...(hystC?.ok ? { hystC: hystC.value } : {}) });
    }));
    const links = (files ?? []).filter((f) => /^cdev\d+$/.test(f));
    await Promise.all(links.map(async (link) => {
      let target: string;
      try {
        target = await Deno.readLink(`${dir}/${link}`);
      } catch {
        return;
      }
      anyBinding = true;
      const tripText = await readValue(`${dir}/${link}_trip_point`);
      const tripIndex = tripText.ok
        ? parseInteger(tripText.value, `${dir}/${link}_trip_point`, "trip index")
        : tripText;
      const tripType = tripIndex.ok ? tripsById.get(tripIndex.value)?.type : undefined;
      const cdev = baseName(target);
      if (!boundTrips.has(cdev)) boundTrips.set(cdev, new Set());
      if (tripType) boundTrips.get(cdev)!.add(tripType);
    }));
    const zone = typeToZone.get(name);
    return {
      name,
      ...(zone ? { zone } : {}),
      path: dir,
      trips: tripIds.flatMap((id) => tripsById.has(id) ? [tripsById.get(id)!] : []),
      ...(policy ? { policy } : {}),
    };
  }));
  const coolingDevices = cdevs.map(({ name, dir, type }): CoolingDeviceInfo => ({
    type,
    path: dir,
    // Without binding links (some trees omit them), throttling devices are
    // recognised by their type: cpufreq/devfreq cooling is passive, fans are active.
    passive: anyBinding
      ? (boundTrips.get(name)?.has("passive") ?? false)
      : /^(thermal-)?(cpufreq|devfreq)|^Processor$/.test(type),
  }));
  return { zones, coolingDevices };
}

async function discoverDevfreq(d: Discovery, cdevTypes: Set<string>): Promise<DevfreqInfo[]> {
  const entries = await classEntries(d, "sys/class/devfreq");
  return await Promise.all(entries.map(async ([name, dir]): Promise<DevfreqInfo> => {
    const [available, governors, initial] = await Promise.all([
      readValue(`${dir}/available_frequencies`),
      readValue(`${dir}/available_governors`),
      snapshot(d, dir, { governor: "governor", min: "min_freq", max: "max_freq" }, "Hz"),
    ]);
    const freqs = available.ok ? parseFrequencyList(available.value, `${dir}/available_frequencies`, "Hz") : available;
    if (!freqs.ok) d.warnings.push(freqs.reason);
    if (!governors.ok) d.warnings.push(governors.reason);
    const cooling = [`devfreq-${name}`].find((t) => cdevTypes.has(t));
    return {
      name,
      path: dir,
      availableFreqsHz: freqs.ok ? freqs.value : [],
      availableGovernors: governors.ok ? parseWordList(governors.value) : [],
      ...(initial ? { initial } : {}),
      ...(cooling ? { coolingDevice: cooling } : {}),
    };
  }));
}

async function discoverCpufreq(d: Discovery, cdevTypes: Set<string>): Promise<CpufreqPolicyInfo[]> {
  const entries = await classEntries(d, CPUFREQ_DIR, /^policy\d+$/);
  const found = await Promise.all(entries.map(async ([name, dir]): Promise<CpufreqPolicyInfo | undefined> => {
    const [affected, related, available, governors, hwMin, hwMax, initial] = await Promise.all([
      readValue(`${dir}/affected_cpus`),
      readValue(`${dir}/related_cpus`),
      readValue(`${dir}/scaling_available_frequencies`),
      readValue(`${dir}/scaling_available_governors`),
      readValue(`${dir}/cpuinfo_min_freq`),
      readValue(`${dir}/cpuinfo_max_freq`),
      snapshot(d, dir, { governor: "scaling_governor", min: "scaling_min_freq", max: "scaling_max_freq" }, "kHz"),
    ]);
    const cpuText = affected.ok
      ? { text: affected.value, file: "affected_cpus" }
      : related.ok
      ? { text: related.value, file: "related_cpus" }
      : undefined;
    const cpus: Reading<number[]> = cpuText ? parseCpuList(cpuText.text, `${dir}/${cpuText.file}`) : fail(
      affected.ok ? "" : affected.reason,
    );
    if (!cpus.ok) {
      d.warnings.push(`${name} skipped: ${cpus.reason}`);
      return undefined;
    }
    const freqs = available.ok
      ? parseFrequencyList(available.value, `${dir}/scaling_available_frequencies`, "kHz")
      : available;
    // intel_pstate and some ARM drivers list no frequencies; min/max bound the knobs then.
    if (!freqs.ok && !freqs.reason.endsWith("missing file")) d.warnings.push(freqs.reason);
    const hwMinHz = hwMin.ok ? parseKiloHertz(hwMin.value, `${dir}/cpuinfo_min_freq`) : hwMin;
    const hwMaxHz = hwMax.ok ? parseKiloHertz(hwMax.value, `${dir}/cpuinfo_max_freq`) : hwMax;
    const cooling = [`cpufreq-cpu${cpus.value[0]}`].find((t) => cdevTypes.has(t));
    return {
      name,
      path: dir,
      cpus: cpus.value,
      availableFreqsHz: freqs.ok ? freqs.value : [],
      availableGovernors: governors.ok ? parseWordList(governors.value) : [],
      ...(hwMinHz.ok ? { hardwareMinFreqHz: hwMinHz.value } : {}),
      ...(hwMaxHz.ok ? { hardwareMaxFreqHz: hwMaxHz.value } : {}),
      ...(initial ? { initial } : {}),
      ...(cooling ? { coolingDevice: cooling } : {}),
    };
  }));
  return found.filter((p): p is CpufreqPolicyInfo => p !== undefined);
}

/** A rail channel before profile bindings give it a name and role. */
interface RawRail {
  source: "hwmon" | "powercap";
  chip: string;
  /** Stable disambiguator: the hwmon parent device (`1-0040`) or the powercap zone directory. */
  device: string;
  label?: string;
  channel?: number;
  strategy: RailStrategy;
}

async function discoverHwmonRails(d: Discovery, boundChips: Set<string>): Promise<RawRail[]> {
  const entries = await classEntries(d, "sys/class/hwmon");
  const perChip = await Promise.all(entries.map(async ([entry, dir]): Promise<RawRail[]> => {
    const [chipText, files] = await Promise.all([readValue(`${dir}/name`), listDir(dir)]);
    if (!chipText.ok) {
      d.warnings.push(`hwmon ${entry} skipped: ${chipText.reason}`);
      return [];
    }
    if (!files) return [];
    const chip = chipText.value;
    const monitor = POWER_MONITOR_CHIPS.has(chip) || boundChips.has(chip);
    const channels = new Map<number, Set<string>>();
    for (const f of files) {
      const m = /^(in|curr|power|energy)(\d+)_(input|average|label|enable)$/.exec(f);
      if (!m) continue;
      const k = Number(m[2]);
      if (!channels.has(k)) channels.set(k, new Set());
      channels.get(k)!.add(`${m[1]}_${m[3]}`);
    }
    let device = entry;
    try {
      device = baseName(await Deno.readLink(`${dir}/device`));
    } catch {
      // No parent device link: the hwmon entry name is the only handle.
    }
    const rails: RawRail[] = [];
    for (const [k, has] of [...channels].sort((a, b) => a[0] - b[0])) {
      const maxChannel = MAX_RAIL_CHANNEL[chip];
      if (maxChannel !== undefined && k > maxChannel) continue;
      const file = (kind: string, what: string) => `${dir}/${kind}${k}_${what}`;
      let label: string | undefined;
      for (const kind of ["in", "curr", "power", "energy"]) {
        if (label === undefined && has.has(`${kind}_label`)) label = await optionalValue(d, file(kind, "label"));
      }
      if (label !== undefined && isUnconnectedLabel(label)) continue;
      if (has.has("in_enable") && (await optionalValue(d, file("in", "enable"))) === "0") continue;
      const hasVI = monitor && has.has("in_input") && has.has("curr_input");
      const energyPath = has.has("energy_input") ? file("energy", "input") : undefined;
      let strategy: RailStrategy | undefined;
      if (has.has("power_input") || has.has("power_average")) {
        strategy = {
          kind: "power",
          powerPath: file("power", has.has("power_input") ? "input" : "average"),
          ...(hasVI ? { voltagePath: file("in", "input"), currentPath: file("curr", "input") } : {}),
          ...(energyPath ? { energyPath } : {}),
        };
      } else if (hasVI) {
        strategy = {
          kind: "voltage-current",
          voltagePath: file("in", "input"),
          currentPath: file("curr", "input"),
          ...(energyPath ? { energyPath } : {}),
        };
      } else if (energyPath) {
        strategy = { kind: "energy", energyPath };
      }
      if (strategy) {
        rails.push({ source: "hwmon", chip, device, channel: k, ...(label !== undefined ? { label } : {}), strategy });
      }
    }
    return rails;
  }));
  return perChip.flat();
}

async function discoverPowercapRails(d: Discovery): Promise<RawRail[]> {
  const entries = await classEntries(d, "sys/class/powercap");
  const rails = await Promise.all(entries.map(async ([entry, dir]): Promise<RawRail | undefined> => {
    if ((await pathKind(`${dir}/energy_uj`)) === "missing") return undefined;
    const name = (await optionalValue(d, `${dir}/name`)) ?? entry;
    const hasRange = (await pathKind(`${dir}/max_energy_range_uj`)) !== "missing";
    return {
      source: "powercap",
      chip: name,
      device: entry,
      strategy: {
        kind: "energy",
        energyPath: `${dir}/energy_uj`,
        ...(hasRange ? { maxRangePath: `${dir}/max_energy_range_uj` } : {}),
      },
    };
  }));
  return rails.filter((r): r is RawRail => r !== undefined);
}

function matchesBinding(raw: RawRail, binding: RailBinding): boolean {
  if (binding.source !== raw.source || !binding.chips.includes(raw.chip)) return false;
  if (binding.label !== undefined) return raw.label === binding.label;
  if (binding.channel !== undefined) return raw.channel === binding.channel;
  return true;
}

function nameRails(d: Discovery, raws: RawRail[], profile: BoardProfile): RailInfo[] {
  const rails: RailInfo[] = [];
  const used = new Set<string>();
  const claimed = new Set<RailBinding>();
  for (const raw of raws) {
    const binding = profile.rails.find((b) => !claimed.has(b) && matchesBinding(raw, b));
    let name = binding?.name ?? raw.label ??
      (raw.source === "powercap" ? raw.chip : `${raw.chip}:${raw.channel}`);
    if (used.has(name)) {
      const unique = `${name}@${raw.device}`;
      d.warnings.push(`two rails are named ${name}; the second is reported as ${unique}`);
      name = unique;
    }
    used.add(name);
    if (binding) claimed.add(binding);
    rails.push({
      name,
      role: binding?.role ?? "aux",
      ...(binding?.unitId ? { unitId: binding.unitId } : {}),
      source: raw.source,
      chip: raw.chip,
      ...(raw.label !== undefined ? { label: raw.label } : {}),
      ...(raw.channel !== undefined ? { channel: raw.channel } : {}),
      strategy: raw.strategy,
    });
  }
  return rails;
}

async function bindLoad(
  d: Discovery,
  bindings: readonly LoadBinding[],
  cpus: readonly number[],
  devfreq: DevfreqInfo | undefined,
): Promise<UnitLoadSource> {
  const tried: string[] = [];
  // A path counts as present when it exists or is only unreadable (debugfs is
  // root-only): then each read reports "permission denied" instead of hiding the channel.
  const present = async (path: string) => {
    tried.push(path);
    return (await pathKind(path)) !== "missing";
  };
  for (const binding of bindings) {
    switch (binding.kind) {
      case "procstat": {
        const path = d.path("proc/stat");
        if (cpus.length > 0 && await present(path)) return { kind: "procstat", path, cpus };
        break;
      }
      case "devfreq-load": {
        if (devfreq && await present(`${devfreq.path}/load`)) {
          return { kind: "devfreq-load", path: `${devfreq.path}/load` };
        }
        break;
      }
      case "permille": {
        const deviceDir = binding.devfreqDevice && devfreq
          ? await resolveUnderRoot(d.root, `${devfreq.path}/device`)
          : undefined;
        const candidates = [
          ...(deviceDir ? [`${deviceDir}/load`] : []),
          ...binding.paths.map((p) => d.path(p)),
        ];
        for (const path of candidates) if (await present(path)) return { kind: "permille", path };
        break;
      }
      case "rknpu": {
        for (const p of binding.paths) if (await present(d.path(p))) return { kind: "rknpu", path: d.path(p) };
        break;
      }
      case "galcore": {
        for (const p of binding.paths) {
          if (await present(d.path(p))) return { kind: "galcore", path: d.path(p), core: binding.core };
        }
        break;
      }
    }
  }
  return {
    kind: "none",
    reason: tried.length > 0 ? `no load source found (tried ${tried.join(", ")})` : "no load source in the profile",
  };
}

/**
 * Discovers the board below `root` (`/` on the board itself): device tree,
 * thermal zones and cooling devices, devfreq devices, cpufreq policies, hwmon
 * and powercap rails, load files and meminfo, and binds them to the profile's
 * units. Runs once; `Board.read()` then opens only the files found here.
 *
 * @throws ConfigError when `root` is not a directory or `profileId` is unknown.
 * @throws SensorUnavailableError when nothing at all is found below `root`.
 */
export async function discoverBoard(root: string, options: DiscoverOptions = {}): Promise<Board> {
  const absRoot = toAbsolute(root);
  if ((await pathKind(absRoot)) !== "dir") {
    throw new ConfigError(`sysfs root "${root}" is not a directory`, { details: { field: "root", path: root } });
  }
  const d: Discovery = { root: absRoot, path: (rel) => joinPath(absRoot, rel), warnings: [] };
  const dt = await readDeviceTree(d);
  let profile = options.profileId !== undefined
    ? getProfile(options.profileId)
    : detectProfile(dt.compatible, dt.model);

  const thermal = await discoverThermal(d, profile);
  const cdevTypes = new Set(thermal.coolingDevices.map((c) => c.type));
  const boundChips = new Set(profile.rails.filter((r) => r.source === "hwmon").flatMap((r) => r.chips));
  const [devfreq, cpufreq, hwmonRails, powercapRails] = await Promise.all([
    discoverDevfreq(d, cdevTypes),
    discoverCpufreq(d, cdevTypes),
    discoverHwmonRails(d, boundChips),
    discoverPowercapRails(d),
  ]);
  if (
    thermal.zones.length === 0 && devfreq.length === 0 && cpufreq.length === 0 &&
    hwmonRails.length === 0 && powercapRails.length === 0
  ) {
    throw new SensorUnavailableError(
      `found no sensors below "${root}": no thermal zones, devfreq devices, cpufreq policies or power rails`,
      { details: { path: absRoot } },
    );
  }
  if (profile.units.some((u) => u.freq.kind === "cpufreq-each")) {
    profile = specialiseGeneric(
      cpufreq.map((p) => ({ name: p.name, cpus: p.cpus, availableFreqsHz: p.availableFreqsHz })),
    );
  }
  const rails = nameRails(d, [...hwmonRails, ...powercapRails], profile);

  const units: UnitInfo[] = [];
  for (const binding of profile.units) {
    let freq: UnitInfo["freq"];
    let cpus: number[] = [];
    let device: DevfreqInfo | undefined;
    let availableFreqsHz: readonly number[] = [];
    let availableGovernors: readonly string[] = [];
    switch (binding.freq.kind) {
      case "cpufreq": {
        const wanted = new Set(binding.freq.cpus);
        const policies = cpufreq.filter((p) => p.cpus.length > 0 && p.cpus.every((c) => wanted.has(c)));
        for (const p of policies) p.unitId = binding.id;
        // Without a policy (no cpufreq driver) the CPUs still exist and /proc/stat still counts them.
        cpus = policies.length > 0 ? policies.flatMap((p) => [...p.cpus]) : [...binding.freq.cpus];
        freq = policies.length > 0
          ? { kind: "cpufreq", policies: policies.map((p) => p.name) }
          : { kind: "none", reason: `no cpufreq policy for cpus ${binding.freq.cpus.join(" ")}` };
        // A unit over several policies offers the frequencies all of them offer.
        availableFreqsHz = policies.length === 0
          ? []
          : policies[0].availableFreqsHz.filter((f) => policies.every((p) => p.availableFreqsHz.includes(f)));
        availableGovernors = policies.length === 0
          ? []
          : policies[0].availableGovernors.filter((g) => policies.every((p) => p.availableGovernors.includes(g)));
        break;
      }
      case "devfreq": {
        const names = binding.freq.devices;
        device = names.map((n) => devfreq.find((x) => x.name === n)).find((x) => x !== undefined);
        if (device) device.unitId = binding.id;
        freq = device
          ? { kind: "devfreq", device: device.name }
          : { kind: "none", reason: `no devfreq device ${names.join(" or ")}` };
        availableFreqsHz = device?.availableFreqsHz ?? [];
        availableGovernors = device?.availableGovernors ?? [];
        break;
      }
      case "none":
        freq = { kind: "none", reason: binding.freq.note };
        break;
      case "cpufreq-each":
        throw new TypeError(`profile ${profile.id}: unit ${binding.id} was not specialised`);
    }
    const zoneTypes = new Set(binding.zones.flatMap((z) => profile.zones[z] ?? []));
    const thermalZones = [...new Set(thermal.zones.filter((z) => zoneTypes.has(z.name)).map((z) => z.name))];
    const load = await bindLoad(d, binding.load, cpus, device);
    const unitRails = rails.filter((r) => r.role === "unit" && r.unitId === binding.id);
    if (unitRails.length > 1) {
      d.warnings.push(`unit ${binding.id} has ${unitRails.length} rails; none is taken as its power`);
    }
    const rail = unitRails.length === 1 ? unitRails[0].name : undefined;
    units.push({
      id: binding.id,
      kind: binding.kind,
      label: binding.label,
      availableFreqsHz,
      availableGovernors,
      freq,
      load,
      thermalZones,
      ...(rail ? { rail } : {}),
      channels: {
        freq: freq.kind !== "none",
        temp: thermalZones.length > 0,
        load: load.kind !== "none",
        power: !!rail,
      },
    });
  }

  const board = new SysfsBoard({
    profile,
    model: dt.model,
    compatible: dt.compatible,
    root: absRoot,
    units,
    thermalZones: thermal.zones,
    coolingDevices: thermal.coolingDevices,
    devfreq,
    cpufreq,
    rails,
    warnings: d.warnings,
    memoryPath: d.path("proc/meminfo"),
    clock: options.clock ?? systemClock,
  });
  // Baselines for the delta channels (/proc/stat, energy counters), so the
  // first read() already reports them.
  await board.prime();
  return board;
}
