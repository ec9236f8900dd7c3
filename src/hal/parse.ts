/**
 * Parsers of sysfs/procfs value text. Raw kernel units (m°C, kHz, mV, mA, µW,
 * µJ, kB, per-mille, percent) are converted to SI here, once; nothing outside
 * this file sees them. Each parser takes trimmed text and the path it came
 * from and returns a `Reading` whose failure reason names the file and what
 * was wrong with the text.
 */
import { fail, ok, type Reading } from "../core/mod.ts";

/** Shortens garbage for an error message. */
function quote(text: string): string {
  const oneLine = text.replace(/\s+/g, " ");
  return JSON.stringify(oneLine.length > 48 ? `${oneLine.slice(0, 45)}...` : oneLine);
}

/** A whole decimal integer (sysfs values never carry fractions or exponents). */
export function parseInteger(text: string, path: string, what: string): Reading<number> {
  if (!/^[-+]?\d+$/.test(text)) return fail(`${path}: expected an integer (${what}), got ${quote(text)}`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) return fail(`${path}: integer out of range (${what}): ${quote(text)}`);
  return ok(value);
}

/**
 * An integer in a raw unit converted to SI. Scaling down divides (41538 / 1000
 * is exactly 41.538, whereas 41538 * 0.001 is not).
 */
function scaled(
  text: string,
  path: string,
  what: string,
  toSi: (raw: number) => number,
  min?: number,
): Reading<number> {
  const n = parseInteger(text, path, what);
  if (!n.ok) return n;
  if (min !== undefined && n.value < min) return fail(`${path}: negative value ${n.value} (${what})`);
  return ok(toSi(n.value));
}

/** Millidegrees Celsius -> °C (thermal zone `temp`, trip points, hwmon `tempK_input`). May be negative. */
export function parseMilliCelsius(text: string, path: string): Reading<number> {
  return scaled(text, path, "m°C", (n) => n / 1e3);
}

/** kHz -> Hz (cpufreq). */
export function parseKiloHertz(text: string, path: string): Reading<number> {
  return scaled(text, path, "kHz", (n) => n * 1e3, 0);
}

/** Hz (devfreq). */
export function parseHertz(text: string, path: string): Reading<number> {
  return scaled(text, path, "Hz", (n) => n, 0);
}

/** mV -> V (hwmon `inK_input`). */
export function parseMilliVolts(text: string, path: string): Reading<number> {
  return scaled(text, path, "mV", (n) => n / 1e3);
}

/** mA -> A (hwmon `currK_input`); negative current is valid (reverse flow). */
export function parseMilliAmps(text: string, path: string): Reading<number> {
  return scaled(text, path, "mA", (n) => n / 1e3);
}

/** µW -> W (hwmon `powerK_input`). */
export function parseMicroWatts(text: string, path: string): Reading<number> {
  return scaled(text, path, "µW", (n) => n / 1e6, 0);
}

/** µJ -> J (hwmon `energyK_input`, powercap `energy_uj`, `max_energy_range_uj`). */
export function parseMicroJoules(text: string, path: string): Reading<number> {
  return scaled(text, path, "µJ", (n) => n / 1e6, 0);
}

/** A non-negative integer count (cooling device states). */
export function parseCount(text: string, path: string): Reading<number> {
  return scaled(text, path, "count", (n) => n, 0);
}

/** A space-separated frequency list in `unit` -> ascending Hz. */
export function parseFrequencyList(text: string, path: string, unit: "Hz" | "kHz"): Reading<number[]> {
  const factor = unit === "kHz" ? 1e3 : 1;
  const out: number[] = [];
  for (const token of text.split(/\s+/)) {
    const n = parseInteger(token, path, `${unit} list`);
    if (!n.ok) return n;
    if (n.value <= 0) return fail(`${path}: frequency ${n.value} ${unit} is not positive`);
    out.push(n.value * factor);
  }
  return ok([...new Set(out)].sort((a, b) => a - b));
}

/** A CPU list as the kernel prints it: `4 5`, `0-3`, or `0-3,6`. */
export function parseCpuList(text: string, path: string): Reading<number[]> {
  const cpus = new Set<number>();
  for (const token of text.split(/[\s,]+/)) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(token);
    if (!range) return fail(`${path}: expected a CPU list like "4 5" or "0-3", got ${quote(text)}`);
    const first = Number(range[1]);
    const last = range[2] === undefined ? first : Number(range[2]);
    if (last < first) return fail(`${path}: descending CPU range ${quote(token)}`);
    for (let cpu = first; cpu <= last; cpu++) cpus.add(cpu);
  }
  return ok([...cpus].sort((a, b) => a - b));
}

/** A space-separated word list (`available_governors`). */
export function parseWordList(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== "");
}

/** Memory figures from `/proc/meminfo`. */
export interface MemoryInfo {
  totalBytes: number;
  availableBytes: number;
}

/**
 * `/proc/meminfo` (`MemTotal:  8039936 kB`; the kernel's kB are KiB). Kernels
 * before 3.14 lack MemAvailable; then MemFree + Buffers + Cached stands in.
 */
export function parseMeminfo(text: string, path: string): Reading<MemoryInfo> {
  const fields = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?\s*$/.exec(line.trim());
    if (m) fields.set(m[1], Number(m[2]) * 1024);
  }
  const totalBytes = fields.get("MemTotal");
  if (totalBytes === undefined) return fail(`${path}: no MemTotal line`);
  let availableBytes = fields.get("MemAvailable");
  if (availableBytes === undefined) {
    const free = fields.get("MemFree");
    if (free === undefined) return fail(`${path}: neither MemAvailable nor MemFree present`);
    availableBytes = free + (fields.get("Buffers") ?? 0) + (fields.get("Cached") ?? 0);
  }
  if (availableBytes > totalBytes) {
    return fail(`${path}: MemAvailable ${availableBytes} B exceeds MemTotal ${totalBytes} B`);
  }
  return ok({ totalBytes, availableBytes });
}

/** A utilisation reading, 0..1, with the per-core figures when the source has several cores. */
export interface LoadValue {
  utilization: number;
  coreUtilizations?: number[];
}

/** Rockchip vendor devfreq `load`: `<percent>@<freq>Hz`, e.g. `42@1000000000Hz`. */
export function parseDevfreqLoad(text: string, path: string): Reading<LoadValue & { freqHz: number }> {
  const m = /^(\d+)@(\d+)Hz$/.exec(text);
  if (!m) return fail(`${path}: expected "<percent>@<freq>Hz", got ${quote(text)}`);
  const percent = Number(m[1]);
  if (percent > 100) return fail(`${path}: load ${percent}% is above 100%`);
  return ok({ utilization: percent / 100, freqHz: Number(m[2]) });
}

/** Jetson GPU `load`: per-mille busy, 0..1000 (`354` = 35.4 %). */
export function parsePermille(text: string, path: string): Reading<LoadValue> {
  const n = parseInteger(text, path, "per-mille");
  if (!n.ok) return n;
  if (n.value < 0 || n.value > 1000) return fail(`${path}: per-mille load ${n.value} outside 0..1000`);
  return ok({ utilization: n.value / 1000 });
}

/**
 * rknpu debugfs `load`: `NPU load:  Core0:  0%, Core1:  8%, Core2:  3%,` on
 * multi-core NPUs (utilisation = mean of the cores), `NPU load: 37%` on
 * single-core ones (rknpu_debugger.c).
 */
export function parseRknpuLoad(text: string, path: string): Reading<LoadValue> {
  if (!/^NPU load:/.test(text)) return fail(`${path}: expected "NPU load: ...", got ${quote(text)}`);
  const cores = [...text.matchAll(/Core(\d+):\s*(\d+)%/g)];
  if (cores.length > 0) {
    const values = cores.map((m) => Number(m[2]));
    if (values.some((v) => v > 100)) return fail(`${path}: core load above 100% in ${quote(text)}`);
    const coreUtilizations = values.map((v) => v / 100);
    const utilization = coreUtilizations.reduce((a, b) => a + b, 0) / coreUtilizations.length;
    return ok({ utilization, coreUtilizations });
  }
  const single = /^NPU load:\s*(\d+)%,?$/.exec(text);
  if (!single) return fail(`${path}: no "CoreN: x%" or "x%" in ${quote(text)}`);
  const percent = Number(single[1]);
  if (percent > 100) return fail(`${path}: load ${percent}% is above 100%`);
  return ok({ utilization: percent / 100 });
}

/**
 * Vivante galcore debugfs `load`: blocks of `core      : N` / `load      : x%`
 * (gc_hal_kernel_debugfs.c). Returns the utilisation of `core`.
 */
export function parseGalcoreLoad(text: string, path: string, core: number): Reading<LoadValue> {
  if (/doesn't support/i.test(text)) return fail(`${path}: the GPU cannot report load (${quote(text)})`);
  const blocks = [...text.matchAll(/core\s*:\s*(\d+)\s*\n\s*load\s*:\s*(\d+)%/g)];
  if (blocks.length === 0) return fail(`${path}: expected "core : N" / "load : x%" blocks, got ${quote(text)}`);
  const block = blocks.find((m) => Number(m[1]) === core);
  if (!block) {
    return fail(`${path}: no block for core ${core} (cores present: ${blocks.map((m) => m[1]).join(", ")})`);
  }
  const percent = Number(block[2]);
  if (percent > 100) return fail(`${path}: load ${percent}% is above 100%`);
  return ok({ utilization: percent / 100 });
}

/** Cumulative jiffies of one CPU from `/proc/stat`. */
export interface CpuTimes {
  busy: number;
  total: number;
}

/**
 * Per-CPU cumulative times from `/proc/stat` (`cpuN user nice system idle
 * iowait irq softirq steal ...`). Idle time is idle + iowait; guest time is
 * already inside user.
 */
export function parseProcStat(text: string, path: string): Reading<Map<number, CpuTimes>> {
  const cpus = new Map<number, CpuTimes>();
  for (const line of text.split("\n")) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const fields = m[2].trim().split(/\s+/).map(Number);
    if (fields.length < 4 || fields.some((f) => !Number.isFinite(f) || f < 0)) {
      return fail(`${path}: malformed line ${quote(line)}`);
    }
    const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    const busy = user + nice + system + irq + softirq + steal;
    cpus.set(Number(m[1]), { busy, total: busy + idle + iowait });
  }
  if (cpus.size === 0) return fail(`${path}: no "cpuN" lines`);
  return ok(cpus);
}

/** NUL-separated device-tree string list (`compatible`, `model`); empty entries dropped. */
export function parseDeviceTreeStrings(bytes: Uint8Array): string[] {
  return new TextDecoder().decode(bytes).split("\0").map((s) => s.trim()).filter((s) => s !== "");
}
