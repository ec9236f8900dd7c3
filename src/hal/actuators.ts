/**
 * DVFS actuators: governor and frequency limits of cpufreq policies and
 * devfreq devices, per compute unit. One writer per board; writes to one
 * device are serialised; every write is read back, and a value that does not
 * stick is an `ActuatorError` naming the file, the value asked for and the
 * value read. Read-only mode validates and records intents but never writes.
 */
import { ActuatorError } from "../core/mod.ts";
import { SysfsBoard } from "./board.ts";
import { describeFsError, readValue } from "./fs.ts";
import { parseCount, parseHertz, parseKiloHertz } from "./parse.ts";
import type { Board, KnobSnapshot } from "./types.ts";

/** Options of `createActuators()`. */
export interface ActuatorOptions {
  /** Validate and record every intent but never write a file. @default false */
  readOnly?: boolean;
}

/** One file write (or, read-only, the write that would have happened). */
export interface KnobWrite {
  path: string;
  /** Text written (kHz for cpufreq, Hz for devfreq, or a governor name). */
  value: string;
  /** What the file read back after the write; absent in read-only mode. */
  readBack?: string;
  /**
   * The frequency read back below the request because a thermal cooling
   * device bound to this knob is active: the kernel's cap, not a failed write.
   */
  cappedByThermal?: boolean;
}

/** What one actuator call did. */
export interface ActuatorRecord {
  unitId: string;
  action: "setGovernor" | "setMaxFreq" | "setMinFreq" | "pinFrequency" | "setSpeed" | "release";
  /** Governor name or frequency in Hz; absent for `release`. */
  value?: string | number;
  /** True when nothing was written (read-only mode). */
  dryRun: boolean;
  writes: KnobWrite[];
}

/** The DVFS knobs of a board's units. */
export interface Actuators extends AsyncDisposable {
  readonly readOnly: boolean;
  /** Every call so far, in order (in read-only mode: the intents). */
  readonly history: readonly ActuatorRecord[];
  /** Sets the unit's governor on each of its devices. @throws RangeError when the governor is not available */
  setGovernor(unitId: string, governor: string): Promise<ActuatorRecord>;
  /** Sets the upper frequency limit. @throws RangeError unless `freqHz` is an available frequency >= the current minimum */
  setMaxFreq(unitId: string, freqHz: number): Promise<ActuatorRecord>;
  /** Sets the lower frequency limit. @throws RangeError unless `freqHz` is an available frequency <= the current maximum */
  setMinFreq(unitId: string, freqHz: number): Promise<ActuatorRecord>;
  /**
   * Pins the clock by setting min = max = `freqHz` (in an order that never
   * crosses them). Unlike the userspace governor this works with every
   * governor and keeps the kernel's thermal cap in force.
   */
  pinFrequency(unitId: string, freqHz: number): Promise<ActuatorRecord>;
  /**
   * Writes the userspace governor's set point (cpufreq `scaling_setspeed`,
   * devfreq `userspace/set_freq`). The unit's governor must be `userspace`.
   */
  setSpeed(unitId: string, freqHz: number): Promise<ActuatorRecord>;
  /** Restores governor, min and max as discovery found them. */
  release(unitId: string): Promise<ActuatorRecord>;
}

/** A cpufreq policy or devfreq device as a set of knob files. */
interface Knob {
  /** Serialisation key: the device directory. */
  key: string;
  kind: "cpufreq" | "devfreq";
  governorPath: string;
  minPath: string;
  maxPath: string;
  setSpeedPath: string;
  availableFreqsHz: readonly number[];
  availableGovernors: readonly string[];
  /** When no frequency list exists (intel_pstate, some ARM drivers): the hardware range. */
  rangeHz?: { min: number; max: number };
  initial?: KnobSnapshot;
  coolingStatePath?: string;
}

function formatHz(freqHz: number): string {
  return freqHz >= 1e6 ? `${freqHz / 1e6} MHz` : `${freqHz} Hz`;
}

class SysfsActuators implements Actuators {
  readonly readOnly: boolean;
  readonly #board: Board;
  readonly #knobs = new Map<string, Knob[]>();
  readonly #locks = new Map<string, Promise<void>>();
  readonly #history: ActuatorRecord[] = [];
  readonly #claimed: boolean;
  readonly #touched = new Set<string>();
  #disposed = false;

  constructor(board: Board, readOnly: boolean, claimed: boolean) {
    this.#board = board;
    this.readOnly = readOnly;
    this.#claimed = claimed;
    const cooling = (type?: string) =>
      type === undefined ? undefined : board.coolingDevices.find((c) => c.type === type)?.path;
    for (const unit of board.units) {
      const knobs: Knob[] = [];
      if (unit.freq.kind === "cpufreq") {
        for (const name of unit.freq.policies) {
          const p = board.cpufreq.find((x) => x.name === name)!;
          const coolingPath = cooling(p.coolingDevice);
          knobs.push({
            key: p.path,
            kind: "cpufreq",
            governorPath: `${p.path}/scaling_governor`,
            minPath: `${p.path}/scaling_min_freq`,
            maxPath: `${p.path}/scaling_max_freq`,
            setSpeedPath: `${p.path}/scaling_setspeed`,
            availableFreqsHz: p.availableFreqsHz,
            availableGovernors: p.availableGovernors,
            ...(p.hardwareMinFreqHz !== undefined && p.hardwareMaxFreqHz !== undefined
              ? { rangeHz: { min: p.hardwareMinFreqHz, max: p.hardwareMaxFreqHz } }
              : {}),
            ...(p.initial ? { initial: p.initial } : {}),
            ...(coolingPath ? { coolingStatePath: `${coolingPath}/cur_state` } : {}),
          });
        }
      } else if (unit.freq.kind === "devfreq") {
        const name = unit.freq.device;
        const d = board.devfreq.find((x) => x.name === name)!;
        const coolingPath = cooling(d.coolingDevice);
        knobs.push({
          key: d.path,
          kind: "devfreq",
          governorPath: `${d.path}/governor`,
          minPath: `${d.path}/min_freq`,
          maxPath: `${d.path}/max_freq`,
          setSpeedPath: `${d.path}/userspace/set_freq`,
          availableFreqsHz: d.availableFreqsHz,
          availableGovernors: d.availableGovernors,
          ...(d.initial ? { initial: d.initial } : {}),
          ...(coolingPath ? { coolingStatePath: `${coolingPath}/cur_state` } : {}),
        });
      }
      this.#knobs.set(unit.id, knobs);
    }
  }

  get history(): readonly ActuatorRecord[] {
    return this.#history;
  }

  async setGovernor(unitId: string, governor: string): Promise<ActuatorRecord> {
    const knobs = this.#knobsOf(unitId);
    for (const k of knobs) {
      if (k.availableGovernors.length > 0 && !k.availableGovernors.includes(governor)) {
        throw new RangeError(
          `governor "${governor}" is not available for ${unitId} (${k.governorPath}); available: ${
            k.availableGovernors.join(", ")
          }`,
        );
      }
    }
    return await this.#run(unitId, "setGovernor", governor, knobs, async (k, rec) => {
      rec.writes.push(await this.#write(k.governorPath, governor, (text) => text === governor));
    });
  }

  async setMaxFreq(unitId: string, freqHz: number): Promise<ActuatorRecord> {
    const knobs = this.#knobsOf(unitId);
    for (const k of knobs) this.#checkFreq(unitId, k, freqHz);
    return await this.#run(unitId, "setMaxFreq", freqHz, knobs, async (k, rec) => {
      const minHz = await this.#readFreq(k, k.minPath);
      if (freqHz < minHz) {
        throw new RangeError(
          `cannot set the maximum of ${unitId} to ${formatHz(freqHz)}: below its minimum ${
            formatHz(minHz)
          } (${k.minPath}); lower the minimum first or use pinFrequency()`,
        );
      }
      await this.#writeFreq(rec, k, k.maxPath, freqHz);
    });
  }

  async setMinFreq(unitId: string, freqHz: number): Promise<ActuatorRecord> {
    const knobs = this.#knobsOf(unitId);
    for (const k of knobs) this.#checkFreq(unitId, k, freqHz);
    return await this.#run(unitId, "setMinFreq", freqHz, knobs, async (k, rec) => {
      const maxHz = await this.#readFreq(k, k.maxPath);
      if (freqHz > maxHz) {
        throw new RangeError(
          `cannot set the minimum of ${unitId} to ${formatHz(freqHz)}: above its maximum ${
            formatHz(maxHz)
          } (${k.maxPath}); raise the maximum first or use pinFrequency()`,
        );
      }
      await this.#writeFreq(rec, k, k.minPath, freqHz);
    });
  }

  async pinFrequency(unitId: string, freqHz: number): Promise<ActuatorRecord> {
    const knobs = this.#knobsOf(unitId);
    for (const k of knobs) this.#checkFreq(unitId, k, freqHz);
    return await this.#run(unitId, "pinFrequency", freqHz, knobs, (k, rec) => this.#writeRange(rec, k, freqHz, freqHz));
  }

  async setSpeed(unitId: string, freqHz: number): Promise<ActuatorRecord> {
    const knobs = this.#knobsOf(unitId);
    for (const k of knobs) this.#checkFreq(unitId, k, freqHz);
    return await this.#run(unitId, "setSpeed", freqHz, knobs, async (k, rec) => {
      const governor = await readValue(k.governorPath);
      if (!governor.ok) throw new ActuatorError(`cannot read ${k.governorPath}: ${governor.reason}`);
      if (governor.value !== "userspace") {
        throw new ActuatorError(
          `setSpeed(${unitId}) needs the userspace governor, but ${k.governorPath} is "${governor.value}"`,
          { details: { path: k.governorPath } },
        );
      }
      await this.#writeFreq(rec, k, k.setSpeedPath, freqHz);
    });
  }

  async release(unitId: string): Promise<ActuatorRecord> {
    const knobs = this.#knobsOf(unitId);
    for (const k of knobs) {
      if (!k.initial) {
        throw new ActuatorError(
          `cannot release ${unitId}: discovery could not snapshot ${k.key} (see board.warnings)`,
          { details: { path: k.key } },
        );
      }
    }
    return await this.#run(unitId, "release", undefined, knobs, async (k, rec) => {
      const initial = k.initial!;
      rec.writes.push(await this.#write(k.governorPath, initial.governor, (text) => text === initial.governor));
      await this.#writeRange(rec, k, initial.minFreqHz, initial.maxFreqHz);
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    try {
      // Leave the board as it was found: restore every unit this writer changed.
      for (const unitId of this.#touched) await this.release(unitId);
    } finally {
      if (this.#claimed && this.#board instanceof SysfsBoard) this.#board.releaseActuators();
    }
  }

  #knobsOf(unitId: string): Knob[] {
    if (this.#disposed && !this.#touched.has(unitId)) {
      throw new ActuatorError(`actuators were disposed; create new ones to change ${unitId}`);
    }
    const knobs = this.#knobs.get(unitId);
    if (!knobs) {
      throw new RangeError(`unknown unit "${unitId}"; units: ${[...this.#knobs.keys()].join(", ")}`);
    }
    if (knobs.length === 0) {
      const unit = this.#board.units.find((u) => u.id === unitId)!;
      const why = unit.freq.kind === "none" ? unit.freq.reason : "no knob";
      throw new ActuatorError(`unit ${unitId} has no DVFS knob: ${why}`);
    }
    return knobs;
  }

  #checkFreq(unitId: string, k: Knob, freqHz: number): void {
    if (!Number.isFinite(freqHz) || freqHz <= 0) {
      throw new RangeError(`frequency for ${unitId} must be a positive number of Hz, got ${freqHz}`);
    }
    if (k.availableFreqsHz.length > 0) {
      if (!k.availableFreqsHz.includes(freqHz)) {
        throw new RangeError(
          `${freqHz} Hz is not an available frequency of ${unitId} (${k.key}); available Hz: ${
            k.availableFreqsHz.join(", ")
          }`,
        );
      }
    } else if (k.rangeHz && (freqHz < k.rangeHz.min || freqHz > k.rangeHz.max)) {
      throw new RangeError(
        `${freqHz} Hz is outside the hardware range of ${unitId} (${k.key}): ${k.rangeHz.min}-${k.rangeHz.max} Hz`,
      );
    }
  }

  async #run(
    unitId: string,
    action: ActuatorRecord["action"],
    value: string | number | undefined,
    knobs: Knob[],
    perKnob: (k: Knob, rec: ActuatorRecord) => Promise<void>,
  ): Promise<ActuatorRecord> {
    const rec: ActuatorRecord = {
      unitId,
      action,
      ...(value !== undefined ? { value } : {}),
      dryRun: this.readOnly,
      writes: [],
    };
    await this.#withLocks(knobs.map((k) => k.key), async () => {
      for (const k of knobs) await perKnob(k, rec);
    });
    if (!this.readOnly && action !== "release") this.#touched.add(unitId);
    this.#history.push(rec);
    return rec;
  }

  /** Runs `fn` once every earlier operation on any of `keys` has finished (FIFO per device). */
  async #withLocks<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)];
    const earlier = unique.map((k) => this.#locks.get(k) ?? Promise.resolve());
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    for (const k of unique) this.#locks.set(k, finished);
    await Promise.all(earlier);
    try {
      return await fn();
    } finally {
      done();
      for (const k of unique) if (this.#locks.get(k) === finished) this.#locks.delete(k);
    }
  }

  /** Writes min and max in the order that never leaves min above max. */
  async #writeRange(rec: ActuatorRecord, k: Knob, minHz: number, maxHz: number): Promise<void> {
    const currentMaxHz = await this.#readFreq(k, k.maxPath);
    if (minHz > currentMaxHz) {
      await this.#writeFreq(rec, k, k.maxPath, maxHz);
      await this.#writeFreq(rec, k, k.minPath, minHz);
    } else {
      await this.#writeFreq(rec, k, k.minPath, minHz);
      await this.#writeFreq(rec, k, k.maxPath, maxHz);
    }
  }

  async #readFreq(k: Knob, path: string): Promise<number> {
    const text = await readValue(path);
    const hz = text.ok ? (k.kind === "cpufreq" ? parseKiloHertz : parseHertz)(text.value, path) : text;
    if (!hz.ok) throw new ActuatorError(`cannot read ${path}: ${hz.reason}`, { details: { path } });
    return hz.value;
  }

  async #writeFreq(rec: ActuatorRecord, k: Knob, path: string, freqHz: number): Promise<void> {
    // cpufreq speaks kHz, devfreq Hz: the conversion happens here and nowhere else.
    const raw = k.kind === "cpufreq" ? String(Math.round(freqHz / 1e3)) : String(freqHz);
    const write = await this.#write(path, raw, (text) => text === raw, async (text) => {
      // A lower read-back is the kernel's thermal cap when this knob's cooling device is active.
      if (!k.coolingStatePath || !/^\d+$/.test(text) || Number(text) >= Number(raw)) return false;
      const state = await readValue(k.coolingStatePath);
      const count = state.ok ? parseCount(state.value, k.coolingStatePath) : state;
      return count.ok && count.value > 0;
    });
    rec.writes.push(write);
  }

  /**
   * Writes `value` to `path` and reads it back; a read-back that neither
   * matches nor is explained by `cappedByThermal` is an ActuatorError.
   */
  async #write(
    path: string,
    value: string,
    matches: (readBack: string) => boolean,
    cappedByThermal?: (readBack: string) => Promise<boolean>,
  ): Promise<KnobWrite> {
    if (this.readOnly) return { path, value };
    try {
      // create: false: a sysfs attribute that is absent must not become a new regular file.
      await Deno.writeTextFile(path, `${value}\n`, { create: false });
    } catch (error) {
      throw new ActuatorError(`failed to write "${value}" to ${describeFsError(path, error)}`, {
        cause: error,
        details: { path, requested: value },
      });
    }
    const back = await readValue(path);
    if (!back.ok) {
      throw new ActuatorError(`wrote "${value}" to ${path} but cannot read it back: ${back.reason}`, {
        details: { path, requested: value },
      });
    }
    const write: KnobWrite = { path, value, readBack: back.value };
    if (matches(back.value)) return write;
    if (cappedByThermal && (await cappedByThermal(back.value))) return { ...write, cappedByThermal: true };
    // The cooling state is read after the knob: a cap released between the two reads shows a lowered
    // read-back with an idle cooling device. Read the knob once more before calling it a mismatch.
    const again = await readValue(path);
    if (again.ok && matches(again.value)) return { ...write, readBack: again.value };
    if (again.ok && cappedByThermal && (await cappedByThermal(again.value))) {
      return { ...write, readBack: again.value, cappedByThermal: true };
    }
    const last = again.ok ? again.value : back.value;
    throw new ActuatorError(`wrote "${value}" to ${path} but it reads back "${last}"`, {
      details: { path, requested: value, readBack: last },
    });
  }
}

/**
 * The DVFS actuators of `board`. A writable instance claims the board: only
 * one may exist at a time (dispose it to hand over); read-only instances are
 * unlimited. Disposing a writable instance restores every unit it changed.
 *
 * @throws ActuatorError when another writable instance holds the board.
 */
export function createActuators(board: Board, options: ActuatorOptions = {}): Actuators {
  const readOnly = options.readOnly ?? false;
  let claimed = false;
  if (!readOnly) {
    if (!(board instanceof SysfsBoard)) throw new TypeError("createActuators() needs a board from discoverBoard()");
    if (!board.claimActuators()) {
      throw new ActuatorError(`the knobs of ${board.root} already have a writer (one writer per actuator)`, {
        details: { path: board.root },
      });
    }
    claimed = true;
  }
  return new SysfsActuators(board, readOnly, claimed);
}
