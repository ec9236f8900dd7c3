/** An MQTT test client (mqtt.js) that records what it receives and awaits messages with a bounded timeout. */
import { Buffer } from "node:buffer";
import {
  connectAsync,
  type IClientOptions,
  type IClientPublishOptions,
  type IPublishPacket,
  type MqttClient,
} from "mqtt";

/** A received message with its payload parsed as JSON (or kept as text when it is not JSON). */
export interface Received {
  topic: string;
  // deno-lint-ignore no-explicit-any
  json: any;
  text: string;
  packet: IPublishPacket;
}

/** A connected test client. */
export interface TestClient extends AsyncDisposable {
  readonly client: MqttClient;
  readonly received: Received[];
  subscribe(topic: string | string[]): Promise<void>;
  publish(topic: string, payload: unknown, options?: IClientPublishOptions): Promise<void>;
  /** The first received message on `topic` matching `match` (already received or when it arrives). */
  waitFor(topic: string, match?: (m: Received) => boolean): Promise<Received>;
  end(): Promise<void>;
}

let counter = 0;

/** Connects a test client (MQTT 3.1.1 unless told otherwise). */
export async function connectClient(url: string, options: IClientOptions = {}): Promise<TestClient> {
  const client = await connectAsync(url, {
    protocolVersion: 4,
    clientId: `qeil-test-${Deno.pid}-${++counter}`,
    reconnectPeriod: 100,
    connectTimeout: 5000,
    ...options,
  });
  const received: Received[] = [];
  const waiters: { topic: string; match: (m: Received) => boolean; resolve(m: Received): void }[] = [];
  client.on("error", () => {});
  client.on("message", (topic, payload, packet) => {
    const text = payload.toString("utf8");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const m: Received = { topic, json, text, packet };
    received.push(m);
    for (const w of [...waiters]) {
      if (w.topic === topic && w.match(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const end = async () => {
    await client.endAsync(true);
  };
  return {
    client,
    received,
    subscribe: async (topic) => {
      await client.subscribeAsync(topic, { qos: 1 });
    },
    publish: async (topic, payload, publishOptions = { qos: 1 }) => {
      const body = typeof payload === "string" || payload instanceof Uint8Array
        ? Buffer.from(payload)
        : Buffer.from(JSON.stringify(payload));
      await client.publishAsync(topic, body, publishOptions);
    },
    waitFor: (topic, match = () => true) => {
      const seen = received.find((m) => m.topic === topic && match(m));
      if (seen) return Promise.resolve(seen);
      return new Promise<Received>((resolve) => waiters.push({ topic, match, resolve }));
    },
    end,
    [Symbol.asyncDispose]: end,
  };
}
