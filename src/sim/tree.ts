/**
 * The sysfs tree of a simulated board: where every file lives (class
 * directories are symlinks into /sys/devices like on the real kernel) and the
 * exact text format of each value (units, padding, trailing spaces, table
 * layouts) per boards.md. The board computes the values; this module only
 * places and formats them.
 */
import type { UnitPriors } from "../core/mod.ts";
import type { KnobName, KnobView } from "./dvfs.ts";
import type { BoardLayout, CpufreqSpec, DevfreqSpec, DomainSpec, ZoneSpec } from "./layout.ts";
import { relativeTarget, type TreeWriter } from "./writer.ts";

/** Root-relative locations of a simulated board's channels (class paths, as a reader would use them). */
export interface SimTreePaths {
  /** `sys/class/thermal/thermal_zoneN` per layout zone, with its `type`. */
  zones: readonly { type: string; path: string }[];
  /** `sys/class/thermal/cooling_deviceN` per cooling device. */
  cooling: readonly { type: string; path: string }[];
  /** `sys/devices/system/cpu/cpufreq/policyN` per policy. */
  cpufreq: readonly { name: string; unitId: string; path: string }[];
  /** `sys/class/devfreq/<name>` per devfreq device. */
  devfreq: readonly { name: string; unitId?: string; path: string }[];
  /** `sys/class/hwmon/hwmonN` per hwmon chip, with its `name`. */
  hwmon: readonly { name: string; path: string }[];
  /** Power channels: file(s) and what they measure. */
  power: readonly PowerChannelPath[];
  meminfo: string;
  procStat: string;
}

/** One power channel in the tree. */
export interface PowerChannelPath {
  label: string;
  /** Units measured (empty for a rail of the rest of the board). */
  units: readonly string[];
  /** Share of the board's base power in the channel. */
  baseShare: number;
  /**
   * `powerK_input` (µW), with the cumulative `energyK_input` (µJ) on the
   * simulated-only chip, or `inK_input` (mV) + `currK_input` (mA).
   */
  files: { powerMicroW: string; energyMicroJ?: string } | { voltageMv: string; currentMa: string };
}

/** Knob files of one frequency domain (real paths the simulator reads back). */
export interface DomainKnobPaths {
  governor: string;
  min: string;
  max: string;
  /** cpufreq `scaling_setspeed` or devfreq `userspace/set_freq`. */
  setspeed: string;
  /** Multiplier from Hz to the file's unit: 1e-3 for cpufreq kHz, 1 for devfreq Hz. */
  scale: number;
}

/** Values of one frequency domain at the end of a step. */
export interface DomainView {
  curHz: number;
  minHz: number;
  maxHz: number;
  governor: string;
  /**
   * Userspace set point, Hz; undefined unless the governor is userspace; null
   * while devfreq's userspace governor has no set point yet (`set_freq` reads
   * `undefined` until written).
   */
  setspeedHz: number | null | undefined;
  /** Time spent at each table frequency since creation, ms. */
  timeInStateMs: readonly number[];
  /** trans[from][to] counts of frequency changes. */
  transitions: readonly (readonly number[])[];
  /** Busy share of the last step, [0, 1]. */
  busy: number;
  /** Supply voltage now, V. */
  voltageV: number;
}

/** Sensor readings, already noisy and quantised in sysfs units, of one step. */
export interface StepView {
  timeMs: number;
  /** Length of the step these values cover, ms (0 for the initial tree). */
  stepMs: number;
  /** m°C per layout zone; undefined for unreadable sensors. */
  zonesMilliC: readonly (number | undefined)[];
  coolingStates: readonly number[];
  domains: readonly DomainView[];
  /** Busy share of the last step per unit id. */
  unitBusy: Readonly<Record<string, number>>;
  /** Cumulative busy and total time per CPU, ms. */
  cpuBusyMs: readonly number[];
  cpuTotalMs: number;
  /** Per power channel: µW, or mV and mA. */
  power: readonly ({ microW: number } | { mV: number; mA: number })[];
  memTotalBytes: number;
  memAvailableBytes: number;
  ambientC: number;
  /** Write the slow-changing files (statistics tables, meminfo, debug counters) this step. */
  slowFiles: boolean;
}

const THERMAL = "sys/devices/virtual/thermal";
const CPU = "sys/devices/system/cpu";

function kHz(hz: number): number {
  return Math.round(hz / 1000);
}

/** `%10lu`-style right alignment. */
function pad(value: number | string, width: number): string {
  return String(value).padStart(width);
}

/** Thousands separators, as galcore prints its counters. */
function thousands(value: number): string {
  return Math.round(value).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** devfreq `trans_stat` (drivers/devfreq/devfreq.c trans_stat_show). */
export function formatTransStat(tableHz: readonly number[], view: DomainView): string {
  const lines = ["     From  :   To", "           :" + tableHz.map((f) => pad(f, 10)).join("") + "   time(ms)"];
  let total = 0;
  tableHz.forEach((from, i) => {
    const mark = from === view.curHz ? "*" : " ";
    const counts = view.transitions[i].map((c) => pad(c, 10)).join("");
    for (const c of view.transitions[i]) total += c;
    lines.push(`${mark}${pad(from, 10)}:${counts}${pad(Math.round(view.timeInStateMs[i]), 10)}`);
  });
  lines.push(`Total transition : ${total}`);
  return lines.join("\n");
}

/** cpufreq `stats/time_in_state`: `<kHz> <USER_HZ ticks>` per line. */
export function formatTimeInState(tableHz: readonly number[], view: DomainView): string {
  return tableHz.map((f, i) => `${kHz(f)} ${Math.floor(view.timeInStateMs[i] / 10)}`).join("\n");
}

/** rknpu debugfs `load` (rknpu_debugger.c: `" Core%d: "` + `"%2.d%%,"` per core). */
export function formatRknpuLoad(percentPerCore: readonly number[]): string {
  if (percentPerCore.length === 1) return `NPU load: ${pad(percentPerCore[0], 2)}%`;
  return "NPU load: " + percentPerCore.map((p, i) => ` Core${i}: ${pad(p, 2)}%,`).join("");
}

/** `/proc/meminfo` line: the label padded to 16 columns, the value to 8, then ` kB`. */
function meminfoLine(label: string, bytes: number): string {
  return `${(label + ":").padEnd(16)}${pad(Math.floor(bytes / 1024), 8)} kB`;
}

/** The sysfs tree of one board: built once, then rewritten after every step. */
export class SimTree {
  readonly paths: SimTreePaths;
  /** Knob files per layout domain. */
  readonly knobs: readonly DomainKnobPaths[];
  readonly #writer: TreeWriter;
  readonly #layout: BoardLayout;
  readonly #tables: readonly (readonly number[])[];
  readonly #cpuCount: number;
  readonly #simPowerChip: string;
  readonly #buildSteps: (() => void)[] = [];
  readonly #stepWriters: ((view: StepView) => void)[] = [];
  readonly #counterFiles: string[] = [];

  /**
   * @param tables frequency table of each layout domain, Hz ascending
   * @param units the board's units, for rail labels
   * @param simPowerChip hwmon `name` of the simulated-only power rails (from the profile)
   */
  constructor(
    writer: TreeWriter,
    layout: BoardLayout,
    tables: readonly (readonly number[])[],
    units: readonly UnitPriors[],
    simPowerChip: string,
  ) {
    this.#writer = writer;
    this.#simPowerChip = simPowerChip;
    this.#layout = layout;
    this.#tables = tables;
    let maxCpu = -1;
    for (const d of layout.domains) if (d.kind === "cpufreq") maxCpu = Math.max(maxCpu, ...d.cpus);
    this.#cpuCount = maxCpu + 1;

    let hwmonIndex = 0;
    const hwmon: { name: string; path: string }[] = [];
    const addHwmon = (name: string, deviceDir: string, classTarget: string): string => {
      const index = hwmonIndex++;
      const dir = `${deviceDir}/hwmon${index}`;
      hwmon.push({ name, path: `sys/class/hwmon/hwmon${index}` });
      this.#build(() => {
        this.#writer.write(`${dir}/name`, name);
        this.#writer.symlink(`sys/class/hwmon/hwmon${index}`, `${classTarget}/hwmon${index}`);
      });
      return dir;
    };

    const zones = layout.zones.map((zone, i) => this.#addZone(zone, i, addHwmon));
    const cooling = layout.cooling.map((c, j) => this.#addCooling(c.type, j));
    const knobs: DomainKnobPaths[] = [];
    const cpufreq: { name: string; unitId: string; path: string }[] = [];
    const devfreq: { name: string; unitId?: string; path: string }[] = [];
    layout.domains.forEach((spec, k) => {
      if (spec.kind === "cpufreq") {
        knobs.push(this.#addCpufreq(spec, k));
        cpufreq.push({ name: spec.name, unitId: spec.unitId, path: `${CPU}/cpufreq/${spec.name}` });
      } else {
        knobs.push(this.#addDevfreq(spec, k));
        devfreq.push({ name: spec.name, unitId: spec.unitId, path: `sys/class/devfreq/${spec.name}` });
      }
    });
    this.knobs = knobs;
    this.#addCpus();
    this.#addExtras(addHwmon);
    const power = this.#addPower(units, addHwmon);
    this.#addIdentity();
    this.#addProc();
    this.paths = {
      zones,
      cooling,
      cpufreq,
      devfreq,
      hwmon,
      power,
      meminfo: "proc/meminfo",
      procStat: "proc/stat",
    };
  }

  /** Writes the static part of the tree (directories, symlinks, constant files); idempotent. */
  build(): void {
    for (const step of this.#buildSteps) step();
  }

  /** Writes the values of one step. */
  writeStep(view: StepView): void {
    for (const w of this.#stepWriters) w(view);
  }

  /** Number of energy counter files (one per power channel on the simulated-only chip, none otherwise). */
  get counterCount(): number {
    return this.#counterFiles.length;
  }

  /** Writes the energy counters (µJ, in power channel order). */
  writeCounters(microJ: ArrayLike<number>): void {
    for (let i = 0; i < this.#counterFiles.length; i++) this.#writer.write(this.#counterFiles[i], String(microJ[i]));
  }

  /**
   * The text of each knob file of domain `k` as the kernel would show `view`
   * (without the trailing newline), in the order they are shown.
   */
  knobTexts(k: number, view: KnobView): { which: KnobName; rel: string; text: string }[] {
    const spec = this.#layout.domains[k];
    const knobs = this.knobs[k];
    const texts: { which: KnobName; rel: string; text: string }[] = [
      { which: "governor", rel: knobs.governor, text: view.governor },
      { which: "min", rel: knobs.min, text: String(Math.round(view.minHz * knobs.scale)) },
      { which: "max", rel: knobs.max, text: String(Math.round(view.maxHz * knobs.scale)) },
    ];
    if (spec.kind === "cpufreq") {
      const text = view.setspeedHz === undefined || view.setspeedHz === null
        ? "<unsupported>"
        : String(Math.round(view.setspeedHz * knobs.scale));
      texts.push({ which: "setspeed", rel: knobs.setspeed, text });
    } else if (spec.governors.includes("userspace")) {
      // Deviation from the kernel, which creates userspace/set_freq only while the userspace
      // governor runs: the simulator notices a governor write at its next step or execute(), so
      // an actuator that selects userspace and writes the set point at once must find the file.
      // Outside userspace it reads "undefined" and writes to it are ignored.
      const text = view.setspeedHz === undefined || view.setspeedHz === null
        ? "undefined"
        : String(Math.round(view.setspeedHz));
      texts.push({ which: "setspeed", rel: knobs.setspeed, text });
    }
    return texts;
  }

  #build(step: () => void): void {
    this.#buildSteps.push(step);
  }

  #onStep(writer: (view: StepView) => void): void {
    this.#stepWriters.push(writer);
  }

  #addZone(
    zone: ZoneSpec,
    i: number,
    addHwmon: (name: string, deviceDir: string, classTarget: string) => string,
  ): { type: string; path: string } {
    const dir = `${THERMAL}/thermal_zone${i}`;
    const w = this.#writer;
    const cdevIndex = (type: string) => {
      const j = this.#layout.cooling.findIndex((c) => c.type === type);
      if (j < 0) throw new Error(`layout ${this.#layout.id}: zone ${zone.type} binds unknown cooling device ${type}`);
      return j;
    };
    const bindings = zone.bindings.map((b) => ({ ...b, j: cdevIndex(b.cdev) }));
    this.#build(() => {
      w.symlink(`sys/class/thermal/thermal_zone${i}`, `../../devices/virtual/thermal/thermal_zone${i}`);
      w.write(`${dir}/type`, zone.type);
      w.write(`${dir}/mode`, "enabled");
      w.write(`${dir}/policy`, zone.policy);
      w.write(`${dir}/available_policies`, "power_allocator user_space step_wise");
      zone.trips.forEach((t, k) => {
        w.write(`${dir}/trip_point_${k}_temp`, String(Math.round(t.tempC * 1000)));
        w.write(`${dir}/trip_point_${k}_type`, t.type);
        w.write(`${dir}/trip_point_${k}_hyst`, String(Math.round(t.hystC * 1000)));
      });
      bindings.forEach((b, m) => {
        w.symlink(`${dir}/cdev${m}`, `../cooling_device${b.j}`);
        w.write(`${dir}/cdev${m}_trip_point`, String(b.trip));
        w.write(`${dir}/cdev${m}_weight`, String(b.weight));
      });
    });
    const readable = zone.readable ?? true;
    this.#onStep((view) => {
      const milliC = view.zonesMilliC[i];
      if (!readable || milliC === undefined) {
        // EAGAIN cannot be reproduced by a plain file: an empty file nobody may read is closest.
        w.write(`${dir}/temp`, "", { raw: true, mode: 0o000 });
      } else {
        w.write(`${dir}/temp`, String(milliC));
      }
    });
    if (zone.hwmon) {
      const hdir = addHwmon(zone.hwmon, dir, `../../devices/virtual/thermal/thermal_zone${i}`);
      const critical = zone.trips.find((t) => t.type === "critical");
      if (critical && zone.hwmonCrit) {
        this.#build(() => w.write(`${hdir}/temp1_crit`, String(Math.round(critical.tempC * 1000))));
      }
      this.#onStep((view) => {
        const milliC = view.zonesMilliC[i];
        if (milliC !== undefined) w.write(`${hdir}/temp1_input`, String(milliC));
      });
    }
    return { type: zone.type, path: `sys/class/thermal/thermal_zone${i}` };
  }

  #addCooling(type: string, j: number): { type: string; path: string } {
    const dir = `${THERMAL}/cooling_device${j}`;
    const w = this.#writer;
    const spec = this.#layout.cooling[j];
    let maxState: number;
    if (spec.kind === "freq") {
      const k = this.#layout.domains.findIndex((d) => d.name === spec.domain);
      if (k < 0) throw new Error(`layout ${this.#layout.id}: cooling device ${type} names unknown domain`);
      maxState = this.#tables[k].length - 1;
    } else if (spec.kind === "fan") {
      maxState = spec.levels.length - 1;
    } else {
      maxState = spec.maxState;
    }
    this.#build(() => {
      w.symlink(`sys/class/thermal/cooling_device${j}`, `../../devices/virtual/thermal/cooling_device${j}`);
      w.write(`${dir}/type`, type);
      w.write(`${dir}/max_state`, String(maxState));
    });
    this.#onStep((view) => w.write(`${dir}/cur_state`, String(view.coolingStates[j])));
    return { type, path: `sys/class/thermal/cooling_device${j}` };
  }

  #addCpufreq(spec: CpufreqSpec, k: number): DomainKnobPaths {
    const dir = `${CPU}/cpufreq/${spec.name}`;
    const table = this.#tables[k];
    const w = this.#writer;
    this.#build(() => {
      w.write(`${dir}/affected_cpus`, spec.cpus.join(" "));
      w.write(`${dir}/related_cpus`, spec.cpus.join(" "));
      w.write(`${dir}/cpuinfo_min_freq`, String(kHz(table[0])));
      w.write(`${dir}/cpuinfo_max_freq`, String(kHz(table[table.length - 1])));
      w.write(`${dir}/cpuinfo_transition_latency`, String(spec.transitionLatencyNs));
      // cpufreq prints each entry followed by a space, then the newline.
      w.write(`${dir}/scaling_available_frequencies`, table.map((f) => `${kHz(f)} `).join(""));
      w.write(`${dir}/scaling_available_governors`, spec.governors.map((g) => `${g} `).join(""));
      w.write(`${dir}/scaling_driver`, spec.driver);
      for (const cpu of spec.cpus) w.symlink(`${CPU}/cpu${cpu}/cpufreq`, `../cpufreq/${spec.name}`);
    });
    this.#onStep((view) => {
      const d = view.domains[k];
      w.write(`${dir}/scaling_cur_freq`, String(kHz(d.curHz)));
      // Root-only on real boards.
      w.write(`${dir}/cpuinfo_cur_freq`, String(kHz(d.curHz)), { mode: 0o400 });
      if (view.slowFiles) {
        w.write(`${dir}/stats/time_in_state`, formatTimeInState(table, d));
        let total = 0;
        for (const row of d.transitions) for (const c of row) total += c;
        w.write(`${dir}/stats/total_trans`, String(total));
      }
    });
    return {
      governor: `${dir}/scaling_governor`,
      min: `${dir}/scaling_min_freq`,
      max: `${dir}/scaling_max_freq`,
      setspeed: `${dir}/scaling_setspeed`,
      scale: 1e-3,
    };
  }

  #addDevfreq(spec: DevfreqSpec, k: number): DomainKnobPaths {
    const deviceDir = `sys/devices/${spec.devicePath}`;
    const dir = `${deviceDir}/devfreq/${spec.name}`;
    const table = this.#tables[k];
    const w = this.#writer;
    const deviceBase = spec.devicePath.slice(spec.devicePath.lastIndexOf("/") + 1);
    this.#build(() => {
      w.symlink(`sys/class/devfreq/${spec.name}`, `../../devices/${spec.devicePath}/devfreq/${spec.name}`);
      w.symlink(`${dir}/device`, `../../../${deviceBase}`);
      w.write(`${dir}/name`, spec.name);
      w.write(`${dir}/available_governors`, spec.governors.join(" "));
      w.write(`${dir}/available_frequencies`, table.join(" "));
      w.write(`${dir}/polling_interval`, String(spec.pollingIntervalMs));
      w.write(`${dir}/timer`, "deferrable");
      for (const [name, text] of Object.entries(spec.extraFiles ?? {})) w.write(`${dir}/${name}`, text);
    });
    this.#onStep((view) => {
      const d = view.domains[k];
      w.write(`${dir}/cur_freq`, String(Math.round(d.curHz)));
      w.write(`${dir}/target_freq`, String(Math.round(d.curHz)));
      if (spec.loadFile === "busy") w.write(`${dir}/load`, `${Math.round(d.busy * 100)}@${Math.round(d.curHz)}Hz`);
      if (spec.loadFile === "always-100") w.write(`${dir}/load`, `100@${Math.round(d.curHz)}Hz`);
      if (view.slowFiles) w.write(`${dir}/trans_stat`, formatTransStat(table, d));
    });
    return {
      governor: `${dir}/governor`,
      min: `${dir}/min_freq`,
      max: `${dir}/max_freq`,
      setspeed: `${dir}/userspace/set_freq`,
      scale: 1,
    };
  }

  #addCpus(): void {
    const w = this.#writer;
    const range = `0-${this.#cpuCount - 1}`;
    this.#build(() => {
      w.write(`${CPU}/online`, range);
      w.write(`${CPU}/possible`, range);
      w.write(`${CPU}/present`, range);
    });
  }

  #addExtras(addHwmon: (name: string, deviceDir: string, classTarget: string) => string): void {
    const w = this.#writer;
    const domainOf = (unitId: string): number => {
      const k = this.#layout.domains.findIndex((d: DomainSpec) => d.unitId === unitId);
      return k;
    };
    for (const extra of this.#layout.extras) {
      switch (extra.kind) {
        case "rknpu": {
          const dir = "sys/kernel/debug/rknpu";
          const k = domainOf(extra.unitId);
          this.#build(() => {
            w.write(`${dir}/version`, `RKNPU driver: ${extra.version}`);
            w.write(`${dir}/delayms`, "2000");
          });
          this.#onStep((view) => {
            const percent = Math.min(100, Math.round((view.unitBusy[extra.unitId] ?? 0) * 100));
            w.write(`${dir}/load`, formatRknpuLoad(Array.from({ length: extra.cores }, () => percent)));
            if (k >= 0) {
              const d = view.domains[k];
              w.write(`${dir}/freq`, String(Math.round(d.curHz)));
              w.write(`${dir}/volt`, String(Math.round(d.voltageV * 1e6)));
            }
            w.write(`${dir}/power`, (view.unitBusy[extra.unitId] ?? 0) > 0 ? "on" : "off");
          });
          break;
        }
        case "permille-load": {
          this.#build(() => {
            for (const alias of extra.aliases) w.symlink(alias, relativeTarget(alias, extra.deviceDir));
          });
          this.#onStep((view) => {
            w.write(`${extra.deviceDir}/load`, String(Math.round((view.unitBusy[extra.unitId] ?? 0) * 1000)));
          });
          break;
        }
        case "galcore": {
          const dir = "sys/kernel/debug/gc";
          this.#build(() => {
            w.write(`${dir}/version`, "6.4.11.p2.745085");
            w.write(`${dir}/info`, `gpu      : ${extra.cores.map((c) => c.core).join(" ")}`);
          });
          this.#onStep((view) => {
            const blocks = extra.cores.map((c) => {
              const percent = c.unitId ? Math.round((view.unitBusy[c.unitId] ?? 0) * 100) : 0;
              return `core      : ${c.core}\nload      : ${percent}%\n`;
            });
            w.write(`${dir}/load`, blocks.join("\n") + "\n");
            let busy = 0;
            for (const c of extra.cores) if (c.unitId) busy = Math.max(busy, view.unitBusy[c.unitId] ?? 0);
            const stepNs = view.stepMs * 1e6;
            const onNs = busy * stepNs;
            w.write(
              `${dir}/idle`,
              [
                `On:      ${thousands(onNs).padStart(18)} ns`,
                `Off:     ${thousands(0).padStart(18)} ns`,
                `Idle:    ${thousands(stepNs - onNs).padStart(18)} ns`,
                `Suspend: ${thousands(0).padStart(18)} ns`,
              ].join("\n"),
            );
          });
          break;
        }
        case "v3d-stats": {
          this.#onStep((view) => {
            if (!view.slowFiles) return;
            const ns = Math.round(view.timeMs * 1e6);
            const queues = ["bin", "render", "tfu", "csd", "cache_clean", "cpu"];
            w.write(extra.path, ["queue timestamp jobs runtime", ...queues.map((q) => `${q} ${ns} 0 0`)].join("\n"));
          });
          break;
        }
        case "rpi-hwmon": {
          const adc = addHwmon(
            "rp1_adc",
            "sys/devices/platform/axi/1000120000.pcie/1f000c8000.adc/hwmon",
            "../../devices/platform/axi/1000120000.pcie/1f000c8000.adc/hwmon",
          );
          const fan = addHwmon(
            "pwmfan",
            "sys/devices/platform/cooling_fan/hwmon",
            "../../devices/platform/cooling_fan/hwmon",
          );
          const volt = addHwmon(
            "rpi_volt",
            "sys/devices/platform/soc/soc:firmware/raspberrypi-hwmon/hwmon",
            "../../devices/platform/soc/soc:firmware/raspberrypi-hwmon/hwmon",
          );
          const socZone = this.#layout.zones.findIndex((z) => z.type === extra.socZone);
          if (socZone < 0) throw new Error(`layout ${this.#layout.id}: rpi-hwmon names unknown zone ${extra.socZone}`);
          const fanIndex = this.#layout.cooling.findIndex((c) => c.kind === "fan");
          const fanSpec = this.#layout.cooling[fanIndex];
          this.#build(() => {
            ["1652", "0", "0", "0"].forEach((mv, i) => w.write(`${adc}/in${i + 1}_input`, mv));
            w.write(`${fan}/pwm1_enable`, "2");
            w.write(`${volt}/in0_lcrit_alarm`, "0");
          });
          this.#onStep((view) => {
            const cpuMilliC = view.zonesMilliC[socZone] ?? Math.round(view.ambientC * 1000);
            // The RP1 I/O die sits away from the SoC: ambient plus part of the SoC's rise.
            const rp1MilliC = Math.round(view.ambientC * 1000 + 0.4 * (cpuMilliC - view.ambientC * 1000) + 6000);
            w.write(`${adc}/temp1_input`, String(rp1MilliC));
            if (fanSpec && fanSpec.kind === "fan") {
              const pwm = fanSpec.levels[view.coolingStates[fanIndex]] ?? 0;
              w.write(`${fan}/pwm1`, String(pwm));
              w.write(`${fan}/fan1_input`, String(pwm === 0 ? 0 : Math.round(1500 + pwm / 255 * 7000)));
            }
          });
          break;
        }
        case "static": {
          this.#build(() => {
            for (const [rel, text] of Object.entries(extra.files)) {
              w.write(rel, text, text.endsWith("\0") ? { raw: true } : {});
            }
            for (const [rel, target] of Object.entries(extra.symlinks ?? {})) w.symlink(rel, target);
          });
          break;
        }
      }
    }
  }

  #addPower(
    units: readonly UnitPriors[],
    addHwmon: (name: string, deviceDir: string, classTarget: string) => string,
  ): PowerChannelPath[] {
    const w = this.#writer;
    const power = this.#layout.power;
    if (power.kind === "ina3221") {
      const deviceDir = `sys/devices/${power.devicePath}`;
      const hdir = addHwmon("ina3221", `${deviceDir}/hwmon`, `../../devices/${power.devicePath}/hwmon`);
      this.#build(() => {
        w.write(`${deviceDir}/name`, "ina3221");
        w.symlink(`${hdir}/device`, `../../../${power.i2cName}`);
        const busLink = `sys/bus/i2c/devices/${power.i2cName}`;
        w.symlink(busLink, relativeTarget(busLink, deviceDir));
        const driverLink = `sys/bus/i2c/drivers/ina3221/${power.i2cName}`;
        w.symlink(driverLink, relativeTarget(driverLink, deviceDir));
        power.channels.forEach((c, i) => {
          const n = i + 1;
          w.write(`${hdir}/in${n}_label`, c.label);
          w.write(`${hdir}/in${n}_enable`, "1");
          w.write(`${hdir}/shunt${n}_resistor`, String(power.shuntMicroOhm));
          w.write(`${hdir}/curr${n}_crit`, String(c.critMa));
          w.write(`${hdir}/curr${n}_max`, String(c.critMa));
          w.write(`${hdir}/curr${n}_crit_alarm`, "0");
          w.write(`${hdir}/curr${n}_max_alarm`, "0");
        });
        w.write(`${hdir}/in7_label`, "sum of shunt voltages");
        w.write(`${hdir}/samples`, "512");
        w.write(`${hdir}/update_interval`, "140");
      });
      this.#onStep((view) => {
        let sumUv = 0;
        power.channels.forEach((_, i) => {
          const reading = view.power[i];
          if (!("mV" in reading)) return;
          const n = i + 1;
          w.write(`${hdir}/in${n}_input`, String(reading.mV));
          w.write(`${hdir}/curr${n}_input`, String(reading.mA));
          // The shunt voltage channels in4-in6 (µV) belong to channels 1-3.
          const shuntUv = Math.round(reading.mA * power.shuntMicroOhm / 1000);
          sumUv += shuntUv;
          w.write(`${hdir}/in${n + 3}_input`, String(shuntUv));
        });
        w.write(`${hdir}/in7_input`, String(sumUv));
      });
      return power.channels.map((c, i) => ({
        label: c.label,
        units: c.units,
        baseShare: c.baseShare,
        files: { voltageMv: `${hdir}/in${i + 1}_input`, currentMa: `${hdir}/curr${i + 1}_input` },
      }));
    }
    // Simulated-only rails (no real chip): a virtual hwmon device, documented in the profile.
    const chip = this.#simPowerChip;
    const hdir = addHwmon(chip, "sys/devices/virtual/hwmon", "../../devices/virtual/hwmon");
    const labels = [...units.map((u) => u.id), "total"];
    this.#build(() => labels.forEach((label, i) => w.write(`${hdir}/power${i + 1}_label`, label)));
    this.#onStep((view) => {
      labels.forEach((_, i) => {
        const reading = view.power[i];
        if ("microW" in reading) w.write(`${hdir}/power${i + 1}_input`, String(reading.microW));
      });
    });
    // Cumulative counters, written at every publish (not only at step ends): see sensors.ts.
    labels.forEach((_, i) => this.#counterFiles.push(`${hdir}/energy${i + 1}_input`));
    return labels.map((label, i) => ({
      label,
      units: label === "total" ? units.map((u) => u.id) : [label],
      baseShare: label === "total" ? 1 : 0,
      files: { powerMicroW: `${hdir}/power${i + 1}_input`, energyMicroJ: `${hdir}/energy${i + 1}_input` },
    }));
  }

  #addIdentity(): void {
    const w = this.#writer;
    const dt = "sys/firmware/devicetree/base";
    this.#build(() => {
      // Device-tree properties: NUL-terminated strings, `compatible` a NUL-separated list.
      w.write(`${dt}/compatible`, this.#layout.compatible.map((c) => c + "\0").join(""), { raw: true });
      w.write(`${dt}/model`, this.#layout.model + "\0", { raw: true });
      w.write(`${dt}/name`, "\0", { raw: true });
      w.symlink("proc/device-tree", "../sys/firmware/devicetree/base");
    });
  }

  #addProc(): void {
    const w = this.#writer;
    this.#onStep((view) => {
      const ticks = (ms: number) => Math.floor(ms / 10);
      const lines: string[] = [];
      let busyAll = 0;
      let idleAll = 0;
      const perCpu = view.cpuBusyMs.map((busyMs, cpu) => {
        const idleMs = Math.max(0, view.cpuTotalMs - busyMs);
        busyAll += ticks(busyMs);
        idleAll += ticks(idleMs);
        return `cpu${cpu} ${ticks(busyMs)} 0 0 ${ticks(idleMs)} 0 0 0 0 0 0`;
      });
      lines.push(`cpu  ${busyAll} 0 0 ${idleAll} 0 0 0 0 0 0`, ...perCpu);
      lines.push("intr 0", "ctxt 0", "btime 1700000000", "processes 1", "procs_running 1", "procs_blocked 0");
      w.write("proc/stat", lines.join("\n"));
      if (view.slowFiles) {
        const total = view.memTotalBytes;
        const available = view.memAvailableBytes;
        const free = Math.max(0, available - 0.35 * (total - available));
        w.write(
          "proc/meminfo",
          [
            meminfoLine("MemTotal", total),
            meminfoLine("MemFree", free),
            meminfoLine("MemAvailable", available),
            meminfoLine("Buffers", 24 * 1024 * 1024),
            meminfoLine("Cached", Math.max(0, available - free - 24 * 1024 * 1024)),
            meminfoLine("SwapCached", 0),
            meminfoLine("SwapTotal", 0),
            meminfoLine("SwapFree", 0),
          ].join("\n"),
        );
      }
    });
  }
}
