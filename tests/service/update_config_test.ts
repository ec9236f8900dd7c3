/**
 * The `update.*` configuration keys: defaults under the state folder, fleet
 * keys as `qeil release keygen` prints them, and errors that name the key;
 * and the few keys the boot count reads before the rest of the config.
 */
import assert from "node:assert/strict";
import { ConfigError, createLogger } from "../../src/core/mod.ts";
import { bootConfigOf, createService, parseConfig } from "../../src/service/mod.ts";
import { generateFleetKeyPair } from "../../src/update/mod.ts";

Deno.test("parseConfig() defaults: update slots and state under the state folder, no fleet key (every update refused)", () => {
  const c = parseConfig({ stateDir: "/var/lib/qeil" });
  assert.deepEqual(c.update, {
    publicKeys: [],
    slotsDir: "/var/lib/qeil/slots",
    stateDir: "/var/lib/qeil/update",
    factoryDir: "/usr/lib/qeil",
    maxArtifactBytes: 536_870_912,
    downloadTimeoutMs: 900_000,
    maxManifestAgeMs: undefined,
    healthGateTimeoutMs: 120_000,
    healthGateIntervalMs: 2000,
    maxBootAttempts: 3,
  });
});

Deno.test("parseConfig() takes several fleet keys (a rotation) from the file or QEIL_UPDATE_PUBLIC_KEYS", async () => {
  const [a, b] = await Promise.all([generateFleetKeyPair(), generateFleetKeyPair()]);
  const fromFile = parseConfig({
    stateDir: "/s",
    update: { publicKeys: `${a.publicKeyBase64}, ${b.publicKeyBase64}` },
  });
  assert.deepEqual(fromFile.update.publicKeys, [a.publicKeyBase64, b.publicKeyBase64]);
  const fromEnv = parseConfig({ stateDir: "/s" }, { QEIL_UPDATE_PUBLIC_KEYS: b.publicKeyBase64 });
  assert.deepEqual(fromEnv.update.publicKeys, [b.publicKeyBase64]);
});

Deno.test("parseConfig() names the update key of a bad value", () => {
  const bad = (file: unknown, env: Record<string, string> = {}) => {
    try {
      parseConfig(file, env);
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error;
    }
    assert.fail("parseConfig() accepted it");
  };
  const pem = bad({ stateDir: "/s", update: { publicKeys: "-----BEGIN PUBLIC KEY-----" } });
  assert.equal(pem.details.field, "update.publicKeys");
  assert.match(pem.message, /base64 Ed25519 public keys/);
  const gate = bad({ stateDir: "/s", update: { healthGateTimeoutMs: 1000, healthGateIntervalMs: 5000 } });
  assert.equal(gate.details.field, "update.healthGateIntervalMs");
  const size = bad({ stateDir: "/s" }, { QEIL_UPDATE_MAX_ARTIFACT_BYTES: "0" });
  assert.equal(size.details.field, "update.maxArtifactBytes");
  assert.match(size.message, /env QEIL_UPDATE_MAX_ARTIFACT_BYTES/);
  const factory = bad({ stateDir: "/s", update: { factoryDir: "" } });
  assert.equal(factory.details.field, "update.factoryDir");
});

Deno.test("createService() fails at start naming update.publicKeys when a key is not an Ed25519 public key", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "qeil-update-config-" });
  try {
    // The config's pattern keeps keys to 43 base64 characters; a config built in code skips it, and the
    // import at start still refuses a key that does not decode to 32 bytes.
    const config = parseConfig({ stateDir, http: { port: 0 }, mqtt: { embeddedPort: 0 } });
    config.update.publicKeys = ["AAAA"];
    const logger = createLogger({ level: "error", format: "text", sink: () => {} });
    await assert.rejects(
      createService(config, { version: "0.1.0", env: {}, logger }),
      (error: unknown) =>
        error instanceof ConfigError && error.details.field === "update.publicKeys" &&
        /public key 0/.test(error.message),
    );
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("bootConfigOf() finds the update folders exactly where parseConfig() puts them, from every layer", () => {
  const cases: [unknown, Record<string, string>, Record<string, string>][] = [
    [undefined, { HOME: "/home/edge" }, {}],
    [undefined, { STATE_DIRECTORY: "/var/lib/qeil:/other" }, {}],
    [{ stateDir: "/srv/qeil", update: { slotsDir: "/data/slots" } }, {}, {}],
    [{ stateDir: "/srv/qeil" }, { QEIL_UPDATE_STATE_DIR: "/run/upd", QEIL_UPDATE_MAX_BOOT_ATTEMPTS: "2" }, {}],
    [{ stateDir: "/srv/qeil" }, { QEIL_STATE_DIR: "/from/env" }, { stateDir: "/from/flag" }],
  ];
  for (const [file, env, flags] of cases) {
    const full = parseConfig(file, env, flags);
    const boot = bootConfigOf(file, env, flags);
    assert.deepEqual(boot, { stateDir: full.stateDir, update: full.update, log: full.log }, JSON.stringify(file));
  }
  assert.equal(bootConfigOf(undefined, {}, { stateDir: "/from/flag" }).update.stateDir, "/from/flag/update");
  assert.equal(bootConfigOf({ log: { format: "json" } }, {}, {}).log.format, "json");
});

Deno.test("bootConfigOf() leaves every other key, and its mistakes, to the full parse", () => {
  // A config this build refuses (an unknown key, a bad port, a bad variable): the boot count still
  // finds its folders, so a new version that refuses the config counts a failed start.
  const file = { stateDir: "/srv/qeil", futureFeature: { on: true }, http: { port: "not a port" } };
  const env = { QEIL_QUEUE_CAPACITY: "0", QEIL_HTTP_HOST: "0.0.0.0" };
  assert.throws(() => parseConfig(file, env), ConfigError);
  const boot = bootConfigOf(file, env, { "http.port": "99999" });
  assert.equal(boot.update.stateDir, "/srv/qeil/update");
  assert.equal(boot.update.slotsDir, "/srv/qeil/slots");
  // One of its own keys that is wrong: named, as the full parse would.
  assert.throws(() => bootConfigOf({ update: { slotsDir: 7 } }, {}, {}), (e: Error) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.details.field, "update.slotsDir");
    return true;
  });
});

Deno.test("update.maxBootAttempts stays inside systemd's start limit, with room for the rollback and the old version", async () => {
  const unit = await Deno.readTextFile(new URL("../../systemd/qeil.service", import.meta.url));
  const burst = Number(/^StartLimitBurst=(\d+)$/m.exec(unit)?.[1]);
  assert.ok(Number.isInteger(burst), "systemd/qeil.service sets StartLimitBurst");
  // The largest accepted value leaves two starts: the one that rolls back and the previous version's.
  const largest = burst - 2;
  assert.equal(parseConfig({ stateDir: "/s", update: { maxBootAttempts: largest } }).update.maxBootAttempts, largest);
  assert.throws(
    () => parseConfig({ stateDir: "/s", update: { maxBootAttempts: largest + 1 } }),
    (e: unknown) => e instanceof ConfigError && e.details.field === "update.maxBootAttempts",
  );
});
