/**
 * Fleet updates through the running service, in process (`createService`, as
 * `qeil serve` composes it) on a simulated rk3588 against a real Mosquitto:
 * a signed manifest published on `cmd/update` is downloaded from a real HTTP
 * server, installed into a slot and switched, and the service stops asking for
 * a restart (exit 75); the "new version" (the same code started with the new
 * version number, as the switched slot would be) then runs its health gate
 * with the service's own self-checks: it commits when they pass, and is rolled
 * back (and says so on MQTT) when they do not.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../src/core/mod.ts";
import {
  countServiceBoot,
  createService,
  parseConfig,
  RESTART_EXIT_CODE,
  type Service,
  type ServiceDeps,
} from "../../src/service/mod.ts";
import { UpdateOutbox, UpdateStateFile } from "../../src/update/mod.ts";
import { startMosquitto } from "./_mosquitto.ts";
import { connectClient, type Received, type TestClient } from "./_mqtt_client.ts";
import { type UpdateRig, updateRig } from "./_update_fixtures.ts";

const OLD = "0.1.0";
const NEW = "0.2.0";
/** Bound of a wait for one MQTT event or one stop, ms (a start, a plan and a download on two shared cores). */

/** Starts the service as version `version` of node `nodeId` in the rig's folders. */
async function start(
  rig: UpdateRig,
  brokerUrl: string,
  nodeId: string,
  version: string,
  extra: Partial<ServiceDeps> = {},
): Promise<Service> {
  const config = parseConfig({
    nodeId,
    board: "sim:rk3588",
    stateDir: rig.stateDir,
    http: { port: 0 },
    mqtt: { url: brokerUrl, reconnectMinMs: 100 },
    telemetry: { periodMs: 250 },
    sim: { stepMs: 100 },
    update: {
      publicKeys: rig.keys.publicKeyBase64,
      factoryDir: rig.factoryDir,
      healthGateTimeoutMs: 3000,
      healthGateIntervalMs: 250,
    },
  });
  const logger = createLogger({ level: "warn", format: "text", sink: (line) => console.log(`[${version}] ${line}`) });
  // What `qeil serve` does first: count the start for the updater.
  const counted = await countServiceBoot(config, version, logger);
  assert.notEqual(counted.kind, "restart-required", JSON.stringify(counted));
  return await createService(config, { version, env: {}, logger, ...extra });
}

/** The update events of node `nodeId` received so far, as steps. */
function steps(client: TestClient, nodeId: string): string[] {
  return client.received.filter((m) => m.topic === `qeil/v1/${nodeId}/update`).map((m) => m.json.step);
}

function waitUpdate(client: TestClient, nodeId: string, step: string, match: (m: Received) => boolean = () => true) {
  return client.waitFor(`qeil/v1/${nodeId}/update`, (m) => m.json?.step === step && match(m));
}

/** Waits for the birth message of this boot of the service: it is connected and subscribed then. */
async function online(client: TestClient, service: Service): Promise<void> {
  await client.waitFor(
    `${service.info.topicPrefix}status`,
    (m) => m.json?.state === "online" && m.json?.bootSequence === service.info.bootSequence,
  );
}

/** Publishes the rig's signed manifest on cmd/update and waits for the service to stop for the restart. */
async function installThroughMqtt(rig: UpdateRig, client: TestClient, nodeId: string, service: Service) {
  await online(client, service);
  await client.publish(`qeil/v1/${nodeId}/cmd/update`, await rig.signed(), { qos: 1 });
  const exit = await service.stopped;
  assert.equal(exit.exitCode, RESTART_EXIT_CODE, exit.reason);
  assert.match(exit.reason, new RegExp(`update to ${NEW.replaceAll(".", "\\.")} installed in slot a`));
  assert.equal(await Deno.readLink(`${rig.slotsDir}/current`), "a");
  const restart = await waitUpdate(client, nodeId, "restart-required");
  assert.equal(restart.packet.qos, 1);
  assert.equal(restart.json.version, NEW);
  assert.equal(restart.json.fromVersion, OLD);
}

Deno.test("an update that fails its health gate at the new version's start is rolled back, and the rollback is published", async () => {
  await using broker = await startMosquitto();
  await using rig = await updateRig(NEW);
  await using client = await connectClient(broker.url);
  const node = "gate-fail";
  await client.subscribe([`qeil/v1/${node}/update`, `qeil/v1/${node}/fault`, `qeil/v1/${node}/status`]);

  // The running version installs the update and stops for the restart.
  await using first = await start(rig, broker.url, node, OLD);
  await installThroughMqtt(rig, client, node, first);

  // The new version starts on a board whose thermal sensors all read garbage: its gate cannot pass.
  let garbled = 0;
  await using second = await start(rig, broker.url, node, NEW, {
    onSimBoard: (sim) => {
      for (const zone of sim.paths.zones) {
        sim.inject({ kind: "sensor-garbage", path: `${zone.path}/temp` });
        garbled++;
      }
    },
  });
  assert.ok(garbled >= 2, `every thermal zone of the rk3588 garbled (${garbled})`);
  const round = await waitUpdate(
    client,
    node,
    "health-check",
    (m) => (m.json.detail?.failing ?? []).some((f: string) => f.startsWith("board: no thermal zone reads")),
  );
  assert.equal(round.json.version, NEW);
  const rolledBack = await waitUpdate(client, node, "rolled-back");
  assert.equal(rolledBack.json.slot, "factory");
  assert.match(rolledBack.json.detail.reason, /health gate not passed within 3000 ms/);
  const fault = await client.waitFor(
    `qeil/v1/${node}/fault`,
    (m) => m.json?.kind === "update-failed" && /HealthGate/.test(m.json.message),
  );
  assert.equal(fault.packet.qos, 1);
  assert.equal(fault.json.code, "Update");
  assert.match(fault.json.message, new RegExp(`rolled back to ${OLD.replaceAll(".", "\\.")}`));
  const exit = await second.stopped;
  assert.equal(exit.exitCode, RESTART_EXIT_CODE, "the previous version must be started again");
  assert.match(exit.reason, /rolled back to 0\.1\.0/);
  assert.equal(await Deno.readLink(`${rig.slotsDir}/current`), rig.factoryDir);
  const order = steps(client, node);
  assert.ok(order.indexOf("rolling-back") < order.indexOf("rolled-back"), order.join(","));
  assert.ok(!order.includes("committed"), order.join(","));

  // The previous version starts again: nothing is pending, and the state remembers the rollback.
  await using third = await start(rig, broker.url, node, OLD);
  const state = await new UpdateStateFile(`${rig.stateDir}/update`).load(OLD);
  assert.equal(state.phase, "idle");
  assert.equal(state.installedVersion, OLD);
  assert.equal(state.last?.outcome, "rolled-back");
  assert.equal(state.last?.version, NEW);
  assert.deepEqual((await new UpdateOutbox(`${rig.stateDir}/update`).list()).announcements, [], "announced");
  await third.stop("test over");
  const last = await third.stopped;
  assert.equal(last.exitCode, 0);
});

Deno.test("an update whose new version passes its health gate is committed and published", async () => {
  await using broker = await startMosquitto();
  await using rig = await updateRig(NEW);
  await using client = await connectClient(broker.url);
  const node = "gate-pass";
  await client.subscribe([`qeil/v1/${node}/update`, `qeil/v1/${node}/fault`, `qeil/v1/${node}/status`]);

  await using first = await start(rig, broker.url, node, OLD);
  await installThroughMqtt(rig, client, node, first);
  assert.deepEqual(steps(client, node), [
    "received",
    "verified",
    "downloading",
    "downloaded",
    "installing",
    "installed",
    "switching",
    "switched",
    "restart-required",
  ]);
  assert.equal(rig.server.hits.get(rig.artifactPath), 1);
  const slot = JSON.parse(await Deno.readTextFile(`${rig.slotsDir}/a/slot.json`));
  assert.equal(slot.version, NEW);

  await using next = await start(rig, broker.url, node, NEW);
  const committed = await waitUpdate(client, node, "committed");
  assert.equal(committed.json.version, NEW);
  assert.equal(committed.json.nodeId, node);
  const state = await new UpdateStateFile(`${rig.stateDir}/update`).load(NEW);
  assert.equal(state.phase, "idle");
  assert.equal(state.installedVersion, NEW);
  assert.equal(committed.json.detail.bootAttempts, 1, "the start was counted before the gate");
  assert.equal(await Deno.readLink(`${rig.slotsDir}/current`), "a", "the new slot stays active");
  assert.ok(!client.received.some((m) => m.json?.kind === "update-failed"), "no update fault");
  await next.stop("test over");
  assert.equal((await next.stopped).exitCode, 0);
});
