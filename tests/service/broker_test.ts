import assert from "node:assert/strict";
import { startEmbeddedBroker } from "../../src/service/mod.ts";
import { connectClient } from "./_mqtt_client.ts";

Deno.test("startEmbeddedBroker() serves MQTT 3.1.1 on loopback and closes with its clients", async () => {
  const broker = await startEmbeddedBroker({ port: 0 });
  assert.equal(broker.host, "127.0.0.1");
  assert.equal(broker.url, `mqtt://127.0.0.1:${broker.port}`);
  const a = await connectClient(broker.url, { reconnectPeriod: 0 });
  const b = await connectClient(broker.url, { reconnectPeriod: 0 });
  await a.subscribe("t/x");
  await b.publish("t/x", { hello: 1 });
  assert.deepEqual((await a.waitFor("t/x")).json, { hello: 1 });
  assert.equal(broker.connectedClients(), 2);
  await broker.close();
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: broker.port }), "the port is released");
  await a.end();
  await b.end();
});

Deno.test("startEmbeddedBroker() fails clearly when the port is taken", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  try {
    await assert.rejects(startEmbeddedBroker({ port }), new RegExp(`embedded MQTT broker on 127.0.0.1:${port}`));
  } finally {
    listener.close();
  }
});
