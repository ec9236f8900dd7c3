/**
 * One frequency domain of a simulated board (a cpufreq policy or a devfreq
 * device): the knobs someone may write into the tree (governor, min, max,
 * userspace set point), kept as user space asked, apart from the caps the
 * thermal side imposes; what the knob files should show (the request under
 * the caps); the clock its governor picks, and the statistics the kernel
 * keeps.
 */
import type { DomainSpec } from "./layout.ts";
import type { DomainKnobPaths, DomainView } from "./tree.ts";
import type { TreeWriter } from "./writer.ts";

/** The knob part of a domain's view. */
export type KnobView = Pick<DomainView, "governor" | "minHz" | "maxHz" | "setspeedHz">;

/** The knob files of a domain. */
export type KnobName = "governor" | "min" | "max" | "setspeed";

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
  /** A knob file held someone else's value since the knobs were last shown (its text may need the kernel's form). */
  knobsTouched = false;
  /** The values the knob files showed when last shown. */
  #shown:
    | { governor: string; minHz: number; maxHz: number; setspeedHz: number; setspeedSet: boolean }
    | undefined;
  /** Step index at which each knob file was first read empty. */
  readonly #emptySince = new Map<KnobName, number>();

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

  /**
   * Back to the state a booting kernel gives the domain: the default
   * governor, the whole table as limits, no cap, the lowest clock, statistics
   * since boot at zero, the knob files to be shown afresh.
   */
  reset(): void {
    const table = this.tableHz;
    this.governor = this.spec.governor;
    this.userMinHz = table[0];
    this.userMaxHz = table[table.length - 1];
    this.setspeedHz = table[0];
    this.setspeedSet = false;
    this.coolCapHz = Number.POSITIVE_INFINITY;
    this.vendorCapHz = Number.POSITIVE_INFINITY;
    this.curHz = table[0];
    this.trueHz = table[0];
    this.timeInStateMs.fill(0);
    for (const row of this.transitions) row.fill(0);
    this.stepBusyMs = 0;
    this.knobsTouched = false;
    this.#shown = undefined;
    this.#emptySince.clear();
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
   * Reads the knob files and takes in what someone else wrote there, like the
   * kernel would (see `takeKnob()`), including a write of the very value the
   * file showed (a request equal to the capped value stays the request when
   * the cap goes) and writes that landed in inodes the board had replaced;
   * writes nothing. A value read is then known as the file's content: if the
   * kernel would show something else (a clamped, capped or refused value),
   * `knobsTouched` tells the board to show the knobs again. A file that reads
   * empty is a write under way (the writer's open truncated it) and is left
   * alone; one still empty at a later step was an empty write, which the
   * kernel refuses. `full` also reads the set point outside the userspace
   * governor (a write the kernel refuses; skipped on the per-execute path to
   * stay cheap).
   */
  takeKnobs(writer: TreeWriter, knobs: DomainKnobPaths, full: boolean, stepIndex: number): void {
    this.#takeFile(writer, knobs, "governor", stepIndex);
    this.#takeFile(writer, knobs, "min", stepIndex);
    this.#takeFile(writer, knobs, "max", stepIndex);
    if (full || this.governor === "userspace") this.#takeFile(writer, knobs, "setspeed", stepIndex);
  }

  #takeFile(writer: TreeWriter, knobs: DomainKnobPaths, which: KnobName, stepIndex: number): void {
    const rel = knobs[which];
    for (const late of writer.lateKnobWrites(rel)) {
      this.takeKnob(which, late, knobs.scale);
      this.knobsTouched = true;
    }
    const knob = writer.readKnob(rel);
    if (!knob?.foreign) {
      this.#emptySince.delete(which);
      return;
    }
    if (knob.text.trim() === "") {
      const since = this.#emptySince.get(which);
      if (since === undefined) this.#emptySince.set(which, stepIndex);
      if (since === undefined || since === stepIndex) return;
    }
    this.#emptySince.delete(which);
    writer.adopt(rel, knob.text, knob.mtimeMs);
    this.takeKnob(which, knob.text, knobs.scale);
    this.knobsTouched = true;
  }

  /**
   * Takes in a value someone wrote into one knob file, as the kernel would: a
   * governor the domain offers, a frequency clamped to the table's range, a
   * set point only under the userspace governor. False when the kernel would
   * refuse the write (the request stays as it was).
   * @param scale multiplier from Hz to the file's unit (1e-3 for cpufreq kHz)
   */
  takeKnob(which: KnobName, text: string, scale: number): boolean {
    const low = this.tableHz[0];
    const high = this.tableHz[this.tableHz.length - 1];
    if (which === "governor") {
      const name = text.trim();
      if (!this.spec.governors.includes(name)) return false;
      // Entering userspace keeps the current clock (cpufreq shows it as the set point, devfreq "undefined").
      if (name === "userspace" && this.governor !== "userspace") {
        this.setspeedHz = this.curHz;
        this.setspeedSet = false;
      }
      this.governor = name;
      return true;
    }
    const value = parseUnsigned(text);
    if (value === undefined) return false;
    const hz = Math.min(high, Math.max(low, value / scale));
    if (which === "min") this.userMinHz = hz;
    else if (which === "max") this.userMaxHz = hz;
    else if (this.governor !== "userspace") return false;
    else {
      this.setspeedHz = hz;
      this.setspeedSet = true;
    }
    return true;
  }

  /** True when the knob files may not show what the kernel would show now (a cap moved, a value was written). */
  knobsUnshown(): boolean {
    if (this.knobsTouched) return true;
    const shown = this.#shown;
    return shown === undefined || shown.governor !== this.governor || shown.minHz !== this.minHz ||
      shown.maxHz !== this.maxHz || shown.setspeedHz !== this.setspeedHz || shown.setspeedSet !== this.setspeedSet;
  }

  /** Records that the knob files show the current values. */
  markKnobsShown(): void {
    this.knobsTouched = false;
    this.#shown = {
      governor: this.governor,
      minHz: this.minHz,
      maxHz: this.maxHz,
      setspeedHz: this.setspeedHz,
      setspeedSet: this.setspeedSet,
    };
  }
}
