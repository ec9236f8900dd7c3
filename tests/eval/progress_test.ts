import assert from "node:assert/strict";
import { ManualClock } from "../../src/core/mod.ts";
import { createProgress, formatDuration, progressFigures } from "../../src/eval/mod.ts";

function capture() {
  const chunks: string[] = [];
  return { chunks, write: (text: string) => void chunks.push(text) };
}

Deno.test("createProgress() on a terminal redraws one bar in place with rate and ETA", async () => {
  const clock = new ManualClock();
  const out = capture();
  const progress = createProgress({ write: out.write, isTerminal: true, clock, barWidth: 10, redrawMs: 100 });
  progress.start(4);
  assert.equal(out.chunks.at(-1), "\r\x1b[2Keval [----------] 0/4 0% -- items/s ETA --");
  await clock.advance(2000);
  progress.advance();
  // 1 item in 2 s: 0.5 items/s, 3 left -> 6 s.
  assert.equal(out.chunks.at(-1), "\r\x1b[2Keval [###-------] 1/4 25% 0.50 items/s ETA 6s");
  await clock.advance(50);
  progress.advance();
  // Within redrawMs of the last draw: nothing written.
  assert.equal(out.chunks.length, 2);
  await clock.advance(1950);
  progress.advance();
  // 3 items in 4 s: 0.75 items/s, 1 left -> 1.33 s, shown as 1s.
  assert.equal(out.chunks.at(-1), "\r\x1b[2Keval [########--] 3/4 75% 0.75 items/s ETA 1s");
  await clock.advance(1000);
  progress.advance();
  progress.finish();
  assert.equal(out.chunks.at(-2), "\r\x1b[2Keval [##########] 4/4 100% 0.80 items/s done in 5s");
  assert.equal(out.chunks.at(-1), "\n");
  // Nothing but the bar ever reaches the terminal: no stray newlines before the end.
  assert.equal(out.chunks.filter((c) => c.includes("\n")).length, 1);
});

Deno.test("createProgress() off a terminal writes plain lines now and then", async () => {
  const clock = new ManualClock();
  const out = capture();
  const progress = createProgress({ write: out.write, isTerminal: false, clock, label: "bench", logEveryMs: 10_000 });
  progress.start(100);
  assert.equal(out.chunks.length, 0);
  for (let i = 0; i < 100; i++) {
    await clock.advance(500);
    progress.advance();
  }
  progress.finish();
  // First item at once, then one line per 10 s (every 20 items), then the final line.
  assert.equal(out.chunks[0], "bench: 1/100 1% 2.00 items/s ETA 50s\n");
  assert.equal(out.chunks[1], "bench: 21/100 21% 2.00 items/s ETA 40s\n");
  assert.equal(out.chunks.at(-1), "bench: 100/100 100% 2.00 items/s done in 50s\n");
  assert.deepEqual(out.chunks.map((c) => c.split(" ")[1]), [
    "1/100",
    "21/100",
    "41/100",
    "61/100",
    "81/100",
    "100/100",
  ]);
  assert.ok(out.chunks.every((c) => !c.includes("\r") && !c.includes("\x1b") && c.endsWith("\n")));
});

Deno.test("createProgress() rejects misuse", () => {
  const progress = createProgress({ write: () => {}, isTerminal: false, clock: new ManualClock() });
  assert.throws(() => progress.advance(), /before start/);
  assert.throws(() => progress.start(-1), RangeError);
  progress.finish();
});

Deno.test("formatDuration() and progressFigures()", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(59_400), "59s");
  assert.equal(formatDuration(61_000), "1:01");
  assert.equal(formatDuration(3_723_000), "1:02:03");
  assert.deepEqual(progressFigures(0, 10, 5000), { done: 0, total: 10, elapsedMs: 5000, ratePerS: null, etaMs: null });
  assert.deepEqual(progressFigures(5, 10, 10_000), {
    done: 5,
    total: 10,
    elapsedMs: 10_000,
    ratePerS: 0.5,
    etaMs: 10_000,
  });
});
