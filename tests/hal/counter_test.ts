import assert from "node:assert/strict";
import { counterDeltaJ } from "../../src/hal/mod.ts";

Deno.test("counterDeltaJ() is the plain difference while the counter rises", () => {
  assert.deepEqual(counterDeltaJ(10, 12.5), { ok: true, value: 2.5 });
  assert.deepEqual(counterDeltaJ(10, 10, 100), { ok: true, value: 0 });
});

Deno.test("counterDeltaJ() adds the wrap range once when the counter wrapped", () => {
  // powercap max_energy_range_uj 262143328850 µJ: from 262143.0 J past the top to 1.5 J.
  const delta = counterDeltaJ(262143, 1.5, 262143.32885);
  assert.ok(delta.ok);
  assert.ok(Math.abs(delta.value - (1.5 + 262143.32885 - 262143)) < 1e-9);
});

Deno.test("counterDeltaJ() refuses a counter that went backwards without a wrap range", () => {
  assert.deepEqual(counterDeltaJ(10, 4), {
    ok: false,
    reason: "energy counter went backwards from 10 J to 4 J with no wrap range (counter reset)",
  });
  assert.equal(counterDeltaJ(500, 4, 100).ok, false, "a previous value above the range is no wrap");
});
