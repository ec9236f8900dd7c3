import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import { getProfile } from "../../src/hal/mod.ts";
import { perturbPriors } from "../../src/sim/truth.ts";

const priors = getProfile("rk3588").priors;

Deno.test("perturbPriors() keeps every coefficient within +-spread of its prior", () => {
  for (let seed = 0; seed < 20; seed++) {
    const truth = perturbPriors(priors, createRng(seed), { spread: 0.25 });
    truth.units.forEach((u, i) => {
      const p = priors.units[i];
      for (const key of ["bandwidthBytesPerS", "idlePowerW", "leakagePowerW", "leakageKappaPerK", "ceffF"] as const) {
        const ratio = u[key] / p[key];
        assert.ok(ratio >= 0.75 && ratio <= 1.25, `${u.id}.${key} ratio ${ratio}`);
      }
      assert.ok(u.memoryEfficiency <= 1 && u.computeEfficiency <= 1);
      assert.deepEqual(u.opps, p.opps, "operating points are not perturbed");
    });
    truth.zones.forEach((z, i) => {
      const ratio = z.tauS / priors.zones[i].tauS;
      assert.ok(ratio >= 0.75 && ratio <= 1.25);
      assert.equal(z.passiveTripC, priors.zones[i].passiveTripC);
    });
    assert.ok(Math.abs(truth.ambientC - priors.ambientC) <= 2);
  }
});

Deno.test("perturbPriors() is deterministic per seed and differs between seeds", () => {
  const a = perturbPriors(priors, createRng(7));
  const b = perturbPriors(priors, createRng(7));
  const c = perturbPriors(priors, createRng(8));
  assert.deepEqual(a, b);
  assert.notEqual(a.units[0].ceffF, c.units[0].ceffF);
  assert.notEqual(a.zones[0].tauS, c.zones[0].tauS);
});

Deno.test("perturbPriors() with spread 0 returns the priors' figures", () => {
  const truth = perturbPriors(priors, createRng(1), { spread: 0, ambientShiftC: 0 });
  assert.equal(truth.units[0].ceffF, priors.units[0].ceffF);
  assert.equal(truth.ambientC, priors.ambientC);
  assert.throws(() => perturbPriors(priors, createRng(1), { spread: 1.5 }), RangeError);
});
