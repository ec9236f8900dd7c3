/**
 * `qeil sim`: writes a simulated board's sysfs tree under a directory and
 * keeps it live in real time (optionally under a steady load per unit), so
 * `qeil probe --root DIR` or the service can read it like a real board.
 */
import { type Command, type CommandContext, type ParsedArgs, UsageError } from "./command.ts";
import { createSimBoard, runLoad, SIM_BOARD_IDS, type SimBoard, type SimReadings } from "../src/sim/mod.ts";

/** A parsed `--load UNIT=FRACTION`. */
interface LoadSpec {
  unitId: string;
  fraction: number;
}

function parseLoads(values: readonly string[]): LoadSpec[] {
  return values.map((value) => {
    const m = /^([A-Za-z0-9_]+)=([0-9]*\.?[0-9]+)$/.exec(value.trim());
    if (!m) throw new UsageError(`--load must look like UNIT=FRACTION (e.g. cpu_big=0.5), got "${value}"`);
    const fraction = Number(m[2]);
    if (!(fraction >= 0 && fraction <= 1)) {
      throw new UsageError(`--load ${m[1]}: FRACTION must be in [0, 1], got ${m[2]}`);
    }
    return { unitId: m[1], fraction };
  });
}

/** One status line: temperatures (°C), clocks (MHz), rail power (W). */
export function statusLine(readings: SimReadings): string {
  const seconds = (readings.timeMs / 1000).toFixed(0).padStart(4);
  const temps = readings.zones
    .filter((z) => z.tempC !== undefined)
    .map((z) => `${z.type.replace(/-thermal$/, "")} ${z.tempC!.toFixed(1)}`)
    .join(" ");
  const clocks = readings.domains
    .filter((d) => d.unitId !== undefined)
    .map((d) => `${d.unitId}/${d.name} ${(d.curFreqHz / 1e6).toFixed(0)}`)
    .join(" ");
  const busy = Object.entries(readings.unitBusy).map(([id, b]) => `${id} ${(b * 100).toFixed(0)}%`).join(" ");
  const rails = readings.rails.map((r) => `${r.label} ${r.powerW.toFixed(2)}`).join(" ");
  const throttled = readings.cooling.filter((c) => c.state > 0).map((c) => `${c.type}=${c.state}`).join(" ");
  return `t=${seconds}s | °C ${temps} | MHz ${clocks} | busy ${busy} | W ${rails}` +
    (throttled ? ` | cooling ${throttled}` : "") + "\n";
}

/** Resolves after `durationMs` on the board's clock, or when `signal` aborts (Ctrl-C), whichever is first. */
async function waitForEnd(sim: SimBoard, durationMs: number | undefined, signal: AbortSignal): Promise<void> {
  if (durationMs === undefined) {
    if (signal.aborted) return;
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    return;
  }
  try {
    await sim.clock.sleep(durationMs, signal);
  } catch (error) {
    // Ctrl-C ends the run early; that is a normal stop.
    if (!signal.aborted) throw error;
  }
}

export const simCommand: Command = {
  name: "sim",
  summary: "Write a simulated board's sysfs tree and keep it live in real time",
  usage: "--board BOARD --root DIR [--seed N] [--load UNIT=FRACTION ...] [--duration-s N] [--step-ms N]",
  description: `
Writes the sysfs tree of a simulated board (${SIM_BOARD_IDS.join(", ")}) under DIR
(DIR/sys, DIR/proc) with the real board's paths, names, units and formats, and updates it every
step until Ctrl-C or --duration-s: RC thermal zones, leakage, DVFS that obeys the tree's own
governor and min/max knobs, a step_wise thermal governor, power rails and loads. The physics is
the board profile's priors perturbed by --seed. Boards without a power sensor (rk3588,
raspberry-pi-5, imx8mp) get a simulated-only hwmon named qeil_sim: one powerK_input (µW) per
unit, powerK_label = the unit id, and a last channel labelled "total" (units + rest of the
board). DIR must be empty, missing, or a tree an earlier \`qeil sim\` wrote. Prints one status
line per second.`,
  options: {
    board: { type: "string", description: `Board to imitate: ${SIM_BOARD_IDS.join(", ")}.`, valueName: "BOARD" },
    root: { type: "string", description: "Directory to write the tree under (created if missing).", valueName: "DIR" },
    seed: {
      type: "string",
      description: "Seed of the hidden truth and the sensor noise.",
      default: "1",
      valueName: "N",
    },
    load: {
      type: "string",
      multiple: true,
      description: "Keep a unit busy this share of the time, e.g. cpu_big=0.5 (repeatable).",
      valueName: "UNIT=FRACTION",
    },
    "duration-s": {
      type: "string",
      description: "Stop after this many seconds (default: until Ctrl-C).",
      valueName: "N",
    },
    "step-ms": {
      type: "string",
      description: "Physics step and tree refresh period, ms.",
      default: "100",
      valueName: "N",
    },
  },
  async run(args: ParsedArgs, ctx: CommandContext): Promise<number> {
    const board = args.choice("board", SIM_BOARD_IDS);
    if (board === undefined) throw new UsageError("--board is required");
    const root = args.requireString("root");
    const seed = args.int("seed", { min: 0, max: 2 ** 32 - 1 })!;
    const durationS = args.number("duration-s", { min: 0 });
    const stepMs = args.int("step-ms", { min: 1, max: 10_000 })!;
    const loads = parseLoads(args.strings("load"));

    await using sim = await createSimBoard({ profileId: board, root, seed, timeMode: "realtime", stepMs });
    for (const load of loads) {
      if (!sim.units.some((u) => u.id === load.unitId)) {
        throw new UsageError(
          `--load: ${board} has no unit "${load.unitId}" (units: ${sim.units.map((u) => u.id).join(", ")})`,
        );
      }
    }
    ctx.stdout(`qeil sim: ${board} (seed ${seed}) under ${sim.root}; Ctrl-C stops\n`);
    let lastSecond = -1;
    sim.onStep((timeMs) => {
      const second = Math.floor(timeMs / 1000);
      if (second === lastSecond) return;
      lastSecond = second;
      ctx.stdout(statusLine(sim.readings()));
    });
    sim.start();
    const stopLoads = new AbortController();
    const running = loads.map((load) => runLoad(sim, { ...load, signal: stopLoads.signal }));
    try {
      await waitForEnd(sim, durationS === undefined ? undefined : durationS * 1000, ctx.signal);
    } finally {
      stopLoads.abort();
      await Promise.all(running);
      await sim.stop();
    }
    ctx.stdout(statusLine(sim.readings()));
    return 0;
  },
};
