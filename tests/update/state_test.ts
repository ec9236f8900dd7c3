import assert from "node:assert/strict";
import { failureReason, type UpdateState, UpdateStateFile } from "../../src/update/mod.ts";

Deno.test("UpdateStateFile starts idle at the running version and round-trips what it saves", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-state-" });
  try {
    const file = new UpdateStateFile(`${dir}/nested`);
    const fresh = await file.load("1.0.0");
    assert.deepEqual(fresh, { schema: 1, phase: "idle", installedVersion: "1.0.0", seenManifestIds: [] });
    const next: UpdateState = { ...fresh, installedVersion: "1.1.0", seenManifestIds: ["x"] };
    await file.save(next);
    assert.deepEqual(await file.load("1.0.0"), next);
    assert.equal((await Deno.stat(file.path)).mode! & 0o777, 0o600);
    await assert.rejects(Deno.stat(`${file.path}.tmp`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("UpdateStateFile reports a corrupt or inconsistent file as StateCorrupt naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-state-" });
  try {
    const file = new UpdateStateFile(dir);
    const bad: [string, RegExp][] = [
      ["{truncated", /update-state\.json: .*JSON/],
      [JSON.stringify({ schema: 2 }), /unknown schema 2/],
      [
        JSON.stringify({ schema: 1, phase: "installing", installedVersion: "1.0.0", seenManifestIds: [] }),
        /phase installing needs a complete pending update/,
      ],
      [JSON.stringify({ schema: 1, phase: "idle", installedVersion: "one", seenManifestIds: [] }), /"one"/],
    ];
    for (const [text, message] of bad) {
      await Deno.writeTextFile(file.path, text);
      await assert.rejects(file.load("1.0.0"), (e: Error) => {
        assert.equal(failureReason(e), "StateCorrupt");
        assert.match(e.message, message);
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
