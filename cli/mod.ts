/**
 * The command registry of the composition root. Each command lives in its own
 * file in this folder; add it here once.
 */
import type { Command } from "./command.ts";
import { evalCommand } from "./eval.ts";
import { planCommand } from "./plan.ts";
import { probeCommand } from "./probe.ts";
import { releaseCommand } from "./release.ts";
import { runCommand } from "./run.ts";
import { scoreCommand } from "./score.ts";
import { serveCommand } from "./serve.ts";
import { simCommand } from "./sim.ts";
import { verifyReplayCommand } from "./verify_replay.ts";

export const commands: readonly Command[] = [
  evalCommand,
  planCommand,
  probeCommand,
  releaseCommand,
  runCommand,
  scoreCommand,
  serveCommand,
  simCommand,
  verifyReplayCommand,
];
