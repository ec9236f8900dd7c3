/**
 * The device's launcher (yocto-layer/meta-qeil/.../qeil-launcher.sh, installed
 * as /usr/bin/qeil) and the updater share the trial files in the slot folder:
 * run for real with sh against slots the updater itself filled and switched.
 */
import assert from "node:assert/strict";
import { createUpdater, SlotStore, UpdateOutbox, UpdateStateFile } from "../../src/update/mod.ts";
import { buildBundleTarball, signFor, startServer } from "./helpers.ts";
import { rig } from "./rig.ts";

const LAUNCHER = new URL("../../yocto-layer/meta-qeil/recipes-qeil/qeil/files/qeil-launcher.sh", import.meta.url)
  .pathname;

/** The launcher as the recipe installs it, for these folders. */
async function installLauncher(dir: string, slotsDir: string, factoryDir: string): Promise<string> {
  const path = `${dir}/usr-bin-qeil`;
  const source = await Deno.readTextFile(LAUNCHER);
  await Deno.writeTextFile(path, source.replaceAll("@SLOTS_DIR@", slotsDir).replaceAll("@FACTORY_DIR@", factoryDir));
  await Deno.chmod(path, 0o755);
  return path;
}

async function run(launcher: string, args: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(launcher, {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { PATH: "/usr/bin:/bin" },
  })
    .output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

async function fakeRelease(dir: string, script: string): Promise<void> {
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  await Deno.writeTextFile(`${dir}/bin/qeil`, script);
  await Deno.chmod(`${dir}/bin/qeil`, 0o755);
}

Deno.test("a release that cannot start at all is left behind by the launcher, and the previous version finishes the rollback", async () => {
  await using r = await rig();
  await fakeRelease(r.factoryDir, '#!/bin/sh\necho "factory $*"\n');
  // The new release's runtime does not even start: no qeil code runs, nothing counts in the state.
  const bytes = await buildBundleTarball(r.dir, "1.1.0", {
    binScript: '#!/bin/sh\necho "1.1.0: cannot execute the runtime" >&2\nexit 126\n',
  });
  await using server = startServer({ "/qeil-1.1.0.tar.gz": () => new Response(bytes) });
  const manifest = await signFor(r.keys, "1.1.0", server.url("/qeil-1.1.0.tar.gz"), bytes);
  assert.equal((await createUpdater(r.options("1.0.0")).apply(manifest)).kind, "restart-required");
  const launcher = await installLauncher(r.dir, r.slotsDir, r.factoryDir);

  for (let start = 1; start <= 3; start++) {
    const crashed = await run(launcher, ["serve"]);
    assert.equal(crashed.code, 126, `start ${start} runs the new release`);
  }
  const slots = new SlotStore({ root: r.slotsDir, factoryDir: r.factoryDir });
  assert.equal(await slots.trialBoots(), 3);
  assert.equal((await new UpdateStateFile(r.stateDir).load("1.0.0")).pending?.bootAttempts, 0);

  // Its starts are used up: the launcher runs the factory install instead (current is untouched).
  const fourth = await run(launcher, ["serve", "--config", "/etc/qeil/config.json"]);
  assert.equal(fourth.code, 0);
  assert.equal(fourth.stdout, "factory serve --config /etc/qeil/config.json\n");
  assert.match(fourth.stderr, /slot a started 3 times without passing its health gate; starting factory/);
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), "a");

  // What the previous version does first: finish the rollback, end the trial, queue the announcement.
  const booted = await r.boot("1.0.0");
  assert.equal(booted.kind, "rolled-back");
  assert.equal(await Deno.readLink(`${r.slotsDir}/current`), r.factoryDir);
  assert.equal(await slots.trial(), undefined);
  const [queued] = (await new UpdateOutbox(r.stateDir).list()).announcements;
  assert.match(queued.fault?.message ?? "", /did not pass its health gate in 3 starts; the launcher started 1\.0\.0/);
  // From now on the launcher runs current without counting.
  assert.equal((await run(launcher, ["serve"])).stdout, "factory serve\n");
  assert.equal(await slots.trialBoots(), 0);
});

Deno.test("the launcher counts only starts of the slot on trial and ignores a trial file it cannot use", async () => {
  await using r = await rig();
  await fakeRelease(r.factoryDir, '#!/bin/sh\necho "factory"\n');
  const slots = new SlotStore({ root: r.slotsDir, factoryDir: r.factoryDir });
  await slots.init();
  for (const slot of ["a", "b"] as const) {
    const staging = await slots.resetStaging();
    await fakeRelease(`${staging}/tree`, `#!/bin/sh\necho "slot-${slot}"\n`);
    await slots.replaceSlot(slot, `${staging}/tree`, { version: "1.1.0", manifestId: "m", installedAtMs: 0 });
  }
  await slots.switchTo("a");
  const launcher = await installLauncher(r.dir, r.slotsDir, r.factoryDir);

  // A trial of b while current names a (a rollback already switched back): a runs, nothing counts.
  await slots.beginTrial({ slot: "b", fallback: "a", maxBootAttempts: 1 });
  assert.equal((await run(launcher)).stdout, "slot-a\n");
  assert.equal(await slots.trialBoots(), 0);

  // b on trial with one start: the first runs b, the second falls back to slot a.
  await slots.switchTo("b");
  assert.equal((await run(launcher)).stdout, "slot-b\n");
  assert.equal((await run(launcher)).stdout, "slot-a\n");
  assert.equal(await slots.trialBoots(), 2);

  // A start limit that is not a number: said so, and current runs as without a trial.
  await Deno.writeTextFile(`${r.slotsDir}/trial`, "b\na\nthree\n");
  const odd = await run(launcher);
  assert.equal(odd.stdout, "slot-b\n");
  assert.match(odd.stderr, /ignoring .*trial: start limit "three" is not a number/);
  // A fallback that cannot run: said so, and the trial slot keeps running.
  await slots.beginTrial({ slot: "b", fallback: "factory", maxBootAttempts: 1 });
  await Deno.remove(`${r.factoryDir}/bin/qeil`);
  await run(launcher);
  const stuck = await run(launcher);
  assert.equal(stuck.stdout, "slot-b\n");
  assert.match(stuck.stderr, /slot b used up its starts, but its fallback "factory" cannot be run/);
});
