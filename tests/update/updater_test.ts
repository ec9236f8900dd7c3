import assert from "node:assert/strict";
import { fail as failed, ok, UpdateError } from "../../src/core/mod.ts";
import {
  createUpdater,
  failureReason,
  type HealthCheck,
  type SignedManifest,
  UpdateOutbox,
  type UpdatePublisher,
  UpdateStateFile,
} from "../../src/update/mod.ts";
import {
  buildBundleTarball,
  closedPortUrl,
  makeKeys,
  signFor,
  snapshotDir,
  startCuttingServer,
  startServer,
} from "./helpers.ts";
import { healthy, installV110, type Rig, rig, unhealthy } from "./rig.ts";

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

  // The launcher is told before the switch that slot a is on trial, falling back to the factory.
  assert.equal(await Deno.readTextFile(`${r.slotsDir}/trial`), "a\nfactory\n3\n");

  // systemd restarts the service: the new version counts its start, runs and passes its gate.
  assert.deepEqual(await r.boot("1.1.0"), { kind: "trial", version: "1.1.0", bootAttempt: 1, maxBootAttempts: 3 });
  const updater = createUpdater(r.options("1.1.0"));
  const started = await updater.onStart([healthy]);
  assert.deepEqual(started, { kind: "committed", version: "1.1.0" });
  const state = await createUpdater(r.options("1.1.0")).state();
  assert.equal(state.phase, "idle");
  assert.equal(state.installedVersion, "1.1.0");
  assert.equal(state.last?.outcome, "committed");
  await assert.rejects(Deno.stat(`${r.slotsDir}/trial`), Deno.errors.NotFound, "the trial ends with the commit");
  // The outcome is announced, once.
  assert.equal(r.publisher.steps().at(-1), "restart-required");
  assert.deepEqual(await updater.announce(), { delivered: 1, pending: 0 });
  assert.equal(r.publisher.steps().at(-1), "committed");
  assert.equal(r.publisher.statuses.at(-1)?.detail?.bootAttempts, 1);
  assert.deepEqual(await updater.announce(), { delivered: 0, pending: 0 });
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
  assert.equal((await r.boot("1.0.5")).kind, "trial");
  assert.equal((await createUpdater(r.options("1.0.5")).onStart([healthy])).kind, "committed");
  const newer = await signFor(r.keys, "1.1.0", server.url("/qeil-1.1.0.tar.gz"), v110);
  assert.equal((await createUpdater(r.options("1.0.5")).apply(newer)).kind, "restart-required");
  assert.equal((await r.boot("1.1.0")).kind, "trial");
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

  assert.equal((await r.boot("1.1.0")).kind, "trial");
  const updater = createUpdater(r.options("1.1.0"));
  const outcome = await driveGate(r, updater.onStart([healthy, unhealthy]));
  assert.deepEqual(outcome, { kind: "restart-required", reason: "rolled-back", version: "1.0.0" });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), r.factoryDir);
  await assert.rejects(Deno.stat(`${r.slotsDir}/trial`), Deno.errors.NotFound, "the trial ends with the rollback");
  assert.equal(r.clock.monotonicMs(), 30_000, "the gate gives up exactly at its timeout");
  const rounds = r.publisher.statuses.filter((e) => e.step === "health-check");
  assert.equal(rounds.length, 6);
  assert.deepEqual(rounds[0].detail?.failing, ["broker: not connected"]);
  // The outcome waits in the outbox for whoever can announce it (here: before the restart).
  assert.equal(r.publisher.faults.length, 0);
  assert.deepEqual(await updater.announce(), { delivered: 1, pending: 0 });
  const fault = r.publisher.faults.at(-1);
  assert.equal(fault?.reason, "HealthGate");
  assert.match(fault?.message ?? "", /rolled back to 1\.0\.0: health gate not passed within 30000 ms/);
  assert.deepEqual(r.publisher.steps().slice(-2), ["rolling-back", "rolled-back"]);
  const state = await createUpdater(r.options("1.0.0")).state();
  assert.equal(state.phase, "idle");
  assert.equal(state.installedVersion, "1.0.0");
  assert.equal(state.last?.outcome, "rolled-back");

  // The old version starts again: nothing pending. The rolled-back manifest cannot be replayed.
  assert.deepEqual(await r.boot("1.0.0"), { kind: "idle", phase: "idle" });
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
  assert.equal((await r.boot("1.1.0")).kind, "trial");
  const gate = createUpdater(r.options("1.1.0")).onStart([broker]);
  await r.publisher.next("health-check");
  await r.clock.advance(5_000);
  await r.publisher.next("health-check");
  connected = true;
  await r.clock.advance(5_000);
  assert.deepEqual(await gate, { kind: "committed", version: "1.1.0" });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), "a");
});

Deno.test("a version that dies in its start-up is rolled back at its fourth start, and the previous version announces it", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  await installV110(r, server, bytes);
  // Three starts that die right after counting themselves: none reaches onStart().
  for (let attempt = 1; attempt <= 3; attempt++) {
    assert.deepEqual(await r.boot("1.1.0"), {
      kind: "trial",
      version: "1.1.0",
      bootAttempt: attempt,
      maxBootAttempts: 3,
    });
    // Counted on disk before the start goes on.
    assert.equal((await new UpdateStateFile(r.stateDir).load("1.1.0")).pending?.bootAttempts, attempt);
  }
  const stepsBefore = r.publisher.steps().length;
  const fourth = await r.boot("1.1.0");
  assert.deepEqual(fourth, {
    kind: "restart-required",
    reason: "rolled-back",
    version: "1.0.0",
    why: "version 1.1.0 started 3 times without passing its health gate",
  });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), r.factoryDir);
  await assert.rejects(Deno.stat(`${r.slotsDir}/trial`), Deno.errors.NotFound);
  const state = await new UpdateStateFile(r.stateDir).load("1.0.0");
  assert.equal(state.phase, "idle");
  assert.equal(state.last?.outcome, "rolled-back");
  assert.equal(r.publisher.steps().length, stepsBefore, "nothing can be published before the service runs");
  const queued = (await new UpdateOutbox(r.stateDir).list()).announcements;
  assert.deepEqual(queued.map((a) => [a.status.step, a.fault?.reason]), [["rolled-back", "HealthGate"]]);

  // The previous version starts: nothing to count or gate, and it announces the rollback.
  assert.deepEqual(await r.boot("1.0.0"), { kind: "idle", phase: "idle" });
  const old = createUpdater(r.options("1.0.0"));
  assert.deepEqual(await old.onStart([healthy]), { kind: "idle" });
  assert.deepEqual(await old.announce(), { delivered: 1, pending: 0 });
  const rolledBack = r.publisher.statuses.at(-1);
  assert.equal(rolledBack?.step, "rolled-back");
  assert.equal(rolledBack?.slot, "factory");
  assert.equal(rolledBack?.version, "1.1.0");
  assert.equal(rolledBack?.detail?.bootAttempts, 4);
  const fault = r.publisher.faults.at(-1);
  assert.equal(fault?.reason, "HealthGate");
  assert.equal(
    fault?.message,
    "update to 1.1.0 rolled back to 1.0.0: version 1.1.0 started 3 times without passing its health gate",
  );
  assert.deepEqual((await new UpdateOutbox(r.stateDir).list()).announcements, []);
});

Deno.test("a version that dies in its gate counts each start and is rolled back after its last", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  await installV110(r, server, bytes);
  // Three starts that die during the gate (the process is killed: the gate promise is abandoned).
  for (let i = 0; i < 3; i++) {
    assert.equal((await r.boot("1.1.0")).kind, "trial");
    const controller = new AbortController();
    const gate = createUpdater(r.options("1.1.0")).onStart([unhealthy], controller.signal);
    await r.publisher.next("health-check");
    controller.abort();
    assert.equal((await gate).kind, "failed");
  }
  assert.equal((await createUpdater(r.options("1.1.0")).state()).pending?.bootAttempts, 3);
  assert.equal((await r.boot("1.1.0")).kind, "restart-required");
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), r.factoryDir);
});

Deno.test("the start limit of the version that accepted the update applies, not the new version's", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  const manifest = await signFor(r.keys, "1.1.0", server.url("/qeil-1.1.0.tar.gz"), bytes);
  const accepting = createUpdater(r.options("1.0.0", { healthGate: { maxBootAttempts: 1 } }));
  assert.equal((await accepting.apply(manifest)).kind, "restart-required");
  assert.equal((await new UpdateStateFile(r.stateDir).load("1.0.0")).pending?.maxBootAttempts, 1);
  assert.equal(await Deno.readTextFile(`${r.slotsDir}/trial`), "a\nfactory\n1\n");
  // The new version's own setting (3) does not buy it more starts.
  assert.equal((await r.boot("1.1.0")).kind, "trial");
  assert.equal((await r.boot("1.1.0")).kind, "restart-required");
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

  await Deno.remove(`${r.slotsDir}/trial`);
  const outcome = await createUpdater(r.options("1.0.0")).onStart([healthy]);
  assert.deepEqual(outcome, { kind: "restart-required", reason: "switched", version: "1.1.0" });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), "a");
  assert.equal((await file.load("1.0.0")).phase, "awaiting-health");
  assert.equal(await Deno.readTextFile(`${r.slotsDir}/trial`), "a\nfactory\n3\n", "the trial is recorded again");
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
  const updater = createUpdater(r.options("1.0.0"));
  const outcome = await updater.onStart([healthy]);
  assert.deepEqual(outcome, { kind: "rolled-back", version: "1.0.0" });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), r.factoryDir);
  await updater.announce();
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
  assert.equal((await r.boot("1.1.0")).kind, "trial");
  assert.equal((await createUpdater(r.options("1.1.0")).onStart([healthy])).kind, "committed");
  const m = await signFor(r.keys, "1.2.0", server.url("/qeil-1.2.0.tar.gz"), v120);
  assert.deepEqual(await createUpdater(r.options("1.1.0")).apply(m), {
    kind: "restart-required",
    version: "1.2.0",
    slot: "b",
  });
  assert.equal(await Deno.readTextFile(`${r.slotsDir}/trial`), "b\na\n3\n");
  assert.equal((await r.boot("1.2.0")).kind, "trial");
  const outcome = await driveGate(r, createUpdater(r.options("1.2.0")).onStart([unhealthy]));
  assert.deepEqual(outcome, { kind: "restart-required", reason: "rolled-back", version: "1.1.0" });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), "a");
  assert.equal(JSON.parse(await Deno.readTextFile(`${r.slotsDir}/a/slot.json`)).version, "1.1.0");
});

/** Rolls 1.1.0 back at its fourth start (it dies in start-up each time): one outcome is queued. */
async function queueRollback(r: Rig): Promise<void> {
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  await installV110(r, server, bytes);
  for (let i = 0; i < 4; i++) await r.boot("1.1.0");
  assert.equal((await new UpdateOutbox(r.stateDir).list()).announcements.length, 1);
}

Deno.test("announce() keeps an outcome queued while it cannot be delivered, and a later start delivers it", async () => {
  await using r = await rig();
  await queueRollback(r);
  // The broker is down: the publisher's deliveries fail.
  const down: UpdatePublisher = {
    status: () => Promise.reject(new Error("MQTT bridge closed before the broker was reached")),
    fault: () => Promise.reject(new Error("MQTT bridge closed before the broker was reached")),
  };
  const first = createUpdater({ ...r.options("1.0.0"), publisher: down });
  assert.deepEqual(await first.announce(), { delivered: 0, pending: 1 });
  assert.deepEqual(await first.announce(), { delivered: 0, pending: 1 }, "tried again, still queued");
  // Delivered status, failed fault: the outcome stays queued (it is announced whole, or again).
  let statuses = 0;
  const half = createUpdater({
    ...r.options("1.0.0"),
    publisher: { status: () => void statuses++, fault: () => Promise.reject(new Error("offline queue full")) },
  });
  assert.deepEqual(await half.announce(), { delivered: 0, pending: 1 });
  assert.equal(statuses, 1);
  // The next process, with the broker back.
  const next = createUpdater(r.options("1.0.0"));
  assert.deepEqual(await next.announce(), { delivered: 1, pending: 0 });
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
    "rolled-back",
  ]);
  assert.deepEqual(r.publisher.faults.map((f) => f.reason), ["HealthGate"]);
  assert.deepEqual(await next.announce(), { delivered: 0, pending: 0 });
});

Deno.test("announce() stops waiting for a delivery when its signal aborts and keeps the outcome", async () => {
  await using r = await rig();
  await queueRollback(r);
  let handedOver!: () => void;
  const waiting = new Promise<void>((resolve) => handedOver = resolve);
  const hanging: UpdatePublisher = {
    status: () => {
      handedOver();
      return new Promise<void>(() => {}); // queued for a broker that never comes back
    },
    fault: () => Promise.resolve(),
  };
  const controller = new AbortController();
  const run = createUpdater({ ...r.options("1.0.0"), publisher: hanging }).announce(controller.signal);
  await waiting;
  controller.abort(new DOMException("the service is stopping", "AbortError"));
  assert.deepEqual(await run, { delivered: 0, pending: 1 });
  assert.equal((await new UpdateOutbox(r.stateDir).list()).announcements.length, 1);
});

Deno.test("announce() calls at once are serialised: each outcome is delivered once", async () => {
  await using r = await rig();
  await queueRollback(r);
  const updater = createUpdater(r.options("1.0.0"));
  const results = await Promise.all([updater.announce(), updater.announce(), updater.announce()]);
  assert.deepEqual(results.map((x) => x.delivered), [1, 0, 0]);
  assert.equal(r.publisher.statuses.filter((e) => e.step === "rolled-back").length, 1);
});

Deno.test("announce() discards a queued file that is not an announcement and delivers the rest", async () => {
  await using r = await rig();
  await queueRollback(r);
  await Deno.writeTextFile(`${r.stateDir}/outbox/torn.json`, "{");
  const updater = createUpdater(r.options("1.0.0"));
  assert.deepEqual(await updater.announce(), { delivered: 1, pending: 0 });
  assert.deepEqual([...Deno.readDirSync(`${r.stateDir}/outbox`)], []);
});
