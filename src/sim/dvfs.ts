/**
 * One frequency domain of a simulated board (a cpufreq policy or a devfreq
 * device): the knobs someone may write into the tree (governor, min, max,
 * userspace set point), the caps the thermal side imposes, the clock its
 * governor picks, and the statistics the kernel keeps.
 */
import type { DomainSpec } from "./layout.ts";
import type { DomainKnobPaths, DomainView } from "./tree.ts";
import type { TreeWriter } from "./writer.ts";

/** The knob part of a domain's view. */
export type KnobView = Pick<DomainView, "governor" | "minHz" | "maxHz" | "setspeedHz">;

/**
 * Highest table frequency <= target and >= min when there is one (the
 * kernel's CPUFREQ_RELATION_H), else the highest <= target, else the lowest.
 */
export function snapFrequency(tableHz: readonly number[], targetHz: number, minHz: number): number {
  let best: number | undefined;
  for (const f of tableHz) if (f <= targetHz + 0.5 && f >= minHz - 0.5) best = f;
  if (best !== undefined) return best;
  for (const f of tableHz) if (f <= targetHz + 0.5) best = f;
  return best ?? tableHz[0];
}

function parseUnsigned(text: string): number | undefined {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : undefined;
}

/** A frequency domain; the board owns one per layout domain. */
export class FrequencyDomain {
  readonly index: number;
  readonly spec: DomainSpec;
  readonly tableHz: readonly number[];
  /** Share of its unit's cores in this domain. */
  weight = 1;
  governor: string;
  userMinHz: number;
  userMaxHz: number;
  setspeedHz: number;
  /** devfreq userspace: false until someone writes `set_freq` (the clock stays where it was). */
  setspeedSet = false;
  /** Cap from the cooling device bound to this domain, Hz. */
  coolCapHz = Number.POSITIVE_INFINITY;
  /** Cap from a vendor driver's temperature rule, Hz. */
  vendorCapHz = Number.POSITIVE_INFINITY;
  /** Clock the kernel shows. */
  curHz: number;
  /** Clock the silicon runs (after firmware quirks). */
  trueHz: number;
  readonly timeInStateMs: number[];
  readonly transitions: number[][];
  /** Busy time of the domain's unit in the current step, ms. */
  stepBusyMs = 0;

  constructor(index: number, spec: DomainSpec, tableHz: readonly number[]) {
    if (tableHz.length === 0) throw new Error(`frequency domain ${spec.name} has no frequencies`);
    this.index = index;
    this.spec = spec;
    this.tableHz = tableHz;
    this.governor = spec.governor;
    this.userMinHz = tableHz[0];
    this.userMaxHz = tableHz[tableHz.length - 1];
    this.setspeedHz = tableHz[0];
    this.curHz = tableHz[0];
    this.trueHz = tableHz[0];
    this.timeInStateMs = tableHz.map(() => 0);
    this.transitions = tableHz.map(() => tableHz.map(() => 0));
  }

  /** Effective upper limit: the user's max under the thermal and vendor caps. */
  get maxHz(): number {
    return Math.min(this.userMaxHz, this.coolCapHz, this.vendorCapHz);
  }

  /** Effective lower limit (never above the effective max). */
  get minHz(): number {
    return Math.min(this.userMinHz, this.maxHz);
  }

  /** The knob values as the kernel would show them now. */
  knobView(): KnobView {
    let setspeedHz: number | null | undefined;
    if (this.governor !== "userspace") setspeedHz = undefined;
    else if (this.spec.kind === "devfreq" && !this.setspeedSet) setspeedHz = null;
    else setspeedHz = this.setspeedHz;
    return { governor: this.governor, minHz: this.minHz, maxHz: this.maxHz, setspeedHz };
  }

  /**
   * Picks the clock: performance -> max, powersave -> min, userspace -> the set
   * point, any other (load-based) governor -> max while `busy`, min while idle.
   * `silicon` maps the kernel's clock to what the chip really runs.
   */
  resolve(busy: boolean, silicon: (hz: number) => number): void {
    const maxHz = this.maxHz;
    const minHz = this.minHz;
    let targetHz: number;
    if (this.governor === "performance") targetHz = maxHz;
    else if (this.governor === "powersave") targetHz = minHz;
    else if (this.governor === "userspace") targetHz = Math.min(maxHz, Math.max(minHz, this.setspeedHz));
    else targetHz = busy ? maxHz : minHz;
    const hz = snapFrequency(this.tableHz, targetHz, minHz);
    if (hz !== this.curHz) {
      const from = this.tableHz.indexOf(this.curHz);
      const to = this.tableHz.indexOf(hz);
      if (from >= 0 && to >= 0) this.transitions[from][to]++;
      this.curHz = hz;
    }
    this.trueHz = silicon(hz);
  }

  /** Adds `durationMs` at the current clock (and of busy time when `busy`). */
  accumulate(durationMs: number, busy: boolean): void {
    const i = this.tableHz.indexOf(this.curHz);
    if (i >= 0) this.timeInStateMs[i] += durationMs;
    if (busy) this.stepBusyMs += durationMs;
  }

  /**
   * Applies what someone else wrote into the knob files, like the kernel would:
   * a known governor, a frequency clamped to the table range. Values the kernel
   * would refuse (unknown governor, not a number) are dropped and the file is
   * rewritten with the effective value. `full` also restores a set point
   * written outside the userspace governor (skipped on the per-execute path to
   * stay cheap). Returns true when a file held someone else's write; the
   * caller then rewrites the knob files with the effective values.
   */
  applyKnobs(writer: TreeWriter, knobs: DomainKnobPaths, full: boolean): boolean {
    let foreign = false;
    const low = this.tableHz[0];
    const high = this.tableHz[this.tableHz.length - 1];
    const clampHz = (hz: number) => Math.min(high, Math.max(low, hz));
    const governor = writer.readKnob(knobs.governor);
    if (governor?.foreign) {
      const name = governor.text.trim();
      if (this.spec.governors.includes(name)) {
        // Entering userspace keeps the current clock (cpufreq shows it as the set point, devfreq "undefined").
        if (name === "userspace" && this.governor !== "userspace") {
          this.setspeedHz = this.curHz;
          this.setspeedSet = false;
        }
        this.governor = name;
      }
      writer.invalidate(knobs.governor);
      foreign = true;
    }
    for (const which of ["min", "max"] as const) {
      const knob = writer.readKnob(knobs[which]);
      if (!knob?.foreign) continue;
      const value = parseUnsigned(knob.text);
      if (value !== undefined) {
        const hz = clampHz(value / knobs.scale);
        if (which === "min") this.userMinHz = hz;
        else this.userMaxHz = hz;
      }
      writer.invalidate(knobs[which]);
      foreign = true;
    }
    if (this.governor === "userspace") {
      const knob = writer.readKnob(knobs.setspeed);
      if (knob?.foreign) {
        const value = parseUnsigned(knob.text);
        if (value !== undefined) {
          this.setspeedHz = clampHz(value / knobs.scale);
          this.setspeedSet = true;
        }
        writer.invalidate(knobs.setspeed);
        foreign = true;
      }
    } else if (full) {
      // The kernel refuses a set point outside userspace: the file's text comes back.
      const knob = writer.readKnob(knobs.setspeed);
      if (knob?.foreign) {
        writer.invalidate(knobs.setspeed);
        foreign = true;
      }
    }
    return foreign;
  }
}
