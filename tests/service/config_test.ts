import assert from "node:assert/strict";
import { ConfigError } from "../../src/core/mod.ts";
import { CONFIG_FIELDS, configReference, envNameOf, parseConfig, SERVE_FLAG_KEYS } from "../../src/service/mod.ts";

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    return error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("parseConfig() with nothing given yields the embedded default: sim rk3588, embedded broker, tiny model", () => {
  const c = parseConfig(undefined, { HOME: "/home/u" }, {}, { hostname: "edge-7.local" });
  assert.equal(c.nodeId, "edge-7-local");
  assert.deepEqual(c.board, { kind: "sim", profileId: "rk3588" });
  assert.equal(c.stateDir, "/home/u/.local/state/qeil");
  assert.equal(c.sysfsRoot, "/home/u/.local/state/qeil/sim-sysfs");
  assert.deepEqual(c.model, { source: "tiny", dir: "/home/u/.local/state/qeil/models/tiny" });
  assert.deepEqual(c.mqtt.broker, { kind: "embedded", host: "127.0.0.1", port: 1883 });
  assert.equal(c.mqtt.topicPrefix, "qeil/v1/edge-7-local/");
  assert.equal(c.mqtt.clientId, "qeil-edge-7-local");
  assert.deepEqual(c.http, { enabled: true, host: "127.0.0.1", port: 8780, token: undefined });
  assert.equal(c.log.level, "info");
});

Deno.test("parseConfig() applies file < env < flags", () => {
  const file = { http: { port: 9000, host: "127.0.0.2" }, mqtt: { url: "mqtt://file:1883" }, nodeId: "from-file" };
  const env = { QEIL_HTTP_PORT: "9001", QEIL_MQTT_URL: "mqtt://env:1883", PATH: "/bin", QEIL_UNRELATED: "x" };
  const flags = { "http.port": "9002" };
  const c = parseConfig(file, env, flags, { hostname: "h" });
  assert.equal(c.http.port, 9002, "flag wins over env and file");
  assert.deepEqual(c.mqtt.broker, { kind: "external", url: "mqtt://env:1883" }, "env wins over file");
  assert.equal(c.http.host, "127.0.0.2", "file wins over the default");
  assert.equal(c.nodeId, "from-file");
});

Deno.test("parseConfig() names the key path and the layer of a bad value", () => {
  const e = configError(() => parseConfig(undefined, { QEIL_HTTP_PORT: "x" }, {}));
  assert.equal(
    e.message,
    'config: http.port must be an integer in 0..65535 (0: any free port), got "x" (from env QEIL_HTTP_PORT)',
  );
  assert.equal(e.details.field, "http.port");
  assert.equal(e.details.source, "env QEIL_HTTP_PORT");

  const f = configError(() => parseConfig({ http: { port: "8080" } }, {}, {}));
  assert.equal(f.details.field, "http.port", "the file must hold a number, not a string");
  assert.match(f.message, /from config file/);

  const g = configError(() => parseConfig(undefined, {}, { "queue.capacity": 0 }));
  assert.equal(g.details.field, "queue.capacity");
  assert.match(g.message, /from flag queue.capacity/);
});

Deno.test("parseConfig() refuses unknown keys in the file, naming them", () => {
  assert.equal(configError(() => parseConfig({ http: { prot: 1 } }, {}, {})).details.field, "http.prot");
  assert.equal(configError(() => parseConfig({ mqtt: { tls: { pem: "/x" } } }, {}, {})).details.field, "mqtt.tls.pem");
  assert.equal(configError(() => parseConfig({ http: 5 }, {}, {})).details.field, "http");
  assert.equal(configError(() => parseConfig([], {}, {})).details.field, "(file)");
});

Deno.test("parseConfig() treats null in the file as the default", () => {
  const c = parseConfig({ http: { port: null } }, {}, {});
  assert.equal(c.http.port, 8780);
});

Deno.test("parseConfig() parses board sources and refuses malformed ones", () => {
  assert.deepEqual(parseConfig(undefined, { QEIL_BOARD: "rk3588" }, {}).board, { kind: "real", profileId: "rk3588" });
  assert.equal(parseConfig(undefined, { QEIL_BOARD: "auto" }, {}).sysfsRoot, "/");
  assert.deepEqual(parseConfig({ board: "sim:jetson-orin-nano" }, {}, {}).board, {
    kind: "sim",
    profileId: "jetson-orin-nano",
  });
  assert.equal(configError(() => parseConfig({ board: "sim:" }, {}, {})).details.field, "board");
  assert.equal(configError(() => parseConfig({ board: "RK 3588" }, {}, {})).details.field, "board");
  assert.equal(configError(() => parseConfig({ board: "sim:auto" }, {}, {})).details.field, "board");
});

Deno.test("parseConfig() resolves relative paths against cwd only when given one", () => {
  assert.equal(configError(() => parseConfig({ stateDir: "state" }, {}, {})).details.field, "stateDir");
  const c = parseConfig({ stateDir: "state" }, {}, { modelDir: "../m" }, { cwd: "/srv/qeil" });
  assert.equal(c.stateDir, "/srv/qeil/state");
  assert.deepEqual(c.model, { source: "dir", dir: "/srv/m" });
});

Deno.test("parseConfig() takes the state folder from systemd's STATE_DIRECTORY first", () => {
  const env = { STATE_DIRECTORY: "/var/lib/qeil:/var/lib/other", XDG_STATE_HOME: "/x", HOME: "/h" };
  assert.equal(parseConfig(undefined, env, {}).stateDir, "/var/lib/qeil");
  assert.equal(parseConfig(undefined, { XDG_STATE_HOME: "/x", HOME: "/h" }, {}).stateDir, "/x/qeil");
  assert.equal(parseConfig(undefined, {}, {}).stateDir, "/var/lib/qeil");
});

Deno.test("parseConfig() checks fields against each other", () => {
  assert.equal(
    configError(() => parseConfig({ http: { host: "0.0.0.0" } }, {}, {})).details.field,
    "http.token",
    "a non-loopback bind needs a token",
  );
  const withToken = parseConfig({ http: { host: "0.0.0.0" } }, { QEIL_HTTP_TOKEN: "0123456789abcdef" }, {});
  assert.equal(withToken.http.token, "0123456789abcdef");
  assert.equal(configError(() => parseConfig({ http: { token: "short" } }, {}, {})).details.field, "http.token");
  assert.equal(configError(() => parseConfig({ mqtt: { password: "p" } }, {}, {})).details.field, "mqtt.password");
  assert.equal(
    configError(() => parseConfig({ mqtt: { tls: { cert: "/c.pem" } } }, {}, {})).details.field,
    "mqtt.tls.key",
  );
  assert.equal(
    configError(() => parseConfig({ request: { defaultSamples: 20, maxSamples: 8 } }, {}, {})).details.field,
    "request.defaultSamples",
  );
  assert.equal(
    configError(() => parseConfig({ mqtt: { reconnectMinMs: 5000, reconnectMaxMs: 1000 } }, {}, {})).details.field,
    "mqtt.reconnectMinMs",
  );
  assert.equal(
    configError(() => parseConfig({ mqtt: { protocol: "5" } }, {}, {})).details.field,
    "mqtt.protocol",
    "the embedded broker speaks 3.1.1 only",
  );
  assert.equal(
    configError(() => parseConfig({ faults: { probationShare: 0 } }, {}, {})).details.field,
    "faults.probationShare",
  );
  // A certain refault would make no trial ever pay off, and the formula divides by nothing: refused.
  assert.equal(
    configError(() => parseConfig({ faults: { trialRefailProbability: 1 } }, {}, {})).details.field,
    "faults.trialRefailProbability",
  );
  assert.equal(parseConfig({}, {}, {}).faults.trialRefailProbability, 0.25);
  assert.equal(
    parseConfig({}, { QEIL_FAULTS_TRIAL_REFAIL_PROBABILITY: "0.5" }, {}).faults.trialRefailProbability,
    0.5,
  );
});

Deno.test("parseConfig() validates MQTT settings", () => {
  const c = parseConfig(
    {
      mqtt: {
        url: "mqtts://broker.example:8883",
        username: "node",
        password: "secret",
        tls: { ca: "/etc/qeil/ca.pem", cert: "/etc/qeil/c.pem", key: "/etc/qeil/k.pem" },
        topicPrefix: "fleet/a/",
        protocol: "3.1.1",
      },
    },
    { QEIL_MQTT_TLS_REJECT_UNAUTHORIZED: "false", QEIL_MQTT_KEEPALIVE_S: "15" },
    {},
  );
  assert.deepEqual(c.mqtt.broker, { kind: "external", url: "mqtts://broker.example:8883" });
  assert.deepEqual(c.mqtt.tls, {
    caPath: "/etc/qeil/ca.pem",
    certPath: "/etc/qeil/c.pem",
    keyPath: "/etc/qeil/k.pem",
    rejectUnauthorized: false,
  });
  assert.equal(c.mqtt.topicPrefix, "fleet/a/");
  assert.equal(c.mqtt.keepaliveS, 15);
  assert.equal(configError(() => parseConfig({ mqtt: { url: "http://x" } }, {}, {})).details.field, "mqtt.url");
  assert.equal(
    configError(() => parseConfig({ mqtt: { topicPrefix: "a/+/" } }, {}, {})).details.field,
    "mqtt.topicPrefix",
  );
  assert.equal(
    configError(() => parseConfig({ mqtt: { topicPrefix: "a/b" } }, {}, {})).details.field,
    "mqtt.topicPrefix",
  );
  assert.equal(
    configError(() => parseConfig({}, { QEIL_MQTT_TLS_REJECT_UNAUTHORIZED: "maybe" }, {})).details.field,
    "mqtt.tls.rejectUnauthorized",
  );
  assert.equal(configError(() => parseConfig({ nodeId: "a/b" }, {}, {})).details.field, "nodeId");
});

Deno.test("envNameOf() derives QEIL_* names from key paths", () => {
  assert.equal(envNameOf("http.port"), "QEIL_HTTP_PORT");
  assert.equal(envNameOf("nodeId"), "QEIL_NODE_ID");
  assert.equal(envNameOf("mqtt.url"), "QEIL_MQTT_URL");
  assert.equal(envNameOf("mqtt.tls.rejectUnauthorized"), "QEIL_MQTT_TLS_REJECT_UNAUTHORIZED");
  const names = CONFIG_FIELDS.map((f) => envNameOf(f.key));
  assert.equal(new Set(names).size, names.length, "every key has its own environment name");
});

Deno.test("every serve flag names a configuration key and every key is documented", () => {
  const keys = new Set(CONFIG_FIELDS.map((f) => f.key));
  for (const key of Object.values(SERVE_FLAG_KEYS)) assert.ok(keys.has(key), key);
  for (const f of CONFIG_FIELDS) assert.ok(f.doc.length > 10, `${f.key} has a doc line`);
  const reference = configReference();
  for (const f of CONFIG_FIELDS) assert.ok(reference.includes(`\`${f.key}\``), `${f.key} is in the reference`);
});

Deno.test("parseConfig() refuses a flag key that is not a configuration key (a programming error)", () => {
  assert.throws(() => parseConfig(undefined, {}, { "http.prot": "1" }), TypeError);
});
