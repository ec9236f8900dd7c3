/**
 * `qeil probe`: discovers the board below a sysfs root, reads every channel
 * once and prints what it found, as the JSON object of issue 2 (`--json`) or
 * as tables. `--board sim:PROFILE` probes a simulated board instead: the
 * simulator writes its tree into a temporary folder, which is removed after.
 */
import { type Command, UsageError } from "./command.ts";
import { type Clock, systemClock } from "../src/core/mod.ts";
import { type Board, discoverBoard, formatProbeTable, probeReport } from "../src/hal/mod.ts";
import { createSimBoard, isSimBoardId, SIM_BOARD_IDS } from "../src/sim/mod.ts";

const SIM_PREFIX = "sim:";

async function report(board: Board, wait: (ms: number) => Promise<void>, intervalMs: number, json: boolean) {
  // CPU utilisation is a /proc/stat difference: discovery took the first reading.
  await wait(intervalMs);
  const sample = await board.read();
  const data = probeReport(board, sample);
  return json ? JSON.stringify(data, null, 2) + "\n" : formatProbeTable(data);
}

export const probeCommand: Command = {
  name: "probe",
  summary: "Discover the board's sensors and DVFS knobs and print one reading of each",
  usage: "[--root DIR] [--board PROFILE | --board sim:PROFILE] [--json]",
  description: `
Reads below --root (default /): sys/class/thermal, sys/class/devfreq,
sys/devices/system/cpu/cpufreq, sys/class/hwmon, sys/class/powercap,
proc/meminfo, proc/stat, the device tree and vendor load files. Channels that
cannot be read are listed with ok=false and the reason.

--board PROFILE overrides device-tree detection (rk3588, jetson-orin-nano,
raspberry-pi-5, imx8mp, generic). --board sim:PROFILE starts a simulated board
(${SIM_BOARD_IDS.join(", ")}) in a temporary folder, probes it and removes it.`,
  options: {
    // No `default`: parseArgs would fill it in and --root could not be told apart from the default.
    root: { type: "string", description: "Filesystem root the sysfs tree is under (default: /).", valueName: "DIR" },
    board: {
      type: "string",
      description: "Board profile to use instead of detection, or sim:PROFILE for a simulated board.",
      valueName: "PROFILE",
    },
    json: { type: "boolean", description: "Print the report as one JSON object." },
    "interval-ms": {
      type: "string",
      description: "Time between discovery and the reading, ms (CPU load needs two /proc/stat readings).",
      default: "200",
      valueName: "MS",
    },
    seed: { type: "string", description: "Seed of the simulated board, with --board sim:PROFILE (default: 1)." },
  },
  async run(args, ctx) {
    const json = args.flag("json");
    const intervalMs = args.int("interval-ms", { min: 0, max: 60_000 }) ?? 200;
    const boardArg = args.string("board");
    if (boardArg === undefined || !boardArg.startsWith(SIM_PREFIX)) {
      if (args.has("seed")) throw new UsageError("--seed only applies to --board sim:PROFILE");
      const board = await discoverBoard(args.string("root") ?? "/", {
        ...(boardArg !== undefined ? { profileId: boardArg } : {}),
      });
      const clock: Clock = systemClock;
      ctx.stdout(await report(board, (ms) => clock.sleep(ms, ctx.signal), intervalMs, json));
      return 0;
    }
    const profileId = boardArg.slice(SIM_PREFIX.length);
    if (!isSimBoardId(profileId)) {
      throw new UsageError(
        `--board sim:${profileId}: no such simulated board; choose one of ${SIM_BOARD_IDS.join(", ")}`,
      );
    }
    if (args.has("root")) {
      throw new UsageError(
        "--root cannot be combined with --board sim:PROFILE (the simulated tree lives in a temporary folder)",
      );
    }
    const seed = args.int("seed", { min: 0 }) ?? 1;
    const dir = await Deno.makeTempDir({ prefix: "qeil-probe-sim-" });
    try {
      await using sim = await createSimBoard({ profileId, root: dir, seed, timeMode: "virtual" });
      const board = await discoverBoard(dir, { profileId, clock: sim.clock });
      ctx.stdout(await report(board, (ms) => sim.advance(ms), intervalMs, json));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    return 0;
  },
};
