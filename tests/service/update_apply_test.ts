/**
 * Fleet updates through `qeil serve` as a real process against a real
 * Mosquitto, with the artifact on a real HTTP server: a manifest with a bad
 * signature is refused (an `update` step and an `update-failed` fault on
 * MQTT) and changes nothing; a signed one is downloaded, installed into slot
 * a and switched, every step is published, and the process drains and exits
 * with status 75 (systemd/qeil.service restarts the service on it).
 */
import assert from "node:assert/strict";
import { VERSION } from "../../main.ts";
import { parseSemver } from "../../src/update/mod.ts";
import { snapshotDir } from "../update/helpers.ts";
import { startMosquitto } from "./_mosquitto.ts";
import { connectClient } from "./_mqtt_client.ts";
import { spawnServe } from "./_serve_process.ts";
import { fleetKeys, updateRig } from "./_update_fixtures.ts";

/** A version newer than this build's. */
function nextMinor(version: string): string {
  const v = parseSemver(version);
  return `${v.major}.${v.minor + 1}.0`;
}

Deno.test("qeil serve refuses a badly signed cmd/update with a fault, then installs a signed one and exits 75", async () => {
  const next = nextMinor(VERSION);
  await using broker = await startMosquitto();
  await using rig = await updateRig(next);
  const node = "upd-apply";
  const prefix = `qeil/v1/${node}/`;
  await using client = await connectClient(broker.url);
  await client.subscribe([`${prefix}update`, `${prefix}fault`, `${prefix}status`]);
  await using service = spawnServe(
    ["--broker", broker.url, "--state-dir", rig.stateDir, "--http-port", "0", "--node-id", node],
    {
      QEIL_TELEMETRY_PERIOD_MS: "500",
      QEIL_MQTT_RECONNECT_MIN_MS: "100",
      QEIL_UPDATE_PUBLIC_KEYS: rig.keys.publicKeyBase64,
      QEIL_UPDATE_FACTORY_DIR: rig.factoryDir,
    },
  );
  const info = await service.ready();
  await client.waitFor(`${prefix}status`, (m) => m.json?.state === "online");

  // Signed by a key the device does not trust: refused before anything is fetched or written.
  const before = await snapshotDir(rig.slotsDir);
  const good = await rig.signed();
  const { signature: _signature, keyId: trustedKeyId, ...fields } = good;
  const forged = { ...(await (await fleetKeys()).sign(fields)), keyId: trustedKeyId };
  await client.publish(`${prefix}cmd/update`, forged, { qos: 1 });
  const rejected = await client.waitFor(`${prefix}update`, (m) => m.json?.step === "rejected");
  assert.equal(rejected.packet.qos, 1);
  assert.equal(rejected.json.schemaVersion, 1);
  assert.equal(rejected.json.nodeId, node);
  assert.equal(rejected.json.version, next);
  assert.equal(rejected.json.detail.reason, "BadSignature");
  const fault = await client.waitFor(`${prefix}fault`, (m) => m.json?.kind === "update-failed");
  assert.equal(fault.packet.qos, 1);
  assert.equal(fault.json.severity, "error");
  assert.equal(fault.json.code, "Update");
  assert.match(fault.json.message, /BadSignature/);
  assert.equal(rig.server.hits.get(rig.artifactPath) ?? 0, 0, "nothing was downloaded");
  assert.deepEqual(await snapshotDir(rig.slotsDir), before, "the slots are unchanged");
  const ready = await fetch(`${info.httpUrl}/readyz`);
  assert.equal(ready.status, 200, await ready.text());

  // Signed by the fleet key: installed and switched; the service drains and exits 75.
  await client.publish(`${prefix}cmd/update`, good, { qos: 1 });
  const status = await service.status;
  assert.equal(status.code, 75, service.lines.slice(-20).join("\n"));
  const steps = client.received.filter((m) => m.topic === `${prefix}update` && m.json?.version === next)
    .map((m) => m.json.step);
  assert.deepEqual(steps.slice(steps.indexOf("rejected") + 1), [
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
  assert.equal(await Deno.readLink(`${rig.slotsDir}/current`), "a");
  assert.equal(JSON.parse(await Deno.readTextFile(`${rig.slotsDir}/a/slot.json`)).version, next);
  assert.ok(service.lines.some((l) => /service stopped .*exitCode=75/.test(l)), service.lines.slice(-10).join("\n"));
  // It said goodbye on the way out: the retained status is `offline` (a clean stop, not the last will).
  await client.waitFor(`${prefix}status`, (m) => m.json?.state === "offline" && m.json?.reason !== "connection lost");
});
