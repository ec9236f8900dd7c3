import assert from "node:assert/strict";
import { SlotStore } from "../../src/update/mod.ts";

async function withStore(fn: (store: SlotStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-slots-" });
  try {
    const store = new SlotStore({ root: `${dir}/slots`, factoryDir: `${dir}/factory` });
    await store.init();
    await fn(store, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function fillStaging(store: SlotStore, marker: string): Promise<string> {
  const staging = await store.resetStaging();
  await Deno.mkdir(`${staging}/tree`);
  await Deno.writeTextFile(`${staging}/tree/marker`, marker);
  return `${staging}/tree`;
}

Deno.test("SlotStore starts on the factory install and updates go to slot a", async () => {
  await withStore(async (store) => {
    assert.equal(await store.active(), "factory");
    assert.equal(store.inactiveOf("factory"), "a");
    assert.equal(store.inactiveOf("a"), "b");
    assert.equal(store.inactiveOf("b"), "a");
  });
});

Deno.test("SlotStore.switchTo() replaces current atomically and leaves no temporary link", async () => {
  await withStore(async (store, dir) => {
    await store.replaceSlot("a", await fillStaging(store, "one"), {
      version: "1.1.0",
      manifestId: "m1",
      installedAtMs: 1,
    });
    await store.switchTo("a");
    assert.equal(await Deno.readLink(store.currentPath), "a");
    assert.equal(await Deno.readTextFile(`${store.currentPath}/marker`), "one");
    await store.switchTo("factory");
    assert.equal(await Deno.readLink(store.currentPath), `${dir}/factory`);
    assert.equal(await store.active(), "factory");
    const names = [];
    for await (const e of Deno.readDir(store.root)) names.push(e.name);
    assert.deepEqual(names.sort(), ["a", "current", "staging"]);
  });
});

Deno.test("SlotStore.replaceSlot() refuses the active slot and records what it installed", async () => {
  await withStore(async (store) => {
    await store.replaceSlot("a", await fillStaging(store, "one"), {
      version: "1.1.0",
      manifestId: "m1",
      installedAtMs: 1,
    });
    await store.switchTo("a");
    await assert.rejects(
      store.replaceSlot("a", await fillStaging(store, "two"), { version: "1.2.0", manifestId: "m2", installedAtMs: 2 }),
      /refusing to replace the active slot a/,
    );
    assert.equal(await Deno.readTextFile(`${store.slotPath("a")}/marker`), "one");
    await store.replaceSlot("b", `${store.stagingPath}/tree`, { version: "1.2.0", manifestId: "m2", installedAtMs: 2 });
    assert.deepEqual(await store.slotInfo("b"), { version: "1.2.0", manifestId: "m2", installedAtMs: 2 });
    assert.equal(await store.slotInfo("a").then((i) => i?.version), "1.1.0");
  });
});

Deno.test("SlotStore refuses to switch to an empty slot or a current link it does not know", async () => {
  await withStore(async (store) => {
    await assert.rejects(store.switchTo("b"), /cannot switch to slot b: .* is not a directory/);
    await Deno.symlink("/somewhere/else", store.currentPath);
    await assert.rejects(store.active(), /points at "\/somewhere\/else"/);
  });
});

Deno.test("SlotStore records a trial for the launcher and ends it, resetting the launcher's start count", async () => {
  await withStore(async (store) => {
    assert.equal(await store.trial(), undefined);
    assert.equal(await store.trialBoots(), 0);
    // The launcher appended two starts of an earlier trial; a new trial starts from zero.
    await Deno.writeTextFile(`${store.root}/trial-boots`, "101\n102\n");
    assert.equal(await store.trialBoots(), 2);
    await store.beginTrial({ slot: "b", fallback: "factory", maxBootAttempts: 4 });
    assert.equal(await Deno.readTextFile(`${store.root}/trial`), "b\nfactory\n4\n");
    assert.deepEqual(await store.trial(), { slot: "b", fallback: "factory", maxBootAttempts: 4 });
    assert.equal(await store.trialBoots(), 0);
    await Deno.writeTextFile(`${store.root}/trial-boots`, "201\n");
    await store.endTrial();
    assert.equal(await store.trial(), undefined);
    assert.equal(await store.trialBoots(), 0);
    await store.endTrial(); // nothing left: still fine
    await assert.rejects(Deno.stat(`${store.root}/trial.tmp`), Deno.errors.NotFound);
  });
});

Deno.test("SlotStore refuses a trial without starts and names a trial file it cannot read", async () => {
  await withStore(async (store) => {
    await assert.rejects(store.beginTrial({ slot: "a", fallback: "factory", maxBootAttempts: 0 }), RangeError);
    await Deno.writeTextFile(`${store.root}/trial`, "c\nfactory\n3\n");
    await assert.rejects(store.trial(), (e: Error) => {
      assert.ok(e instanceof SyntaxError);
      assert.match(e.message, /slots\/trial is not .*"c\\nfactory\\n3\\n"/);
      return true;
    });
  });
});
