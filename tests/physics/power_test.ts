import assert from "node:assert/strict";
import fc from "fast-check";
import { dynamicPowerW, energyJ, leakageEnergyJ, leakagePowerW, phi, transientC } from "../../src/physics/mod.ts";

const close = (a: number, b: number, rel = 1e-9) => assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${a} vs ${b}`);

Deno.test("leakagePowerW() doubles every ln(2)/kappa kelvin (worked example)", () => {
  // 0.15 W at 25 °C, kappa 0.03 /K: at 25 + 23.1 K it is 0.30 W
  close(leakagePowerW(0.15, 0.03, 25, 25 + Math.log(2) / 0.03), 0.3);
  // At 85 °C: 0.15 e^{1.8} = 0.907 W
  close(leakagePowerW(0.15, 0.03, 25, 85), 0.15 * Math.exp(1.8));
  // At 0.675 V of a 1.0 V top OPP, 67.5% of that
  close(leakagePowerW(0.15, 0.03, 25, 85, 0.675), 0.675 * 0.15 * Math.exp(1.8));
});

Deno.test("dynamicPowerW() is C_eff V^2 f DASI (worked example)", () => {
  // A76 cluster: 1.75 nF, 1.0 V, 2.4 GHz, fully busy: 4.2 W; at DASI 0.068: 0.286 W
  close(dynamicPowerW(1.75e-9, 1.0, 2.4e9, 1), 4.2);
  close(dynamicPowerW(1.75e-9, 1.0, 2.4e9, 0.068), 4.2 * 0.068);
  // 1.2 GHz at 0.675 V: (0.675)^2 / 2 = 0.228 of the top power
  close(dynamicPowerW(1.75e-9, 0.675, 1.2e9, 1), 4.2 * 0.675 * 0.675 / 2);
});

Deno.test("phi() lies in (0, 1] and falls as the temperature rises", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 1e-3, max: 20, noNaN: true }),
      fc.double({ min: 0, max: 2, noNaN: true }),
      fc.double({ min: 0.01, max: 0.06, noNaN: true }),
      fc.double({ min: -20, max: 110, noNaN: true }),
      fc.double({ min: 0.1, max: 30, noNaN: true }),
      (dyn, leak0, kappa, t, dt) => {
        const a = phi(dyn, leakagePowerW(leak0, kappa, 25, t));
        const b = phi(dyn, leakagePowerW(leak0, kappa, 25, t + dt));
        assert.ok(a > 0 && a <= 1);
        assert.ok(b <= a);
        if (leak0 > 1e-6) assert.ok(b < a);
      },
    ),
  );
  assert.equal(phi(0, 1), 0);
  close(phi(3, 1), 0.75);
});

Deno.test("energyJ() is non-negative and monotone in power and time", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 100, noNaN: true }),
      fc.double({ min: 0, max: 1e4, noNaN: true }),
      fc.double({ min: 0, max: 10, noNaN: true }),
      (p, t, d) => {
        const e = energyJ(p, t);
        assert.ok(e >= 0);
        assert.ok(energyJ(p + d, t) >= e && energyJ(p, t + d) >= e);
      },
    ),
  );
  assert.equal(energyJ(7.4, 10), 74);
});

/** Reference: the same integral by the composite Simpson rule on a fine grid. */
function simpsonLeakageJ(w0: number, kappa: number, t0: number, tss: number, tau: number, d: number): number {
  const n = 20000;
  const h = d / n;
  const f = (t: number) => w0 * Math.exp(kappa * (transientC(t0, tss, tau, t) - tss));
  let s = f(0) + f(d);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * f(i * h);
  return (s * h) / 3;
}

Deno.test("leakageEnergyJ() matches numerical integration of leakage along the RC transient", () => {
  // Heating 40 -> 80 °C with tau 80 s over 60 s; cooling 80 -> 45 °C over 500 s; kappa up to 0.06
  for (
    const [w0, kappa, t0, tss, tau, d] of [
      [0.9, 0.03, 40, 80, 80, 60],
      [0.4, 0.06, 80, 45, 30, 500],
      [0.2, 0.04, 25, 100, 5, 0.5],
    ]
  ) {
    close(leakageEnergyJ(w0, kappa, t0, tss, tau, d), simpsonLeakageJ(w0, kappa, t0, tss, tau, d), 1e-7);
  }
  // No transient: P t
  close(leakageEnergyJ(0.5, 0.03, 60, 60, 80, 10), 5);
  assert.equal(leakageEnergyJ(0.5, 0.03, 40, 60, 80, 0), 0);
});

Deno.test("leakageEnergyJ() lies between the start and steady-state leakage times the duration", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0.01, max: 2, noNaN: true }),
      fc.double({ min: 0.01, max: 0.06, noNaN: true }),
      fc.double({ min: 20, max: 100, noNaN: true }),
      fc.double({ min: 20, max: 100, noNaN: true }),
      fc.double({ min: 1, max: 200, noNaN: true }),
      fc.double({ min: 0.01, max: 1000, noNaN: true }),
      (w0, kappa, t0, tss, tau, d) => {
        const atSteady = w0 * d;
        const atStart = w0 * Math.exp(kappa * (t0 - tss)) * d;
        const e = leakageEnergyJ(w0, kappa, t0, tss, tau, d);
        assert.ok(e >= Math.min(atSteady, atStart) * (1 - 1e-9) && e <= Math.max(atSteady, atStart) * (1 + 1e-9));
      },
    ),
  );
});
