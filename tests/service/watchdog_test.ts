import assert from "node:assert/strict";
import { ManualClock, systemClock } from "../../src/core/mod.ts";
import {
  createNotifier,
  deadlineCheck,
  type HealthReport,
  heartbeatCheck,
  type OverdueJob,
  runChecks,
  startEventLoopLagMonitor,
  startWatchdog,
} from "../../src/service/mod.ts";
import { captureLogger, events } from "./_helpers.ts";

const decoder = new TextDecoder();

/** Reports from the watchdog, awaited one by one. */
function reportQueue() {
  const reports: HealthReport[] = [];
  const waiters: ((r: HealthReport) => void)[] = [];
  return {
    onReport: (r: HealthReport) => {
      const w = waiters.shift();
      if (w) w(r);
      else reports.push(r);
    },
    next: () => {
      const r = reports.shift();
      return r ? Promise.resolve(r) : new Promise<HealthReport>((resolve) => waiters.push(resolve));
    },
  };
}

Deno.test("WATCHDOG=1 goes to systemd only while every check passes", async () => {
  const dir = await Deno.makeTempDir();
  const systemd = Deno.listenDatagram({ transport: "unixpacket", path: `${dir}/notify` });
  await using notifier = await createNotifier({ socketPath: `${dir}/notify` });
  const clock = new ManualClock();
  let samplerBeatMs: number | undefined = 0;
  let overdue: OverdueJob[] = [];
  const { logger, lines } = captureLogger();
  const reports = reportQueue();
  await using watchdog = startWatchdog({
    clock,
    intervalMs: 5000,
    notifier,
    logger,
    onReport: reports.onReport,
    checks: [
      heartbeatCheck("sampler", { clock, lastBeatMs: () => samplerBeatMs, maxAgeMs: 8000 }),
      deadlineCheck(() => overdue, 2000),
    ],
  });

  await clock.advance(5000);
  assert.equal((await reports.next()).ok, true);
  assert.equal(decoder.decode((await systemd.receive())[0]), "WATCHDOG=1\n");

  // The sampler stopped: its last beat is now 10 s old.
  await clock.advance(5000);
  const stale = await reports.next();
  assert.equal(stale.ok, false);
  assert.deepEqual(stale.checks[0], {
    name: "sampler",
    ok: false,
    reason: "sampler last beat 10000 ms ago (limit 8000 ms)",
  });
  assert.deepEqual(watchdog.health(), stale);

  // A job runs 2.5 s past its deadline (its runner ignores cancellation) while the sampler is back.
  samplerBeatMs = clock.monotonicMs();
  overdue = [{ id: "job-7", overdueMs: 2500 }];
  await clock.advance(5000);
  const late = await reports.next();
  assert.deepEqual(late.checks.map((c) => c.ok), [true, false]);
  assert.equal(late.checks[1].reason, "jobs past their deadline: job-7 (+2500 ms)");

  overdue = [{ id: "job-8", overdueMs: 1500 }];
  samplerBeatMs = clock.monotonicMs() + 5000;
  await clock.advance(5000);
  assert.equal((await reports.next()).ok, true, "within the grace period again");
  assert.equal(decoder.decode((await systemd.receive())[0]), "WATCHDOG=1\n");
  assert.equal(watchdog.petted, 2);

  // Nothing else was sent: the next datagram is our own marker.
  const probe = Deno.listenDatagram({ transport: "unixpacket", path: `${dir}/probe` });
  await probe.send(new TextEncoder().encode("MARKER"), { transport: "unixpacket", path: `${dir}/notify` });
  assert.equal(decoder.decode((await systemd.receive())[0]), "MARKER");
  probe.close();
  systemd.close();

  const logged = events(lines).map((e) => `${e.level}:${e.msg}`);
  assert.deepEqual(logged, [
    "error:health checks fail; withholding the watchdog keep-alive",
    "info:health checks pass again",
  ], "transitions are logged once, not every period");
});

Deno.test("without systemd the watchdog runs the same checks and logs failures", async () => {
  const clock = new ManualClock();
  const { logger, lines } = captureLogger();
  const reports = reportQueue();
  await using notifier = await createNotifier({ socketPath: undefined });
  await using watchdog = startWatchdog({
    clock,
    intervalMs: 1000,
    notifier,
    logger,
    onReport: reports.onReport,
    checks: [{ name: "broken", run: () => Promise.reject(new Error("sensor read exploded")) }],
  });
  await clock.advance(1000);
  const report = await reports.next();
  assert.deepEqual(report.checks, [{ name: "broken", ok: false, reason: "check threw: sensor read exploded" }]);
  assert.equal(watchdog.petted, 0);
  assert.equal(events(lines)[0].msg, "health checks fail");
});

Deno.test("heartbeatCheck() counts from its creation until the first beat", async () => {
  const clock = new ManualClock();
  const check = heartbeatCheck("sampler", { clock, lastBeatMs: () => undefined, maxAgeMs: 3000 });
  assert.deepEqual(check.run(), { ok: true });
  await clock.advance(3001);
  assert.deepEqual(check.run(), {
    ok: false,
    reason: "sampler has not beaten in 3001 ms since start (limit 3000 ms)",
  });
});

Deno.test("the event-loop monitor passes while ticks are on time", async () => {
  const clock = new ManualClock();
  await using monitor = startEventLoopLagMonitor({ clock, maxLagMs: 100, intervalMs: 500 });
  for (let i = 0; i < 10; i++) await clock.advance(500);
  assert.equal(monitor.lagMs, 0);
  assert.deepEqual(await runChecks([monitor.check]), { ok: true, checks: [{ name: "event-loop", ok: true }] });
});

Deno.test("the event-loop monitor fails while the loop is blocked", async () => {
  await using monitor = startEventLoopLagMonitor({ clock: systemClock, maxLagMs: 50, intervalMs: 10 });
  // Block the event loop: no timer can fire during this busy loop, so the monitor's tick is late by at least 140 ms.
  const start = performance.now();
  while (performance.now() - start < 200) { /* busy */ }
  // Awaiting only runs microtasks: the late timer still cannot fire before the check.
  const result = await monitor.check.run();
  assert.equal(result.ok, false);
  assert.match(!result.ok ? result.reason : "", /^event loop lags \d+ ms \(limit 50 ms\)$/);
});
