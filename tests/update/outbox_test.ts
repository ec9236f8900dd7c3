import assert from "node:assert/strict";
import { type UpdateAnnouncement, UpdateOutbox } from "../../src/update/mod.ts";

function rolledBack(id: string, timestampMs: number): UpdateAnnouncement {
  return {
    id,
    status: { step: "rolled-back", timestampMs, version: "1.1.0", fromVersion: "1.0.0", slot: "factory" },
    fault: { reason: "HealthGate", step: "rolled-back", message: "update to 1.1.0 rolled back", timestampMs },
  };
}

Deno.test("UpdateOutbox keeps announcements on disk, oldest first, one per id", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-outbox-" });
  try {
    const outbox = new UpdateOutbox(dir);
    assert.deepEqual(await outbox.list(), { announcements: [], unreadable: [] });
    await outbox.put(rolledBack("m2-rolled-back", 2000));
    await outbox.put(rolledBack("m1-rolled-back", 1000));
    // A rollback resumed after a crash writes the same outcome again: still one announcement.
    await outbox.put(rolledBack("m2-rolled-back", 2000));
    const again = new UpdateOutbox(dir);
    const { announcements } = await again.list();
    assert.deepEqual(announcements.map((a) => a.id), ["m1-rolled-back", "m2-rolled-back"]);
    assert.deepEqual(announcements[0], rolledBack("m1-rolled-back", 1000));
    assert.equal((await Deno.stat(`${dir}/outbox/m1-rolled-back.json`)).mode! & 0o777, 0o600);
    await again.remove("m1-rolled-back");
    await again.remove("m1-rolled-back"); // already gone: nothing to do
    assert.deepEqual((await outbox.list()).announcements.map((a) => a.id), ["m2-rolled-back"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("UpdateOutbox reports files that are not announcements, skips interrupted writes, refuses odd ids", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-outbox-" });
  try {
    const outbox = new UpdateOutbox(dir);
    await outbox.put(rolledBack("good", 1000));
    await Deno.writeTextFile(`${dir}/outbox/broken.json`, "{not json");
    await Deno.writeTextFile(`${dir}/outbox/renamed.json`, JSON.stringify(rolledBack("other", 5)));
    await Deno.writeTextFile(`${dir}/outbox/half.json.tmp`, "{");
    const { announcements, unreadable } = await outbox.list();
    assert.deepEqual(announcements.map((a) => a.id), ["good"]);
    assert.deepEqual(unreadable.map((u) => u.fileName).sort(), ["broken.json", "renamed.json"]);
    assert.match(unreadable.find((u) => u.fileName === "renamed.json")!.reason, /id matching its file name/);
    await outbox.discard("broken.json");
    assert.equal((await outbox.list()).unreadable.length, 1);
    await assert.rejects(outbox.put(rolledBack("../escape", 1)), TypeError);
    await assert.rejects(outbox.discard("../update-state.json"), TypeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
