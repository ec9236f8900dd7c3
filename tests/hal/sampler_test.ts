import assert from "node:assert/strict";
import { ManualClock } from "../../src/core/mod.ts";
import { createSampler, discoverBoard, type Sample } from "../../src/hal/mod.ts";
import { fixture } from "./helpers.ts";

/** A queue of samples the test awaits one by one (the event itself, no sleeps). */
function inbox() {
  const samples: Sample[] = [];
  const waiters: ((s: Sample) => void)[] = [];
  return {
    samples,
    push(s: Sample) {
      samples.push(s);
      waiters.shift()?.(s);
    },
    next(): Promise<Sample> {
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

/**
 * Lets the loop reach its sleep after a tick (only promise callbacks run in
 * between, no I/O), so that advancing the clock wakes it.
 */
async function untilSleeping(clock: ManualClock): Promise<void> {
  for (let turn = 0; turn < 1000; turn++) {
    if (clock.pendingSleeps > 0) return;
    await Promise.resolve();
  }
  assert.fail("the sampler never went to sleep");
}

Deno.test("the sampler ticks at once, then once per period of the injected clock", async () => {
  const clock = new ManualClock();
  const board = await discoverBoard(fixture("jetson-orin-nano"), { clock });
  const box = inbox();
  await using sampler = createSampler({ board, periodMs: 100, clock, onSample: (s) => box.push(s) });
  let next = box.next();
  sampler.start();
  assert.equal((await next).monotonicMs, 0);
  for (const t of [100, 200, 300]) {
    next = box.next();
    await untilSleeping(clock);
    await clock.advance(100);
    assert.equal((await next).monotonicMs, t);
  }
  assert.equal(sampler.samples, 4);
  assert.equal(sampler.running, true);
  await sampler.stop();
  assert.equal(sampler.running, false);
  await clock.advance(1000);
  assert.equal(box.samples.length, 4, "no ticks after stop()");
  const s = box.samples[3];
  assert.ok(s.totalPowerW.ok && s.totalPowerW.value === 4.172736);
});

Deno.test("ticks never overlap: a slow consumer delays the next tick and missed periods are skipped", async () => {
  const clock = new ManualClock();
  const board = await discoverBoard(fixture("rk3588"), { clock });
  let active = 0;
  let maxActive = 0;
  const starts: number[] = [];
  let release!: () => void;
  let entered!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  let arrived = new Promise<void>((r) => (entered = r));
  await using sampler = createSampler({
    board,
    periodMs: 100,
    clock,
    onSample: async (s) => {
      active++;
      maxActive = Math.max(maxActive, active);
      starts.push(s.monotonicMs);
      entered();
      await gate;
      active--;
    },
  });
  sampler.start();
  await arrived;
  // The consumer holds the first tick for 350 ms of clock time.
  await clock.advance(350);
  assert.equal(clock.pendingSleeps, 0, "no tick is scheduled while one is in progress");
  assert.deepEqual(starts, [0]);
  arrived = new Promise<void>((r) => (entered = r));
  const held = release;
  gate = new Promise<void>((r) => (release = r));
  held();
  // Periods at 100, 200, 300 were missed: the next tick is at 400.
  await untilSleeping(clock);
  await clock.advance(50);
  await arrived;
  assert.deepEqual(starts, [0, 400]);
  assert.equal(sampler.overruns, 1);
  assert.equal(maxActive, 1);
  release();
  await sampler.stop();
});

Deno.test("sampleOnce() waits for the tick in progress and feeds onSample too", async () => {
  const clock = new ManualClock();
  const board = await discoverBoard(fixture("raspberry-pi-5"), { clock });
  const box = inbox();
  const sampler = createSampler({ board, periodMs: 1000, clock, onSample: (s) => box.push(s) });
  const one = await sampler.sampleOnce();
  assert.deepEqual(one.units.cpu.tempC, { ok: true, value: 52.35 });
  assert.equal(box.samples.length, 1);
  assert.equal(sampler.samples, 1);
  assert.equal(sampler.running, false, "sampleOnce() does not start the loop");
});

Deno.test("an onSample error stops the loop and stop() rethrows it; with onError the loop goes on", async () => {
  const clock = new ManualClock();
  const board = await discoverBoard(fixture("imx8mp"), { clock });
  let fail = true;
  const failing = createSampler({
    board,
    periodMs: 10,
    clock,
    onSample: () => {
      if (fail) throw new Error("consumer broke");
    },
  });
  failing.start();
  await assert.rejects(failing.stop(), /consumer broke/);

  const errors: unknown[] = [];
  const box = inbox();
  const tolerant = createSampler({
    board,
    periodMs: 10,
    clock,
    onSample: (s) => {
      box.push(s);
      if (fail) throw new Error("once");
    },
    onError: (e) => errors.push(e),
  });
  let next = box.next();
  tolerant.start();
  await next;
  fail = false;
  next = box.next();
  await untilSleeping(clock);
  await clock.advance(10);
  await next;
  assert.equal(errors.length, 1);
  await tolerant.stop();
});

Deno.test("createSampler() refuses a period that is not a positive number", async () => {
  const board = await discoverBoard(fixture("imx8mp"));
  for (const periodMs of [0, -5, Number.NaN, Infinity]) {
    assert.throws(() => createSampler({ board, periodMs, onSample: () => {} }), RangeError);
  }
});
