import assert from "node:assert/strict";
import { fail as failed, ManualClock, ok, UpdateError } from "../../src/core/mod.ts";
import {
  createUpdater,
  failureReason,
  type HealthCheck,
  type SignedManifest,
  type UpdaterOptions,
  UpdateStateFile,
} from "../../src/update/mod.ts";
import {
  buildBundleTarball,
  closedPortUrl,
  makeKeys,
  RecordingPublisher,
  signFor,
  snapshotDir,
  startCuttingServer,
  startServer,
  type TestKeys,
} from "./helpers.ts";

interface Rig extends AsyncDisposable {
  dir: string;
  slotsDir: string;
  stateDir: string;
  factoryDir: string;
  keys: TestKeys;
  publisher: RecordingPublisher;
  clock: ManualClock;
  options(currentVersion: string, extra?: Partial<UpdaterOptions>): UpdaterOptions;
}

async function rig(): Promise<Rig> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-update-" });
  const factoryDir = `${dir}/factory`;
  await Deno.mkdir(`${factoryDir}/bin`, { recursive: true });
  const keys = await makeKeys();
  const publisher = new RecordingPublisher();
  const clock = new ManualClock(Date.parse("2026-03-01T12:00:00Z"));
  const slotsDir = `${dir}/slots`;
  const stateDir = `${dir}/state`;
  return {
    dir,
    slotsDir,
    stateDir,
    factoryDir,
    keys,
    publisher,
    clock,
    options: (currentVersion, extra = {}) => ({
      stateDir,
      slotsDir,
      factoryDir,
      currentVersion,
      publicKeys: [keys.publicKey],
      publisher,
      clock,
      healthGate: { timeoutMs: 30_000, intervalMs: 5_000, maxBootAttempts: 3 },
      ...extra,
    }),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const healthy: HealthCheck = { name: "broker", check: () => Promise.resolve(ok(true)) };
const unhealthy: HealthCheck = { name: "broker", check: () => Promise.resolve(failed("not connected")) };

/** Drives a manual clock through health-gate rounds until `done` settles. */
async function driveGate<T>(r: Rig, done: Promise<T>): Promise<T> {
  let settled = false;
  const result = done.finally(() => {
    settled = true;
  });
  while (!settled) {
    const round = r.publisher.next("health-check");
    const winner = await Promise.race([round.then(() => "round" as const), result.then(() => "done" as const)]);
    if (winner === "done") break;
    await r.clock.advance(5_000);
  }
  return result;
}

function assertRejected(outcome: { kind: string; error?: UpdateError }, reason: string): UpdateError {
  assert.equal(outcome.kind, "rejected");
  assert.ok(outcome.error instanceof UpdateError);
  assert.equal(failureReason(outcome.error), reason, outcome.error.message);
  return outcome.error;
}

/** Applies v1.1.0 over factory 1.0.0 and returns what was served. */
async function installV110(r: Rig, server: { url(p: string): string }, bytes: Uint8Array): Promise<SignedManifest> {
  const manifest = await signFor(r.keys, "1.1.0", server.url("/qeil-1.1.0.tar.gz"), bytes);
  const outcome = await createUpdater(r.options("1.0.0")).apply(JSON.stringify(manifest));
  assert.equal(outcome.kind, "restart-required");
  return manifest;
}

Deno.test("apply() installs a signed update into the inactive slot, switches, and the gate commits it", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  const manifest = await signFor(r.keys, "1.1.0", server.url("/qeil-1.1.0.tar.gz"), bytes);

  const outcome = await createUpdater(r.options("1.0.0")).apply(JSON.stringify(manifest));
  assert.deepEqual(outcome, { kind: "restart-required", version: "1.1.0", slot: "a" });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), "a");
  assert.equal(await Deno.readTextFile(`${r.slotsDir}/a/bin/qeil`), '#!/bin/sh\necho "qeil 1.1.0"\n');
  assert.equal(JSON.parse(await Deno.readTextFile(`${r.slotsDir}/a/slot.json`)).version, "1.1.0");
  await assert.rejects(Deno.stat(`${r.slotsDir}/staging`), Deno.errors.NotFound);
  assert.deepEqual(r.publisher.steps(), [
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
  assert.deepEqual(r.publisher.faults, []);
  assert.ok(r.publisher.statuses.every((e) => e.timestampMs === r.clock.nowMs()));
  assert.equal((await createUpdater(r.options("1.0.0")).state()).phase, "awaiting-health");

  // systemd restarts the service: the new version runs and passes its gate.
  const started = await createUpdater(r.options("1.1.0")).onStart([healthy]);
  assert.deepEqual(started, { kind: "committed", version: "1.1.0" });
  const state = await createUpdater(r.options("1.1.0")).state();
  assert.equal(state.phase, "idle");
  assert.equal(state.installedVersion, "1.1.0");
  assert.equal(state.last?.outcome, "committed");
  assert.equal(r.publisher.steps().at(-1), "committed");
});

Deno.test("apply() rejects a bad signature with a fault, before downloading, and changes nothing", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/a.tar.gz": () => new Response(bytes) });
  const good = await signFor(r.keys, "1.1.0", server.url("/a.tar.gz"), bytes);
  const before = await snapshotDir(r.dir);

  // The signed fields altered after signing: the signature no longer covers them.
  const tampered = { ...good, artifactUrl: server.url("/a.tar.gz?evil=1") };
  assertRejected(await createUpdater(r.options("1.0.0")).apply(tampered), "BadSignature");
  // Signed by a key the device does not trust.
  const stranger = await makeKeys();
  const foreign = await signFor(stranger, "1.1.0", server.url("/a.tar.gz"), bytes);
  assertRejected(await createUpdater(r.options("1.0.0")).apply(foreign), "UnknownKey");
  // Signed by a stranger but claiming the trusted key id.
  assertRejected(
    await createUpdater(r.options("1.0.0")).apply({ ...foreign, keyId: r.keys.publicKey.keyId }),
    "BadSignature",
  );

  assert.equal(server.hits.size, 0, "nothing may be downloaded for an unsigned manifest");
  assert.deepEqual(await snapshotDir(r.dir), before);
  assert.deepEqual(r.publisher.faults.map((f) => f.reason), ["BadSignature", "UnknownKey", "BadSignature"]);
  assert.deepEqual(r.publisher.steps().filter((s) => s !== "received"), ["rejected", "rejected", "rejected"]);
});

Deno.test("apply() rejects an artifact whose sha256 differs, removes the download and changes nothing", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  const other = await buildBundleTarball(`${r.dir}`, "1.1.0", { tamper: true });
  await using server = startServer({ "/a.tar.gz": () => new Response(other) });
  const manifest = await signFor(r.keys, "1.1.0", server.url("/a.tar.gz"), bytes, { sizeBytes: other.length });
  const before = await snapshotDir(r.slotsDir);

  const error = assertRejected(await createUpdater(r.options("1.0.0")).apply(manifest), "HashMismatch");
  assert.match(error.message, /hashes to [0-9a-f]{64}, the manifest says/);
  assert.equal(server.hits.get("/a.tar.gz"), 1);
  assert.deepEqual(await snapshotDir(r.slotsDir), before);
  const state = await createUpdater(r.options("1.0.0")).state();
  assert.equal(state.phase, "idle");
  assert.equal(state.installedVersion, "1.0.0");
  assert.equal(state.last?.reason, "HashMismatch");
  assert.deepEqual(r.publisher.faults.map((f) => [f.reason, f.step]), [["HashMismatch", "downloading"]]);
});

Deno.test("apply() rejects truncated, oversize and too large downloads and an unreachable URL", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  const half = bytes.subarray(0, Math.floor(bytes.length / 2));
  // The server announces the full length, sends half and closes the connection.
  await using cutting = startCuttingServer(half, bytes.length);
  await using server = startServer({
    // More bytes than the manifest declares, streamed without a length.
    "/big.tar.gz": () =>
      new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(bytes);
            controller.enqueue(bytes);
            controller.close();
          },
        }),
      ),
  });
  const before = await snapshotDir(r.slotsDir);
  const cases: [string, SignedManifest, string][] = [
    ["truncated", await signFor(r.keys, "1.1.0", cutting.url, bytes), "Truncated"],
    ["oversize", await signFor(r.keys, "1.1.0", server.url("/big.tar.gz"), bytes), "Oversize"],
    [
      "too large",
      await signFor(r.keys, "1.1.0", server.url("/big.tar.gz"), bytes, { sizeBytes: 600 * 1024 * 1024 }),
      "TooLarge",
    ],
    ["unreachable", await signFor(r.keys, "1.1.0", await closedPortUrl("/a.tar.gz"), bytes), "Unreachable"],
  ];
  for (const [what, manifest, reason] of cases) {
    const outcome = await createUpdater(r.options("1.0.0")).apply(manifest);
    assertRejected(outcome, reason);
    assert.deepEqual(await snapshotDir(r.slotsDir), before, `${what} changed the slots`);
    const state = await createUpdater(r.options("1.0.0")).state();
    assert.equal(state.phase, "idle", what);
    assert.equal(state.installedVersion, "1.0.0", what);
  }
  assert.equal(server.hits.get("/big.tar.gz"), 1, "a too large artifact is refused before connecting");
  assert.deepEqual(r.publisher.faults.map((f) => f.reason), ["Truncated", "Oversize", "TooLarge", "Unreachable"]);
});

Deno.test("apply() refuses a replayed manifest and an older version after an update", async () => {
  await using r = await rig();
  const v110 = await buildBundleTarball(r.dir, "1.1.0");
  const v105 = await buildBundleTarball(r.dir, "1.0.5");
  await using server = startServer({
    "/qeil-1.1.0.tar.gz": () => new Response(v110),
    "/qeil-1.0.5.tar.gz": () => new Response(v105),
  });
  const old = await signFor(r.keys, "1.0.5", server.url("/qeil-1.0.5.tar.gz"), v105);
  assert.equal((await createUpdater(r.options("1.0.0")).apply(old)).kind, "restart-required");
  assert.equal((await createUpdater(r.options("1.0.5")).onStart([healthy])).kind, "committed");
  const newer = await signFor(r.keys, "1.1.0", server.url("/qeil-1.1.0.tar.gz"), v110);
  assert.equal((await createUpdater(r.options("1.0.5")).apply(newer)).kind, "restart-required");
  assert.equal((await createUpdater(r.options("1.1.0")).onStart([healthy])).kind, "committed");
  const before = await snapshotDir(r.slotsDir);
  const hits = server.hits.get("/qeil-1.0.5.tar.gz");

  // The very manifest that installed 1.0.5, sent again.
  assertRejected(await createUpdater(r.options("1.1.0")).apply(old), "Replay");
  // A fresh signature for the older version.
  const resigned = await signFor(r.keys, "1.0.5", server.url("/qeil-1.0.5.tar.gz"), v105, {
    issuedAt: "2026-03-01T11:00:00Z",
  });
  assertRejected(await createUpdater(r.options("1.1.0")).apply(resigned), "Downgrade");
  // The current version again is not an update either.
  const same = await signFor(r.keys, "1.1.0", server.url("/qeil-1.1.0.tar.gz"), v110, {
    issuedAt: "2026-03-01T11:00:00Z",
  });
  assertRejected(await createUpdater(r.options("1.1.0")).apply(same), "Downgrade");

  assert.equal(server.hits.get("/qeil-1.0.5.tar.gz"), hits);
  assert.deepEqual(await snapshotDir(r.slotsDir), before);
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), "b");
  assert.deepEqual(r.publisher.faults.map((f) => f.reason), ["Replay", "Downgrade", "Downgrade"]);
});

Deno.test("onStart() rolls back a version that fails its health gate in time and reports it", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  await installV110(r, server, bytes);
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), "a");

  const outcome = await driveGate(r, createUpdater(r.options("1.1.0")).onStart([healthy, unhealthy]));
  assert.deepEqual(outcome, { kind: "restart-required", reason: "rolled-back", version: "1.0.0" });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), r.factoryDir);
  assert.equal(r.clock.monotonicMs(), 30_000, "the gate gives up exactly at its timeout");
  const rounds = r.publisher.statuses.filter((e) => e.step === "health-check");
  assert.equal(rounds.length, 6);
  assert.deepEqual(rounds[0].detail?.failing, ["broker: not connected"]);
  const fault = r.publisher.faults.at(-1);
  assert.equal(fault?.reason, "HealthGate");
  assert.match(fault?.message ?? "", /rolled back to 1\.0\.0: health gate not passed within 30000 ms/);
  assert.deepEqual(r.publisher.steps().slice(-2), ["rolling-back", "rolled-back"]);
  const state = await createUpdater(r.options("1.0.0")).state();
  assert.equal(state.phase, "idle");
  assert.equal(state.installedVersion, "1.0.0");
  assert.equal(state.last?.outcome, "rolled-back");

  // The old version starts again: nothing pending. The rolled-back manifest cannot be replayed.
  assert.deepEqual(await createUpdater(r.options("1.0.0")).onStart([healthy]), { kind: "idle" });
  const again = await createUpdater(r.options("1.0.0")).apply(
    await signFor(r.keys, "1.1.0", server.url("/qeil-1.1.0.tar.gz"), bytes),
  );
  assertRejected(again, "Replay");
});

Deno.test("onStart() commits as soon as the checks pass within the gate", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  await installV110(r, server, bytes);
  let connected = false;
  const broker: HealthCheck = {
    name: "broker",
    check: () => Promise.resolve(connected ? ok(true) : failed("connecting")),
  };
  const gate = createUpdater(r.options("1.1.0")).onStart([broker]);
  await r.publisher.next("health-check");
  await r.clock.advance(5_000);
  await r.publisher.next("health-check");
  connected = true;
  await r.clock.advance(5_000);
  assert.deepEqual(await gate, { kind: "committed", version: "1.1.0" });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), "a");
});

Deno.test("onStart() rolls back a version that crashes before its gate more than maxBootAttempts times", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  await installV110(r, server, bytes);
  // Three starts that die during the gate (the process is killed: the gate promise is abandoned).
  for (let i = 0; i < 3; i++) {
    const controller = new AbortController();
    const gate = createUpdater(r.options("1.1.0")).onStart([unhealthy], controller.signal);
    await r.publisher.next("health-check");
    controller.abort();
    assert.equal((await gate).kind, "failed");
  }
  assert.equal((await createUpdater(r.options("1.1.0")).state()).pending?.bootAttempts, 3);
  const fourth = await createUpdater(r.options("1.1.0")).onStart([healthy]);
  assert.deepEqual(fourth, { kind: "restart-required", reason: "rolled-back", version: "1.0.0" });
  assert.match(r.publisher.faults.at(-1)?.message ?? "", /started 3 times without passing its gate/);
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), r.factoryDir);
});

Deno.test("onStart() resumes an update whose process died while installing", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  const manifest = await signFor(r.keys, "1.1.0", server.url("/qeil-1.1.0.tar.gz"), bytes);
  // An installer that never returns stands for a power cut during unpacking.
  let entered!: () => void;
  const installing = new Promise<void>((resolve) => entered = resolve);
  const stuck = createUpdater(r.options("1.0.0", {
    installer: {
      install: () => {
        entered();
        return new Promise<void>(() => {});
      },
    },
  }));
  void stuck.apply(manifest);
  await installing;
  assert.equal((await createUpdater(r.options("1.0.0")).state()).phase, "installing");

  const outcome = await createUpdater(r.options("1.0.0")).onStart([healthy]);
  assert.deepEqual(outcome, { kind: "restart-required", reason: "switched", version: "1.1.0" });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), "a");
  assert.equal(server.hits.get("/qeil-1.1.0.tar.gz"), 2);
  const state = await createUpdater(r.options("1.0.0")).state();
  assert.equal(state.phase, "awaiting-health");
  assert.equal(state.pending?.attempts, 2);
});

Deno.test("onStart() finishes a switch that a crash interrupted before current was renamed", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  await installV110(r, server, bytes);
  // Rewind to the moment before the rename: state says switching, current still the factory.
  const file = new UpdateStateFile(r.stateDir);
  const state = await file.load("1.0.0");
  state.phase = "switching";
  await file.save(state);
  await Deno.remove(`${r.slotsDir}/current`);

  const outcome = await createUpdater(r.options("1.0.0")).onStart([healthy]);
  assert.deepEqual(outcome, { kind: "restart-required", reason: "switched", version: "1.1.0" });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), "a");
  assert.equal((await file.load("1.0.0")).phase, "awaiting-health");
});

Deno.test("onStart() finishes an interrupted rollback without another restart", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  await installV110(r, server, bytes);
  const file = new UpdateStateFile(r.stateDir);
  const state = await file.load("1.0.0");
  state.phase = "rolling-back";
  state.pending!.rollbackReason = "broker never connected";
  await file.save(state);
  // The crash came after current was switched back; the old version is running.
  const outcome = await createUpdater(r.options("1.0.0")).onStart([healthy]);
  assert.deepEqual(outcome, { kind: "rolled-back", version: "1.0.0" });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), r.factoryDir);
  assert.match(r.publisher.faults.at(-1)?.message ?? "", /broker never connected/);
});

Deno.test("apply() refuses a second update while one waits for its health gate", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  const v120 = await buildBundleTarball(r.dir, "1.2.0");
  await using server = startServer({
    "/qeil-1.1.0.tar.gz": () => new Response(bytes),
    "/qeil-1.2.0.tar.gz": () => new Response(v120),
  });
  await installV110(r, server, bytes);
  const next = await signFor(r.keys, "1.2.0", server.url("/qeil-1.2.0.tar.gz"), v120);
  const error = assertRejected(await createUpdater(r.options("1.0.0")).apply(next), "Busy");
  assert.match(error.message, /1\.1\.0 is still awaiting-health/);
  assert.equal(server.hits.get("/qeil-1.2.0.tar.gz"), undefined);
});

Deno.test("apply() refuses malformed and stale manifests with a fault naming the problem", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  const good = await signFor(r.keys, "1.1.0", "http://127.0.0.1:9/a.tar.gz", bytes, {
    issuedAt: "2026-02-01T12:00:00Z",
  });
  const updater = createUpdater(r.options("1.0.0", { maxManifestAgeMs: 7 * 24 * 3_600_000 }));
  const { sha256: _sha, ...missing } = good;
  const e1 = assertRejected(await updater.apply(missing), "BadManifest");
  assert.equal(e1.details.field, "sha256");
  assertRejected(await updater.apply("{not json"), "BadManifest");
  const e2 = assertRejected(await updater.apply(good), "Stale");
  assert.match(e2.message, /issued at 2026-02-01T12:00:00Z is older than 604800000 ms/);
  assert.deepEqual(r.publisher.faults.map((f) => f.reason), ["BadManifest", "BadManifest", "Stale"]);
});

Deno.test("apply() installs into slot b when slot a is active, keeping a as the rollback target", async () => {
  await using r = await rig();
  const v110 = await buildBundleTarball(r.dir, "1.1.0");
  const v120 = await buildBundleTarball(r.dir, "1.2.0");
  await using server = startServer({
    "/qeil-1.1.0.tar.gz": () => new Response(v110),
    "/qeil-1.2.0.tar.gz": () => new Response(v120),
  });
  await installV110(r, server, v110);
  assert.equal((await createUpdater(r.options("1.1.0")).onStart([healthy])).kind, "committed");
  const m = await signFor(r.keys, "1.2.0", server.url("/qeil-1.2.0.tar.gz"), v120);
  assert.deepEqual(await createUpdater(r.options("1.1.0")).apply(m), {
    kind: "restart-required",
    version: "1.2.0",
    slot: "b",
  });
  const outcome = await driveGate(r, createUpdater(r.options("1.2.0")).onStart([unhealthy]));
  assert.deepEqual(outcome, { kind: "restart-required", reason: "rolled-back", version: "1.1.0" });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), "a");
  assert.equal(JSON.parse(await Deno.readTextFile(`${r.slotsDir}/a/slot.json`)).version, "1.1.0");
});
