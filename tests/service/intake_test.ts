import assert from "node:assert/strict";
import { BackendError, BusyError, ManualClock } from "../../src/core/mod.ts";
import {
  createJobIntake,
  type InferOutcome,
  type InferRequest,
  type JobContext,
  type JobIntakeOptions,
  type JobJournal,
  type JournaledJob,
  openJournal,
  type ReplyPayload,
  type ReplyRoute,
} from "../../src/service/mod.ts";

function request(id: string, prompt = `prompt of ${id}`): InferRequest {
  return { schemaVersion: 1, id, task: "text", prompt, samples: 4, maxTokens: 8, temperature: 0.5 };
}

function outcomeFor(req: InferRequest): InferOutcome {
  return {
    answer: req.prompt.toUpperCase(),
    text: req.prompt.toUpperCase(),
    confidence: 1,
    samplesUsed: 2,
    stopReason: "unanimous",
    energyJ: 0.25,
    latencyMs: 10,
    placement: { prefillUnit: "cpu", lanes: [], freqLevel: {} },
  };
}

/** A runner the test drives: each job waits until released (or runs at once in `auto` mode). */
class Runner {
  calls: string[] = [];
  contexts = new Map<string, JobContext>();
  auto = true;
  #release = new Map<string, (error?: Error) => void>();

  run = (req: InferRequest, context: JobContext): Promise<InferOutcome> => {
    this.calls.push(req.id);
    this.contexts.set(req.id, context);
    this.#startWaiters.get(req.id)?.();
    if (this.auto) return Promise.resolve(outcomeFor(req));
    return new Promise((resolve, reject) => {
      this.#release.set(req.id, (error) => error ? reject(error) : resolve(outcomeFor(req)));
    });
  };

  #startWaiters = new Map<string, () => void>();

  release(id: string, error?: Error): void {
    this.#release.get(id)!(error);
  }

  /** Resolves once the job `id` has started. */
  started(id: string): Promise<void> {
    if (this.calls.includes(id)) return Promise.resolve();
    return new Promise((resolve) => this.#startWaiters.set(id, resolve));
  }
}

/** Records deliveries; can be made to fail. */
class Delivery {
  sent: { route: ReplyRoute; payload: ReplyPayload }[] = [];
  failing = false;
  #waiters: { count: number; resolve(): void }[] = [];

  deliver = (route: ReplyRoute, payload: ReplyPayload): Promise<void> => {
    if (this.failing) return Promise.reject(new BusyError("offline queue full"));
    this.sent.push({ route, payload });
    for (const w of this.#waiters.filter((w) => this.sent.length >= w.count)) w.resolve();
    return Promise.resolve();
  };

  /** Resolves once `count` deliveries were made. */
  until(count: number): Promise<void> {
    if (this.sent.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }
}

async function setup(dir?: string, extra: Partial<JobIntakeOptions> = {}) {
  const clock = new ManualClock();
  const journal: JobJournal = await openJournal<JournaledJob, ReplyPayload>({
    dir: dir ?? await Deno.makeTempDir(),
    clock,
  });
  const runner = new Runner();
  const delivery = new Delivery();
  const settled: string[] = [];
  const intake = createJobIntake({
    journal,
    run: runner.run,
    deliver: delivery.deliver,
    capacity: 2,
    concurrency: 1,
    deadlineMsFor: () => 60_000,
    clock,
    onSettled: (req, payload) => settled.push(`${req.id}:${payload.ok}`),
    ...extra,
  });
  return { clock, journal, runner, delivery, intake, settled };
}

const ROUTE: ReplyRoute = { topic: "clients/a/replies", correlationData: "AQID" };

Deno.test("submit() journals the job, runs it and delivers the result to its route", async () => {
  const { journal, runner, delivery, intake, settled } = await setup();
  await intake.recover();
  const sub = await intake.submit(request("r1"), ROUTE);
  assert.equal(sub.status, "accepted");
  const payload = await sub.reply;
  assert.deepEqual(payload, { schemaVersion: 1, id: "r1", ok: true, ...outcomeFor(request("r1")) });
  await delivery.until(1);
  assert.deepEqual(delivery.sent, [{ route: ROUTE, payload }]);
  assert.deepEqual(runner.calls, ["r1"]);
  assert.deepEqual(settled, ["r1:true"]);
  await intake.close();
  const known = journal.lookup("r1");
  assert.equal(known?.state, "finished");
  assert.equal(known?.state === "finished" && known.delivered, true);
  await journal.close();
});

Deno.test("a repeated request id gets the first result without running again, on its own route too", async () => {
  const { runner, delivery, intake, journal } = await setup();
  await intake.recover();
  const first = await (await intake.submit(request("r1", "first"), ROUTE)).reply;
  const again = await intake.submit(request("r1", "different prompt"), { topic: "clients/b/replies" });
  assert.equal(again.status, "duplicate");
  assert.deepEqual(await again.reply, first);
  await delivery.until(2);
  assert.deepEqual(delivery.sent.map((s) => s.route.topic), ["clients/a/replies", "clients/b/replies"]);
  assert.deepEqual(runner.calls, ["r1"]);
  await intake.close();
  await journal.close();
});

Deno.test("a repeated id while the first is still running shares its result", async () => {
  const { runner, intake, journal } = await setup();
  runner.auto = false;
  await intake.recover();
  const a = await intake.submit(request("r1"));
  const b = await intake.submit(request("r1"));
  assert.equal(b.status, "duplicate");
  runner.release("r1");
  const [pa, pb] = await Promise.all([a.reply, b.reply]);
  assert.deepEqual(pa, pb);
  assert.deepEqual(runner.calls, ["r1"]);
  await intake.close();
  await journal.close();
});

Deno.test("a request redelivered to the same route is answered once there, a retry after delivery again", async () => {
  const { runner, delivery, intake, journal } = await setup();
  runner.auto = false;
  await intake.recover();
  const first = await intake.submit(request("r1"), ROUTE);
  const redelivered = await intake.submit(request("r1"), ROUTE);
  assert.equal(redelivered.status, "duplicate");
  runner.release("r1");
  await first.reply;
  await intake.drain();
  assert.equal(delivery.sent.length, 1, "the broker's redelivery of a running request gets no second reply");
  await (await intake.submit(request("r1"), ROUTE)).reply;
  await delivery.until(2);
  assert.equal(delivery.sent.length, 2, "a client retry after delivery gets the result again");
  await intake.close();
  await journal.close();
});

Deno.test("a full queue refuses with BusyError and journals nothing for the refused request", async () => {
  const { runner, intake, journal } = await setup();
  runner.auto = false;
  await intake.recover();
  await intake.submit(request("r1"));
  await intake.submit(request("r2"));
  await intake.submit(request("r3"));
  await assert.rejects(intake.submit(request("r4")), BusyError);
  assert.equal(journal.lookup("r4"), undefined);
  for (const id of ["r1", "r2", "r3"]) {
    await runner.started(id);
    runner.release(id);
  }
  await intake.drain();
  assert.deepEqual(runner.calls, ["r1", "r2", "r3"]);
  await journal.close();
});

Deno.test("a failing job and a job past its deadline get journaled error payloads", async () => {
  const { clock, runner, delivery, intake, journal, settled } = await setup();
  runner.auto = false;
  await intake.recover();
  const failing = await intake.submit(request("bad"), ROUTE);
  runner.release("bad", new BackendError("npu backend crashed"));
  const failed = await failing.reply;
  assert.deepEqual(failed, {
    schemaVersion: 1,
    id: "bad",
    ok: false,
    error: { code: "Backend", message: "npu backend crashed" },
  });
  const slow = await intake.submit(request("slow"), ROUTE);
  await clock.advance(60_000);
  const late = await slow.reply;
  assert.equal(!late.ok && late.error.code, "Timeout");
  assert.equal(runner.contexts.get("slow")!.signal.aborted, true, "the runner was told to stop");
  await delivery.until(2);
  assert.deepEqual(delivery.sent.map((s) => s.payload.ok), [false, false]);
  assert.deepEqual(settled, ["bad:false", "slow:false"]);
  const repeated = await intake.submit(request("bad"));
  assert.deepEqual(await repeated.reply, failed, "errors are idempotent too");
  runner.release("slow");
  await intake.close();
  await journal.close();
});

Deno.test("recover() runs every journaled unfinished job and re-delivers undelivered results once", async () => {
  const dir = await Deno.makeTempDir();
  {
    // What a crashed service left behind: two accepted jobs, one finished but not delivered, one delivered.
    const clock = new ManualClock();
    await using j = await openJournal<JournaledJob, ReplyPayload>({ dir, clock });
    await j.accept("p1", { request: request("p1"), route: ROUTE });
    await j.accept("p2", { request: request("p2") });
    await j.accept("f1", { request: request("f1"), route: { topic: "clients/f" } });
    await j.finish("f1", { schemaVersion: 1, id: "f1", ok: true, ...outcomeFor(request("f1")) });
    await j.accept("d1", { request: request("d1"), route: ROUTE });
    await j.finish("d1", { schemaVersion: 1, id: "d1", ok: true, ...outcomeFor(request("d1")) });
    await j.markDelivered("d1");
  }
  const { runner, delivery, intake, journal } = await setup(dir);
  const report = await intake.recover();
  assert.deepEqual(report, { replayed: 2, redelivered: 1 });
  await intake.drain();
  await delivery.until(2);
  assert.deepEqual(runner.calls, ["p1", "p2"]);
  assert.deepEqual(delivery.sent.map((s) => `${s.route.topic}:${s.payload.id}`).sort(), [
    "clients/a/replies:p1",
    "clients/f:f1",
  ]);
  assert.deepEqual(journal.undelivered(), []);
  assert.deepEqual(journal.unfinished(), []);
  await assert.rejects(intake.recover(), /once/);
  await journal.close();
});

Deno.test("a result whose delivery fails stays journaled and redeliver() sends it later", async () => {
  const { delivery, intake, journal } = await setup();
  await intake.recover();
  delivery.failing = true;
  const sub = await intake.submit(request("r1"), ROUTE);
  await sub.reply;
  await intake.drain();
  assert.deepEqual(journal.undelivered().map((u) => u.id), ["r1"]);
  delivery.failing = false;
  assert.equal(await intake.redeliver(), 1);
  assert.deepEqual(delivery.sent.map((s) => s.payload.id), ["r1"]);
  assert.deepEqual(journal.undelivered(), []);
  assert.equal(await intake.redeliver(), 0);
  await journal.close();
});

Deno.test("close() stops running jobs without journaling them as failed, so a restart runs them", async () => {
  const dir = await Deno.makeTempDir();
  {
    const { runner, intake, journal } = await setup(dir);
    runner.auto = false;
    await intake.recover();
    const sub = await intake.submit(request("r1"), ROUTE);
    await runner.started("r1");
    await intake.close();
    const payload = await sub.reply;
    assert.equal(!payload.ok && payload.error.code, "Busy");
    assert.equal(runner.contexts.get("r1")!.signal.aborted, true);
    assert.equal(journal.lookup("r1")?.state, "pending");
    await journal.close();
  }
  const { runner, delivery, intake, journal } = await setup(dir);
  assert.deepEqual(await intake.recover(), { replayed: 1, redelivered: 0 });
  await intake.drain();
  assert.deepEqual(runner.calls, ["r1"]);
  assert.deepEqual(delivery.sent.map((d) => d.payload.ok), [true]);
  await journal.close();
});

Deno.test("a request that cannot be journaled is refused and never runs", async () => {
  const { runner, intake, journal } = await setup();
  await intake.recover();
  await journal.close();
  await assert.rejects(intake.submit(request("r1"), ROUTE), /closed/);
  await intake.drain();
  assert.deepEqual(runner.calls, []);
});
