/**
 * The MQTT side of the service (mqtt.js v5). It subscribes to
 * `<prefix>infer/request`, validates each request at the edge and hands it
 * to an injected handler with a reply route (the MQTT 5 response topic and
 * correlation data, or the payload's `replyTo` for MQTT 3.1.1 clients);
 * refuses bad requests with an error reply and a `fault` event; publishes
 * telemetry (QoS 0), faults (QoS 1), fleet-update steps (`update`, QoS 1)
 * and a retained `status` (birth `online` with the boot sequence number,
 * last will `offline`); and passes
 * `cmd/update` and `cmd/config` messages to injected handlers.
 *
 * A request is acknowledged (PUBACK) only after the handler resolves, i.e.
 * after the job is journaled; with a persistent session the broker keeps
 * requests that arrive while the service is away. It connects with MQTT 5
 * and falls back to 3.1.1 when the broker refuses it (the embedded aedes
 * broker), reconnects with exponential backoff, and holds QoS 1 messages
 * published while disconnected in a bounded queue sent on reconnect.
 */
import { Buffer } from "node:buffer";
import { connect, type IClientOptions, type IClientPublishOptions, type IPublishPacket, type MqttClient } from "mqtt";
import { BusyError, type Clock, ConfigError, InputError, isQeilError, type Logger, systemClock } from "../core/mod.ts";
import type { ServiceConfig } from "./config.ts";
import {
  badRequestFault,
  encodePayload,
  errorPayload,
  type FaultEvent,
  faultEvent,
  type InferRequest,
  isPublishableTopic,
  parseInferRequest,
  type ReplyPayload,
  type ReplyRoute,
  type RequestLimits,
  salvageReplyFields,
  type StatusPayload,
} from "./schema.ts";

/** The reply side of one request. */
export interface MqttReply {
  /** Where the reply goes; journal it with the job to reply after a restart. */
  readonly route: ReplyRoute;
  /**
   * Publishes the reply (QoS 1) and resolves on PUBACK. Do not await it inside
   * the request handler: acknowledgements are read by the same serial packet
   * pipeline that waits for the handler.
   */
  send(payload: ReplyPayload): Promise<void>;
}

/**
 * Accepts one valid request. Resolve once the request is durably accepted
 * (journaled): the request is acknowledged to the broker then. Throwing
 * (BusyError, a journal failure) sends the client an error reply.
 */
export type RequestHandler = (request: InferRequest, reply: MqttReply) => Promise<void> | void;

/** A message on `cmd/update` or `cmd/config`; checking its signature is the handler's job. */
export interface CommandMessage {
  kind: "update" | "config";
  payload: Uint8Array;
  /** The MQTT 5 response topic, when the sender gave one. */
  route?: ReplyRoute;
}

/** Handles a command; resolve once it is durably taken over (the message is acknowledged then). */
export type CommandHandler = (command: CommandMessage) => Promise<void> | void;

/** PEM contents for TLS. */
export interface MqttTls {
  ca?: string;
  cert?: string;
  key?: string;
  /** @default true */
  rejectUnauthorized?: boolean;
}

/** Options of `startMqttBridge`. */
export interface MqttBridgeOptions {
  /** Broker URL (`mqtt://host:1883`, `mqtts://...`). */
  url: string;
  clientId: string;
  /** Prefix of every topic, ending with `/` (`qeil/v1/<nodeId>/`). */
  topicPrefix: string;
  nodeId: string;
  /** Service version, in the status message. */
  version: string;
  bootSequence: number;
  limits: RequestLimits;
  onRequest: RequestHandler;
  /** @default commands are logged and dropped */
  onCommand?: CommandHandler;
  /** Periodic telemetry; `read()` returns the JSON to publish. @default no telemetry */
  telemetry?: { periodMs: number; read(): unknown | Promise<unknown> };
  /** Called with every fault event the bridge publishes (its own and `publishFault`'s), e.g. to count them. */
  onFault?: (event: FaultEvent) => void;
  /** Called when the connection comes up (true: e.g. re-deliver journaled results) or goes down (false). */
  onConnectionChange?: (connected: boolean) => void;
  /** @default "auto" (MQTT 5, falling back to 3.1.1 when refused) */
  protocol?: "auto" | "5" | "3.1.1";
  username?: string;
  password?: string;
  tls?: MqttTls;
  /** @default 30 */
  keepaliveS?: number;
  /** @default 10000 */
  connectTimeoutMs?: number;
  /** First reconnect delay, doubled per failed attempt. @default 1000 */
  reconnectMinMs?: number;
  /** @default 30000 */
  reconnectMaxMs?: number;
  /** Broker-side session lifetime while disconnected; 0 for a clean session. @default 86400 */
  sessionExpiryS?: number;
  /** QoS 1 messages held while disconnected; more are refused with BusyError. @default 1000 */
  offlineQueueLimit?: number;
  /** Longest wait for the request handler before the request is acknowledged anyway, ms. @default 10000 */
  acceptTimeoutMs?: number;
  /** Timestamps and the telemetry period. Network timeouts use real time: a broker does not follow a test clock. */
  clock: Clock;
  /** @default no logging */
  logger?: Logger;
}

/** The topics of one node. */
export interface BridgeTopics {
  request: string;
  status: string;
  telemetry: string;
  fault: string;
  /** Fleet-update status events. */
  update: string;
  cmdUpdate: string;
  cmdConfig: string;
}

/** Counters of a bridge. */
export interface BridgeStats {
  connected: boolean;
  /** 5 or 4 (3.1.1) once connected. */
  protocolVersion: 4 | 5 | undefined;
  connects: number;
  requestsReceived: number;
  requestsRejected: number;
  /** QoS 1 messages waiting for a connection. */
  offlineQueued: number;
  /** QoS 1 messages handed to the client and not yet acknowledged. */
  inflight: number;
  telemetrySent: number;
}

/** A running MQTT bridge. */
export interface MqttBridge extends AsyncDisposable {
  readonly topics: BridgeTopics;
  connected(): boolean;
  /** Resolves when connected (at once if connected now); rejects when `signal` aborts. */
  waitConnected(signal?: AbortSignal): Promise<void>;
  /** Publishes a reply (QoS 1) to a route; resolves on PUBACK. @throws BusyError when the offline queue is full */
  publishReply(route: ReplyRoute, payload: ReplyPayload): Promise<void>;
  /** Publishes a fault event (QoS 1). @throws BusyError when the offline queue is full */
  publishFault(event: FaultEvent): Promise<void>;
  /** Publishes a fleet-update status event (QoS 1) on `update`. @throws BusyError when the offline queue is full */
  publishUpdate(event: unknown): Promise<void>;
  /** Publishes telemetry (QoS 0); returns false (and drops it) when disconnected. */
  publishTelemetry(payload: unknown): boolean;
  stats(): BridgeStats;
  /** Publishes `offline` (retained), disconnects cleanly and stops. */
  close(reason?: string): Promise<void>;
}

/** Topics under a prefix. */
export function bridgeTopics(topicPrefix: string): BridgeTopics {
  if (!topicPrefix.endsWith("/") || !isPublishableTopic(topicPrefix)) {
    throw new RangeError(`topic prefix must end with / and hold no wildcards, got "${topicPrefix}"`);
  }
  return {
    request: `${topicPrefix}infer/request`,
    status: `${topicPrefix}status`,
    telemetry: `${topicPrefix}telemetry`,
    fault: `${topicPrefix}fault`,
    update: `${topicPrefix}update`,
    cmdUpdate: `${topicPrefix}cmd/update`,
    cmdConfig: `${topicPrefix}cmd/config`,
  };
}

/** Reads the PEM files named in the config. @throws ConfigError naming the key of a file that cannot be read */
export async function readTlsFiles(tls: ServiceConfig["mqtt"]["tls"]): Promise<MqttTls | undefined> {
  const read = async (key: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      throw new ConfigError(`config: ${key} names ${path}, which cannot be read: ${(error as Error).message}`, {
        cause: error,
        details: { field: key, path },
      });
    }
  };
  const [ca, cert, key] = await Promise.all([
    read("mqtt.tls.ca", tls.caPath),
    read("mqtt.tls.cert", tls.certPath),
    read("mqtt.tls.key", tls.keyPath),
  ]);
  if (ca === undefined && cert === undefined) return undefined;
  return {
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert, key } : {}),
    rejectUnauthorized: tls.rejectUnauthorized,
  };
}

interface Outgoing {
  topic: string;
  payload: Uint8Array;
  options: IClientPublishOptions;
  resolve(): void;
  reject(error: unknown): void;
}

/** CONNACK codes meaning "this broker does not speak the protocol level asked for" (3.1.1: 1, MQTT 5: 0x84). */
const UNSUPPORTED_PROTOCOL_CODES = new Set([1, 0x84]);

function toBytes(payload: Buffer | string): Uint8Array {
  return typeof payload === "string" ? new TextEncoder().encode(payload) : new Uint8Array(payload);
}

class Bridge implements MqttBridge {
  readonly topics: BridgeTopics;
  readonly #o: MqttBridgeOptions;
  readonly #log: Logger | undefined;
  #client: MqttClient | undefined;
  #version: 4 | 5;
  #everConnected = false;
  /** Last state reported to onConnectionChange. */
  #up = false;
  #closed = false;
  #offline: Outgoing[] = [];
  #inflight = 0;
  #connectWaiters: (() => void)[] = [];
  #telemetryStop = new AbortController();
  #stats = { connects: 0, requestsReceived: 0, requestsRejected: 0, telemetrySent: 0 };

  constructor(options: MqttBridgeOptions) {
    this.#o = options;
    this.#log = options.logger;
    this.topics = bridgeTopics(options.topicPrefix);
    this.#version = options.protocol === "3.1.1" ? 4 : 5;
    this.#client = this.#connect();
    if (options.telemetry) this.#telemetryLoop(options.telemetry, this.#telemetryStop.signal);
  }

  connected(): boolean {
    return this.#client?.connected === true;
  }

  waitConnected(signal?: AbortSignal): Promise<void> {
    if (this.connected()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#connectWaiters = this.#connectWaiters.filter((w) => w !== done);
        reject(signal!.reason);
      };
      const done = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#connectWaiters.push(done);
    });
  }

  publishReply(route: ReplyRoute, payload: ReplyPayload): Promise<void> {
    const options: IClientPublishOptions = { qos: 1 };
    if (route.correlationData !== undefined && this.#version === 5) {
      options.properties = { correlationData: Buffer.from(route.correlationData, "base64") };
    }
    return this.#publishQos1(route.topic, encodePayload(payload), options);
  }

  publishFault(event: FaultEvent): Promise<void> {
    this.#o.onFault?.(event);
    return this.#publishQos1(this.topics.fault, encodePayload(event), { qos: 1 });
  }

  publishUpdate(event: unknown): Promise<void> {
    return this.#publishQos1(this.topics.update, encodePayload(event), { qos: 1 });
  }

  publishTelemetry(payload: unknown): boolean {
    const client = this.#client;
    if (!client?.connected) return false;
    client.publish(this.topics.telemetry, Buffer.from(encodePayload(payload)), { qos: 0 }, (error) => {
      if (error) this.#log?.debug("telemetry not sent", { error });
    });
    this.#stats.telemetrySent++;
    return true;
  }

  stats(): BridgeStats {
    return {
      connected: this.connected(),
      protocolVersion: this.#everConnected ? this.#version : undefined,
      offlineQueued: this.#offline.length,
      inflight: this.#inflight,
      ...this.#stats,
    };
  }

  async close(reason = "shutdown"): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#telemetryStop.abort();
    const client = this.#client;
    if (client?.connected) {
      const status = this.#status("offline", { reason, timestampMs: this.#o.clock.nowMs() });
      await this.#settleWithin(
        new Promise<void>((resolve) =>
          client.publish(
            this.topics.status,
            Buffer.from(encodePayload(status)),
            { qos: 1, retain: true },
            () => resolve(),
          )
        ),
        2000,
      );
    }
    if (client) {
      // A clean DISCONNECT: the broker drops the last will, `offline` was published above.
      await this.#settleWithin(new Promise<void>((resolve) => client.end(false, {}, () => resolve())), 2000);
      if (!client.disconnected) await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
    }
    for (const item of this.#offline.splice(0)) {
      item.reject(new Error("MQTT bridge closed before the broker was reached"));
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #settleWithin(promise: Promise<void>, timeoutMs: number): Promise<void> {
    const stop = new AbortController();
    await Promise.race([promise, systemClock.sleep(timeoutMs, stop.signal).catch(() => {})]);
    stop.abort();
  }

  #status(state: "online" | "offline", extra: Partial<StatusPayload> = {}): StatusPayload {
    return {
      schemaVersion: 1,
      state,
      nodeId: this.#o.nodeId,
      bootSequence: this.#o.bootSequence,
      version: this.#o.version,
      ...extra,
    };
  }

  #connect(): MqttClient {
    const o = this.#o;
    const sessionExpiryS = o.sessionExpiryS ?? 86_400;
    const options: IClientOptions = {
      clientId: o.clientId,
      protocolVersion: this.#version,
      clean: sessionExpiryS === 0,
      keepalive: o.keepaliveS ?? 30,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      reconnectPeriod: o.reconnectMinMs ?? 1000,
      reconnectOnConnackError: true,
      // Telemetry is only worth sending now; QoS 1 messages wait in our own bounded queue.
      queueQoSZero: false,
      resubscribe: true,
      will: {
        topic: this.topics.status,
        payload: Buffer.from(encodePayload(this.#status("offline", { reason: "connection lost" }))),
        qos: 1,
        retain: true,
      },
    };
    if (this.#version === 5 && sessionExpiryS > 0) options.properties = { sessionExpiryInterval: sessionExpiryS };
    if (o.username !== undefined) options.username = o.username;
    if (o.password !== undefined) options.password = o.password;
    if (o.tls) {
      if (o.tls.ca !== undefined) options.ca = o.tls.ca;
      if (o.tls.cert !== undefined) options.cert = o.tls.cert;
      if (o.tls.key !== undefined) options.key = o.tls.key;
      options.rejectUnauthorized = o.tls.rejectUnauthorized ?? true;
    }
    const client = connect(o.url, options);
    client.handleMessage = (packet, done) => {
      this.#dispatch(packet).then(
        () => done(),
        (error) => {
          this.#log?.error("MQTT message handling failed", { topic: packet.topic, error });
          done();
        },
      );
    };
    client.on("connect", (connack) => this.#onConnect(client, connack.sessionPresent === true));
    client.on("reconnect", () => {
      // The next attempt (if this one fails) waits twice as long, up to the maximum.
      const next = Math.min((client.options.reconnectPeriod ?? 1000) * 2, o.reconnectMaxMs ?? 30_000);
      client.options.reconnectPeriod = next;
    });
    client.on("offline", () => this.#log?.warn("MQTT broker unreachable; reconnecting", { url: o.url }));
    client.on("close", () => {
      if (client !== this.#client || !this.#up) return;
      this.#up = false;
      o.onConnectionChange?.(false);
    });
    client.on("error", (error) => this.#onError(client, error));
    return client;
  }

  #onError(client: MqttClient, error: Error & { code?: number }): void {
    if (
      this.#o.protocol !== "5" && this.#version === 5 && !this.#everConnected && client === this.#client &&
      typeof error.code === "number" && UNSUPPORTED_PROTOCOL_CODES.has(error.code)
    ) {
      this.#log?.info("broker refused MQTT 5; falling back to MQTT 3.1.1", { url: this.#o.url });
      this.#version = 4;
      client.removeAllListeners();
      client.on("error", () => {});
      client.end(true);
      if (!this.#closed) this.#client = this.#connect();
      return;
    }
    this.#log?.warn("MQTT client error", { url: this.#o.url, error });
  }

  #onConnect(client: MqttClient, sessionPresent: boolean): void {
    if (client !== this.#client) return;
    const o = this.#o;
    const first = !this.#everConnected;
    this.#everConnected = true;
    this.#up = true;
    this.#stats.connects++;
    client.options.reconnectPeriod = o.reconnectMinMs ?? 1000;
    this.#log?.info("connected to MQTT broker", {
      url: o.url,
      protocol: this.#version === 5 ? "5" : "3.1.1",
      sessionPresent,
    });
    // The last will may have replaced the birth while we were away: publish it on every connection.
    const birth = this.#status("online", { timestampMs: o.clock.nowMs() });
    this.#publishQos1(this.topics.status, encodePayload(birth), { qos: 1, retain: true }).catch((error) =>
      this.#log?.warn("birth message not published", { error })
    );
    if (first) {
      // mqtt.js re-subscribes by itself on later connections that find no session.
      const topics = [this.topics.request, this.topics.cmdUpdate, this.topics.cmdConfig];
      client.subscribe(topics, { qos: 1 }, (error) => {
        if (error) this.#log?.error("MQTT subscribe failed", { topics, error });
      });
    }
    for (const item of this.#offline.splice(0)) this.#send(client, item);
    for (const w of this.#connectWaiters.splice(0)) w();
    o.onConnectionChange?.(true);
  }

  #publishQos1(topic: string, payload: Uint8Array, options: IClientPublishOptions): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("MQTT bridge is closed"));
    return new Promise((resolve, reject) => {
      const item: Outgoing = { topic, payload, options, resolve, reject };
      const client = this.#client;
      if (client?.connected && this.#offline.length === 0) {
        this.#send(client, item);
        return;
      }
      const limit = this.#o.offlineQueueLimit ?? 1000;
      if (this.#offline.length >= limit) {
        reject(
          new BusyError(`cannot queue a message for ${topic}: ${limit} messages already wait for the broker`, {
            details: { retryAfterS: 5 },
          }),
        );
        return;
      }
      this.#offline.push(item);
    });
  }

  #send(client: MqttClient, item: Outgoing): void {
    this.#inflight++;
    // Once handed over, mqtt.js keeps the QoS 1 message in its store and resends it after a reconnect.
    client.publish(item.topic, Buffer.from(item.payload), item.options, (error) => {
      this.#inflight--;
      if (error) item.reject(error);
      else item.resolve();
    });
  }

  async #dispatch(packet: IPublishPacket): Promise<void> {
    const topic = packet.topic;
    if (topic === this.topics.request) return await this.#onRequestPacket(packet);
    if (topic === this.topics.cmdUpdate || topic === this.topics.cmdConfig) {
      return await this.#onCommandPacket(packet, topic === this.topics.cmdUpdate ? "update" : "config");
    }
    this.#log?.debug("MQTT message on an unexpected topic ignored", { topic });
  }

  /** The MQTT 5 response topic and correlation data of a packet, when present. */
  #responseRoute(packet: IPublishPacket): ReplyRoute | undefined {
    const props = packet.properties;
    if (!props?.responseTopic) return undefined;
    const route: ReplyRoute = { topic: props.responseTopic };
    if (props.correlationData !== undefined) {
      route.correlationData = Buffer.from(props.correlationData).toString("base64");
    }
    return route;
  }

  /** Why a route cannot be replied to, or undefined when it can. */
  #routeProblem(route: ReplyRoute): string | undefined {
    if (!isPublishableTopic(route.topic)) return `is not a topic that can be published to: "${route.topic}"`;
    if (route.topic.startsWith(this.#o.topicPrefix)) {
      return `must not be under this node's topics (${this.#o.topicPrefix}), got "${route.topic}"`;
    }
    return undefined;
  }

  #fault(event: FaultEvent): void {
    this.publishFault(event).catch((error) =>
      this.#log?.warn("fault event not published", { kind: event.kind, error })
    );
  }

  #reject(route: ReplyRoute | undefined, payload: ReplyPayload & { ok: false }): void {
    this.#stats.requestsRejected++;
    const problem = route ? this.#routeProblem(route) : "none";
    if (route && problem === undefined) {
      this.publishReply(route, payload).catch((error) =>
        this.#log?.warn("error reply not published", { topic: route.topic, error })
      );
    }
    this.#log?.info("request refused", {
      id: payload.id,
      code: payload.error.code,
      field: payload.error.field,
      error: payload.error.message,
      repliedTo: problem === undefined ? route?.topic : undefined,
    });
  }

  async #onRequestPacket(packet: IPublishPacket): Promise<void> {
    this.#stats.requestsReceived++;
    const bytes = toBytes(packet.payload);
    const responseRoute = this.#responseRoute(packet);
    const now = () => this.#o.clock.nowMs();
    let request: InferRequest;
    try {
      request = parseInferRequest(bytes, this.#o.limits);
    } catch (error) {
      const salvaged = salvageReplyFields(bytes);
      const payload = errorPayload(salvaged.id, error) as ReplyPayload & { ok: false };
      this.#reject(responseRoute ?? (salvaged.replyTo ? { topic: salvaged.replyTo } : undefined), payload);
      this.#fault(badRequestFault(payload, now()));
      return;
    }
    const route = responseRoute ?? (request.replyTo !== undefined ? { topic: request.replyTo } : undefined);
    const routeField = responseRoute ? "responseTopic" : "replyTo";
    const problem = route
      ? this.#routeProblem(route)
      : "is required: give the request an MQTT 5 response topic or a replyTo field";
    if (problem !== undefined) {
      const payload = errorPayload(
        request.id,
        new InputError(`${routeField} ${problem}`, { details: { field: routeField } }),
      );
      this.#reject(undefined, payload as ReplyPayload & { ok: false });
      this.#fault(badRequestFault(payload as ReplyPayload & { ok: false }, now()));
      return;
    }
    const reply: MqttReply = { route: route!, send: (payload) => this.publishReply(route!, payload) };
    const stop = new AbortController();
    const timedOut = Symbol("timeout");
    try {
      const outcome = await Promise.race([
        Promise.resolve(this.#o.onRequest(request, reply)),
        systemClock.sleep(this.#o.acceptTimeoutMs ?? 10_000, stop.signal).then(() => timedOut, () => undefined),
      ]);
      if (outcome === timedOut) {
        this.#log?.warn("request handler did not accept in time; acknowledging anyway", { id: request.id });
      }
    } catch (error) {
      const payload = errorPayload(request.id, error) as ReplyPayload & { ok: false };
      this.#reject(route, payload);
      if (!isQeilError(error, "Busy")) {
        this.#fault(faultEvent("job-failed", "error", payload.error.message, now(), {
          requestId: request.id,
          code: payload.error.code,
        }));
      }
    } finally {
      stop.abort();
    }
  }

  async #onCommandPacket(packet: IPublishPacket, kind: "update" | "config"): Promise<void> {
    const handler = this.#o.onCommand;
    if (!handler) {
      this.#log?.warn("command ignored: no handler", { kind });
      return;
    }
    const route = this.#responseRoute(packet);
    const command: CommandMessage = { kind, payload: toBytes(packet.payload), ...(route ? { route } : {}) };
    try {
      await handler(command);
    } catch (error) {
      const message = `command ${kind} failed: ${error instanceof Error ? error.message : String(error)}`;
      this.#log?.warn(message, { error });
      this.#fault(faultEvent("command-failed", "warning", message, this.#o.clock.nowMs(), {
        code: isQeilError(error) ? error.code : "Internal",
      }));
    }
  }

  async #telemetryLoop(telemetry: NonNullable<MqttBridgeOptions["telemetry"]>, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#o.clock.sleep(telemetry.periodMs, signal);
      } catch {
        return;
      }
      if (!this.connected()) continue;
      try {
        this.publishTelemetry(await telemetry.read());
      } catch (error) {
        this.#log?.warn("telemetry source failed", { error });
      }
    }
  }
}

/**
 * Starts the bridge: connects in the background (an unreachable broker is
 * retried with backoff, never thrown) and serves requests once connected.
 */
export function startMqttBridge(options: MqttBridgeOptions): MqttBridge {
  return new Bridge(options);
}
