/**
 * `qeil plan`: plans one job on a board with PGSAM and prints the Pareto front
 * of placements, the placement a policy picks, and the standard and greedy
 * placements for comparison, each with its predicted energy, latency,
 * underutilisation, peak temperature and feasibility.
 *
 * `--board PROFILE` plans from the profile's datasheet priors on an idle, cool
 * board. `--board sim:PROFILE` starts a simulated board in a temporary folder,
 * discovers it with the HAL like a real one and plans for the state it reads
 * (zone temperatures, free memory, discovered units, frequency caps), after
 * calibrating the model against it with the service's calibration workload
 * (through the HAL only); the prediction error before and after calibration
 * is printed with the plan.
 */
import { type Command, UsageError } from "./command.ts";
import {
  createRng,
  type DecoderShape,
  isPrecision,
  ModelError,
  parseDecoderShape,
  PRECISIONS,
} from "../src/core/mod.ts";
import { type Board, createActuators, discoverBoard, getProfile, type Sample } from "../src/hal/mod.ts";
import { createSimBoard, isSimBoardId, SIM_BOARD_IDS } from "../src/sim/mod.ts";
import {
  type BoardModel,
  type BoardState,
  createBoardModel,
  type Job,
  type Placement,
  type PredictionErrorReport,
} from "../src/physics/mod.ts";
import { type Plan, plan, type PlannedPlacement, POLICIES } from "../src/pgsam/mod.ts";
import { runCalibrationWorkload, simCalibrationTarget } from "../src/service/calibration_driver.ts";

/** Reads a decoder shape from a config file, or from `config.json` / `genai_config.json` in a folder. */
async function readShape(path: string): Promise<{ shape: DecoderShape; file: string }> {
  let file = path;
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (error) {
    throw new ModelError(`read model config: ${path} does not exist`, { cause: error, details: { path } });
  }
  if (stat.isDirectory) {
    const found: string[] = [];
    for (const name of ["config.json", "genai_config.json"]) {
      try {
        if ((await Deno.stat(`${path}/${name}`)).isFile) found.push(`${path}/${name}`);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    if (found.length === 0) {
      throw new ModelError(`read model config: ${path} holds neither config.json nor genai_config.json`, {
        details: { path },
      });
    }
    file = found[0];
  }
  const text = await Deno.readTextFile(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelError(`read model config: ${file} is not valid JSON`, { cause: error, details: { path: file } });
  }
  return { shape: parseDecoderShape(json, file), file };
}

/** The board state assumed when planning from priors: cool (ambient), idle, every unit healthy, no caps. */
const SIM_PREFIX = "sim:";

function priorState(model: BoardModel, memAvailableBytes: number): BoardState {
  return {
    tempsC: {},
    ambientC: model.ambientC,
    memAvailableBytes,
    healthyUnits: [...model.unitIds],
    maxFreqHz: {},
  };
}

/**
 * The board state a HAL sample shows: the hottest reading of each modelled
 * zone, MemAvailable, the units discovery found, each unit's current frequency
 * cap. Ambient stays the model's (boards have no ambient sensor).
 */
function sampledState(model: BoardModel, board: Board, sample: Sample): { state: BoardState; notes: string[] } {
  const notes: string[] = [];
  const zoneIds = new Set(model.zones.map((z) => z.id));
  const tempsC: Record<string, number> = {};
  for (const t of sample.thermal) {
    if (!t.ok || t.zone === undefined || !zoneIds.has(t.zone)) continue;
    tempsC[t.zone] = Math.max(tempsC[t.zone] ?? -Infinity, t.tempC);
  }
  let memAvailableBytes = 0.8 * model.memoryTotalBytes;
  if (sample.memory.ok) memAvailableBytes = sample.memory.value.availableBytes;
  else notes.push(`memory unreadable (${sample.memory.reason}); assumed 80% of the profile's memory free`);
  const found = new Set(board.units.map((u) => u.id));
  const healthyUnits = model.unitIds.filter((u) => found.has(u));
  for (const u of model.unitIds) if (!found.has(u)) notes.push(`unit ${u} not found by discovery: excluded`);
  const maxFreqHz: Record<string, number> = {};
  for (const u of healthyUnits) {
    const cap = sample.units[u]?.maxFreqHz;
    if (cap?.ok) maxFreqHz[u] = cap.value;
  }
  return { state: { tempsC, ambientC: model.ambientC, memAvailableBytes, healthyUnits, maxFreqHz }, notes };
}

/** Starts a simulated board, lets it idle, discovers it and reads its state; removes it after (also used by bench/pgsam). */
export async function simulatedState(
  profileId: string,
  seed: number,
  model: BoardModel,
): Promise<{ state: BoardState; notes: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-plan-sim-" });
  try {
    await using sim = await createSimBoard({ profileId, root: dir, seed, timeMode: "virtual" });
    const board = await discoverBoard(dir, { profileId, clock: sim.clock });
    // One second of idle: every sensor has been stepped and CPU load has two /proc/stat readings.
    await sim.advance(1000);
    return sampledState(model, board, await board.read());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** What calibrating against the simulated board gave: the prediction error before and after, on held-out jobs. */
interface CalibrationSummary {
  before: PredictionErrorReport;
  after: PredictionErrorReport;
  /** Board time the workload and its validation took, s. */
  boardTimeS: number;
  notes: string[];
}

/**
 * Starts a simulated board, calibrates the model against it with the
 * calibration workload (reading it only through the HAL), then reads its
 * state; removes it after.
 */
async function calibratedSimulation(
  profileId: string,
  seed: number,
  prior: BoardModel,
): Promise<{ state: BoardState; notes: string[]; model: BoardModel; calibration: CalibrationSummary }> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-plan-sim-" });
  try {
    await using sim = await createSimBoard({ profileId, root: dir, seed, timeMode: "virtual" });
    const board = await discoverBoard(dir, { profileId, clock: sim.clock });
    await using actuators = createActuators(board);
    const result = await runCalibrationWorkload({ ...simCalibrationTarget(sim, board, actuators), model: prior });
    await sim.advance(1000);
    const { state, notes } = sampledState(result.model, board, await board.read());
    return {
      state,
      notes,
      model: result.model,
      calibration: {
        before: result.before,
        after: result.after,
        boardTimeS: result.durationMs / 1000,
        notes: result.notes,
      },
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function errorLine(e: PredictionErrorReport): string {
  const pct = (x: number | undefined) => (x === undefined ? "-" : `${x.toFixed(1)}%`);
  return `energy ${pct(e.energyMapePct)}, latency ${pct(e.latencyMapePct)}, peak temperature ${
    e.tempMaeC === undefined ? "-" : `${e.tempMaeC.toFixed(2)} °C`
  }`;
}

function mhz(freqHz: number): string {
  return `${Math.round(freqHz / 1e6)}MHz`;
}

/** `prefill npu | gpu[0,8)>npu[8,16) x3 + cpu_big[0,16) x5 | npu@1000MHz gpu@800MHz cpu_big@2256MHz`. */
function describe(model: BoardModel, p: Placement): string {
  const lanes = p.lanes.map((l) =>
    l.segments.map((s) => `${s.unitId}[${s.layerStart},${s.layerEnd})`).join(">") + ` x${l.samples}`
  );
  const units = [p.prefillUnit, ...p.lanes.flatMap((l) => l.segments.map((s) => s.unitId))];
  const freqs = [...new Set(units)].map((u) => {
    const opps = model.units[u]?.opps ?? [];
    const opp = opps[p.freqLevel[u] ?? opps.length - 1];
    return `${u}@${opp ? mhz(opp.freqHz) : "?"}`;
  });
  return `prefill ${p.prefillUnit} | ${lanes.join(" + ")} | ${freqs.join(" ")}`;
}

function peakTempC(x: PlannedPlacement): number {
  return Math.max(...Object.values(x.prediction.peakTempC));
}

function jsonOf(model: BoardModel, x: PlannedPlacement) {
  const p = x.prediction;
  return {
    placement: x.placement,
    key: x.key,
    description: describe(model, x.placement),
    energyJ: p.energyJ,
    latencyMs: p.latencyMs,
    ttftMs: p.ttftMs,
    underutilization: p.underutilization,
    peakTempC: p.peakTempC,
    feasible: p.feasible,
    violations: p.violations,
  };
}

function table(model: BoardModel, rows: [string, PlannedPlacement][]): string[] {
  const cells = [
    ["", "energy J", "latency ms", "underutil", "peak C", "feasible", "placement"],
    ...rows.map(([label, x]) => [
      label,
      x.prediction.energyJ.toFixed(3),
      x.prediction.latencyMs.toFixed(1),
      x.prediction.underutilization.toFixed(3),
      peakTempC(x).toFixed(1),
      x.prediction.feasible ? "yes" : "no",
      describe(model, x.placement),
    ]),
  ];
  const widths = cells[0].map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  return cells.map((r) =>
    r.map((cell, c) => (c === 0 || c === r.length - 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ")
      .trimEnd()
  );
}

function textReport(model: BoardModel, header: string, result: Plan): string {
  const lines = [
    header,
    `PGSAM evaluated ${result.evaluations} placements (stopped by ${result.stoppedBy}); ` +
    `${result.front.length} on the Pareto front; policy ${result.policy}`,
    "",
    ...table(model, [["chosen", result.chosen], ["standard", result.standard], ["greedy", result.greedy]]),
  ];
  for (const [name, base] of [["standard", result.standard], ["greedy", result.greedy]] as const) {
    const e = result.chosen.prediction.energyJ / base.prediction.energyJ;
    const l = result.chosen.prediction.latencyMs / base.prediction.latencyMs;
    lines.push(
      `chosen vs ${name}: energy x${e.toFixed(3)}, latency x${l.toFixed(3)}` +
        (base.prediction.feasible ? "" : ` (${name} is infeasible: ${base.prediction.violations.join("; ")})`),
    );
  }
  lines.push("", "Pareto front, by energy:", ...table(model, result.front.map((x, i) => [String(i + 1), x])));
  return lines.join("\n") + "\n";
}

export const planCommand: Command = {
  name: "plan",
  summary: "Plan a job's placement with PGSAM: Pareto front, chosen, standard and greedy placements",
  usage:
    "--board PROFILE|sim:PROFILE --model DIR|config.json --prompt-tokens P --gen-tokens G --samples K [--slo-ms N] " +
    "[--policy efficient|energy|latency|balanced] [--seed N] [--json]",
  description: `
Predictions come from the physics model of the board, built from the profile's datasheet priors. With
--board PROFILE the board is assumed cool, idle, every unit healthy, with --mem-available-mb of memory free.
With --board sim:PROFILE a simulated board (${SIM_BOARD_IDS.join(", ")}) is started in a temporary folder
and discovered like a real one; the model is first calibrated against it (the service's calibration workload,
reading the board only through the HAL; the prediction error on held-out jobs before and after is printed),
and the plan uses the state read from it (temperatures, free memory, units found, frequency caps). --model takes a
Hugging Face config.json, an onnxruntime-genai genai_config.json or a llama2.c config, or a folder holding one;
--precision overrides the weight precision the config states (e.g. plan an int4 build of a bf16 checkpoint).`,
  options: {
    board: { type: "string", description: "Board profile id, or sim:PROFILE for a simulated board.", valueName: "B" },
    model: { type: "string", description: "Model folder or config file.", valueName: "PATH" },
    "prompt-tokens": { type: "string", description: "Prompt length P, tokens.", valueName: "P" },
    "gen-tokens": { type: "string", description: "New tokens per sample G.", valueName: "G" },
    samples: { type: "string", description: "Samples K to generate.", valueName: "K" },
    "slo-ms": {
      type: "string",
      description: "Latency objective, ms: slower placements are infeasible.",
      valueName: "N",
    },
    policy: {
      type: "string",
      description: `Which front member to choose: ${POLICIES.join(", ")} (efficient: least energy among ` +
        "placements no slower than the standard one).",
      default: "efficient",
      valueName: "P",
    },
    seed: {
      type: "string",
      description: "Seed of the search (and of the simulated board with sim:PROFILE).",
      default: "1",
      valueName: "N",
    },
    precision: {
      type: "string",
      description: `Weight precision to plan for (${PRECISIONS.join(", ")}); default: the config's.`,
      valueName: "P",
    },
    "mem-available-mb": {
      type: "string",
      description: "Memory free for the model, MB (default: 80% of the profile's memory).",
      valueName: "MB",
    },
    "max-evaluations": {
      type: "string",
      description: "Search budget: distinct placements evaluated.",
      default: "2000",
      valueName: "N",
    },
    "frequency-levels": {
      type: "string",
      description: "Operating points considered per unit.",
      default: "5",
      valueName: "N",
    },
    json: { type: "boolean", description: "Print the plan as JSON." },
  },
  async run(args, ctx) {
    const boardArg = args.requireString("board");
    const modelPath = args.requireString("model");
    const promptTokens = args.int("prompt-tokens", { min: 1 });
    const genTokens = args.int("gen-tokens", { min: 0 });
    const samples = args.int("samples", { min: 1, max: 1024 });
    if (promptTokens === undefined) throw new UsageError("--prompt-tokens is required");
    if (genTokens === undefined) throw new UsageError("--gen-tokens is required");
    if (samples === undefined) throw new UsageError("--samples is required");
    const sloMs = args.number("slo-ms", { min: Number.MIN_VALUE });
    const policy = args.choice("policy", POLICIES) ?? "efficient";
    const seed = args.int("seed", { min: 0, max: 2 ** 32 - 1 }) ?? 1;
    const maxEvaluations = args.int("max-evaluations", { min: 1 }) ?? 2000;
    const frequencyLevels = args.int("frequency-levels", { min: 1 }) ?? 5;
    const precision = args.string("precision");
    if (precision !== undefined && !isPrecision(precision)) {
      throw new UsageError(`--precision must be one of ${PRECISIONS.join(", ")}, got "${precision}"`);
    }

    const simulated = boardArg.startsWith(SIM_PREFIX);
    const profileId = simulated ? boardArg.slice(SIM_PREFIX.length) : boardArg;
    if (simulated && !isSimBoardId(profileId)) {
      throw new UsageError(`--board ${boardArg}: no such simulated board; choose one of ${SIM_BOARD_IDS.join(", ")}`);
    }
    const profile = getProfile(profileId);
    const prior = createBoardModel(profile.priors);
    const memMb = args.number("mem-available-mb", { min: 1 });
    if (simulated && memMb !== undefined) {
      throw new UsageError("--mem-available-mb cannot be combined with --board sim:PROFILE (the board reports it)");
    }
    const { state, notes, model, calibration } = simulated ? await calibratedSimulation(profileId, seed, prior) : {
      state: priorState(prior, memMb !== undefined ? memMb * 1e6 : 0.8 * prior.memoryTotalBytes),
      notes: [],
      model: prior,
      calibration: undefined,
    };
    const memAvailableBytes = state.memAvailableBytes;

    const { shape: parsed, file } = await readShape(modelPath);
    const shape: DecoderShape = precision === undefined ? parsed : {
      ...parsed,
      weightPrecision: precision,
      kvPrecision: precision === "fp32" ? "fp32" : "fp16",
    };
    const job: Job = { shape, promptTokens, genTokens, samples, ...(sloMs !== undefined ? { sloMs } : {}) };
    const result = plan(model, state, job, { policy, maxEvaluations, frequencyLevels }, createRng(seed));

    if (args.flag("json")) {
      ctx.stdout(
        JSON.stringify(
          {
            board: {
              profile: profile.id,
              source: simulated ? "simulator" : "priors",
              state,
              notes,
              ...(calibration ? { calibration } : {}),
            },
            model: { config: file, shape },
            job,
            policy,
            seed,
            evaluations: result.evaluations,
            stoppedBy: result.stoppedBy,
            chosen: jsonOf(model, result.chosen),
            standard: jsonOf(model, result.standard),
            greedy: jsonOf(model, result.greedy),
            front: result.front.map((x) => jsonOf(model, x)),
          },
          null,
          2,
        ) + "\n",
      );
    } else {
      const header = `plan: ${shape.family} (${shape.layers} layers, ${shape.weightPrecision}) from ${file} on ` +
        `${simulated ? `simulated ${profile.id}` : profile.id} (${
          simulated ? "model calibrated against the simulator, state read from it" : "priors"
        }, ` +
        `${(memAvailableBytes / 1e9).toFixed(2)} GB free); prompt ${promptTokens}, ` +
        `${genTokens} new tokens, ${samples} samples${sloMs !== undefined ? `, SLO ${sloMs} ms` : ""}; seed ${seed}`;
      const lines = [header];
      if (calibration) {
        lines.push(
          `calibration: ${calibration.boardTimeS.toFixed(0)} s of board time; prediction error on held-out jobs ` +
            `before (priors): ${errorLine(calibration.before)}; after: ${errorLine(calibration.after)}`,
          ...calibration.notes.map((n) => `calibration note: ${n}`),
        );
      }
      lines.push(...notes.map((n) => `note: ${n}`));
      ctx.stdout(textReport(model, lines.join("\n"), result));
    }
    return 0;
  },
};
