import assert from "node:assert/strict";
import fc from "fast-check";
import { meanTransientC, steadyStateC, timeToReachS, transientC, zoneTrajectory } from "../../src/physics/mod.ts";

const close = (a: number, b: number, abs = 1e-9) => assert.ok(Math.abs(a - b) <= abs, `${a} vs ${b}`);

Deno.test("steadyStateC() adds every unit's R x P to the ambient (worked example)", () => {
  // soc zone: 8 K/W from each unit; CPU 6 W, NPU 1 W -> 25 + 48 + 8 = 81 °C
  close(steadyStateC(25, { cpu_big: 8, npu: 8, gpu: 8 }, { cpu_big: 6, npu: 1 }), 81);
  // A unit the zone has no resistance to does not heat it.
  close(steadyStateC(25, { cpu_big: 8 }, { cpu_big: 1, gpu: 100 }), 33);
});

Deno.test("transientC() reaches 63.2% of the step after one tau (worked example)", () => {
  close(transientC(40, 80, 100, 100), 40 + 40 * (1 - Math.exp(-1)));
  close(transientC(40, 80, 100, 0), 40);
  close(transientC(80, 40, 100, 1e6), 40);
});

Deno.test("timeToReachS() inverts the transient and reports when a trip is never reached", () => {
  // 40 -> 81 °C with tau 100 s reaches 70 °C after 100 ln(41 / 11) = 131.6 s
  const t = timeToReachS(40, 81, 100, 70);
  close(t, 100 * Math.log(41 / 11));
  close(transientC(40, 81, 100, t), 70, 1e-9);
  assert.equal(timeToReachS(40, 65, 100, 70), Infinity);
  assert.equal(timeToReachS(72, 65, 100, 70), 0);
});

Deno.test("transientC() stays between the start and the steady state, and moves toward it over time", () => {
  fc.assert(
    fc.property(
      fc.double({ min: -20, max: 120, noNaN: true }),
      fc.double({ min: -20, max: 120, noNaN: true }),
      fc.double({ min: 0.1, max: 1000, noNaN: true }),
      fc.double({ min: 0, max: 1e4, noNaN: true }),
      fc.double({ min: 0, max: 100, noNaN: true }),
      (t0, tss, tau, t, dt) => {
        const a = transientC(t0, tss, tau, t);
        assert.ok(a >= Math.min(t0, tss) - 1e-9 && a <= Math.max(t0, tss) + 1e-9);
        const b = transientC(t0, tss, tau, t + dt);
        assert.ok(Math.abs(b - tss) <= Math.abs(a - tss) + 1e-9);
        const m = meanTransientC(t0, tss, tau, t);
        assert.ok(m >= Math.min(t0, tss) - 1e-9 && m <= Math.max(t0, tss) + 1e-9);
      },
    ),
  );
});

Deno.test("timeToReachS() agrees with transientC() whenever the threshold lies between start and steady state", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 20, max: 60, noNaN: true }),
      fc.double({ min: 61, max: 120, noNaN: true }),
      fc.double({ min: 0.01, max: 0.99, noNaN: true }),
      fc.double({ min: 1, max: 500, noNaN: true }),
      (t0, tss, frac, tau) => {
        const threshold = t0 + frac * (tss - t0);
        close(transientC(t0, tss, tau, timeToReachS(t0, tss, tau, threshold)), threshold, 1e-7);
      },
    ),
  );
});

Deno.test("zoneTrajectory() couples zones through the units' power and keeps the peak over phases", () => {
  const zones = [
    { id: "cpu", tauS: 10, rthKPerW: { cpu: 5, gpu: 1 } },
    { id: "gpu", tauS: 20, rthKPerW: { cpu: 1, gpu: 5 } },
  ];
  // Phase 1: CPU 4 W for 10 s; phase 2: GPU 2 W for 1000 s.
  const r = zoneTrajectory(zones, 25, { cpu: 30, gpu: 30 }, [
    { durationS: 10, powersW: { cpu: 4 } },
    { durationS: 1000, powersW: { gpu: 2 } },
  ]);
  const cpuAfter1 = transientC(30, 45, 10, 10); // toward 25 + 5 x 4
  const gpuAfter1 = transientC(30, 29, 20, 10); // toward 25 + 1 x 4: the CPU's heat reaches it, but it was warmer
  close(r.peakC.cpu, cpuAfter1);
  close(r.endC.cpu, transientC(cpuAfter1, 27, 10, 1000)); // toward 25 + 1 x 2
  close(r.endC.gpu, transientC(gpuAfter1, 35, 20, 1000));
  close(r.peakC.gpu, r.endC.gpu);
});
