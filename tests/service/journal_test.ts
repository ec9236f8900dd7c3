import assert from "node:assert/strict";
import { ManualClock } from "../../src/core/mod.ts";
import { crc32, type Journal, openJournal } from "../../src/service/mod.ts";
import { captureLogger, events } from "./_helpers.ts";

type Job = { prompt: string };
type Result = { answer: string };

async function open(dir: string, extra: { retainResults?: number; compactAfterRecords?: number } = {}) {
  const clock = new ManualClock();
  const { logger, lines } = captureLogger();
  const journal = await openJournal<Job, Result>({ dir, clock, logger, ...extra });
  return { journal, clock, lines };
}

async function recordCount(journal: Journal<Job, Result>): Promise<number> {
  const text = await Deno.readTextFile(journal.path);
  return text.split("\n").filter((l) => l !== "").length;
}

Deno.test("crc32() matches the IEEE check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

Deno.test("an accepted job survives reopening and is returned as unfinished", async () => {
  const dir = await Deno.makeTempDir();
  {
    const { journal, clock } = await open(dir);
    await clock.advance(5);
    await journal.accept("r1", { prompt: "a" });
    await journal.accept("r2", { prompt: "b" });
    assert.deepEqual(journal.lookup("r1"), { state: "pending", job: { prompt: "a" }, acceptedAtMs: 1_700_000_000_005 });
    await journal.close();
  }
  const { journal } = await open(dir);
  assert.deepEqual(journal.unfinished().map((p) => [p.id, p.job.prompt]), [["r1", "a"], ["r2", "b"]]);
  assert.deepEqual(journal.recovery, { records: 2, corruptRecords: 0, tornTail: false });
  await journal.close();
});

Deno.test("a finished result is kept for its id, returned undelivered until marked delivered", async () => {
  const dir = await Deno.makeTempDir();
  {
    await using j = (await open(dir)).journal;
    await j.accept("r1", { prompt: "a" });
    await j.finish("r1", { answer: "42" });
    assert.deepEqual(j.lookup("r1"), {
      state: "finished",
      result: { answer: "42" },
      finishedAtMs: 1_700_000_000_000,
      delivered: false,
      job: { prompt: "a" },
    });
  }
  {
    await using j = (await open(dir)).journal;
    assert.deepEqual(j.unfinished(), []);
    assert.deepEqual(j.undelivered().map((u) => [u.id, u.job.prompt, u.result.answer]), [["r1", "a", "42"]]);
    await j.markDelivered("r1");
  }
  await using j = (await open(dir)).journal;
  assert.deepEqual(j.undelivered(), []);
  assert.deepEqual(j.lookup("r1"), {
    state: "finished",
    result: { answer: "42" },
    finishedAtMs: 1_700_000_000_000,
    delivered: true,
    job: undefined,
  }, "the result stays for repeated ids after delivery; the job is dropped");
});

Deno.test("accept() of a known id and finish() of an unknown one are refused", async () => {
  await using j = (await open(await Deno.makeTempDir())).journal;
  await j.accept("r1", { prompt: "a" });
  await assert.rejects(j.accept("r1", { prompt: "again" }), RangeError);
  await assert.rejects(j.finish("nope", { answer: "x" }), RangeError);
  await assert.rejects(j.markDelivered("r1"), RangeError);
  await j.finish("r1", { answer: "1" });
  await assert.rejects(j.finish("r1", { answer: "2" }), RangeError);
  assert.deepEqual(j.lookup("r1")?.state === "finished" && j.lookup("r1"), {
    state: "finished",
    result: { answer: "1" },
    finishedAtMs: 1_700_000_000_000,
    delivered: false,
    job: { prompt: "a" },
  });
});

Deno.test("a torn last record is skipped with a warning and the log is rewritten clean", async () => {
  const dir = await Deno.makeTempDir();
  {
    await using j = (await open(dir)).journal;
    await j.accept("r1", { prompt: "a" });
    await j.accept("r2", { prompt: "b" });
  }
  // A power cut in the middle of the next append.
  const path = `${dir}/journal.log`;
  const full = await Deno.readTextFile(path);
  await Deno.writeTextFile(path, full + full.split("\n")[0].slice(0, 20));
  const { journal, lines } = await open(dir);
  assert.deepEqual(journal.recovery, { records: 2, corruptRecords: 1, tornTail: true });
  assert.deepEqual(journal.unfinished().map((p) => p.id), ["r1", "r2"]);
  const warnings = events(lines).filter((e) => e.level === "warn");
  assert.equal(warnings.length, 1);
  assert.match(warnings[0].msg, /torn record/);
  assert.equal(await Deno.readTextFile(path), full, "the torn bytes are gone");
  await journal.accept("r3", { prompt: "c" });
  await journal.close();
  const again = await open(dir);
  assert.deepEqual(again.journal.unfinished().map((p) => p.id), ["r1", "r2", "r3"]);
  assert.equal(again.journal.recovery.corruptRecords, 0);
  await again.journal.close();
});

Deno.test("a record whose checksum fails is skipped with a warning, the rest recovered", async () => {
  const dir = await Deno.makeTempDir();
  {
    await using j = (await open(dir)).journal;
    for (const id of ["r1", "r2", "r3"]) await j.accept(id, { prompt: id });
  }
  const path = `${dir}/journal.log`;
  const records = (await Deno.readTextFile(path)).split("\n");
  records[1] = records[1].replace('"prompt":"r2"', '"prompt":"rX"');
  await Deno.writeTextFile(path, records.join("\n"));
  const { journal, lines } = await open(dir);
  assert.deepEqual(journal.unfinished().map((p) => p.id), ["r1", "r3"]);
  assert.equal(journal.recovery.corruptRecords, 1);
  assert.match(events(lines).find((e) => e.level === "warn")!.msg, /checksum/);
  await journal.close();
});

Deno.test("an empty or garbage-only journal opens without crashing", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/journal.log`, new Uint8Array([0, 0, 0, 0xff, 0x0a, 0x31]));
  const { journal } = await open(dir);
  assert.deepEqual(journal.unfinished(), []);
  assert.equal(journal.recovery.corruptRecords, 2);
  await journal.accept("r1", { prompt: "a" });
  await journal.close();
  const again = await open(dir);
  assert.deepEqual(again.journal.unfinished().map((p) => p.id), ["r1"]);
  await again.journal.close();
});

Deno.test("compaction keeps live entries and the newest results, bounding the log", async () => {
  const dir = await Deno.makeTempDir();
  const { journal, clock } = await open(dir, { retainResults: 3, compactAfterRecords: 10 });
  await journal.accept("pending-0", { prompt: "stays" });
  let maxRecords = 0;
  for (let i = 0; i < 40; i++) {
    await clock.advance(1);
    const id = `job-${i}`;
    await journal.accept(id, { prompt: `p${i}` });
    await journal.finish(id, { answer: `a${i}` });
    if (i !== 39) await journal.markDelivered(id);
    maxRecords = Math.max(maxRecords, await recordCount(journal));
  }
  assert.ok(journal.stats().compactions >= 5, `compactions: ${journal.stats().compactions}`);
  assert.ok(maxRecords <= 10 + 6 + 2, `the log never grew past its bound: ${maxRecords} records`);
  assert.equal(journal.lookup("job-0"), undefined, "the oldest delivered results were dropped");
  assert.equal(journal.lookup("job-38")?.state, "finished");
  assert.equal(journal.lookup("pending-0")?.state, "pending", "a pending job is never dropped");
  await journal.compact();
  await journal.close();
  const again = await open(dir, { retainResults: 3 });
  assert.deepEqual(again.journal.unfinished().map((p) => p.id), ["pending-0"]);
  assert.deepEqual(again.journal.undelivered().map((u) => u.id), ["job-39"]);
  const kept = ["job-36", "job-37", "job-38"].map((id) => again.journal.lookup(id));
  assert.deepEqual(kept.map((k) => k?.state === "finished" && k.result.answer), ["a36", "a37", "a38"]);
  assert.equal(await recordCount(again.journal), 1 + 2 + 3);
  await again.journal.close();
});

Deno.test("concurrent accepts share fsyncs and all become durable", async () => {
  const dir = await Deno.makeTempDir();
  {
    await using j = (await open(dir)).journal;
    await Promise.all(Array.from({ length: 100 }, (_, i) => j.accept(`r${i}`, { prompt: String(i) })));
    assert.equal(j.stats().records, 100);
    assert.ok(j.stats().syncs < 100, `100 appends took ${j.stats().syncs} fsyncs`);
  }
  await using j = (await open(dir)).journal;
  assert.equal(j.unfinished().length, 100);
});

Deno.test("kill -9 after acceptance loses no accepted job and no finished result", async () => {
  const dir = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./_journal_child.ts", import.meta.url).pathname, dir, "50", "20"],
    stdout: "piped",
    stderr: "inherit",
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).spawn();
  const accepted = new Set<string>();
  const finished = new Set<string>();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  try {
    await (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error("the child exited early");
        buffered += value;
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines) {
          const [what, id] = line.split(" ");
          if (what === "accepted") accepted.add(id);
          if (what === "finished") finished.add(id);
          if (what === "idle") return;
        }
      }
    })();
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
  }
  assert.equal(accepted.size, 50);
  assert.equal(finished.size, 20);
  const { journal } = await open(dir);
  assert.equal(journal.recovery.corruptRecords, 0);
  assert.equal(journal.unfinished().length, 30);
  assert.equal(journal.undelivered().length, 20);
  for (const id of accepted) assert.ok(journal.lookup(id), `${id} is journaled`);
  for (const id of finished) assert.equal(journal.lookup(id)?.state, "finished");
  await journal.close();
});
