/**
 * `--inject-faults`: a seeded schedule of faults (a unit that fails, a unit
 * that hangs, a sensor that disappears), one query in a few, the same queries
 * and the same kinds of fault for every mode, injected into a simulated board
 * while the query runs (at the first physics step after it starts, so the
 * fault lands in the middle of its work) and cleared when it ends.
 *
 * The fault strikes at the end of the first physics step after the query
 * began in which a unit worked throughout (not while the board cools before
 * a job), and a unit fault strikes that unit: a fault on an idle unit would
 * test nothing, and which unit works differs by mode, so "the working unit
 * fails" is the fault every mode meets alike. A query whose work never fills
 * a step meets no fault (and the report counts none). A sensor loss removes
 * one thermal or power reading of the tree, the same one for every mode. What happens next is the service's business: re-plan around
 * the unit, stand in for the lost sensor; the harness checks that every query
 * is still answered.
 */
import { createRng } from "../core/mod.ts";
import type { SimBoard, SimFault, SimReadings } from "../sim/mod.ts";
import type { FaultArming, FaultInjector } from "./harness.ts";
import type { EvalQuery } from "./types.ts";

/** A fault of the schedule. */
export type ScheduledFault =
  /** The working unit's work rejects (a driver error). */
  | { kind: "unit-fail" }
  /** The working unit stops making progress until cleared (a hung job). */
  | { kind: "unit-hang" }
  /** A sensor file disappears until cleared. */
  | { kind: "sensor-loss"; sensor: string; path: string };

/** A sensor that can be lost. */
export interface FaultSensor {
  /** What it is (`thermal soc-thermal`, `rail VDD_IN current`). */
  label: string;
  /** Its file, relative to the board's root. */
  path: string;
}

/** Options of {@linkcode scheduleFaults}. */
export interface FaultScheduleOptions {
  seed: number;
  /** Sensors a sensor loss may remove (in turn, in a seeded order). */
  sensors: readonly FaultSensor[];
  /** One query in this many gets a fault. @default 3 */
  every?: number;
}

const KINDS = ["unit-fail", "unit-hang", "sensor-loss"] as const;

function shuffled<T>(items: readonly T[], rng: ReturnType<typeof createRng>): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * The fault of each query that gets one, by query id: every `every`-th query
 * from a seeded offset, the kinds in turn (unit failure, hang, sensor loss),
 * the sensors in a seeded order, in turn. Same seed and queries, same schedule.
 * @throws RangeError for `every` < 1 or no sensor to lose
 */
export function scheduleFaults(
  queryIds: readonly string[],
  options: FaultScheduleOptions,
): Map<string, ScheduledFault> {
  const every = options.every ?? 3;
  if (!Number.isInteger(every) || every < 1) throw new RangeError(`fault schedule: every must be >= 1, got ${every}`);
  if (options.sensors.length === 0) throw new RangeError("fault schedule: no sensor to lose");
  const rng = createRng(`faults/${options.seed}`);
  const offset = rng.int(every);
  const firstKind = rng.int(KINDS.length);
  const sensorOrder = shuffled(options.sensors, rng.fork("sensors"));
  const schedule = new Map<string, ScheduledFault>();
  let n = 0;
  let sensorTurn = 0;
  queryIds.forEach((id, position) => {
    if (position % every !== offset || schedule.has(id)) return;
    const kind = KINDS[(firstKind + n++) % KINDS.length];
    if (kind === "sensor-loss") {
      const s = sensorOrder[sensorTurn++ % sensorOrder.length];
      schedule.set(id, { kind, sensor: s.label, path: s.path });
    } else {
      schedule.set(id, { kind });
    }
  });
  return schedule;
}

/**
 * A fault in words: as scheduled (`unit-hang`, `sensor-loss thermal soc-thermal`), or with the unit it
 * struck (`unit-hang npu`).
 */
export function describeFault(fault: ScheduledFault, unitId?: string): string {
  if (fault.kind === "sensor-loss") return `sensor-loss ${fault.sensor}`;
  return unitId === undefined ? fault.kind : `${fault.kind} ${unitId}`;
}

/** Every thermal sensor and power reading of a simulated board's tree. */
export function simFaultSensors(sim: SimBoard): FaultSensor[] {
  const sensors: FaultSensor[] = sim.paths.zones.map((z) => ({ label: `thermal ${z.type}`, path: `${z.path}/temp` }));
  for (const channel of sim.paths.power) {
    const files = channel.files;
    sensors.push(
      "powerMicroW" in files
        ? { label: `rail ${channel.label} power`, path: files.powerMicroW }
        : { label: `rail ${channel.label} current`, path: files.currentMa },
    );
  }
  return sensors;
}

/** A unit busy for (nearly) the whole step that just ended: mid-work, it is likely to go on. */
const WORKING_SHARE = 0.99;

/** The unit that worked throughout the step that just ended (the busiest such), if one did. */
function workingUnit(readings: SimReadings): string | undefined {
  let best: string | undefined;
  let bestShare = WORKING_SHARE;
  for (const [unitId, share] of Object.entries(readings.unitBusy)) {
    if (share >= bestShare) {
      best = unitId;
      bestShare = share;
    }
  }
  return best;
}

/**
 * The harness's fault injector for a simulated board: arms the query's
 * scheduled fault to be injected at the board's next physics step (inside the
 * query's work) and clears it when the query settles.
 */
export function createSimFaultInjector(sim: SimBoard, schedule: ReadonlyMap<string, ScheduledFault>): FaultInjector {
  return {
    arm(query: EvalQuery): FaultArming {
      const planned = schedule.get(query.id);
      if (planned === undefined) return { disarm: () => Promise.resolve([]) };
      let injected: SimFault | undefined;
      // A step that ended before the query began (published late, when someone looks) is not the query's.
      const armedAtMs = sim.readings().timeMs;
      const off: () => void = sim.onStep(() => {
        if (injected) return;
        const readings = sim.readings();
        if (readings.timeMs <= armedAtMs) return;
        // Strike at the first step a unit worked throughout: the fault lands in the middle of the query's work.
        const unitId = workingUnit(readings);
        if (unitId === undefined) return;
        const fault: SimFault = planned.kind === "sensor-loss"
          ? { kind: "sensor-remove", path: planned.path }
          : { kind: planned.kind, unitId };
        injected = fault;
        sim.inject(fault);
        // Watching every step costs a tree write per step: stop once the fault is in.
        off();
      });
      let done: string[] | undefined;
      return {
        disarm: () => {
          if (done === undefined) {
            off();
            if (injected) sim.clear(injected);
            done = injected === undefined
              ? []
              : [describeFault(planned, "unitId" in injected ? injected.unitId : undefined)];
          }
          return Promise.resolve([...done]);
        },
      };
    },
  };
}
