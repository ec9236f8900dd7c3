import assert from "node:assert/strict";
import { runCli } from "../../main.ts";
import { loadServeConfig } from "../../cli/serve.ts";

async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: (t) => stdout += t,
    stderr: (t) => stderr += t,
    isTerminal: false,
    env,
    signal: new AbortController().signal,
  });
  return { code, stdout, stderr };
}

Deno.test("qeil serve fails at start on an invalid flag, naming the key path and the flag", async () => {
  const r = await cli(["serve", "--http-port", "99999", "--state-dir", await Deno.makeTempDir()]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /http\.port must be an integer in 0\.\.65535/);
  assert.match(r.stderr, /flag http\.port/);
});

Deno.test("qeil serve fails at start on an unknown key in the config file, naming its path", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ mqtt: { port: 1883 } }));
  const r = await cli(["serve", "--config", `${dir}/config.json`]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /mqtt\.port is not a known configuration key/);
  const missing = await cli(["serve", "--config", `${dir}/nope.json`]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read .*nope\.json/);
});

Deno.test("qeil serve fails at start on a bad QEIL_* variable, naming the key and the variable", async () => {
  const r = await cli(["serve", "--state-dir", await Deno.makeTempDir()], { QEIL_QUEUE_CAPACITY: "0" });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /queue\.capacity must be an integer in 1\.\.100000.*env QEIL_QUEUE_CAPACITY/);
});

Deno.test("serve flags override QEIL_* variables, which override the config file", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ http: { port: 1000 }, nodeId: "from-file" }));
  const env = { QEIL_HTTP_PORT: "2000", QEIL_NODE_ID: "from-env" };
  const withFlag = await loadServeConfig({ config: `${dir}/config.json`, "http-port": "3000" }, env);
  assert.equal(withFlag.http.port, 3000);
  assert.equal(withFlag.nodeId, "from-env");
  const withoutFlag = await loadServeConfig({ config: `${dir}/config.json` }, {});
  assert.equal(withoutFlag.http.port, 1000);
  assert.equal(withoutFlag.nodeId, "from-file");
  const defaults = await loadServeConfig({ "state-dir": dir }, {});
  assert.deepEqual(defaults.board, { kind: "sim", profileId: "rk3588" });
  assert.deepEqual(defaults.mqtt.broker, { kind: "embedded", host: "127.0.0.1", port: 1883 });
  assert.equal(defaults.model.source, "tiny");
});

Deno.test("qeil serve --print-config-reference lists every key with its environment name", async () => {
  const r = await cli(["serve", "--print-config-reference"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /\| `orchestrator\.waves` \| `QEIL_ORCHESTRATOR_WAVES` \|/);
  assert.match(r.stdout, /\| `sim\.stepMs` \| `QEIL_SIM_STEP_MS` \|/);
});
