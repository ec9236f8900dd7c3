import assert from "node:assert/strict";
import { getProfile, listProfiles } from "../../../src/hal/mod.ts";
import { priorsForRuntimes, runtimeFamilies } from "../../../src/hal/profiles/mod.ts";

Deno.test("priorsForRuntimes() takes a unit's efficiencies from the chosen family and keeps everything else", () => {
  const priors = getProfile("rk3588").priors;
  const families = runtimeFamilies("rk3588");
  const npu = priors.units.find((u) => u.id === "npu")!;
  const llamaCpp = families.npu.others["llama.cpp-rknpu2"];
  assert.ok(llamaCpp.computeEfficiency! < npu.computeEfficiency, "llama.cpp's RKNPU2 backend prefills slower");

  const chosen = priorsForRuntimes(priors, families, { npu: "llama.cpp-rknpu2" });
  const got = chosen.units.find((u) => u.id === "npu")!;
  assert.equal(got.computeEfficiency, llamaCpp.computeEfficiency);
  assert.equal(got.memoryEfficiency, npu.memoryEfficiency, "a field the family leaves out keeps the base prior");
  assert.ok(got.sources.some((s) => s.startsWith("llama.cpp-rknpu2: ")), "the family's sources are cited");
  assert.deepEqual(chosen.units.filter((u) => u.id !== "npu"), priors.units.filter((u) => u.id !== "npu"));
  assert.equal(npu.computeEfficiency, getProfile("rk3588").priors.units.find((u) => u.id === "npu")!.computeEfficiency);

  // The base family, or no choice, is the profile's priors.
  assert.deepEqual(priorsForRuntimes(priors, families, { npu: families.npu.base }), priors);
  assert.deepEqual(priorsForRuntimes(priors, families, {}), priors);
});

Deno.test("priorsForRuntimes() names the unit and the known families for an unknown choice", () => {
  const priors = getProfile("rk3588").priors;
  const families = runtimeFamilies("rk3588");
  assert.throws(
    () => priorsForRuntimes(priors, families, { npu: "tflite" }),
    /unit "npu" has no runtime family "tflite" \(known: rkllm,llama\.cpp-rknpu2\)/,
  );
  assert.throws(() => priorsForRuntimes(priors, families, { dsp: "rkllm" }), /unknown unit "dsp"/);
  assert.throws(() => priorsForRuntimes(priors, families, { cpu_little: "llama.cpp-cpu" }), /no runtime families/);
});

Deno.test("every runtime family names a unit of its profile and keeps efficiencies in (0, 1] with sources", () => {
  for (const profile of listProfiles()) {
    for (const [unitId, runtimes] of Object.entries(runtimeFamilies(profile.id))) {
      assert.ok(profile.priors.units.some((u) => u.id === unitId), `${profile.id}: unknown unit ${unitId}`);
      for (const [family, prior] of Object.entries(runtimes.others)) {
        const where = `${profile.id}/${unitId}/${family}`;
        assert.notEqual(family, runtimes.base, where);
        for (const f of [prior.computeEfficiency, prior.memoryEfficiency]) {
          if (f !== undefined) assert.ok(f > 0 && f <= 1, where);
        }
        assert.ok(prior.sources.length > 0, `${where} cites no source`);
      }
    }
  }
});
