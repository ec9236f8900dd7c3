import assert from "node:assert/strict";
import { BusyError, ManualClock, TimeoutError } from "../../src/core/mod.ts";
import { createJobQueue, type JobContext } from "../../src/service/mod.ts";

/** A runner whose jobs finish when the test says so, recording what it saw. */
function controlledRunner() {
  const started: string[] = [];
  const contexts = new Map<string, JobContext>();
  const finishers = new Map<string, { resolve(v: string): void; reject(e: unknown): void }>();
  const run = (job: string, context: JobContext) => {
    started.push(job);
    contexts.set(job, context);
    return new Promise<string>((resolve, reject) => finishers.set(job, { resolve, reject }));
  };
  return { run, started, contexts, finish: (job: string) => finishers.get(job)!.resolve(`done:${job}`), finishers };
}

Deno.test("submit() runs up to `concurrency` jobs and queues the rest in order", async () => {
  const clock = new ManualClock();
  const r = controlledRunner();
  const q = createJobQueue<string, string>({ capacity: 4, concurrency: 2, clock, run: r.run });
  const handles = ["a", "b", "c", "d"].map((j) => q.submit(j, { id: j, deadlineMs: 10_000 }));
  assert.deepEqual(r.started, ["a", "b"]);
  assert.deepEqual({ ...q.stats(), submitted: undefined }, {
    waiting: 2,
    running: 2,
    capacity: 4,
    concurrency: 2,
    submitted: undefined,
    completed: 0,
    failed: 0,
    rejectedBusy: 0,
    timedOut: 0,
    cancelled: 0,
  });
  r.finish("b");
  assert.equal(await handles[1].result, "done:b");
  assert.deepEqual(r.started, ["a", "b", "c"]);
  r.finish("a");
  r.finish("c");
  await Promise.all([handles[0].result, handles[2].result]);
  assert.deepEqual(r.started, ["a", "b", "c", "d"]);
  r.finish("d");
  await handles[3].result;
  assert.equal(q.stats().completed, 4);
});

Deno.test("submit() refuses with BusyError at once when `capacity` jobs wait", () => {
  const clock = new ManualClock();
  const r = controlledRunner();
  const q = createJobQueue<string, string>({ capacity: 1, concurrency: 1, clock, run: r.run });
  q.submit("a", { id: "a", deadlineMs: 1000 });
  q.submit("b", { id: "b", deadlineMs: 1000 });
  assert.equal(q.hasRoom(), false);
  assert.throws(
    () => q.submit("c", { id: "c", deadlineMs: 1000 }),
    (e) => e instanceof BusyError && /capacity 1/.test(e.message),
  );
  assert.equal(q.stats().rejectedBusy, 1);
  const forced = q.submit("d", { id: "d", deadlineMs: 1000, force: true });
  assert.equal(forced.id, "d", "a forced (replayed) job is admitted beyond capacity");
  assert.equal(q.stats().waiting, 2);
  q.close();
});

Deno.test("a running job past its deadline is aborted with TimeoutError and reported overdue until it returns", async () => {
  const clock = new ManualClock();
  const r = controlledRunner();
  const q = createJobQueue<string, string>({ capacity: 2, concurrency: 1, clock, run: r.run });
  const a = q.submit("a", { id: "a", deadlineMs: 1000 });
  const b = q.submit("b", { id: "b", deadlineMs: 5000 });
  const aResult = a.result.catch((e) => e);
  await clock.advance(999);
  assert.equal(r.contexts.get("a")!.signal.aborted, false);
  await clock.advance(1);
  const error = await aResult;
  assert.ok(error instanceof TimeoutError);
  assert.ok(r.contexts.get("a")!.signal.reason instanceof TimeoutError, "the runner's signal carries the TimeoutError");
  // The runner ignores its signal: the worker stays taken and the job is overdue.
  await clock.advance(300);
  assert.deepEqual(q.overdue(), [{ id: "a", overdueMs: 300 }]);
  assert.deepEqual(r.started, ["a"], "b waits while a's runner still holds the worker");
  r.finish("a");
  await a.result.catch(() => {});
  await clock.advance(0);
  assert.deepEqual(q.overdue(), []);
  assert.deepEqual(r.started, ["a", "b"]);
  r.finish("b");
  assert.equal(await b.result, "done:b", "a late result of a timed-out job does not leak into the next");
  assert.equal(q.stats().timedOut, 1);
});

Deno.test("a waiting job whose deadline passes is dropped without running", async () => {
  const clock = new ManualClock();
  const r = controlledRunner();
  const q = createJobQueue<string, string>({ capacity: 2, concurrency: 1, clock, run: r.run });
  q.submit("a", { id: "a", deadlineMs: 10_000 });
  const b = q.submit("b", { id: "b", deadlineMs: 100 });
  const bResult = b.result.catch((e) => e);
  await clock.advance(100);
  assert.ok(await bResult instanceof TimeoutError);
  assert.equal(q.stats().waiting, 0);
  r.finish("a");
  await clock.advance(0);
  assert.deepEqual(r.started, ["a"]);
});

Deno.test("cancel() and an aborted submit signal reject the job with the reason", async () => {
  const clock = new ManualClock();
  const r = controlledRunner();
  const q = createJobQueue<string, string>({ capacity: 2, concurrency: 1, clock, run: r.run });
  const a = q.submit("a", { id: "a", deadlineMs: 10_000 });
  const controller = new AbortController();
  const b = q.submit("b", { id: "b", deadlineMs: 10_000, signal: controller.signal });
  const aResult = a.result.catch((e) => e);
  const bResult = b.result.catch((e) => e);
  a.cancel(new Error("client went away"));
  assert.equal((await aResult).message, "client went away");
  assert.equal(r.contexts.get("a")!.signal.aborted, true);
  controller.abort(new Error("stop b"));
  assert.equal((await bResult).message, "stop b");
  assert.equal(q.stats().cancelled, 2);
});

Deno.test("a runner that throws rejects its job and frees the worker", async () => {
  const clock = new ManualClock();
  let calls = 0;
  const q = createJobQueue<string, string>({
    capacity: 2,
    concurrency: 1,
    clock,
    run: (job) => {
      calls++;
      if (job === "bad") throw new Error("sync failure");
      return Promise.resolve(job);
    },
  });
  const bad = q.submit("bad", { id: "1", deadlineMs: 1000 });
  const good = q.submit("good", { id: "2", deadlineMs: 1000 });
  await assert.rejects(bad.result, /sync failure/);
  assert.equal(await good.result, "good");
  assert.equal(calls, 2);
  assert.equal(q.stats().failed, 1);
});

Deno.test("drain() refuses new jobs and resolves once admitted jobs settle; close() aborts them", async () => {
  const clock = new ManualClock();
  const r = controlledRunner();
  const q = createJobQueue<string, string>({ capacity: 2, concurrency: 1, clock, run: r.run });
  const a = q.submit("a", { id: "a", deadlineMs: 10_000 });
  const b = q.submit("b", { id: "b", deadlineMs: 10_000 });
  let drained = false;
  const draining = q.drain().then(() => drained = true);
  assert.throws(
    () => q.submit("c", { id: "c", deadlineMs: 1000 }),
    (e) => e instanceof BusyError && /draining/.test(e.message),
  );
  r.finish("a");
  await a.result;
  assert.equal(drained, false);
  await clock.advance(0);
  r.finish("b");
  await b.result;
  await draining;
  assert.equal(drained, true);

  const q2 = createJobQueue<string, string>({ capacity: 2, concurrency: 1, clock, run: r.run });
  const c = q2.submit("c", { id: "c", deadlineMs: 10_000 });
  const d = q2.submit("d", { id: "d", deadlineMs: 10_000 });
  q2.close(new Error("shutting down"));
  await assert.rejects(c.result, /shutting down/);
  await assert.rejects(d.result, /shutting down/);
  assert.equal(r.contexts.get("c")!.signal.aborted, true);
});
