/**
 * Applying a placement's clocks through the HAL actuators: every unit the
 * placement uses is pinned (min = max) at the operating point the plan chose
 * (snapped to a frequency the kernel offers, and never above a thermal cap in
 * force); units it does not use are released to what discovery found, so
 * their own governor lets them idle low. Writes happen only when a unit's
 * setting changes. Because the service pins clocks itself, a unit's
 * `scaling_max_freq` no longer tells the kernel's cap apart from the
 * service's own setting: `capHz` does, by comparing it with what was written.
 */
import type { Logger } from "../core/mod.ts";
import type { Actuators, Board, Sample } from "../hal/mod.ts";
import type { BoardModel, Placement } from "../physics/mod.ts";

/** Options of `createDvfsController`. */
export interface DvfsOptions {
  board: Board;
  actuators: Actuators;
  /** The current model (for the operating points of a level). */
  model: () => BoardModel;
  /** @default no logging */
  logger?: Logger;
}

/** The DVFS side of the orchestrator. */
export interface DvfsController {
  /**
   * Pins the placement's units and releases the others; returns the clock each
   * used unit will run at, Hz. Actuator failures are logged and counted, never
   * thrown: a job runs at whatever clock the unit has.
   */
  apply(placement: Placement, sample: Sample | undefined): Promise<Record<string, number>>;
  /** Releases every unit the controller pinned. */
  releaseAll(): Promise<void>;
  /** The current frequency cap of a unit that is not the service's own setting (a thermal cap), Hz. */
  capHz(unitId: string, sample: Sample | undefined): number | undefined;
  /** Units pinned now, and their clocks, Hz. */
  pinned(): Record<string, number>;
  /** Actuator calls that failed so far. */
  readonly errors: number;
}

/** A read-back this close to what was written counts as equal (kHz rounding of cpufreq). */
const SAME_HZ = 1000;

class Controller implements DvfsController {
  readonly #o: DvfsOptions;
  readonly #pins = new Map<string, number>();
  /** The max each unit shows when the service's setting is in force and nothing caps it, Hz. */
  readonly #initialMaxHz = new Map<string, number>();
  #errors = 0;

  constructor(options: DvfsOptions) {
    this.#o = options;
    for (const unit of options.board.units) {
      let max: number | undefined;
      if (unit.freq.kind === "cpufreq") {
        for (const name of unit.freq.policies) {
          const p = options.board.cpufreq.find((x) => x.name === name);
          const m = p?.initial?.maxFreqHz ?? p?.hardwareMaxFreqHz;
          if (m !== undefined) max = max === undefined ? m : Math.min(max, m);
        }
      } else if (unit.freq.kind === "devfreq") {
        const name = unit.freq.device;
        max = options.board.devfreq.find((x) => x.name === name)?.initial?.maxFreqHz;
      }
      max ??= unit.availableFreqsHz.at(-1);
      if (max !== undefined) this.#initialMaxHz.set(unit.id, max);
    }
  }

  get errors(): number {
    return this.#errors;
  }

  pinned(): Record<string, number> {
    return Object.fromEntries(this.#pins);
  }

  capHz(unitId: string, sample: Sample | undefined): number | undefined {
    const reading = sample?.units[unitId]?.maxFreqHz;
    if (!reading?.ok) return undefined;
    const expected = this.#pins.get(unitId) ?? this.#initialMaxHz.get(unitId);
    if (expected === undefined) return undefined;
    return reading.value < expected - SAME_HZ ? reading.value : undefined;
  }

  async apply(placement: Placement, sample: Sample | undefined): Promise<Record<string, number>> {
    const model = this.#o.model();
    const used = new Set([placement.prefillUnit, ...placement.lanes.flatMap((l) => l.segments.map((s) => s.unitId))]);
    const running: Record<string, number> = {};
    for (const unitId of used) {
      const opps = model.units[unitId].opps;
      const level = placement.freqLevel[unitId] ?? opps.length - 1;
      let targetHz = opps[Math.min(opps.length - 1, Math.max(0, level))].freqHz;
      const cap = this.capHz(unitId, sample);
      if (cap !== undefined) targetHz = Math.min(targetHz, cap);
      const info = this.#o.board.units.find((u) => u.id === unitId);
      const offered = info?.availableFreqsHz ?? [];
      if (info === undefined || info.freq.kind === "none" || offered.length === 0) {
        // No knob: the unit runs at whatever its own governor picks; the plan's clock is the best guess.
        running[unitId] = targetHz;
        continue;
      }
      // The highest clock the kernel offers at or below the target (the lowest one when all are above).
      const snapped = [...offered].reverse().find((f) => f <= targetHz + SAME_HZ) ?? offered[0];
      running[unitId] = snapped;
      if (this.#pins.get(unitId) === snapped) continue;
      try {
        await this.#o.actuators.pinFrequency(unitId, snapped);
        this.#pins.set(unitId, snapped);
      } catch (error) {
        this.#errors++;
        this.#o.logger?.warn("cannot pin a unit's clock; it runs at its governor's choice", {
          unitId,
          freqHz: snapped,
          error,
        });
      }
    }
    for (const unitId of [...this.#pins.keys()]) {
      if (!used.has(unitId)) await this.#release(unitId);
    }
    return running;
  }

  async releaseAll(): Promise<void> {
    for (const unitId of [...this.#pins.keys()]) await this.#release(unitId);
  }

  async #release(unitId: string): Promise<void> {
    try {
      await this.#o.actuators.release(unitId);
    } catch (error) {
      this.#errors++;
      this.#o.logger?.warn("cannot release a unit's clock", { unitId, error });
    }
    this.#pins.delete(unitId);
  }
}

/** Creates the DVFS controller. */
export function createDvfsController(options: DvfsOptions): DvfsController {
  return new Controller(options);
}
