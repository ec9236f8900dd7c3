import assert from "node:assert/strict";
import { getProfile, specialiseGeneric } from "../../../src/hal/mod.ts";

Deno.test("specialiseGeneric() keeps the single cpu unit for one policy, bound to its cpus", () => {
  const profile = specialiseGeneric([{ name: "policy0", cpus: [0, 1, 2, 3], availableFreqsHz: [1e9, 1.5e9] }]);
  assert.deepEqual(profile.units.map((u) => [u.id, u.freq]), [["cpu", { kind: "cpufreq", cpus: [0, 1, 2, 3] }]]);
  assert.equal(profile.priors, getProfile("generic").priors);
  const none = specialiseGeneric([]);
  assert.deepEqual(none.units[0].freq, { kind: "none", note: "no cpufreq policy found" });
});

Deno.test("specialiseGeneric() makes one unit per policy with scaled priors and the fastest as default", () => {
  const profile = specialiseGeneric([
    { name: "policy0", cpus: [0, 1], availableFreqsHz: [1e9, 1.8e9] },
    { name: "policy2", cpus: [2, 3, 4, 5], availableFreqsHz: [0.5e9, 1.2e9, 2.2e9] },
  ]);
  assert.deepEqual(profile.units.map((u) => u.id), ["cpu_policy0", "cpu_policy2"]);
  assert.deepEqual(profile.units[1].freq, { kind: "cpufreq", cpus: [2, 3, 4, 5] });
  assert.equal(profile.priors.defaultUnit, "cpu_policy2");
  const [little, big] = profile.priors.units;
  // Template: 4 cpus at 1.5 GHz -> 48 GFLOP/s fp32.
  assert.equal(little.peakOpsPerS.fp32, 48e9 * (2 / 4) * (1.8 / 1.5));
  assert.equal(big.peakOpsPerS.fp32, 48e9 * (4 / 4) * (2.2 / 1.5));
  assert.deepEqual(big.opps.map((o) => o.freqHz), [0.5e9, 1.2e9, 2.2e9]);
  assert.deepEqual(big.opps.map((o) => o.voltageV), [0.8, 0.9, 1.0]);
  assert.deepEqual(Object.keys(profile.priors.zones[0].rthKPerW), ["cpu_policy0", "cpu_policy2"]);
  assert.equal(getProfile("generic").units.length, 1, "the registered template is not modified");
});
