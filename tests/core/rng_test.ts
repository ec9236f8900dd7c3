import assert from "node:assert/strict";
import { createRng, hashString } from "../../src/core/mod.ts";

Deno.test("createRng() gives the same stream for the same seed", () => {
  const a = createRng(42);
  const b = createRng(42);
  const xs = Array.from({ length: 100 }, () => a.nextU32());
  const ys = Array.from({ length: 100 }, () => b.nextU32());
  assert.deepEqual(xs, ys);
});

Deno.test("createRng() gives different streams for different seeds", () => {
  const xs = Array.from({ length: 8 }, () => createRng(1).nextU32());
  const a = createRng(1);
  const b = createRng(2);
  assert.notDeepEqual([a.nextU32(), a.nextU32()], [b.nextU32(), b.nextU32()]);
  assert.equal(new Set(xs).size, 1);
});

Deno.test("createRng() pins its first outputs (bit-identical across platforms)", () => {
  const r = createRng(7);
  // Golden values: a change here changes every seeded result in the project.
  assert.deepEqual([r.nextU32(), r.nextU32(), r.nextU32()], [3717842623, 3665254222, 3355698721]);
});

Deno.test("next() stays in [0, 1) with a mean near 0.5", () => {
  const r = createRng(3);
  let sum = 0;
  for (let i = 0; i < 20000; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
});

Deno.test("int() covers its range without bias and rejects bad bounds", () => {
  const r = createRng(5);
  const counts = [0, 0, 0];
  for (let i = 0; i < 30000; i++) counts[r.int(3)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 500, `count ${c}`);
  assert.throws(() => r.int(0), RangeError);
  assert.throws(() => r.int(2.5), RangeError);
});

Deno.test("normal() has mean 0 and variance 1", () => {
  const r = createRng(11);
  const n = 20000;
  let s = 0, s2 = 0;
  for (let i = 0; i < n; i++) {
    const x = r.normal();
    s += x;
    s2 += x * x;
  }
  assert.ok(Math.abs(s / n) < 0.03);
  assert.ok(Math.abs(s2 / n - 1) < 0.05);
});

Deno.test("fork() derives independent, reproducible streams without advancing the parent", () => {
  const a = createRng(9);
  const before = createRng(9).nextU32();
  const f1 = a.fork("sim");
  const f2 = createRng(9).fork("sim");
  assert.equal(f1.nextU32(), f2.nextU32());
  assert.notEqual(a.fork("x").nextU32(), a.fork("y").nextU32());
  assert.equal(a.nextU32(), before);
});

Deno.test("hashString() is FNV-1a", () => {
  assert.equal(hashString(""), 0x811c9dc5);
  assert.equal(hashString("a"), 0xe40c292c);
});
