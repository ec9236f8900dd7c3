/**
 * A process running only an MQTT bridge, for the last-will test: it prints
 * `connected` once the broker has it, then waits to be killed.
 *
 * Usage: deno run -A _bridge_child.ts URL TOPIC_PREFIX BOOT_SEQUENCE
 */
import { systemClock } from "../../src/core/mod.ts";
import { startMqttBridge } from "../../src/service/mod.ts";

const [url, topicPrefix, boot] = Deno.args;
const bridge = startMqttBridge({
  url,
  clientId: `qeil-child-${Deno.pid}`,
  topicPrefix,
  nodeId: "child",
  version: "test",
  bootSequence: Number(boot),
  limits: {
    maxPromptBytes: 1024,
    defaultSamples: 1,
    maxSamples: 4,
    defaultMaxTokens: 8,
    maxMaxTokens: 8,
    defaultTemperature: 0,
    maxSloMs: 1000,
  },
  onRequest: () => {},
  clock: systemClock,
  reconnectMinMs: 50,
});
await bridge.waitConnected();
Deno.stdout.writeSync(new TextEncoder().encode("connected\n"));
setInterval(() => {}, 60_000);
