/**
 * The MQTT bridge against real brokers: one contract suite that both a real
 * Mosquitto process and the embedded aedes broker must pass, plus the
 * MQTT 5, authentication and TLS cases that only Mosquitto offers.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { BusyError, ManualClock, systemClock } from "../../src/core/mod.ts";
import {
  type CommandMessage,
  type InferRequest,
  type MqttBridge,
  type MqttBridgeOptions,
  type MqttReply,
  readTlsFiles,
  type ReplyPayload,
  type RequestLimits,
  startEmbeddedBroker,
  startMqttBridge,
} from "../../src/service/mod.ts";
import { captureLogger, events, type LogEvent } from "./_helpers.ts";
import { makeTlsFiles, startMosquitto } from "./_mosquitto.ts";
import { connectClient } from "./_mqtt_client.ts";
import { startTcpProxy } from "./_tcp_proxy.ts";

const LIMITS: RequestLimits = {
  maxPromptBytes: 256,
  defaultSamples: 3,
  maxSamples: 8,
  defaultMaxTokens: 16,
  maxMaxTokens: 64,
  defaultTemperature: 0.5,
  maxSloMs: 10_000,
};

interface RunningBroker {
  url: string;
  port: number;
  stop(): Promise<void>;
}

interface BrokerKind {
  name: string;
  mqtt5: boolean;
  start(): Promise<RunningBroker>;
}

const BROKERS: BrokerKind[] = [
  {
    name: "mosquitto",
    mqtt5: true,
    start: async () => {
      const m = await startMosquitto();
      return { url: m.url, port: m.port, stop: m.stop };
    },
  },
  {
    name: "embedded aedes",
    mqtt5: false,
    start: async () => {
      const b = await startEmbeddedBroker({ port: 0 });
      return { url: b.url, port: b.port, stop: b.close };
    },
  },
];

let prefixCounter = 0;

/** A request handler that records requests and answers each at once with an echo result. */
function echoHandler() {
  const requests: { request: InferRequest; reply: MqttReply }[] = [];
  const handler = (request: InferRequest, reply: MqttReply) => {
    requests.push({ request, reply });
    const payload: ReplyPayload = {
      schemaVersion: 1,
      id: request.id,
      ok: true,
      answer: request.prompt.toUpperCase(),
      text: request.prompt.toUpperCase(),
      confidence: 1,
      samplesUsed: 1,
      stopReason: "unanimous",
      energyJ: 0.5,
      latencyMs: 3,
      placement: { prefillUnit: "cpu", lanes: [], freqLevel: {} },
    };
    // Not awaited: the PUBACK is read by the pipeline that is waiting for this handler.
    reply.send(payload).catch(() => {});
  };
  return { requests, handler };
}

function bridgeOptions(url: string, extra: Partial<MqttBridgeOptions> = {}): MqttBridgeOptions {
  const n = ++prefixCounter;
  return {
    url,
    clientId: `qeil-bridge-${Deno.pid}-${n}`,
    topicPrefix: `qeil/v1/node${n}/`,
    nodeId: `node${n}`,
    version: "9.9.9",
    bootSequence: 7,
    limits: LIMITS,
    onRequest: echoHandler().handler,
    clock: systemClock,
    reconnectMinMs: 50,
    reconnectMaxMs: 200,
    connectTimeoutMs: 3000,
    ...extra,
  };
}

async function connected(bridge: MqttBridge): Promise<void> {
  await bridge.waitConnected();
}

for (const kind of BROKERS) {
  const t = (name: string, fn: (broker: RunningBroker) => Promise<void>) =>
    Deno.test(`[${kind.name}] ${name}`, async () => {
      const broker = await kind.start();
      try {
        await fn(broker);
      } finally {
        await broker.stop();
      }
    });

  t("a request with replyTo gets its result on that topic (MQTT 3.1.1 client)", async (broker) => {
    const echo = echoHandler();
    await using bridge = startMqttBridge(bridgeOptions(broker.url, { onRequest: echo.handler }));
    await connected(bridge);
    assert.equal(bridge.stats().protocolVersion, kind.mqtt5 ? 5 : 4, "MQTT 5 where the broker has it, else 3.1.1");
    await using client = await connectClient(broker.url);
    await client.subscribe("clients/c1/replies");
    await client.publish(bridge.topics.request, {
      schemaVersion: 1,
      id: "req-1",
      prompt: "hello",
      samples: 2,
      replyTo: "clients/c1/replies",
    });
    const reply = await client.waitFor("clients/c1/replies", (m) => m.json?.id === "req-1");
    assert.deepEqual(reply.json, {
      schemaVersion: 1,
      id: "req-1",
      ok: true,
      answer: "HELLO",
      text: "HELLO",
      confidence: 1,
      samplesUsed: 1,
      stopReason: "unanimous",
      energyJ: 0.5,
      latencyMs: 3,
      placement: { prefillUnit: "cpu", lanes: [], freqLevel: {} },
    });
    assert.equal(reply.packet.qos, 1);
    assert.deepEqual(echo.requests.map((r) => [r.request.samples, r.reply.route]), [[2, {
      topic: "clients/c1/replies",
    }]]);
  });

  t("malformed requests get an error reply naming the field and a fault event", async (broker) => {
    const echo = echoHandler();
    const faults: string[] = [];
    await using bridge = startMqttBridge(bridgeOptions(broker.url, {
      onRequest: echo.handler,
      onFault: (f) => faults.push(f.kind),
    }));
    await connected(bridge);
    await using client = await connectClient(broker.url);
    await client.subscribe(["clients/c2/replies", bridge.topics.fault]);
    const bad = [
      { id: "bad-task", prompt: "p", task: "poetry", replyTo: "clients/c2/replies" },
      { id: "bad-samples", prompt: "p", samples: 99, replyTo: "clients/c2/replies" },
      { id: "too-long", prompt: "x".repeat(300), replyTo: "clients/c2/replies" },
      { id: "no-prompt", replyTo: "clients/c2/replies" },
    ];
    for (const b of bad) await client.publish(bridge.topics.request, b);
    await client.publish(bridge.topics.request, "{this is not json");
    const fields: Record<string, string> = {
      "bad-task": "task",
      "bad-samples": "samples",
      "too-long": "prompt",
      "no-prompt": "prompt",
    };
    for (const [id, field] of Object.entries(fields)) {
      const reply = await client.waitFor("clients/c2/replies", (m) => m.json?.id === id);
      assert.equal(reply.json.ok, false);
      assert.equal(reply.json.schemaVersion, 1);
      assert.equal(reply.json.error.code, "Input");
      assert.equal(reply.json.error.field, field, `${id} names ${field}`);
      const fault = await client.waitFor(bridge.topics.fault, (m) => m.json?.requestId === id);
      assert.equal(fault.json.kind, "bad-request");
      assert.equal(fault.json.field, field);
      assert.equal(fault.packet.qos, 1);
    }
    const garbage = await client.waitFor(bridge.topics.fault, (m) => m.json?.field === "payload");
    assert.match(garbage.json.message, /not valid JSON/);
    assert.equal(echo.requests.length, 0, "no bad request reaches the handler");
    // The bridge still serves good requests afterwards.
    await client.publish(bridge.topics.request, { id: "good", prompt: "ok", replyTo: "clients/c2/replies" });
    assert.equal((await client.waitFor("clients/c2/replies", (m) => m.json?.id === "good")).json.ok, true);
    assert.equal(bridge.stats().requestsRejected, 5);
    assert.deepEqual(faults, Array(5).fill("bad-request"));
  });

  t(
    "a handler that never accepts does not stall the bridge: the request is acknowledged after the timeout",
    async (broker) => {
      const { logger, waitFor } = captureLogger();
      const seen: string[] = [];
      await using bridge = startMqttBridge(bridgeOptions(broker.url, {
        logger,
        acceptTimeoutMs: 100,
        onRequest: (request, reply) => {
          seen.push(request.id);
          if (request.id === "stuck") return new Promise<void>(() => {});
          return echoHandler().handler(request, reply);
        },
      }));
      await connected(bridge);
      await using client = await connectClient(broker.url);
      await client.subscribe("clients/c6/replies");
      await client.publish(bridge.topics.request, { id: "stuck", prompt: "p", replyTo: "clients/c6/replies" });
      await client.publish(bridge.topics.request, { id: "next", prompt: "q", replyTo: "clients/c6/replies" });
      assert.equal((await client.waitFor("clients/c6/replies", (m) => m.json?.id === "next")).json.answer, "Q");
      assert.deepEqual(seen, ["stuck", "next"]);
      await waitFor((e) => e.level === "warn" && e.id === "stuck" && /did not accept in time/.test(e.msg));
    },
  );

  t(
    "a request with no reply route, or one under the node's own topics, is refused with a fault only",
    async (broker) => {
      const echo = echoHandler();
      await using bridge = startMqttBridge(bridgeOptions(broker.url, { onRequest: echo.handler }));
      await connected(bridge);
      await using client = await connectClient(broker.url);
      await client.subscribe(bridge.topics.fault);
      await client.publish(bridge.topics.request, { id: "nowhere", prompt: "p" });
      const f1 = await client.waitFor(bridge.topics.fault, (m) => m.json?.requestId === "nowhere");
      assert.equal(f1.json.field, "replyTo");
      await client.publish(bridge.topics.request, { id: "loop", prompt: "p", replyTo: bridge.topics.request });
      const f2 = await client.waitFor(bridge.topics.fault, (m) => m.json?.requestId === "loop");
      assert.match(f2.json.message, /must not be under this node's topics/);
      assert.equal(echo.requests.length, 0);
    },
  );

  t("a handler that refuses with BusyError makes an error reply with code Busy", async (broker) => {
    await using bridge = startMqttBridge(bridgeOptions(broker.url, {
      onRequest: () => {
        throw new BusyError("queue full", { details: { retryAfterS: 2 } });
      },
    }));
    await connected(bridge);
    await using client = await connectClient(broker.url);
    await client.subscribe(["clients/c3/replies", bridge.topics.fault]);
    await client.publish(bridge.topics.request, { id: "r", prompt: "p", replyTo: "clients/c3/replies" });
    const reply = await client.waitFor("clients/c3/replies", (m) => m.json?.id === "r");
    assert.deepEqual(reply.json.error, { code: "Busy", message: "queue full" });
    assert.equal(
      client.received.filter((m) => m.topic === bridge.topics.fault).length,
      0,
      "back-pressure is not a fault",
    );
  });

  t("status is retained: birth online with boot sequence and version, offline on close", async (broker) => {
    const options = bridgeOptions(broker.url);
    const bridge = startMqttBridge(options);
    await connected(bridge);
    // A client that subscribes later still gets the retained birth.
    await using watcher = await connectClient(broker.url);
    await watcher.subscribe(bridge.topics.status);
    const birth = await watcher.waitFor(bridge.topics.status, (m) => m.json?.state === "online");
    assert.equal(birth.packet.retain, true);
    assert.deepEqual({ ...birth.json, timestampMs: undefined }, {
      schemaVersion: 1,
      state: "online",
      nodeId: options.nodeId,
      bootSequence: 7,
      version: "9.9.9",
      timestampMs: undefined,
    });
    assert.equal(typeof birth.json.timestampMs, "number");
    await bridge.close();
    const offline = await watcher.waitFor(bridge.topics.status, (m) => m.json?.state === "offline");
    assert.equal(offline.json.reason, "shutdown");
    await using late = await connectClient(broker.url);
    await late.subscribe(bridge.topics.status);
    const retained = await late.waitFor(bridge.topics.status);
    assert.equal(retained.json.state, "offline");
    assert.equal(retained.packet.retain, true);
  });

  t("the last will publishes offline when the service process is killed", async (broker) => {
    const prefix = `qeil/v1/child${++prefixCounter}/`;
    await using watcher = await connectClient(broker.url);
    await watcher.subscribe(`${prefix}status`);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./_bridge_child.ts", import.meta.url).pathname, broker.url, prefix, "3"],
      stdout: "piped",
      stderr: "null",
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    }).spawn();
    try {
      const online = await watcher.waitFor(`${prefix}status`, (m) => m.json?.state === "online");
      assert.equal(online.json.bootSequence, 3);
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel();
    }
    const will = await watcher.waitFor(`${prefix}status`, (m) => m.json?.state === "offline");
    assert.equal(will.json.reason, "connection lost");
    assert.equal(will.json.bootSequence, 3);
  });

  t("QoS 1 messages published while the broker is unreachable are delivered after reconnect", async (broker) => {
    await using proxy = startTcpProxy(broker.port);
    const { logger, waitFor: waitLog } = captureLogger();
    let announceDown!: () => void;
    const down = new Promise<void>((resolve) => announceDown = resolve);
    await using bridge = startMqttBridge(bridgeOptions(proxy.url, {
      logger,
      onConnectionChange: (up) => up || announceDown(),
    }));
    await connected(bridge);
    await using client = await connectClient(broker.url);
    await client.subscribe(["clients/c4/replies", bridge.topics.status]);
    await client.waitFor(bridge.topics.status, (m) => m.json?.state === "online");
    proxy.cut();
    // The broker notices the lost connection and publishes the last will.
    await client.waitFor(bridge.topics.status, (m) => m.json?.state === "offline");
    await down;
    const sent = bridge.publishReply(
      { topic: "clients/c4/replies" },
      { schemaVersion: 1, id: "while-away", ok: false, error: { code: "Timeout", message: "late" } },
    );
    assert.equal(bridge.connected(), false);
    assert.equal(bridge.stats().offlineQueued, 1);
    proxy.restore();
    await sent;
    const got = await client.waitFor("clients/c4/replies", (m) => m.json?.id === "while-away");
    assert.equal(got.json.error.code, "Timeout");
    // Back online: a new birth replaces the will.
    const firstBirth = client.received.find((m) => m.topic === bridge.topics.status && m.json?.state === "online");
    await client.waitFor(bridge.topics.status, (m) => m.json?.state === "online" && m !== firstBirth);
    assert.ok(bridge.stats().connects >= 2);
    await waitLog((e) => e.level === "warn" && /unreachable/.test(e.msg));
  });

  t(
    "requests published while the service is away are served after it reconnects (persistent session)",
    async (broker) => {
      await using proxy = startTcpProxy(broker.port);
      const echo = echoHandler();
      await using bridge = startMqttBridge(bridgeOptions(proxy.url, { onRequest: echo.handler }));
      await connected(bridge);
      await using client = await connectClient(broker.url);
      await client.subscribe(["clients/c5/replies", bridge.topics.status]);
      proxy.cut();
      await client.waitFor(bridge.topics.status, (m) => m.json?.state === "offline");
      await client.publish(bridge.topics.request, { id: "queued", prompt: "later", replyTo: "clients/c5/replies" });
      assert.equal(echo.requests.length, 0);
      proxy.restore();
      const reply = await client.waitFor("clients/c5/replies", (m) => m.json?.id === "queued");
      assert.equal(reply.json.answer, "LATER");
    },
  );

  t("the offline queue is bounded: beyond its limit publishing fails with BusyError", async (broker) => {
    await using proxy = startTcpProxy(broker.port);
    let announceDown!: () => void;
    const down = new Promise<void>((resolve) => announceDown = resolve);
    await using bridge = startMqttBridge(bridgeOptions(proxy.url, {
      offlineQueueLimit: 2,
      onConnectionChange: (up) => up || announceDown(),
    }));
    await connected(bridge);
    proxy.cut();
    await down;
    const payload: ReplyPayload = { schemaVersion: 1, id: "x", ok: false, error: { code: "Busy", message: "m" } };
    const first = bridge.publishReply({ topic: "a" }, payload);
    const second = bridge.publishReply({ topic: "b" }, payload);
    await assert.rejects(bridge.publishReply({ topic: "c" }, payload), BusyError);
    proxy.restore();
    await Promise.all([first, second]);
  });

  t("telemetry is published periodically at QoS 0 from the injected source", async (broker) => {
    const clock = new ManualClock();
    let reads = 0;
    await using bridge = startMqttBridge(bridgeOptions(broker.url, {
      clock,
      telemetry: { periodMs: 1000, read: () => ({ schemaVersion: 1, seq: ++reads, tempsC: { soc: 51.5 } }) },
    }));
    await connected(bridge);
    await using client = await connectClient(broker.url);
    await client.subscribe(bridge.topics.telemetry);
    await clock.advance(1000);
    const first = await client.waitFor(bridge.topics.telemetry, (m) => m.json?.seq === 1);
    assert.deepEqual(first.json, { schemaVersion: 1, seq: 1, tempsC: { soc: 51.5 } });
    assert.equal(first.packet.qos, 0);
    await clock.advance(1000);
    await client.waitFor(bridge.topics.telemetry, (m) => m.json?.seq === 2);
    assert.equal(reads, 2, "one read per period, never overlapping");
  });

  t("cmd/update and cmd/config are handed to the command handler; a failing one raises a fault", async (broker) => {
    const commands: CommandMessage[] = [];
    await using bridge = startMqttBridge(bridgeOptions(broker.url, {
      onCommand: (c) => {
        commands.push(c);
        if (new TextDecoder().decode(c.payload) === "bad") throw new Error("signature does not verify");
      },
    }));
    await connected(bridge);
    await using client = await connectClient(broker.url);
    await client.subscribe(bridge.topics.fault);
    await client.publish(bridge.topics.cmdUpdate, '{"slot":"b"}');
    await client.publish(bridge.topics.cmdConfig, "bad");
    const fault = await client.waitFor(bridge.topics.fault, (m) => m.json?.kind === "command-failed");
    assert.match(fault.json.message, /command config failed: signature does not verify/);
    assert.deepEqual(commands.map((c) => [c.kind, new TextDecoder().decode(c.payload)]), [
      ["update", '{"slot":"b"}'],
      ["config", "bad"],
    ]);
  });
}

Deno.test("[mosquitto] MQTT 5: replies go to the response topic with the correlation data", async () => {
  await using broker = await startMosquitto();
  const echo = echoHandler();
  await using bridge = startMqttBridge(bridgeOptions(broker.url, { onRequest: echo.handler }));
  await connected(bridge);
  await using client = await connectClient(broker.url, { protocolVersion: 5 });
  await client.subscribe("clients/v5/replies");
  const correlation = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]);
  const props = { responseTopic: "clients/v5/replies", correlationData: correlation };
  await client.publish(bridge.topics.request, { id: "v5-ok", prompt: "five" }, { qos: 1, properties: props });
  await client.publish(bridge.topics.request, { id: "v5-bad", prompt: "five", samples: 0 }, {
    qos: 1,
    properties: { ...props, correlationData: Buffer.from("bad-one") },
  });
  const ok = await client.waitFor("clients/v5/replies", (m) => m.json?.id === "v5-ok");
  assert.equal(ok.json.answer, "FIVE");
  assert.deepEqual(Buffer.from(ok.packet.properties!.correlationData!), correlation);
  const bad = await client.waitFor("clients/v5/replies", (m) => m.json?.id === "v5-bad");
  assert.equal(bad.json.error.field, "samples");
  assert.equal(Buffer.from(bad.packet.properties!.correlationData!).toString(), "bad-one");
  assert.deepEqual(echo.requests[0].reply.route, {
    topic: "clients/v5/replies",
    correlationData: correlation.toString("base64"),
  });
});

Deno.test("[embedded aedes] protocol auto falls back to MQTT 3.1.1 and says so", async () => {
  await using broker = await startEmbeddedBroker({ port: 0 });
  const { logger, lines } = captureLogger();
  await using bridge = startMqttBridge(bridgeOptions(broker.url, { logger }));
  await connected(bridge);
  assert.equal(bridge.stats().protocolVersion, 4);
  assert.equal(events(lines).filter((e) => /falling back to MQTT 3.1.1/.test(e.msg)).length, 1);
});

Deno.test("[mosquitto] username and password: right credentials connect, wrong ones keep retrying and log why", async () => {
  await using broker = await startMosquitto({ users: { node: "correct horse" } });
  await using good = startMqttBridge(bridgeOptions(broker.url, { username: "node", password: "correct horse" }));
  await connected(good);
  const { logger, waitFor } = captureLogger();
  await using bad = startMqttBridge(bridgeOptions(broker.url, { username: "node", password: "wrong", logger }));
  // It keeps trying (the credentials may be provisioned later): wait for the second refusal.
  let refusals = 0;
  await waitFor((e: LogEvent) => /Not authorized|Bad username/i.test(JSON.stringify(e.error)) && ++refusals === 2);
  assert.equal(bad.connected(), false);
});

Deno.test("[mosquitto] TLS: the broker's CA from the config verifies it; another CA is refused", async () => {
  const dir = await Deno.makeTempDir();
  const files = await makeTlsFiles(dir);
  const otherDir = await Deno.makeTempDir();
  const other = await makeTlsFiles(otherDir);
  await using broker = await startMosquitto({ tls: files });
  const tls = await readTlsFiles({
    caPath: files.caFile,
    certPath: undefined,
    keyPath: undefined,
    rejectUnauthorized: true,
  });
  await using good = startMqttBridge(bridgeOptions(broker.url, { tls }));
  await connected(good);
  await using client = await connectClient(broker.url, { ca: await Deno.readTextFile(files.caFile) });
  await client.subscribe(good.topics.status);
  assert.equal((await client.waitFor(good.topics.status)).json.state, "online");

  const { logger, waitFor } = captureLogger();
  const wrongCa = await readTlsFiles({
    caPath: other.caFile,
    certPath: undefined,
    keyPath: undefined,
    rejectUnauthorized: true,
  });
  await using bad = startMqttBridge(bridgeOptions(broker.url, { tls: wrongCa, logger }));
  await waitFor((e) => e.level === "warn" && /certificate|verify|issuer/i.test(JSON.stringify(e.error)));
  assert.equal(bad.connected(), false);
});

Deno.test("readTlsFiles() names the config key of a file that cannot be read", async () => {
  await assert.rejects(
    readTlsFiles({ caPath: "/nonexistent/ca.pem", certPath: undefined, keyPath: undefined, rejectUnauthorized: true }),
    (e: Error & { details?: { field?: string } }) => e.details?.field === "mqtt.tls.ca",
  );
});
