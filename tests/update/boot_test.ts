import assert from "node:assert/strict";
import { countBootAttempt, failureReason, SlotStore, UpdateOutbox, UpdateStateFile } from "../../src/update/mod.ts";
import { buildBundleTarball, startServer } from "./helpers.ts";
import { installV110, rig } from "./rig.ts";

Deno.test("countBootAttempt() counts nothing without an update on trial and removes a stale launcher trial", async () => {
  await using r = await rig();
  assert.deepEqual(await r.boot("1.0.0"), { kind: "idle", phase: "idle" });
  await assert.rejects(Deno.stat(`${r.stateDir}/update-state.json`), Deno.errors.NotFound, "a start writes nothing");
  // A trial nobody is on (left by hand or by a crash of an older build) would make the launcher
  // fall back after a few ordinary restarts.
  const slots = new SlotStore({ root: r.slotsDir, factoryDir: r.factoryDir });
  await slots.init();
  await slots.beginTrial({ slot: "a", fallback: "factory", maxBootAttempts: 3 });
  assert.deepEqual(await r.boot("1.0.0"), { kind: "idle", phase: "idle" });
  assert.equal(await slots.trial(), undefined);
});

Deno.test("countBootAttempt() leaves an interrupted download to onStart() without counting", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  await installV110(r, server, bytes);
  const file = new UpdateStateFile(r.stateDir);
  const state = await file.load("1.0.0");
  state.phase = "downloading";
  await file.save(state);
  assert.deepEqual(await r.boot("1.0.0"), { kind: "idle", phase: "downloading" });
  assert.equal((await file.load("1.0.0")).pending?.bootAttempts, 0);
});

Deno.test("countBootAttempt() finishes the rollback when the launcher started the previous version instead", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  await installV110(r, server, bytes);
  // 1.1.0 never got far enough to count itself; the launcher counted three starts, then a fourth
  // at which it ran the factory install.
  await Deno.writeTextFile(`${r.slotsDir}/trial-boots`, "11\n12\n13\n14\n");
  const outcome = await r.boot("1.0.0");
  const reason = "version 1.1.0 did not pass its health gate in 3 starts; the launcher started 1.0.0 instead";
  assert.deepEqual(outcome, { kind: "rolled-back", version: "1.0.0", reason });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), r.factoryDir);
  await assert.rejects(Deno.stat(`${r.slotsDir}/trial`), Deno.errors.NotFound);
  await assert.rejects(Deno.stat(`${r.slotsDir}/trial-boots`), Deno.errors.NotFound);
  const state = await new UpdateStateFile(r.stateDir).load("1.0.0");
  assert.equal(state.phase, "idle");
  assert.deepEqual([state.last?.outcome, state.last?.reason], ["rolled-back", reason]);
  const [queued] = (await new UpdateOutbox(r.stateDir).list()).announcements;
  assert.equal(queued.fault?.message, `update to 1.1.0 rolled back to 1.0.0: ${reason}`);
});

Deno.test("countBootAttempt() rolls back at once when another build than the new version starts", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  await installV110(r, server, bytes);
  const reason = "expected version 1.1.0 to start, but 1.0.0 did";
  assert.deepEqual(await r.boot("1.0.0"), { kind: "rolled-back", version: "1.0.0", reason });
  // On another device a third build starts: rolled back as well, and it makes way for the previous version.
  await using other = await rig();
  await installV110(other, server, bytes);
  assert.deepEqual(await other.boot("1.2.0"), {
    kind: "restart-required",
    reason: "rolled-back",
    version: "1.0.0",
    why: "expected version 1.1.0 to start, but 1.2.0 did",
  });
  assert.equal(await Deno.readLink(`${other.slotsDir}/current`), other.factoryDir);
});

Deno.test("countBootAttempt() retries a rollback it could not switch at the next start", async () => {
  await using r = await rig();
  const bytes = await buildBundleTarball(r.dir, "1.1.0");
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  await installV110(r, server, bytes);
  for (let i = 0; i < 3; i++) await r.boot("1.1.0");
  // This start does not know where the factory install is: the switch back fails.
  const lost = await countBootAttempt({ stateDir: r.stateDir, slotsDir: r.slotsDir, currentVersion: "1.1.0" });
  assert.equal(lost.kind, "failed");
  assert.equal(lost.kind === "failed" && failureReason(lost.error), "SwitchFailed");
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), "a");
  const state = await new UpdateStateFile(r.stateDir).load("1.1.0");
  assert.equal(state.phase, "rolling-back");
  assert.match(state.pending?.rollbackReason ?? "", /started 3 times/);
  assert.deepEqual((await new UpdateOutbox(r.stateDir).list()).announcements, [], "nothing announced yet");
  // The next start (which knows) resumes the rollback.
  assert.deepEqual(await r.boot("1.1.0"), {
    kind: "restart-required",
    reason: "rolled-back",
    version: "1.0.0",
    why: "version 1.1.0 started 3 times without passing its health gate",
  });
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), r.factoryDir);
});

Deno.test("countBootAttempt() reports an unreadable state and lets the start go on", async () => {
  await using r = await rig();
  await Deno.mkdir(r.stateDir, { recursive: true });
  await Deno.writeTextFile(`${r.stateDir}/update-state.json`, "{torn");
  const outcome = await r.boot("1.0.0");
  assert.equal(outcome.kind, "failed");
  assert.equal(outcome.kind === "failed" && failureReason(outcome.error), "StateCorrupt");
  await assert.rejects(
    countBootAttempt({ stateDir: r.stateDir, slotsDir: r.slotsDir, currentVersion: "v1" }),
    TypeError,
  );
});
