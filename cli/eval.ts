/**
 * `qeil eval`: standard vs greedy vs qeil on one board, in one run, with the
 * numbers lm-evaluation-harness users recognise (WikiText perplexities,
 * GSM8K exact match, ARC-Challenge acc / acc_norm) next to energy per query,
 * latency, power, IPW/IPJ, samples used, throttle events and faults.
 *
 * `--board sim:PROFILE` starts a simulated board in virtual time in a
 * temporary folder, discovers it with the HAL like a real one, and, as the
 * service does on first boot, calibrates qeil's physics on it with the
 * calibration workload before the run. `--board PROFILE` evaluates the real
 * board at `--root` (default `/`) on the CPU backends that exist there.
 */
import { type Command, type CommandContext, type ParsedArgs, UsageError } from "./command.ts";
import { type DecoderShape, InfeasibleError } from "../src/core/mod.ts";
import { type Board, createActuators, discoverBoard, getProfile, listProfiles } from "../src/hal/mod.ts";
import { createSimBoard, isSimBoardId, SIM_BOARD_IDS, type SimBoard } from "../src/sim/mod.ts";
import { type BoardModel, createBoardModel } from "../src/physics/mod.ts";
import { type Backend, type DecoderModel, loadModel } from "../src/runtime/mod.ts";
import { realBackends } from "../src/service/board_runtime.ts";
import { runCalibrationWorkload, simCalibrationTarget } from "../src/service/calibration_driver.ts";
import {
  arcQueries,
  type CalibrationSetting,
  type CostShape,
  createProgress,
  datasetPaths,
  DEFAULT_SAMPLES,
  type EvalResult,
  evaluateOnBoard,
  formatFigure,
  GSM8K_DEFAULT_SHOTS,
  GSM8K_MAX_TOKENS,
  gsm8kQueries,
  isModeName,
  isTaskName,
  loadArc,
  loadGsm8k,
  loadWikitext,
  MODE_NAMES,
  modelCostShape,
  type ModeName,
  readCostShape,
  reportJson,
  TASK_NAMES,
  type TaskName,
  type TaskQueries,
  wikitextQueries,
  writeReport,
} from "../src/eval/mod.ts";

const SIM_PREFIX = "sim:";
/**
 * Physics step of the simulated board, ms: the simulator's default. Coarser steps make its thermal governor
 * react late (at 500 ms a long CPU job overshoots the passive trip by 40 K and throttles once instead of
 * regulating), which would misstate the throttling a user gets.
 */
const SIM_STEP_MS = 100;
/** Largest sample budget the CLI takes (k samples decode as one batch on the host). */
const MAX_SAMPLES = 64;
const DEFAULT_DATA = new URL("../../shared/data", import.meta.url).pathname;

/** Where the run happens. */
type BoardSpec = { kind: "sim"; profileId: string } | { kind: "real"; profileId: string; root: string };

function parseBoard(args: ParsedArgs): BoardSpec {
  const value = args.requireString("board");
  if (value.startsWith(SIM_PREFIX)) {
    const profileId = value.slice(SIM_PREFIX.length);
    if (!isSimBoardId(profileId)) {
      throw new UsageError(
        `--board ${value}: no simulated board "${profileId}" (simulated boards: ${
          SIM_BOARD_IDS.map((id) => SIM_PREFIX + id).join(", ")
        })`,
      );
    }
    if (args.has("root")) throw new UsageError("--root is for a real board; a simulated board writes its own tree");
    return { kind: "sim", profileId };
  }
  const known = listProfiles().map((p) => p.id);
  if (!known.includes(value)) {
    throw new UsageError(
      `--board ${value}: unknown board profile (real boards: ${known.join(", ")}; simulated: ${
        SIM_BOARD_IDS.map((id) => SIM_PREFIX + id).join(", ")
      })`,
    );
  }
  return { kind: "real", profileId: value, root: args.string("root") ?? "/" };
}

/** A comma-separated list of known names, without repeats. */
function parseNames<T extends string>(
  args: ParsedArgs,
  flag: string,
  known: readonly T[],
  is: (v: unknown) => v is T,
): T[] | undefined {
  const raw = args.list(flag);
  if (raw === undefined) return undefined;
  if (raw.length === 0) throw new UsageError(`--${flag} is empty (choose from ${known.join(", ")})`);
  for (const name of raw) {
    if (!is(name)) throw new UsageError(`--${flag}: unknown name "${name}" (choose from ${known.join(", ")})`);
  }
  const repeated = raw.find((name, i) => raw.indexOf(name) !== i);
  if (repeated !== undefined) throw new UsageError(`--${flag} names "${repeated}" twice`);
  return raw as T[];
}

/** The settled arguments of a run. */
export interface EvalArgs {
  board: BoardSpec;
  modelDir: string;
  costShapePath: string | undefined;
  tasks: TaskName[];
  modes: ModeName[];
  limit: number | undefined;
  samples: number;
  seed: number;
  injectFaults: boolean;
  out: string | undefined;
  json: boolean;
  dataDir: string;
}

/** Checks and settles the command's arguments. @throws UsageError naming the flag */
export function parseEvalArgs(args: ParsedArgs): EvalArgs {
  const board = parseBoard(args);
  const modelDir = args.requireString("model");
  const costShapePath = args.string("cost-shape");
  if (costShapePath !== undefined && board.kind === "real") {
    throw new UsageError(
      "--cost-shape is for simulated boards (a real board is charged for nothing: it runs the real model)",
    );
  }
  const injectFaults = args.flag("inject-faults");
  if (injectFaults && board.kind === "real") {
    throw new UsageError(
      "--inject-faults needs a simulated board (--board sim:PROFILE): qeil will not break a real one",
    );
  }
  return {
    board,
    modelDir,
    costShapePath,
    tasks: parseNames(args, "tasks", TASK_NAMES, isTaskName) ?? [...TASK_NAMES],
    modes: parseNames(args, "modes", MODE_NAMES, isModeName) ?? [...MODE_NAMES],
    limit: args.int("limit", { min: 1 }),
    samples: args.int("samples", { min: 1, max: MAX_SAMPLES }) ?? DEFAULT_SAMPLES,
    seed: args.int("seed", { min: 0, max: 2 ** 31 - 1 }) ?? 0,
    injectFaults,
    out: args.string("out"),
    json: args.flag("json"),
    dataDir: args.string("data") ?? DEFAULT_DATA,
  };
}

/**
 * The most GSM8K exemplars (up to lm-eval's 8 of gsm8k-cot) for which every
 * selected prompt still leaves the model room for GSM8K's 256 new tokens;
 * a small model's context (stories260k: 512 tokens) takes none.
 */
function fitShots(fits: (shots: number) => boolean): number {
  for (let shots = GSM8K_DEFAULT_SHOTS; shots > 0; shots--) if (fits(shots)) return shots;
  return 0;
}

/** Loads the requested tasks' queries (GSM8K with as many few-shot exemplars as the model's context holds). */
async function loadQueries(
  dataDir: string,
  tasks: readonly TaskName[],
  model: DecoderModel,
  seed: number,
  limit: number | undefined,
): Promise<{ queries: TaskQueries[]; fewShot: number | undefined }> {
  const paths = datasetPaths(dataDir);
  const out: TaskQueries[] = [];
  let fewShot: number | undefined;
  for (const task of tasks) {
    if (task === "wikitext") out.push(wikitextQueries(await loadWikitext(paths.wikitextTest)));
    else if (task === "arc_challenge") out.push(arcQueries(await loadArc(paths.arcChallengeTest)));
    else {
      const test = await loadGsm8k(paths.gsm8kTest);
      const train = await loadGsm8k(paths.gsm8kTrain);
      const selected = limit === undefined ? test : test.slice(0, limit);
      fewShot = fitShots((shots) =>
        gsm8kQueries(selected, train, { seed, shots }).queries.every((q) =>
          model.tokenizer.encode(q.prompt, { bos: true }).length + GSM8K_MAX_TOKENS <= model.shape.maxSeqLen
        )
      );
      out.push(gsm8kQueries(test, train, { seed, shots: fewShot }));
    }
  }
  return { queries: out, fewShot };
}

/** Calibrates qeil's physics on the simulated board (through the HAL only), as the service does on first boot. */
async function calibrate(sim: SimBoard, board: Board): Promise<{ model: BoardModel; setting: CalibrationSetting }> {
  await using actuators = createActuators(board);
  const result = await runCalibrationWorkload({
    ...simCalibrationTarget(sim, board, actuators),
    model: createBoardModel(board.profile.priors),
  });
  const pick = (e: { energyMapePct?: number; latencyMapePct?: number }) => ({
    ...(e.energyMapePct !== undefined ? { energyMapePct: e.energyMapePct } : {}),
    ...(e.latencyMapePct !== undefined ? { latencyMapePct: e.latencyMapePct } : {}),
  });
  return {
    model: result.model,
    setting: {
      source: "calibration-workload",
      boardTimeS: result.durationMs / 1000,
      before: pick(result.before),
      after: pick(result.after),
      notes: result.notes,
    },
  };
}

function modelName(dir: string): string {
  return dir.replace(/\/+$/, "").split("/").at(-1) || dir;
}

/** A short text summary: per task, the key figures of each mode, then the targets. */
function summary(result: EvalResult): string {
  const lines: string[] = [];
  const r = result.report;
  lines.push(`board ${r.board}, model ${r.model}, cost shape ${r.costShape.name} (${r.costShape.source})`);
  for (const task of TASK_NAMES) {
    const t = r.tasks[task];
    if (!t) continue;
    lines.push("", task);
    const header = ["mode", "J/query", "p50 ms", "p95 ms", "avg W", "accuracy", "samples", "throttle", "faults"];
    const rows = MODE_NAMES.filter((m) => t.modes[m]).map((m) => {
      const x = t.modes[m]!;
      return [
        m,
        formatFigure(x.joulesPerQuery),
        formatFigure(x.latencyP50Ms),
        formatFigure(x.latencyP95Ms),
        formatFigure(x.avgPowerW),
        x.accuracy === null ? "n/a" : `${(x.accuracy * 100).toFixed(1)}%`,
        formatFigure(x.samplesMean),
        String(x.throttleEvents),
        `${x.faultsRecovered}/${x.faultsInjected}`,
      ];
    });
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    for (const row of [header, ...rows]) lines.push(row.map((c, i) => c.padStart(widths[i])).join("  "));
  }
  lines.push("", "targets (qeil against standard):");
  for (const c of result.targets) {
    lines.push(`  ${c.scope} ${c.id}: ${c.status.toUpperCase()}: ${c.figures}`);
    if (c.why) lines.push(`    why: ${c.why}`);
  }
  return lines.join("\n") + "\n";
}

/** What the command does not expose but a benchmark may vary. */
export interface EvalExtras {
  /** Refit qeil's physics online during the run. @default true (as the service runs) */
  onlineCalibration?: boolean;
}

/** Runs `qeil eval` with settled arguments; returns the exit code. */
export async function runEval(args: EvalArgs, ctx: CommandContext, extras: EvalExtras = {}): Promise<number> {
  const costShape: CostShape | undefined = args.costShapePath ? await readCostShape(args.costShapePath) : undefined;
  await using model = await loadModel(args.modelDir);
  const { queries, fewShot } = await loadQueries(args.dataDir, args.tasks, model, args.seed, args.limit);
  const log = (text: string) => {
    if (!args.json) ctx.stderr(`${text}\n`);
  };
  const shape: CostShape = costShape ?? modelCostShape(model.shape, modelName(args.modelDir));
  const header = {
    board: args.board.kind === "sim" ? `sim:${args.board.profileId}` : args.board.profileId,
    model: modelName(args.modelDir),
    costShape: shape.info,
  };

  let root: string | undefined;
  let sim: SimBoard | undefined;
  try {
    let board: Board;
    let boardModel: BoardModel | undefined;
    let calibration: CalibrationSetting;
    let backends: Record<string, Backend> | undefined;
    let charged: DecoderShape | undefined;
    if (args.board.kind === "sim") {
      root = await Deno.makeTempDir({ prefix: "qeil-eval-" });
      sim = await createSimBoard({
        profileId: args.board.profileId,
        root,
        seed: args.seed,
        timeMode: "virtual",
        stepMs: SIM_STEP_MS,
      });
      board = await discoverBoard(root, { profileId: args.board.profileId, clock: sim.clock });
      log(`calibrating qeil's physics on simulated ${args.board.profileId} (calibration workload)...`);
      const started = performance.now();
      const calibrated = await calibrate(sim, board);
      boardModel = calibrated.model;
      calibration = calibrated.setting;
      log(`calibrated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      charged = costShape?.shape;
    } else {
      getProfile(args.board.profileId);
      board = await discoverBoard(args.board.root, { profileId: args.board.profileId });
      const found = await realBackends(board, {
        info: (message: string, fields?: Record<string, unknown>) =>
          log(`${message} ${fields?.backend}: ${fields?.reason}`),
      });
      backends = found.backends;
      if (Object.keys(backends).length === 0) {
        throw new InfeasibleError(
          `evaluate ${args.board.profileId} at ${args.board.root}: no unit of the board has a backend to run on ` +
            `(${found.unavailable.join("; ")})`,
          { details: { units: board.units.map((u) => u.id) } },
        );
      }
      calibration = {
        source: "priors",
        reason: "a real board runs no synthetic calibration workload here; the service calibrates online from the " +
          "run's own measurements",
      };
    }
    const notes = [
      shape.info.source === "file"
        ? `the simulated board is charged for ${shape.info.name} while the tokens come from ${header.model}; ` +
          "prompt and generation lengths are the real model's tokens"
        : "the simulated board is charged for the real model's own shape",
      "each query runs its modes back to back on one board through one orchestrator (the service's), " +
      "so a mode that heats the board leaves that heat to the next",
    ];
    const evaluation = await evaluateOnBoard({
      board,
      ...(sim ? { sim } : {}),
      model,
      header,
      ...(charged ? { costShape: charged } : {}),
      ...(boardModel ? { boardModel } : {}),
      ...(backends ? { backends } : {}),
      tasks: queries,
      modes: args.modes,
      ...(args.limit !== undefined ? { limit: args.limit } : {}),
      samples: args.samples,
      seed: args.seed,
      injectFaults: args.injectFaults,
      ...(extras.onlineCalibration !== undefined
        ? { orchestrator: { onlineCalibration: extras.onlineCalibration } }
        : {}),
      settings: {
        ...(fewShot !== undefined ? { fewShot } : {}),
        calibration,
        board: {
          simulated: sim !== undefined,
          profile: args.board.profileId,
          ...(sim ? { seed: args.seed, stepMs: SIM_STEP_MS } : {}),
          latencyClock: sim ? "simulated-device" : "wall",
        },
        notes: args.board.kind === "sim" ? notes : [],
      },
      progress: createProgress({ write: ctx.stderr, isTerminal: ctx.isTerminal, label: `eval ${header.board}` }),
      signal: ctx.signal,
    });
    if (args.out !== undefined) {
      const files = await writeReport(args.out, evaluation.result, {
        traces: evaluation.traces,
        pareto: evaluation.pareto,
      });
      log(`wrote ${files.map((f) => `${args.out}/${f}`).join(", ")}`);
    }
    if (args.json) ctx.stdout(reportJson(evaluation.result));
    else ctx.stdout(summary(evaluation.result));
    return 0;
  } finally {
    await sim?.[Symbol.asyncDispose]();
    if (root !== undefined) await Deno.remove(root, { recursive: true }).catch(() => undefined);
  }
}

export const evalCommand: Command = {
  name: "eval",
  summary: "Evaluate standard vs greedy vs qeil on a board: accuracy, energy, latency (WikiText, GSM8K, ARC)",
  usage: "--board <PROFILE | sim:PROFILE> --model DIR [--cost-shape F] [--tasks wikitext,gsm8k,arc_challenge] " +
    "[--limit N] [--modes standard,greedy,qeil] [--samples K] [--seed S] [--inject-faults] [--out DIR] [--json]",
  description: `
Runs every query of every task in every mode through one orchestrator on one board, the modes of
each query back to back in a rotating (Williams) order: standard (the board's default unit at its
top clock, k samples, majority vote), greedy (QEIL v1's rule) and qeil (calibrated physics, PGSAM
placement with DVFS, the EAC/CSVET/ARDE cascade with cancellation, thermal planning). Energy is
integrated from the board's power rails by the HAL over each query's window; latency is the
simulated device clock (sim:) or wall time (a real board). --board sim:PROFILE calibrates qeil on
the simulated board first. --cost-shape charges the simulated board for a declared model config
(e.g. tests/fixtures/cost-shapes/llama-3.2-1b-int4.json) while the tokens come from --model.
--inject-faults injects a seeded schedule of unit failures, hangs and sensor losses (the same
queries and kinds for every mode; a unit fault strikes the unit at work, mid-query). --out DIR
writes report.json, report.md and SVG plots.`,
  options: {
    board: {
      type: "string",
      valueName: "BOARD",
      description: "Board profile (a real board at --root) or sim:PROFILE.",
    },
    root: { type: "string", valueName: "DIR", description: "Filesystem root of a real board. Default: /." },
    model: { type: "string", valueName: "DIR", description: "ONNX decoder folder producing the tokens. Required." },
    "cost-shape": {
      type: "string",
      valueName: "F",
      description: "Model config the simulated board is charged for. Default: the model's own shape.",
    },
    tasks: { type: "string", valueName: "LIST", description: "Tasks, comma-separated. Default: all three." },
    limit: { type: "string", valueName: "N", description: "First N queries of each task. Default: all." },
    modes: { type: "string", valueName: "LIST", description: "Modes, comma-separated. Default: standard,greedy,qeil." },
    samples: { type: "string", valueName: "K", description: `Sample budget k per query. Default: ${DEFAULT_SAMPLES}.` },
    seed: {
      type: "string",
      valueName: "S",
      description: "Seed of sampling, planning, the board and faults. Default: 0.",
    },
    "inject-faults": { type: "boolean", description: "Inject unit failures, hangs and sensor losses (sim: only)." },
    out: { type: "string", valueName: "DIR", description: "Write report.json, report.md and SVG plots here." },
    json: { type: "boolean", description: "Print the report as one JSON object." },
    data: {
      type: "string",
      valueName: "DIR",
      description: "Dataset folder laid out like ../shared/data. Default: ../shared/data beside the project.",
    },
  },
  run(args, ctx) {
    return runEval(parseEvalArgs(args), ctx);
  },
};
