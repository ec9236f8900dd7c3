import assert from "node:assert/strict";
import fc from "fast-check";
import {
  allocationInflation,
  busShare,
  cpq,
  dasi,
  measuredDasi,
  memoryRho,
  peakAtFreq,
  rooflineTimeS,
} from "../../src/physics/mod.ts";

const close = (a: number, b: number, rel = 1e-12) => assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${a} vs ${b}`);

Deno.test("peakAtFreq() scales the top-OPP peak linearly with the clock", () => {
  // A76 cluster: 153.6 GFLOP/s at 2.4 GHz -> 76.8 at 1.2 GHz
  close(peakAtFreq(153.6e9, 1.2e9, 2.4e9), 76.8e9);
});

Deno.test("rooflineTimeS() of a decode step on the A76 is the memory time (worked example)", () => {
  // 2.47 GFLOP and 1.3 GB (1B model, int8, batch 1); F = 614.4 GOPS x 0.21, B = 22 GB/s x 0.95
  const computeS = 2.47e9 / (614.4e9 * 0.21); // 19.1 ms
  const memoryS = 1.3e9 / (22e9 * 0.95); // 62.2 ms
  assert.ok(memoryS > computeS);
  const t = rooflineTimeS(2.47e9, 1.3e9, 614.4e9, 22e9, { computeEfficiency: 0.21, memoryEfficiency: 0.95 });
  close(t, memoryS);
  // With CPQ 1 and lambda 0.02 the time grows by 2%.
  close(
    rooflineTimeS(2.47e9, 1.3e9, 614.4e9, 22e9, {
      computeEfficiency: 0.21,
      memoryEfficiency: 0.95,
      inflation: allocationInflation(cpq(0.5), 0.02),
    }),
    memoryS * 1.02,
  );
});

Deno.test("rooflineTimeS() of a 128-token prefill is the compute time (worked example)", () => {
  const flops = 128 * 2.47e9; // 316 GFLOP
  const t = rooflineTimeS(flops, 1.35e9, 614.4e9, 22e9, { computeEfficiency: 0.21, memoryEfficiency: 0.95 });
  close(t, flops / (614.4e9 * 0.21)); // 2.45 s
});

Deno.test("dasi() is I B / F below the ridge and 1 above it (worked example)", () => {
  // I = 2.47e9 / 1.3e9 = 1.9 FLOP/B; B / F = 22e9 / 614.4e9 -> DASI = 0.068
  close(dasi(2.47e9, 1.3e9, 614.4e9, 22e9), (2.47e9 / 1.3e9) * (22e9 / 614.4e9));
  assert.equal(dasi(128 * 2.47e9, 1.35e9, 614.4e9, 22e9), 1);
  assert.equal(dasi(1e9, 0, 1e12, 1e10), 1);
  assert.equal(dasi(0, 1e9, 1e12, 1e10), 0);
});

Deno.test("dasi() lies in (0, 1] and never falls when the intensity rises", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 1, max: 1e13, noNaN: true }),
      fc.double({ min: 1, max: 1e11, noNaN: true }),
      fc.double({ min: 1e9, max: 1e14, noNaN: true }),
      fc.double({ min: 1e8, max: 1e12, noNaN: true }),
      (flops, bytes, peak, bw) => {
        const d = dasi(flops, bytes, peak, bw);
        assert.ok(d > 0 && d <= 1);
        assert.ok(dasi(flops * 2, bytes, peak, bw) >= d);
        assert.ok(dasi(flops, bytes * 2, peak, bw) <= d);
      },
    ),
  );
});

Deno.test("rooflineTimeS() is at least each roof's time and grows with work", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 1e13, noNaN: true }),
      fc.double({ min: 0, max: 1e11, noNaN: true }),
      fc.double({ min: 0.05, max: 1, noNaN: true }),
      fc.double({ min: 0.05, max: 1, noNaN: true }),
      (flops, bytes, ec, em) => {
        const o = { computeEfficiency: ec, memoryEfficiency: em };
        const t = rooflineTimeS(flops, bytes, 1e12, 2e10, o);
        assert.ok(t >= flops / (1e12 * ec) * (1 - 1e-12) && t >= bytes / (2e10 * em) * (1 - 1e-12));
        assert.ok(rooflineTimeS(flops + 1e9, bytes, 1e12, 2e10, o) >= t);
        assert.ok(rooflineTimeS(flops, bytes + 1e6, 1e12, 2e10, o) >= t);
      },
    ),
  );
});

Deno.test("measuredDasi() is FLOPs over time x peak", () => {
  close(measuredDasi(1e9, 0.01, 1e12), 0.1);
});

Deno.test("cpq() is rho / (1 - rho): 0 at 0, 1 at 0.5, 5.67 at rho_max 0.85, infinite from 1", () => {
  assert.equal(cpq(0), 0);
  assert.equal(cpq(0.5), 1);
  close(cpq(0.85), 0.85 / 0.15);
  assert.equal(cpq(1), Infinity);
  assert.throws(() => cpq(-0.1), /rho must be >= 0/);
});

Deno.test("cpq() is strictly increasing in rho", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 0.999, noNaN: true }),
      fc.double({ min: 1e-6, max: 0.5, noNaN: true }),
      (rho, d) => {
        const r2 = Math.min(0.9999, rho + d);
        if (r2 > rho) assert.ok(cpq(r2) > cpq(rho));
      },
    ),
  );
});

Deno.test("memoryRho() divides required by available bytes", () => {
  assert.equal(memoryRho(3e9, 6e9), 0.5);
  assert.equal(memoryRho(0, 0), 0);
  assert.equal(memoryRho(1, 0), Infinity);
});

Deno.test("busShare() is 1 under the bus limit and B_bus / demand above it", () => {
  assert.equal(busShare(33.8e9, 20e9), 1);
  // NPU 33.8 x 0.65 + CPU 22 x 0.95 = 42.9 GB/s of demand on a 33.8 GB/s bus
  close(busShare(33.8e9, 33.8e9 * 0.65 + 22e9 * 0.95), 33.8e9 / 42.87e9);
  fc.assert(
    fc.property(fc.double({ min: 1e9, max: 1e11, noNaN: true }), fc.double({ min: 0, max: 1e12, noNaN: true }), (
      bus,
      demand,
    ) => {
      const s = busShare(bus, demand);
      assert.ok(s > 0 && s <= 1);
      assert.ok(s * demand <= bus * (1 + 1e-12));
    }),
  );
});
