import assert from "node:assert/strict";
import { nextBootSequence } from "../../src/service/mod.ts";
import { captureLogger, events } from "./_helpers.ts";

Deno.test("nextBootSequence() counts starts durably in the state folder", async () => {
  const dir = `${await Deno.makeTempDir()}/state`;
  assert.equal(await nextBootSequence(dir), 1, "the folder is created on the first start");
  assert.equal(await nextBootSequence(dir), 2);
  assert.equal(await nextBootSequence(dir), 3);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/boot.json`)), { bootSequence: 3 });
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["boot.json"], "no temp file left behind");
});

Deno.test("nextBootSequence() starts again from 1 with a warning when the counter is garbage", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/boot.json`, '{"bootSeq');
  const { logger, lines } = captureLogger();
  assert.equal(await nextBootSequence(dir, logger), 1);
  assert.equal(events(lines)[0].level, "warn");
  assert.equal(await nextBootSequence(dir, logger), 2);
});
