/**
 * New versions that die before their health gate, as real processes under a
 * stand-in for systemd that follows systemd/qeil.service (Restart=on-failure,
 * RestartForceExitStatus=75, StartLimitBurst): the device's folders are real,
 * the update is applied by the real updater from a real HTTP server, the
 * previous version is this repository's `qeil serve` and the broker is a real
 * Mosquitto (behind a TCP proxy the test can cut).
 *
 * - A new version that refuses the configuration: its own boot count (the
 *   first thing `qeil serve` does) rolls it back at its fourth start, and the
 *   previous version announces the rollback once connected.
 * - A new version whose code cannot even start: the launcher counts its
 *   starts and runs the previous version, which finishes the rollback; with
 *   the broker down the announcement waits on disk, across a restart, and
 *   goes out at the next connection.
 */
import assert from "node:assert/strict";
import { VERSION } from "../../main.ts";
import { createUpdater, parseSemver, type UpdateAnnouncement, UpdateOutbox } from "../../src/update/mod.ts";
import { buildBundleTarball, makeKeys, RecordingPublisher, signFor, startServer } from "../update/helpers.ts";
import { startMosquitto } from "./_mosquitto.ts";
import { connectClient, type Received, type TestClient } from "./_mqtt_client.ts";
import { startTcpProxy } from "./_tcp_proxy.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const LAUNCHER = `${ROOT}/yocto-layer/meta-qeil/recipes-qeil/qeil/files/qeil-launcher.sh`;
const OLD = VERSION;
const NEW = (() => {
  const v = parseSemver(VERSION);
  return `${v.major}.${v.minor + 1}.0`;
})();
/** Bound of one wait (a start of the service on two shared cores), ms. */

/** What systemd/qeil.service says about restarts. */
interface RestartPolicy {
  restart: string;
  forceExitStatus: number[];
  startLimitBurst: number;
}

async function restartPolicy(): Promise<RestartPolicy> {
  const unit = await Deno.readTextFile(`${ROOT}/systemd/qeil.service`);
  const value = (key: string) => {
    const m = unit.match(new RegExp(`^${key}=(.*)$`, "m"));
    assert.ok(m, `systemd/qeil.service sets ${key}`);
    return m[1].trim();
  };
  return {
    restart: value("Restart"),
    forceExitStatus: value("RestartForceExitStatus").split(/\s+/).map(Number),
    startLimitBurst: Number(value("StartLimitBurst")),
  };
}

/** One start of the unit's ExecStart. */
interface Started extends AsyncDisposable {
  readonly lines: string[];
  readonly status: Promise<Deno.CommandStatus>;
  /** Resolves with the first line matching `match`; never rejects (the process may exit first). */
  seen(match: RegExp): Promise<string>;
  /** The first line matching `match`; rejects when the process exits first. */
  waitForLine(match: RegExp): Promise<string>;
  terminate(): Promise<number>;
}

function startOnce(execStart: string, args: string[], env: Record<string, string>): Started {
  const child = new Deno.Command(execStart, {
    args,
    env: { DENO_NO_UPDATE_CHECK: "1", ORT_DISABLE_TELEMETRY: "1", NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters: { match: RegExp; resolve(line: string): void }[] = [];
  const consume = async (stream: ReadableStream<Uint8Array>) => {
    let buffered = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (buffered + chunk).split("\n");
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.match.test(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    }
  };
  const reading = Promise.all([consume(child.stdout), consume(child.stderr)]);
  const status = child.status.then(async (s) => {
    await reading;
    return s;
  });
  const tail = () => lines.slice(-15).join("\n");
  const kill = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await status;
  };
  const seen = (match: RegExp) => {
    const line = lines.find((l) => match.test(l));
    if (line !== undefined) return Promise.resolve(line);
    return new Promise<string>((resolve) => waiters.push({ match, resolve }));
  };
  return {
    lines,
    status,
    seen,
    waitForLine: (match) => {
      const exited = status.then((s) => {
        throw new Error(`the service exited with ${s.code} before logging ${match}:\n${tail()}`);
      });
      return Promise.race([seen(match), exited]);
    },
    terminate: async () => {
      child.kill("SIGTERM");
      return (await status).code;
    },
    [Symbol.asyncDispose]: kill,
  };
}

/**
 * Starts the unit the way systemd does until a start is up ("service ready"): a start that exits is
 * started again when the policy says so, and more starts than StartLimitBurst fail the test (systemd
 * would give up and leave the device down). Returns the exit codes of the failed starts.
 */
async function startUnit(
  policy: RestartPolicy,
  execStart: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ exits: number[]; running: Started }> {
  assert.equal(policy.restart, "on-failure");
  const exits: number[] = [];
  for (let start = 1; start <= policy.startLimitBurst; start++) {
    const run = startOnce(execStart, args, env);
    const first = await Promise.race([
      run.status.then((s) => s.code),
      run.seen(/service ready/).then(() => "ready" as const),
    ]);
    if (first === "ready") return { exits, running: run };
    const code = first;
    exits.push(code);
    const restarts = code !== 0 || policy.forceExitStatus.includes(code);
    assert.ok(restarts, `start ${start} exited ${code}: systemd would not start it again\n${run.lines.join("\n")}`);
  }
  throw new Error(
    `StartLimitBurst=${policy.startLimitBurst} reached (exits ${exits.join(", ")}): the device stays down`,
  );
}

/** A device: state and slot folders, the factory install running this repository as the previous version. */
async function device(dir: string): Promise<{ stateDir: string; slotsDir: string; factoryDir: string }> {
  const stateDir = `${dir}/state`;
  const factoryDir = `${dir}/factory`;
  await Deno.mkdir(`${factoryDir}/bin`, { recursive: true });
  await Deno.writeTextFile(
    `${factoryDir}/bin/qeil`,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -A --unstable-net "${ROOT}/main.ts" "$@"\n`,
  );
  await Deno.chmod(`${factoryDir}/bin/qeil`, 0o755);
  return { stateDir, slotsDir: `${stateDir}/slots`, factoryDir };
}

/** The running previous version accepted `bundle` as NEW: downloaded, installed in slot a, switched. */
async function applyUpdate(
  dir: string,
  d: { stateDir: string; slotsDir: string; factoryDir: string },
  bundle: Uint8Array<ArrayBuffer>,
) {
  await using server = startServer({ "/qeil.tar.gz": () => new Response(bundle) });
  const keys = await makeKeys();
  const updater = createUpdater({
    stateDir: `${d.stateDir}/update`,
    slotsDir: d.slotsDir,
    factoryDir: d.factoryDir,
    currentVersion: OLD,
    publicKeys: [keys.publicKey],
    publisher: new RecordingPublisher(),
  });
  const outcome = await updater.apply(await signFor(keys, NEW, server.url("/qeil.tar.gz"), bundle));
  assert.equal(outcome.kind, "restart-required", `${dir}: ${JSON.stringify(outcome)}`);
  assert.equal(await Deno.readLink(`${d.slotsDir}/current`), "a");
}

async function queued(stateDir: string): Promise<UpdateAnnouncement[]> {
  return (await new UpdateOutbox(`${stateDir}/update`).list()).announcements;
}

function serveArgs(brokerUrl: string, stateDir: string, node: string): string[] {
  return ["serve", "--broker", brokerUrl, "--state-dir", stateDir, "--http-port", "0", "--node-id", node];
}

const SERVE_ENV = {
  QEIL_TELEMETRY_PERIOD_MS: "500",
  QEIL_MQTT_RECONNECT_MIN_MS: "100",
  QEIL_MQTT_RECONNECT_MAX_MS: "500",
};

async function rolledBack(client: TestClient, node: string): Promise<{ status: Received; fault: Received }> {
  const status = await client.waitFor(`qeil/v1/${node}/update`, (m) => m.json?.step === "rolled-back");
  const fault = await client.waitFor(
    `qeil/v1/${node}/fault`,
    (m) => m.json?.kind === "update-failed" && /HealthGate/.test(m.json.message),
  );
  return { status, fault };
}

Deno.test("a new version that fails before its gate at every start is rolled back by its own boot count, and the previous version announces it", async () => {
  const policy = await restartPolicy();
  await using broker = await startMosquitto();
  const dir = await Deno.makeTempDir({ prefix: "qeil-boot-" });
  try {
    const d = await device(dir);
    // The new release runs this repository as NEW, but refuses the device's configuration (as a new
    // version whose config schema changed would): it fails after its boot count, long before its gate.
    const bundle = await buildBundleTarball(dir, NEW, {
      binScript: `#!/bin/sh\nQEIL_QUEUE_CAPACITY=0 exec "${Deno.execPath()}" run -A --unstable-net ` +
        `"${ROOT}/tests/update/_serve_as.ts" ${NEW} "$@"\n`,
    });
    await applyUpdate(dir, d, bundle);
    // A device without the Yocto launcher: /usr/bin/qeil just follows current.
    const execStart = `${dir}/qeil`;
    await Deno.writeTextFile(
      execStart,
      `#!/bin/sh\nif [ -x "${d.slotsDir}/current/bin/qeil" ]; then exec "${d.slotsDir}/current/bin/qeil" "$@"; fi\n` +
        `exec "${d.factoryDir}/bin/qeil" "$@"\n`,
    );
    await Deno.chmod(execStart, 0o755);
    const node = "boot-count";
    await using client = await connectClient(broker.url);
    await client.subscribe([`qeil/v1/${node}/update`, `qeil/v1/${node}/fault`, `qeil/v1/${node}/status`]);

    const env = { ...SERVE_ENV, QEIL_UPDATE_FACTORY_DIR: d.factoryDir };
    const { exits, running } = await startUnit(policy, execStart, serveArgs(broker.url, d.stateDir, node), env);
    await using old = running;
    // Three starts refused the config (exit 2); the fourth rolled back and asked for a restart (75).
    assert.deepEqual(exits, [2, 2, 2, 75]);
    assert.ok(exits.length + 1 <= policy.startLimitBurst);
    assert.equal(await Deno.readLink(`${d.slotsDir}/current`), d.factoryDir);
    await old.waitForLine(/service ready/);
    const online = await client.waitFor(`qeil/v1/${node}/status`, (m) => m.json?.state === "online");
    assert.equal(online.json.version, OLD);

    const { status, fault } = await rolledBack(client, node);
    assert.equal(status.packet.qos, 1);
    assert.equal(status.json.version, NEW);
    assert.equal(status.json.fromVersion, OLD);
    assert.equal(status.json.slot, "factory");
    assert.equal(status.json.detail.reason, `version ${NEW} started 3 times without passing its health gate`);
    assert.equal(status.json.detail.bootAttempts, 4);
    assert.equal(fault.json.code, "Update");
    assert.match(fault.json.message, new RegExp(`rolled back to ${OLD.replaceAll(".", "\\.")}`));
    await old.waitForLine(/update outcome announced/);
    assert.deepEqual(await queued(d.stateDir), []);
    assert.equal(await old.terminate(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a new version that cannot start is left behind by the launcher; a rollback announced while the broker is down goes out at the next connection", async () => {
  const policy = await restartPolicy();
  await using broker = await startMosquitto();
  await using proxy = startTcpProxy(broker.port);
  const dir = await Deno.makeTempDir({ prefix: "qeil-boot-" });
  try {
    const d = await device(dir);
    // A corrupt release: its runtime starts, its code does not parse. No qeil code of it ever runs.
    const bundle = await buildBundleTarball(dir, NEW, {
      binScript: `#!/bin/sh\nroot=$(dirname "$(dirname "$(readlink -f "$0")")")\n` +
        `exec "${Deno.execPath()}" run "$root/app/main.js" "$@"\n`,
      files: { "app/main.js": "export const broken = (;\n" },
    });
    await applyUpdate(dir, d, bundle);
    const execStart = `${dir}/qeil`;
    const launcher = await Deno.readTextFile(LAUNCHER);
    await Deno.writeTextFile(
      execStart,
      launcher.replaceAll("@SLOTS_DIR@", d.slotsDir).replaceAll("@FACTORY_DIR@", d.factoryDir),
    );
    await Deno.chmod(execStart, 0o755);
    const node = "boot-launcher";
    await using client = await connectClient(broker.url);
    await client.subscribe([`qeil/v1/${node}/update`, `qeil/v1/${node}/fault`]);
    const env = { ...SERVE_ENV, QEIL_UPDATE_FACTORY_DIR: d.factoryDir };
    const args = serveArgs(proxy.url, d.stateDir, node);

    // The broker is unreachable for the service the whole time of the rollback.
    proxy.cut();
    const { exits, running } = await startUnit(policy, execStart, args, env);
    {
      await using old = running;
      assert.deepEqual(exits, [1, 1, 1], "three starts of the corrupt release");
      assert.ok(
        old.lines.some((l) => /slot a started 3 times without passing its health gate; starting factory/.test(l)),
      );
      await old.waitForLine(/update rolled back at start: running the previous version/);
      assert.equal(await Deno.readLink(`${d.slotsDir}/current`), d.factoryDir);
      const [waiting] = await queued(d.stateDir);
      assert.equal(waiting?.status.step, "rolled-back");
      assert.match(String(waiting.status.detail?.reason), /the launcher started/);
      // Stopped before the broker came back: the announcement stays on disk.
      assert.equal(await old.terminate(), 0);
      assert.equal((await queued(d.stateDir)).length, 1, old.lines.join("\n"));
    }
    assert.ok(!client.received.some((m) => m.json?.step === "rolled-back"));

    // The next start, still without the broker; then the broker comes back.
    const again = await startUnit(policy, execStart, args, env);
    await using old = again.running;
    assert.deepEqual(again.exits, []);
    assert.ok(!old.lines.some((l) => /slot a started/.test(l)), "the trial is over: the launcher counts no more");
    proxy.restore();
    const { status, fault } = await rolledBack(client, node);
    assert.equal(status.json.version, NEW);
    assert.equal(status.json.slot, "factory");
    assert.equal(
      status.json.detail.reason,
      `version ${NEW} did not pass its health gate in 3 starts; the launcher started ${OLD} instead`,
    );
    assert.match(fault.json.message, /the launcher started/);
    await old.waitForLine(/update outcome announced/);
    assert.deepEqual(await queued(d.stateDir), []);
    assert.equal(await old.terminate(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
