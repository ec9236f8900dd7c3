import assert from "node:assert/strict";
import { ManualClock, systemClock } from "../../src/core/mod.ts";

Deno.test("ManualClock wakes sleepers in due order as time advances", async () => {
  const clock = new ManualClock(1000);
  const woke: string[] = [];
  const a = clock.sleep(30).then(() => woke.push(`a@${clock.monotonicMs()}`));
  const b = clock.sleep(10).then(() => woke.push(`b@${clock.monotonicMs()}`));
  await clock.advance(5);
  assert.deepEqual(woke, []);
  await clock.advance(100);
  await Promise.all([a, b]);
  assert.deepEqual(woke, ["b@10", "a@30"]);
  assert.equal(clock.monotonicMs(), 105);
  assert.equal(clock.nowMs(), 1105);
});

Deno.test("ManualClock runs a periodic loop once per period", async () => {
  const clock = new ManualClock();
  const ticks: number[] = [];
  const controller = new AbortController();
  const loop = (async () => {
    try {
      for (;;) {
        ticks.push(clock.monotonicMs());
        await clock.sleep(100, controller.signal);
      }
    } catch {
      // aborted
    }
  })();
  await clock.advance(350);
  controller.abort();
  await loop;
  assert.deepEqual(ticks, [0, 100, 200, 300]);
});

Deno.test("ManualClock.sleep() rejects when its signal aborts", async () => {
  const clock = new ManualClock();
  const controller = new AbortController();
  const p = clock.sleep(50, controller.signal);
  controller.abort(new Error("stop"));
  await assert.rejects(p, /stop/);
  assert.equal(clock.pendingSleeps, 0);
});

Deno.test("ManualClock refuses to go back in time", async () => {
  const clock = new ManualClock();
  await clock.advance(10);
  await assert.rejects(clock.advanceTo(5), RangeError);
});

Deno.test("systemClock.sleep() rejects at once on an aborted signal", async () => {
  const controller = new AbortController();
  controller.abort(new Error("already"));
  await assert.rejects(systemClock.sleep(10_000, controller.signal), /already/);
});
