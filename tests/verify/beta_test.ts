import assert from "node:assert/strict";
import fc from "fast-check";
import { leaderKeepProbability, leaderPosterior, logGamma, regularizedIncompleteBeta } from "../../src/verify/mod.ts";

/** |actual - expected| within relTol relative, or absTol absolute (for values near 0). */
function close(actual: number, expected: number, relTol: number, label: string, absTol = 1e-300): void {
  const err = Math.abs(actual - expected);
  assert.ok(err <= relTol * Math.abs(expected) + absTol, `${label}: got ${actual}, want ${expected} (error ${err})`);
}

/** I_x(a, b) for integers as an exact binomial tail: P(Binomial(a + b - 1, x) >= a), x = num/den. */
function binomialTail(a: number, b: number, num: bigint, den: bigint): number {
  const n = a + b - 1;
  let total = 0n;
  let choose = 1n; // C(n, 0)
  for (let j = 0; j <= n; j++) {
    if (j > 0) choose = (choose * BigInt(n - j + 1)) / BigInt(j);
    if (j >= a) total += choose * num ** BigInt(j) * (den - num) ** BigInt(n - j);
  }
  // Both stay below 20^81 < 1e106, so each converts with a relative error of 1e-16.
  return Number(total) / Number(den ** BigInt(n));
}

Deno.test("logGamma() matches factorials, Γ(1/2) = √π and high-precision values", () => {
  let logFactorial = 0;
  for (let n = 1; n <= 60; n++) {
    close(logGamma(n), logFactorial, 1e-13, `lnΓ(${n})`, 1e-14);
    logFactorial += Math.log(n);
  }
  close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-14, "lnΓ(1/2)");
  // mpmath.loggamma at 40 digits.
  close(logGamma(0.1), 2.252712651734205902006, 1e-14, "lnΓ(0.1)");
  close(logGamma(3.7), 1.4280723266653881292, 1e-14, "lnΓ(3.7)");
  close(logGamma(1000), 5905.220423209181211826, 1e-14, "lnΓ(1000)");
  assert.throws(() => logGamma(0), RangeError);
  assert.throws(() => logGamma(-1.5), RangeError);
  assert.throws(() => logGamma(Number.NaN), RangeError);
});

Deno.test("regularizedIncompleteBeta() equals the exact binomial tail for integer parameters", () => {
  const xs: [bigint, bigint][] = [[1n, 10n], [1n, 4n], [1n, 2n], [7n, 10n], [19n, 20n]];
  for (let a = 1; a <= 41; a += 4) {
    for (let b = 1; b <= 41; b += 5) {
      for (const [num, den] of xs) {
        const x = Number(num) / Number(den);
        const want = binomialTail(a, b, num, den);
        close(regularizedIncompleteBeta(x, a, b), want, 1e-11, `I_${x}(${a}, ${b})`);
      }
    }
  }
});

Deno.test("regularizedIncompleteBeta() matches closed forms for non-integer parameters", () => {
  for (const x of [0.001, 0.1, 0.37, 0.5, 0.8, 0.999]) {
    close(regularizedIncompleteBeta(x, 0.5, 0.5), (2 / Math.PI) * Math.asin(Math.sqrt(x)), 1e-13, `I_${x}(1/2, 1/2)`);
    for (const p of [0.3, 2.7, 11.5]) {
      close(regularizedIncompleteBeta(x, p, 1), x ** p, 1e-13, `I_${x}(${p}, 1)`);
      // 1 - (1-x)^p without cancellation for small x.
      close(regularizedIncompleteBeta(x, 1, p), -Math.expm1(p * Math.log1p(-x)), 1e-13, `I_${x}(1, ${p})`);
    }
  }
  // Student t with 3 degrees of freedom: P(|T| > t) = I_{3/(3+t²)}(3/2, 1/2).
  for (const t of [0.2, 1, 2.5, 10]) {
    const tail = 1 - (2 / Math.PI) * (t / (Math.sqrt(3) * (1 + (t * t) / 3)) + Math.atan(t / Math.sqrt(3)));
    close(regularizedIncompleteBeta(3 / (3 + t * t), 1.5, 0.5), tail, 1e-12, `t3 tail at ${t}`);
  }
});

Deno.test("regularizedIncompleteBeta() matches values tabulated with mpmath at 40 digits", () => {
  const table: [number, number, number, number][] = [
    [2.5, 3.5, 0.4, 0.4869041915261173978],
    [0.7, 12.3, 0.05, 0.62207110407434328967],
    [30.5, 40.2, 0.45, 0.62728709946256499318],
    [100, 120, 0.5, 0.91179606279498180213],
    [0.2, 0.3, 0.9, 0.7801962237861781556],
    [5.3, 1.7, 0.999, 0.99990302886463562104],
    [41, 1, 0.5, 4.5474735088646411896e-13],
    [17.25, 3.75, 0.5, 0.00083845084856752414744],
    [1000, 1100, 0.48, 0.63687473488058094944],
  ];
  for (const [a, b, x, want] of table) close(regularizedIncompleteBeta(x, a, b), want, 1e-11, `I_${x}(${a}, ${b})`);
});

Deno.test("regularizedIncompleteBeta() rejects parameters outside its domain", () => {
  assert.throws(() => regularizedIncompleteBeta(0.5, 0, 1), /a > 0/);
  assert.throws(() => regularizedIncompleteBeta(0.5, 1, -2), /b > 0/);
  assert.throws(() => regularizedIncompleteBeta(1.2, 1, 1), /x in \[0, 1\]/);
  assert.throws(() => regularizedIncompleteBeta(Number.NaN, 1, 1), RangeError);
  assert.equal(regularizedIncompleteBeta(0, 3, 4), 0);
  assert.equal(regularizedIncompleteBeta(1, 3, 4), 1);
});

Deno.test("regularizedIncompleteBeta() is a CDF: symmetric, in [0, 1] and increasing in x", () => {
  const param = fc.double({ min: 0.05, max: 200, noNaN: true });
  // Multiples of 2^-20, so that 1 - x is exact and the symmetry check tests the function, not rounding.
  const unit = fc.integer({ min: 0, max: 2 ** 20 }).map((n) => n / 2 ** 20);
  fc.assert(
    fc.property(param, param, unit, unit, (a, b, x1, x2) => {
      const [lo, hi] = x1 <= x2 ? [x1, x2] : [x2, x1];
      const iLo = regularizedIncompleteBeta(lo, a, b);
      const iHi = regularizedIncompleteBeta(hi, a, b);
      assert.ok(iLo >= 0 && iHi <= 1, `out of [0, 1]: ${iLo}, ${iHi}`);
      assert.ok(iHi >= iLo - 1e-12, `not increasing: I_${lo}=${iLo} > I_${hi}=${iHi} for a=${a}, b=${b}`);
      assert.ok(Math.abs(iLo + regularizedIncompleteBeta(1 - lo, b, a) - 1) < 1e-10, "I_x(a,b) + I_{1-x}(b,a) != 1");
    }),
    { numRuns: 300 },
  );
});

Deno.test("leaderPosterior() gives P(p > 0.5) for p ~ Beta(a+1, b+1) at the CSVET thresholds", () => {
  // Integer votes: P = P(Binomial(a + b + 1, 1/2) <= a).
  close(leaderPosterior(0, 0), 0.5, 1e-14, "0-0");
  close(leaderPosterior(3, 0), 1 - 1 / 16, 1e-14, "3-0");
  close(leaderPosterior(4, 0), 1 - 1 / 32, 1e-14, "4-0 (first unanimous count above 0.95)");
  close(leaderPosterior(5, 1), 1 - 8 / 128, 1e-14, "5-1");
  close(leaderPosterior(6, 1), 1 - 9 / 256, 1e-14, "6-1 (first above 0.95 with one dissent)");
  close(leaderPosterior(7, 2), 1 - 56 / 1024, 1e-14, "7-2");
  close(leaderPosterior(8, 2), 1 - 67 / 2048, 1e-14, "8-2");
  close(leaderPosterior(2, 5), (1 + 8 + 28) / 256, 1e-13, "2-5 (the leader is behind)");
  assert.throws(() => leaderPosterior(-1, 0), RangeError);
  assert.throws(() => leaderPosterior(1, Number.POSITIVE_INFINITY), RangeError);
});

Deno.test("leaderPosterior() rises with the leader's votes, falls with the runner-up's, and P(a,b) + P(b,a) = 1", () => {
  const votes = fc.double({ min: 0, max: 60, noNaN: true });
  const more = fc.double({ min: 0.01, max: 10, noNaN: true });
  fc.assert(
    fc.property(votes, votes, more, (a, b, d) => {
      const p = leaderPosterior(a, b);
      assert.ok(leaderPosterior(a + d, b) > p - 1e-15, `not increasing in a at (${a}, ${b})`);
      assert.ok(leaderPosterior(a, b + d) < p + 1e-15, `not decreasing in b at (${a}, ${b})`);
      assert.ok(Math.abs(p + leaderPosterior(b, a) - 1) < 1e-12);
    }),
    { numRuns: 300 },
  );
});

/** The same probability by simulating the Pólya urn exactly: each draw adds a ball of its colour. */
function urnKeepProbability(a: number, b: number, r: number): number {
  let dist = [1]; // dist[x] = P(x leader draws so far)
  for (let t = 0; t < r; t++) {
    const next = new Array(t + 2).fill(0);
    dist.forEach((p, x) => {
      const leader = (a + 1 + x) / (a + b + 2 + t);
      next[x + 1] += p * leader;
      next[x] += p * (1 - leader);
    });
    dist = next;
  }
  return dist.reduce((s, p, x) => (a + x > b + (r - x) ? s + p : s), 0);
}

Deno.test("leaderKeepProbability() matches an exact Pólya-urn computation", () => {
  for (const [a, b] of [[3, 0], [4, 1], [6, 4], [7, 5], [10, 3], [2.6, 1.3], [5, 5], [0, 2]]) {
    for (const r of [0, 1, 2, 5, 13, 37]) {
      close(leaderKeepProbability(a, b, r), urnKeepProbability(a, b, r), 1e-11, `keep(${a}, ${b}, ${r})`, 1e-15);
    }
  }
  // No remaining samples: a strict lead is kept, a tie is not.
  assert.equal(leaderKeepProbability(4, 3, 0), 1);
  assert.equal(leaderKeepProbability(4, 4, 0), 0);
  // A lead larger than the remaining samples cannot be lost.
  assert.equal(leaderKeepProbability(9, 2, 6), 1);
  assert.throws(() => leaderKeepProbability(1, 0, 1.5), /integer remainingSamples/);
  assert.throws(() => leaderKeepProbability(-1, 0, 1), RangeError);
});

Deno.test("leaderKeepProbability() tends to leaderPosterior() as the remaining budget grows", () => {
  for (const [a, b] of [[4, 1], [10, 3], [7.5, 2.25]]) {
    const far = leaderKeepProbability(a, b, 20000);
    assert.ok(Math.abs(far - leaderPosterior(a, b)) < 2e-3, `keep(${a}, ${b}, 20000) = ${far}`);
  }
});

Deno.test("leaderKeepProbability() is at least leaderPosterior() wherever the latter is >= 0.9", () => {
  const votes = fc.double({ min: 0, max: 40, noNaN: true });
  fc.assert(
    fc.property(votes, votes, fc.integer({ min: 0, max: 60 }), (a, b, r) => {
      fc.pre(leaderPosterior(a, b) >= 0.9);
      assert.ok(leaderKeepProbability(a, b, r) >= leaderPosterior(a, b) - 1e-12, `keep(${a}, ${b}, ${r})`);
    }),
    { numRuns: 300 },
  );
});
