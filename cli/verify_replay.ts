/**
 * `qeil verify-replay`: replays recorded samples (jsonl) through fixed-k
 * majority vote, the verification cascade and ESC window stopping, and reports
 * accuracy, mean samples used and their ratio, so the cascade can be tuned
 * offline from samples recorded once with a capable model.
 */
import { type Command, type ParsedArgs, UsageError } from "./command.ts";
import { DatasetError } from "../src/core/mod.ts";
import {
  evaluateReplay,
  parseReplay,
  type ReplayReport,
  type StopEvidence,
  type StopHorizon,
  VERIFY_TASKS,
  type VerifyTask,
} from "../src/verify/mod.ts";

const EVIDENCE: readonly StopEvidence[] = ["count", "reliability"];
const HORIZONS: readonly StopHorizon[] = ["unbounded", "budget"];

function percent(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

function signed(x: number): string {
  return `${x >= 0 ? "+" : ""}${x.toFixed(2)}`;
}

function textReport(file: string, task: VerifyTask, r: ReplayReport): string {
  const o = r.cascade.options;
  const rows: string[][] = [
    ["method", "accuracy", "mean samples", "samples ratio", "accuracy vs majority (points)"],
    [
      `majority@${r.k}`,
      `${percent(r.majority.accuracy)} ± ${(100 * r.majority.accuracySe).toFixed(2)}`,
      r.majority.meanSamples.toFixed(2),
      "1.000",
      "",
    ],
  ];
  for (const [name, m] of [["cascade", r.cascade], [`esc (w=${r.esc.window})`, r.esc]] as const) {
    rows.push([
      name,
      `${percent(m.accuracy)} ± ${(100 * m.accuracySe).toFixed(2)}`,
      m.meanSamples.toFixed(2),
      m.samplesRatio.toFixed(3),
      `${signed(m.versusMajority.deltaPoints)} ± ${m.versusMajority.sePoints.toFixed(2)}`,
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const lines = [
    `verify-replay: ${r.questions} questions from ${file} (task ${task}, k ${r.k}, tau ${o.tau}, n_min ${o.minSamples}, ` +
    `evidence ${o.evidence}, horizon ${o.horizon}, temperature ${Number(o.temperature.toFixed(4))})`,
    "",
    ...rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd()),
    "",
    `cascade stops: unanimous ${r.cascade.stopReasons.unanimous}, confident ${r.cascade.stopReasons.confident}, ` +
    `budget ${r.cascade.stopReasons.budget}; unextractable samples ${percent(r.invalidSampleRate)}`,
  ];
  if (r.cascade.calibration) {
    const c = r.cascade.calibration;
    lines.push(
      `temperature fitted without golds: gap ${c.gapNats.toFixed(4)} nats, noise ${c.noiseNats.toFixed(4)} nats, ` +
        `${c.contrastQuestions} questions with disagreement`,
    );
  }
  if (r.shortQuestions > 0) {
    lines.push(
      `note: ${r.shortQuestions} questions have fewer than ${r.k} samples; every method stops at what was recorded`,
    );
  }
  return lines.join("\n") + "\n";
}

function temperatureOf(args: ParsedArgs): number | "auto" {
  const raw = args.string("temperature") ?? "1";
  if (raw === "auto") return "auto";
  const t = args.number("temperature");
  if (t === undefined || !(t > 0)) throw new UsageError(`--temperature must be a number > 0 or "auto", got "${raw}"`);
  return t;
}

export const verifyReplayCommand: Command = {
  name: "verify-replay",
  summary: "Replay recorded samples: fixed-k majority vote vs the verification cascade",
  usage: "--file FILE [--task gsm8k|arc_challenge|text] [--k K] [--tau X] [--evidence E] [--horizon H] [--json]",
  description: `
FILE is jsonl, one question a line:
  {"id": "q1", "gold": "18", "samples": [{"text": "... #### 18", "meanLogProb": -0.41}, {"answer": "17", "meanLogProb": -0.52}]}
Each sample gives the model's text (the task's extractor finds the answer) or an extracted answer (null: none),
and its mean token log-probability. ARC lines may add "choices" (texts, or {label, text}). Every method sees the
first k samples of each question in order; the cascade stops early, majority vote uses all k, ESC stops at the
first unanimous window.`,
  options: {
    file: { type: "string", description: "Replay file (jsonl).", valueName: "FILE" },
    task: {
      type: "string",
      description: `How answers are extracted and compared: ${VERIFY_TASKS.join(", ")}.`,
      default: "gsm8k",
      valueName: "TASK",
    },
    k: { type: "string", description: "Sampling budget k of every method.", default: "16", valueName: "K" },
    tau: {
      type: "string",
      description: "CSVET threshold on P(leader beats runner-up).",
      default: "0.95",
      valueName: "X",
    },
    "min-samples": {
      type: "string",
      description: "n_min: no early stop before this many samples (default 3, or k when smaller).",
      valueName: "N",
    },
    evidence: {
      type: "string",
      description: "What CSVET weighs: count (votes) or reliability (log-prob-weighted pseudo-counts).",
      default: "count",
      valueName: "E",
    },
    horizon: {
      type: "string",
      description:
        "What CSVET's probability is about: unbounded (P(p > 0.5)) or budget (the lead survives the budget).",
      default: "unbounded",
      valueName: "H",
    },
    temperature: {
      type: "string",
      description: 'Reliability softmax temperature in nats, or "auto" (fitted from the samples, golds unused).',
      default: "1",
      valueName: "T",
    },
    "esc-window": { type: "string", description: "ESC window size.", default: "5", valueName: "W" },
    json: { type: "boolean", description: "Print the report as JSON." },
  },
  async run(args, ctx) {
    const file = args.requireString("file");
    const task = args.choice("task", VERIFY_TASKS) ?? "gsm8k";
    const k = args.int("k", { min: 1 }) ?? 16;
    const tau = args.number("tau", { min: 0.5, max: 1 }) ?? 0.95;
    if (tau === 0.5) throw new UsageError("--tau must be above 0.5 (at 0.5 every first answer is confident)");
    const minSamples = args.int("min-samples", { min: 1, max: k });
    const evidence = args.choice("evidence", EVIDENCE) ?? "count";
    const horizon = args.choice("horizon", HORIZONS) ?? "unbounded";
    const temperature = temperatureOf(args);
    const escWindow = args.int("esc-window", { min: 1 }) ?? 5;

    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      throw new DatasetError(`read replay file ${file}`, { cause: error, details: { path: file } });
    }
    const questions = parseReplay(text, { file, task });
    const report = evaluateReplay(questions, {
      k,
      escWindow,
      cascade: { tau, evidence, horizon, temperature, ...(minSamples === undefined ? {} : { minSamples }) },
    });
    ctx.stdout(
      args.flag("json") ? JSON.stringify({ file, task, ...report }, null, 2) + "\n" : textReport(file, task, report),
    );
    return 0;
  },
};
