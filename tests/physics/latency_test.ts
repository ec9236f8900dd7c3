import assert from "node:assert/strict";
import fc from "fast-check";
import {
  laneTimeS,
  makespanS,
  sumAffine,
  sumMaxAffine,
  sumTimeDasiS,
  timeDasiS,
  underutilization,
} from "../../src/physics/mod.ts";

const closeRel = (a: number, b: number, rel: number) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-300), `${a} vs ${b}`);

Deno.test("sumAffine() is an arithmetic series", () => {
  // 3 + 2c for c = 10..14: 5 x 3 + 2 x 60 = 135
  assert.equal(sumAffine(3, 2, 10, 5), 135);
  assert.equal(sumAffine(3, 2, 10, 0), 0);
});

Deno.test("sumMaxAffine() equals the step-by-step sum across a regime change", () => {
  fc.assert(
    fc.property(
      fc.double({ min: -100, max: 100, noNaN: true }),
      fc.double({ min: -2, max: 2, noNaN: true }),
      fc.double({ min: -100, max: 100, noNaN: true }),
      fc.double({ min: -2, max: 2, noNaN: true }),
      fc.integer({ min: 0, max: 200 }),
      fc.integer({ min: 0, max: 300 }),
      (a0, a1, b0, b1, from, count) => {
        let loop = 0;
        for (let c = from; c < from + count; c++) loop += Math.max(a0 + a1 * c, b0 + b1 * c);
        const closed = sumMaxAffine(a0, a1, b0, b1, from, count);
        assert.ok(Math.abs(closed - loop) <= 1e-9 * (1 + Math.abs(loop) + 300 * 200 * 4), `${closed} vs ${loop}`);
      },
    ),
  );
});

Deno.test("sumTimeDasiS() equals the step-by-step sum of time x DASI in every regime", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 1e6, max: 1e11, noNaN: true }),
      fc.double({ min: 0, max: 1e7, noNaN: true }),
      fc.double({ min: 1e7, max: 1e10, noNaN: true }),
      fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e6, noNaN: true })),
      fc.double({ min: 0.05, max: 1, noNaN: true }),
      fc.double({ min: 0.05, max: 1, noNaN: true }),
      fc.integer({ min: 0, max: 2000 }),
      fc.integer({ min: 0, max: 400 }),
      (f0, f1, y0, y1, ec, em, from, count) => {
        const F = 6e11;
        const B = 2e10;
        let loop = 0;
        for (let c = from; c < from + count; c++) loop += timeDasiS(f0 + f1 * c, y0 + y1 * c, F, B, ec, em);
        const closed = sumTimeDasiS(f0, f1, y0, y1, F, B, ec, em, from, count);
        closeRel(closed, loop, 1e-6);
      },
    ),
  );
});

Deno.test("sumTimeDasiS() covers the compute-bound, DASI < 1 band with its 1/Bytes term (worked case)", () => {
  // eta_c 0.2 < eta_m 1: intensity between eta_c B / F and B / F is compute-bound with DASI < 1.
  const F = 1e12;
  const B = 1e11; // ridge at 10 FLOP/B; compute-bound from 2 FLOP/B
  const f0 = 5e9;
  const y0 = 1e9; // 5 FLOP/B at c = 0
  const f1 = 0;
  const y1 = 1e6; // bytes grow with the context, intensity falls
  let loop = 0;
  for (let c = 0; c < 3000; c++) loop += timeDasiS(f0 + f1 * c, y0 + y1 * c, F, B, 0.2, 1);
  // Euler-Maclaurin on the 1/Bytes sum is within (7 / 5760) (y1 / y0)^4 ~ 1e-15.
  closeRel(sumTimeDasiS(f0, f1, y0, y1, F, B, 0.2, 1, 0, 3000), loop, 1e-11);
});

Deno.test("timeDasiS() is the compute time when compute-bound at the ridge, FLOPs / (F eta_m) when memory-bound", () => {
  // Memory-bound decode: 2.47 GFLOP, 1.3 GB on 614.4 GOPS / 22 GB/s, eta_m 0.95
  closeRel(timeDasiS(2.47e9, 1.3e9, 614.4e9, 22e9, 0.21, 0.95), 2.47e9 / (614.4e9 * 0.95), 1e-12);
  // Compute-bound above the ridge: DASI 1
  closeRel(timeDasiS(316e9, 1.35e9, 614.4e9, 22e9, 0.21, 0.95), 316e9 / (614.4e9 * 0.21), 1e-12);
});

Deno.test("laneTimeS() is never less than any of its segments; makespanS() covers lanes and units", () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }),
      (segments, transfers) => {
        const t = laneTimeS(segments, transfers);
        for (const s of segments) assert.ok(t >= s);
        const m = makespanS([t, 1], segments);
        assert.ok(m >= t && m >= 1);
      },
    ),
  );
  // Pipeline worked example: 30 ms + 20 ms segments, 0.2 ms transfer, per token
  assert.equal(laneTimeS([0.03, 0.02], [0.0002]), 0.0502);
  // Two lanes of 1 s and 1.5 s, but the shared unit works 2 s: the phase lasts 2 s.
  assert.equal(makespanS([1, 1.5], [2, 0.5]), 2);
});

Deno.test("underutilization() is 1 - active / (units x makespan), clamped to [0, 1]", () => {
  // One of four units busy at DASI 0.5 the whole 10 s: 1 - 5 / 40
  assert.equal(underutilization(5, 4, 10), 0.875);
  assert.equal(underutilization(50, 4, 10), 0);
  assert.equal(underutilization(1, 0, 10), 1);
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 1e3, noNaN: true }),
      fc.integer({ min: 1, max: 8 }),
      fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
      (a, n, m) => {
        const u = underutilization(a, n, m);
        assert.ok(u >= 0 && u <= 1);
        assert.ok(underutilization(a + 1, n, m) <= u);
      },
    ),
  );
});
