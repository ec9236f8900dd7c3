/**
 * `qeil serve` end to end, as a real process against a real Mosquitto: MQTT 5
 * requests answered on their response topic with their correlation data,
 * malformed requests answered with an error naming the field, the HTTP API,
 * the graceful stop, the last will on kill -9, and the crash test with the
 * real orchestrator (50 accepted jobs, kill -9, restart: one result each).
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { startMosquitto } from "./_mosquitto.ts";
import { connectClient } from "./_mqtt_client.ts";
import { spawnServe } from "./_serve_process.ts";
import { startTcpProxy } from "./_tcp_proxy.ts";

/** Qwen2-0.5B's Hugging Face config at int8: a declared model that makes simulated jobs take seconds. */
const QWEN_CONFIG = {
  model_type: "qwen2",
  hidden_size: 896,
  intermediate_size: 4864,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  num_hidden_layers: 24,
  vocab_size: 151936,
  max_position_embeddings: 32768,
  tie_word_embeddings: true,
  qeil_weight_precision: "int8",
};

const FAST_ENV = { QEIL_TELEMETRY_PERIOD_MS: "500", QEIL_MQTT_RECONNECT_MIN_MS: "100" };

Deno.test("[mosquitto] qeil serve answers MQTT 5 requests, refuses malformed ones by field, serves HTTP, stops cleanly", async () => {
  await using broker = await startMosquitto();
  const stateDir = await Deno.makeTempDir({ prefix: "qeil-serve-" });
  await using service = spawnServe(
    ["--broker", broker.url, "--state-dir", stateDir, "--http-port", "0", "--node-id", "svc1"],
    FAST_ENV,
  );
  const info = await service.ready();
  const prefix = "qeil/v1/svc1/";
  assert.equal(info.topicPrefix, prefix);
  await using client = await connectClient(broker.url, { protocolVersion: 5 });
  await client.subscribe(["clients/svc1/replies", `${prefix}fault`, `${prefix}status`, `${prefix}telemetry`]);
  await client.waitFor(`${prefix}status`, (m) => m.json?.state === "online" && m.json?.bootSequence === 1);

  const ask = async (payload: unknown, correlation: string) => {
    await client.publish(`${prefix}infer/request`, payload, {
      qos: 1,
      properties: { responseTopic: "clients/svc1/replies", correlationData: Buffer.from(correlation) },
    });
    return await client.waitFor(
      "clients/svc1/replies",
      (m) => Buffer.from(m.packet.properties?.correlationData ?? []).toString() === correlation,
    );
  };

  const reply = await ask(
    { schemaVersion: 1, id: "r1", task: "text", prompt: "Hello there", samples: 4, maxTokens: 8, temperature: 0 },
    "corr-1",
  );
  const r = reply.json;
  assert.equal(r.schemaVersion, 1);
  assert.equal(r.id, "r1");
  assert.equal(r.ok, true, reply.text);
  assert.equal(typeof r.answer, "string");
  assert.equal(r.stopReason, "unanimous", "greedy decoding agrees: the cascade stops at n_min");
  assert.equal(r.samplesUsed, 3);
  assert.ok(r.energyJ > 0 && r.latencyMs > 0);
  assert.ok(["cpu_big", "cpu_little", "gpu", "npu"].includes(r.placement.prefillUnit));

  const notJson = await ask("{not json", "bad-1");
  assert.equal(notJson.json.ok, false);
  assert.equal(notJson.json.error.code, "Input");
  assert.equal(notJson.json.error.field, "payload");
  const wrongType = await ask({ id: "r2", prompt: "x", samples: "many" }, "bad-2");
  assert.equal(wrongType.json.error.field, "samples");
  assert.equal(wrongType.json.id, "r2");
  const unknownTask = await ask({ id: "r3", prompt: "x", task: "poetry" }, "bad-3");
  assert.equal(unknownTask.json.error.field, "task");
  const oversize = await ask({ id: "r4", prompt: "y".repeat(9000) }, "bad-4");
  assert.equal(oversize.json.error.field, "prompt");
  const fault = await client.waitFor(
    `${prefix}fault`,
    (m) => m.json?.kind === "bad-request" && m.json?.field === "task",
  );
  assert.equal(fault.packet.qos, 1);

  // A repeated request id gets the first result.
  const again = await ask({ id: "r1", prompt: "Something else entirely" }, "corr-again");
  assert.equal(again.json.answer, r.answer);
  assert.equal(again.json.energyJ, r.energyJ);

  const telemetry = await client.waitFor(`${prefix}telemetry`, (m) => m.json?.units?.cpu_big !== undefined);
  assert.equal(telemetry.packet.qos, 0);
  assert.equal(typeof telemetry.json.units.cpu_big.tempC, "number");

  const get = async (path: string) => {
    const res = await fetch(`${info.httpUrl}${path}`);
    return { status: res.status, text: await res.text() };
  };
  assert.equal((await get("/readyz")).status, 200);
  const status = JSON.parse((await get("/v1/status")).text);
  assert.equal(status.bootSequence, 1);
  assert.equal(status.board.simulated, true);
  assert.deepEqual(status.units.map((u: { unitId: string }) => u.unitId), ["cpu_big", "cpu_little", "gpu", "npu"]);
  assert.ok(status.units.every((u: { state: string }) => u.state === "healthy"));
  assert.equal(status.calibration.jobs.energyCount, 1);
  const plan = JSON.parse((await get("/v1/plan")).text);
  assert.ok(plan.chosen && plan.front.length > 0);
  const metrics = (await get("/metrics")).text;
  assert.match(metrics, /qeil_jobs_total\{outcome="ok"\} 1/);
  assert.match(metrics, /qeil_faults_total\{kind="bad-request"\} [1-9]/);
  const infer = await fetch(`${info.httpUrl}/v1/infer`, {
    method: "POST",
    body: JSON.stringify({ id: "h1", prompt: "Via HTTP", samples: 2, maxTokens: 4 }),
  });
  const body = await infer.json();
  assert.equal(infer.status, 200);
  assert.equal(body.id, "h1");
  const dashboard = JSON.parse((await get("/v1/dashboard")).text);
  assert.ok(dashboard.totals.jobs >= 2, "the dashboard saw the jobs");
  assert.ok(dashboard.plan?.chosen, "and the plan");
  assert.ok(dashboard.units.every((u: { history: unknown[] }) => u.history.length > 0), "and the telemetry");
  assert.equal((await get("/dashboard")).status, 200);
  const badHttp = await fetch(`${info.httpUrl}/v1/infer`, { method: "POST", body: JSON.stringify({ prompt: 5 }) });
  assert.equal(badHttp.status, 400);
  assert.equal((await badHttp.json()).error.field, "prompt");

  assert.equal(await service.terminate(), 0, "SIGTERM: a clean exit");
  const offline = await client.waitFor(`${prefix}status`, (m) => m.json?.state === "offline");
  assert.equal(offline.json.reason, "shutdown", "the service said goodbye itself (not the last will)");
  assert.ok(service.lines.some((l) => l.includes("service stopped")));
  await assert.rejects(Deno.stat(`${stateDir}/service.json`), Deno.errors.NotFound);
});

Deno.test("[mosquitto] crash test with the real orchestrator: 50 accepted jobs, kill -9, restart: one result per request id", async () => {
  await using broker = await startMosquitto();
  const stateDir = await Deno.makeTempDir({ prefix: "qeil-crash-" });
  // The first run charges the simulator for Qwen2-0.5B, so the first (long) job is still running when it dies.
  const costModel = `${stateDir}/qwen2-0.5b.json`;
  await Deno.writeTextFile(costModel, JSON.stringify(QWEN_CONFIG));
  const prefix = "qeil/v1/crash2/";
  const args = ["--broker", broker.url, "--state-dir", stateDir, "--http-port", "0", "--node-id", "crash2"];
  const env = { ...FAST_ENV, QEIL_QUEUE_CAPACITY: "100" };
  await using client = await connectClient(broker.url);
  await client.subscribe(["clients/crash2/replies", `${prefix}status`]);

  const first = spawnServe(args, { ...env, QEIL_ORCHESTRATOR_COST_MODEL: costModel });
  try {
    await first.ready();
    await client.waitFor(`${prefix}status`, (m) => m.json?.state === "online" && m.json?.bootSequence === 1);
    for (let i = 0; i < 50; i++) {
      // QoS 1: publish resolves on the PUBACK, which the service sends once the job is journaled.
      await client.publish(`${prefix}infer/request`, {
        id: `crash-${i}`,
        prompt: `job ${i}`,
        samples: 3,
        maxTokens: i === 0 ? 400 : 6,
        replyTo: "clients/crash2/replies",
      });
    }
    // The broker's PUBACK only says the broker has it: wait until the service has journaled every job.
    await (async () => {
      for (let i = 0; i < 50; i++) await first.waitForLine(new RegExp(`job accepted id=crash-${i} `));
    })();
  } finally {
    await first.kill();
  }
  assert.equal(
    client.received.filter((m) => m.topic === "clients/crash2/replies").length,
    0,
    "nothing finished before the kill",
  );
  const will = await client.waitFor(
    `${prefix}status`,
    (m) => m.json?.state === "offline" && m.json?.bootSequence === 1,
  );
  assert.equal(will.json.reason, "connection lost", "the broker published the last will");

  await using second = spawnServe(args, env);
  await second.ready();
  await client.waitFor(`${prefix}status`, (m) => m.json?.state === "online" && m.json?.bootSequence === 2);
  // A last request: its reply comes after every replayed job's (one worker, FIFO), on the same connection.
  await client.publish(`${prefix}infer/request`, {
    id: "sentinel",
    prompt: "last",
    samples: 1,
    maxTokens: 2,
    replyTo: "clients/crash2/replies",
  });
  await client.waitFor("clients/crash2/replies", (m) => m.json?.id === "sentinel");
  assert.ok(second.lines.some((l) => /journal recovered replayed=50/.test(l)), second.lines.join("\n"));
  const replies = client.received.filter((m) => m.topic === "clients/crash2/replies" && m.json?.id !== "sentinel");
  const counts = new Map<string, number>();
  for (const m of replies) counts.set(m.json.id, (counts.get(m.json.id) ?? 0) + 1);
  assert.equal(counts.size, 50, "every accepted request got a result");
  assert.deepEqual([...counts.values()].filter((n) => n !== 1), [], "no request got two results");
  assert.ok(replies.every((m) => m.json.ok === true), replies.filter((m) => !m.json.ok).map((m) => m.text).join("\n"));
  assert.equal(await second.terminate(), 0);
});

Deno.test("qeil serve under systemd: READY=1 once up, WATCHDOG=1 while healthy, STOPPING=1 on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-notify-" });
  const socketPath = `${dir}/notify.sock`;
  const listener = Deno.listenDatagram({ transport: "unixpacket", path: socketPath });
  const messages: string[] = [];
  const waiters: { match: (m: string) => boolean; resolve(): void }[] = [];
  const receiving = (async () => {
    try {
      for (;;) {
        const [data] = await listener.receive();
        const text = new TextDecoder().decode(data);
        messages.push(text);
        for (const w of [...waiters]) {
          if (w.match(text)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve();
          }
        }
      }
    } catch {
      // closed
    }
  })();
  const notified = (
    match: (m: string) => boolean,
  ) => (messages.some(match) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ match, resolve })));
  try {
    await using service = spawnServe(
      ["--state-dir", `${dir}/state`, "--http-port", "0", "--node-id", "notify"],
      { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: "1000000", QEIL_MQTT_EMBEDDED_PORT: "0" },
    );
    await notified((m) => m.includes("READY=1"));
    await service.ready();
    await notified((m) => m.includes("WATCHDOG=1"));
    assert.ok(messages.findIndex((m) => m.includes("READY=1")) < messages.findIndex((m) => m.includes("WATCHDOG=1")));
    const code = await service.terminate();
    assert.equal(code, 0);
    await notified((m) => m.includes("STOPPING=1"));
  } finally {
    listener.close();
    await receiving;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("[mosquitto] a result finished while the broker is unreachable is delivered after the reconnect", async () => {
  await using broker = await startMosquitto();
  await using proxy = startTcpProxy(broker.port);
  const stateDir = await Deno.makeTempDir({ prefix: "qeil-outage-" });
  await Deno.writeTextFile(`${stateDir}/qwen.json`, JSON.stringify(QWEN_CONFIG));
  await using service = spawnServe(
    ["--broker", proxy.url, "--state-dir", stateDir, "--http-port", "0", "--node-id", "outage"],
    { ...FAST_ENV, QEIL_ORCHESTRATOR_COST_MODEL: `${stateDir}/qwen.json` },
  );
  await service.ready();
  await service.waitForLine(/connected to MQTT broker/);
  await using client = await connectClient(broker.url);
  await client.subscribe("clients/outage/replies");
  await client.publish("qeil/v1/outage/infer/request", {
    id: "during-outage",
    prompt: "A long answer",
    samples: 3,
    maxTokens: 120,
    replyTo: "clients/outage/replies",
  });
  await service.waitForLine(/job accepted id=during-outage /);
  proxy.cut();
  await service.waitForLine(/job finished id=during-outage ok=true/);
  assert.equal(client.received.filter((m) => m.topic === "clients/outage/replies").length, 0, "not while cut");
  proxy.restore();
  const reply = await client.waitFor("clients/outage/replies", (m) => m.json?.id === "during-outage");
  assert.equal(reply.json.ok, true);
  assert.equal(await service.terminate(), 0);
});
