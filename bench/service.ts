/**
 * Benchmarks of the service.
 *
 * Default: `qeil serve` as a child process (simulated rk3588 in real time,
 * the embedded tiny model) behind a real Mosquitto when one is installed
 * (else the embedded broker). First its idle CPU share with telemetry at
 * 1 Hz, from /proc/<pid>/stat (utime + stime) over an idle window; then 200
 * requests from 20 concurrent MQTT clients (10 each, one outstanding per
 * client), with p50/p99 latency as the clients see it, throughput, errors
 * and lost requests (no reply at all; must be 0).
 *
 * `--waves`: in process, on a virtual-time simulated rk3588 charged for
 * Qwen2-0.5B (int8), the energy and latency of drawing qeil's samples all at
 * once (cancelled at the cascade's decision) or in adaptive waves, for
 * samples that agree (temperature 0: the cascade stops at n_min) and that
 * never agree (temperature 1: the budget is spent).
 *
 * Usage:
 *   deno run -A --unstable-net bench/service.ts [--requests 200] [--clients 20] [--idle-s 20]
 *   deno run -A --unstable-net bench/service.ts --waves
 */
import { parseArgs } from "node:util";
import { Buffer } from "node:buffer";
import { connectAsync, type MqttClient } from "mqtt";
import { discoverBoard } from "../src/hal/mod.ts";
import { buildTinyModel, loadModel } from "../src/runtime/mod.ts";
import { createOrchestrator, type WavePolicy } from "../src/service/mod.ts";
import { createSimBoard } from "../src/sim/mod.ts";
import type { DecoderShape } from "../src/core/mod.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function findMosquitto(): string | undefined {
  for (const dir of [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/usr/local/sbin"]) {
    try {
      if (Deno.statSync(`${dir}/mosquitto`).isFile) return `${dir}/mosquitto`;
    } catch {
      // not here
    }
  }
  return undefined;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Starts mosquitto on a free port; resolves once it accepts a TCP connection. */
async function startMosquitto(binary: string): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-bench-mosquitto-" });
  const port = freePort();
  const lines = [`listener ${port} 127.0.0.1`, "allow_anonymous true", "persistence false", "log_dest none"];
  if (Deno.uid() === 0) lines.push("user root");
  await Deno.writeTextFile(`${dir}/m.conf`, lines.join("\n") + "\n");
  const child = new Deno.Command(binary, { args: ["-c", `${dir}/m.conf`], stdout: "null", stderr: "null" }).spawn();
  for (let attempt = 0;; attempt++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (error) {
      if (attempt > 200) throw error;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** CPU time of a process so far, s (utime + stime from /proc/<pid>/stat). */
async function cpuSeconds(pid: number, ticksPerS: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // The command name may hold spaces; fields after the closing parenthesis start at field 3.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / ticksPerS;
}

async function clockTicks(): Promise<number> {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    if (n > 0) return n;
  } catch {
    // no getconf
  }
  return 100;
}

/** A spawned `qeil` process whose log can be awaited. */
function spawnQeil(args: string[], env: Record<string, string>, readyText: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-net", MAIN, ...args],
    env: { DENO_NO_UPDATE_CHECK: "1", ORT_DISABLE_TELEMETRY: "1", NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  let announce!: () => void;
  const readySeen = new Promise<void>((resolve) => announce = resolve);
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      log += chunk;
      if (log.includes(readyText)) announce();
    }
  };
  const draining = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const exited = child.status.then((s) => Promise.reject(new Error(`qeil ${args[0]} exited ${s.code}:\n${log}`)));
  exited.catch(() => {});
  return {
    pid: child.pid,
    ready: () => Promise.race([readySeen, exited]),
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
      await draining;
    },
  };
}

/** CPU share of one core a process uses over an idle window, after letting start-up settle. */
async function idleShare(pid: number, idleS: number): Promise<{ share: number; cpuS: number }> {
  const ticks = await clockTicks();
  await new Promise((r) => setTimeout(r, 3000));
  const cpu0 = await cpuSeconds(pid, ticks);
  const wall0 = performance.now();
  await new Promise((r) => setTimeout(r, idleS * 1000));
  const cpu1 = await cpuSeconds(pid, ticks);
  return { share: (cpu1 - cpu0) / ((performance.now() - wall0) / 1000), cpuS: cpu1 - cpu0 };
}

async function loadBench(requests: number, clients: number, idleS: number): Promise<number> {
  const mosquittoBinary = findMosquitto();
  const mosquitto = mosquittoBinary ? await startMosquitto(mosquittoBinary) : undefined;
  const brokerEnv: Record<string, string> = mosquitto ? {} : { QEIL_MQTT_EMBEDDED_PORT: "0" };
  const broker = mosquitto?.url ?? "embedded";
  let exitCode = 0;
  try {
    // 1. The service alone: a separate `qeil sim` process keeps an rk3588 tree live (100 ms steps), and the
    //    service reads it as a real board (no simulator in its process; no unit has a backend on this host,
    //    so it only samples, publishes telemetry and watches itself, as an idle appliance does).
    {
      const simRoot = await Deno.makeTempDir({ prefix: "qeil-bench-tree-" });
      const stateDir = await Deno.makeTempDir({ prefix: "qeil-bench-idle-" });
      const sim = spawnQeil(["sim", "--board", "rk3588", "--root", simRoot, "--step-ms", "100"], {}, "Ctrl-C stops");
      try {
        await sim.ready();
        const serve = spawnQeil(
          ["serve", "--board", "rk3588", "--state-dir", stateDir, "--http-port", "0", "--node-id", "idle"],
          { ...brokerEnv, QEIL_SYSFS_ROOT: simRoot, QEIL_MQTT_URL: broker },
          "service ready",
        );
        try {
          await serve.ready();
          const idle = await idleShare(serve.pid, idleS);
          console.log(
            `idle CPU, service alone (reading a live rk3588 tree another process simulates): ` +
              `${(idle.share * 100).toFixed(2)}% of one core over ${idleS} s (${
                idle.cpuS.toFixed(2)
              } s CPU; target < 2%)`,
          );
        } finally {
          await serve.stop();
        }
      } finally {
        await sim.stop();
        await Deno.remove(simRoot, { recursive: true }).catch(() => undefined);
        await Deno.remove(stateDir, { recursive: true }).catch(() => undefined);
      }
    }

    // 2. The default service: the simulated board in its own process (realtime, sim.stepMs), the tiny model.
    const stateDir = await Deno.makeTempDir({ prefix: "qeil-bench-service-" });
    const serve = spawnQeil(
      ["serve", "--state-dir", stateDir, "--http-port", "0", "--node-id", "bench", "--broker", broker],
      brokerEnv,
      "service ready",
    );
    try {
      await serve.ready();
      const info = JSON.parse(await Deno.readTextFile(`${stateDir}/service.json`));
      const protocol = mosquitto ? 5 : 4;
      console.log(
        `qeil serve pid ${serve.pid}: ${info.board.profileId} simulated in process, broker ${info.brokerUrl} ` +
          `(${mosquitto ? "Mosquitto, MQTT 5" : "embedded aedes, MQTT 3.1.1"}), telemetry every 1000 ms`,
      );
      const idle = await idleShare(serve.pid, idleS);
      console.log(
        `idle CPU, service with its simulated board (500 ms steps): ${(idle.share * 100).toFixed(2)}% of one core ` +
          `over ${idleS} s (${idle.cpuS.toFixed(2)} s CPU)`,
      );

      // Load: `clients` clients, each sending its share of requests one after another.
      const prefix = info.topicPrefix as string;
      const latencies: number[] = [];
      let errors = 0;
      let lost = 0;
      const perClient = Math.ceil(requests / clients);
      const started = performance.now();
      const runClient = async (c: number) => {
        const client: MqttClient = await connectAsync(info.brokerUrl, {
          protocolVersion: protocol,
          clientId: `qeil-bench-${Deno.pid}-${c}`,
          reconnectPeriod: 200,
        });
        const replyTopic = `bench/replies/${c}`;
        await client.subscribeAsync(replyTopic, { qos: 1 });
        const waiting = new Map<string, (payload: { ok: boolean }) => void>();
        client.on("message", (_topic, payload) => {
          const body = JSON.parse(payload.toString("utf8"));
          waiting.get(body.id)?.(body);
        });
        try {
          for (let i = 0; i < perClient && c * perClient + i < requests; i++) {
            const id = `bench-${c}-${i}`;
            const body = { id, prompt: `Client ${c} asks question ${i}`, samples: 3, maxTokens: 16, temperature: 0.7 };
            const t0 = performance.now();
            let timer: ReturnType<typeof setTimeout> | undefined;
            const reply = new Promise<{ ok: boolean } | undefined>((resolve) => {
              waiting.set(id, resolve);
              timer = setTimeout(() => resolve(undefined), 120_000);
            });
            await client.publishAsync(
              `${prefix}infer/request`,
              Buffer.from(JSON.stringify(protocol === 5 ? body : { ...body, replyTo: replyTopic })),
              protocol === 5 ? { qos: 1, properties: { responseTopic: replyTopic } } : { qos: 1 },
            );
            const payload = await reply;
            clearTimeout(timer);
            waiting.delete(id);
            if (payload === undefined) lost++;
            else {
              latencies.push(performance.now() - t0);
              if (!payload.ok) errors++;
            }
          }
        } finally {
          await client.endAsync();
        }
      };
      await Promise.all(Array.from({ length: clients }, (_, c) => runClient(c)));
      const spanS = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      console.log(
        `load: ${requests} requests (3 samples, 16 tokens) from ${clients} concurrent clients in ${
          spanS.toFixed(1)
        } s: throughput ${(latencies.length / spanS).toFixed(1)} req/s, p50 ${
          percentile(latencies, 50).toFixed(0)
        } ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, errors ${errors}, lost ${lost}`,
      );
      if (lost > 0) exitCode = 1;
    } finally {
      await serve.stop();
      await Deno.remove(stateDir, { recursive: true }).catch(() => undefined);
    }
  } finally {
    await mosquitto?.stop();
  }
  return exitCode;
}

const QWEN2_05B_INT8: DecoderShape = {
  family: "qwen2",
  mlpMatrices: 3,
  layers: 24,
  hiddenSize: 896,
  intermediateSize: 4864,
  heads: 14,
  kvHeads: 2,
  headDim: 64,
  vocabSize: 151936,
  maxSeqLen: 32768,
  tiedEmbeddings: true,
  weightPrecision: "int8",
  kvPrecision: "fp16",
};

async function wavesBench(): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-bench-waves-" });
  await buildTinyModel(`${dir}/model`);
  await using model = await loadModel(`${dir}/model`);
  console.log("qeil's sampling on a virtual simulated rk3588 charged for Qwen2-0.5B int8; 6 jobs per row, 32 tokens");
  console.log("k   samples agree   waves      energy J   latency ms   samples used   samples started");
  let n = 0;
  for (const k of [5, 16]) {
    for (const temperature of [0, 1]) {
      for (const waves of ["all", "adaptive"] as WavePolicy[]) {
        await using sim = await createSimBoard({
          profileId: "rk3588",
          root: `${dir}/sim${n++}`,
          seed: 3,
          timeMode: "virtual",
        });
        const board = await discoverBoard(sim.root, { profileId: "rk3588", clock: sim.clock });
        await using orchestrator = createOrchestrator({ board, sim, model, costShape: QWEN2_05B_INT8, waves });
        await orchestrator.start();
        const jobs = 6;
        let energyJ = 0;
        let latencyMs = 0;
        let used = 0;
        let started = 0;
        for (let i = 0; i < jobs; i++) {
          const r = await orchestrator.runJob({
            id: `w${i}`,
            task: "text",
            prompt: `Question ${i}: what is it?`,
            samples: k,
            maxTokens: 32,
            temperature,
          });
          energyJ += r.energyJ;
          latencyMs += r.latencyMs;
          used += r.samplesUsed;
          started += r.samplesStarted;
          await sim.advance(2000);
        }
        console.log(
          `${String(k).padEnd(3)} ${(temperature === 0 ? "yes (T=0)" : "no (T=1)").padEnd(15)} ${waves.padEnd(10)} ` +
            `${(energyJ / jobs).toFixed(2).padStart(8)}   ${(latencyMs / jobs).toFixed(0).padStart(10)}   ` +
            `${(used / jobs).toFixed(1).padStart(12)}   ${(started / jobs).toFixed(1).padStart(15)}`,
        );
      }
    }
  }
  await Deno.remove(dir, { recursive: true });
  return 0;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      waves: { type: "boolean" },
      requests: { type: "string", default: "200" },
      clients: { type: "string", default: "20" },
      "idle-s": { type: "string", default: "20" },
    },
  });
  const code = values.waves
    ? await wavesBench()
    : await loadBench(Number(values.requests), Number(values.clients), Number(values["idle-s"]));
  Deno.exit(code);
}
