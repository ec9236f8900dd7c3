/**
 * The service infrastructure wired as the orchestrator will wire it (journal,
 * intake, MQTT bridge), with an echo runner in place of planning and
 * inference: the process the crash test kills with -9 and starts again.
 * Prints `accepted <id>` once a request is journaled, and `ready` at start.
 *
 * Usage: deno run -A _pipeline_child.ts URL STATE_DIR TOPIC_PREFIX hold|run
 */
import { systemClock } from "../../src/core/mod.ts";
import {
  createJobIntake,
  type InferRequest,
  type JournaledJob,
  nextBootSequence,
  openJournal,
  type ReplyPayload,
  startMqttBridge,
} from "../../src/service/mod.ts";

const [url, stateDir, topicPrefix, mode] = Deno.args;
const encoder = new TextEncoder();
const say = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));

const bootSequence = await nextBootSequence(stateDir);
const journal = await openJournal<JournaledJob, ReplyPayload>({ dir: `${stateDir}/journal`, clock: systemClock });
const run = (request: InferRequest) =>
  mode === "hold" ? new Promise<never>(() => {}) : Promise.resolve({
    answer: request.prompt.toUpperCase(),
    text: request.prompt.toUpperCase(),
    confidence: 1,
    samplesUsed: 1,
    stopReason: "unanimous" as const,
    energyJ: 0.1,
    latencyMs: 1,
    placement: { prefillUnit: "cpu", lanes: [], freqLevel: {} },
  });
// deno-lint-ignore prefer-const
let bridge: ReturnType<typeof startMqttBridge>;
const intake = createJobIntake({
  journal,
  run,
  deliver: (route, payload) => bridge.publishReply(route, payload),
  capacity: 100,
  concurrency: 2,
  deadlineMsFor: () => 60_000,
  clock: systemClock,
});
bridge = startMqttBridge({
  url,
  clientId: `qeil-pipeline-${topicPrefix.replaceAll("/", "-")}`,
  topicPrefix,
  nodeId: "pipeline",
  version: "test",
  bootSequence,
  limits: {
    maxPromptBytes: 1024,
    defaultSamples: 1,
    maxSamples: 4,
    defaultMaxTokens: 8,
    maxMaxTokens: 8,
    defaultTemperature: 0,
    maxSloMs: 60_000,
  },
  onRequest: async (request, reply) => {
    const submission = await intake.submit(request, reply.route);
    say(`${submission.status} ${request.id}`);
  },
  onConnectionChange: (up) => {
    if (up) intake.redeliver();
  },
  clock: systemClock,
  reconnectMinMs: 50,
});
// Replayed jobs are queued synchronously here, before any request can arrive.
const recovered = intake.recover();
await bridge.waitConnected();
const report = await recovered;
say(`recovered ${report.replayed} ${report.redelivered}`);
say("ready");
setInterval(() => {}, 60_000);
