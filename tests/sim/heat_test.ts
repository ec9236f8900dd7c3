import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import { getProfile } from "../../src/hal/mod.ts";
import { FrequencyDomain } from "../../src/sim/dvfs.ts";
import { ThermalModel } from "../../src/sim/heat.ts";
import { getLayout } from "../../src/sim/layout.ts";

function model(id: string) {
  const layout = getLayout(id);
  const profile = getProfile(id);
  const domains = layout.domains.map((spec, k) =>
    new FrequencyDomain(
      k,
      spec,
      spec.unitId
        ? profile.priors.units.find((u) => u.id === spec.unitId)!.opps.map((o) => o.freqHz)
        : [...(spec.kind === "devfreq" ? spec.freqsHz ?? [] : [])],
    )
  );
  const thermal = new ThermalModel({
    layout,
    profileZones: profile.zones,
    zones: profile.priors.zones,
    unitIds: profile.priors.units.map((u) => u.id),
    domains,
    ambientC: 25,
    offsets: createRng(1),
  });
  return { thermal, domains, priors: profile.priors };
}

Deno.test("ThermalModel.settle() finds T = T_amb + sum R P for constant power", () => {
  const { thermal, priors } = model("rk3588");
  const powers = new Map([["cpu_big", 2], ["npu", 1]]);
  thermal.settle(() => powers);
  const soc = priors.zones.find((z) => z.id === "soc")!;
  assert.ok(Math.abs(thermal.tempC("soc") - (25 + 2 * soc.rthKPerW.cpu_big + 1 * soc.rthKPerW.npu)) < 1e-9);
  assert.throws(() => thermal.tempC("nowhere"), RangeError);
});

Deno.test("ThermalModel derives Jetson soc nodes from cpu and gpu, reads none for cv*, and tj as the hottest", () => {
  const { thermal } = model("jetson-orin-nano");
  thermal.settle(() => new Map([["cpu", 4], ["gpu", 8]]));
  assert.ok(thermal.has("soc0"));
  const socRise = thermal.tempC("soc0") - 25;
  const cpuRise = thermal.tempC("cpu") - 25;
  const gpuRise = thermal.tempC("gpu") - 25;
  assert.ok(Math.abs(socRise - 0.75 * (cpuRise + gpuRise) / 2) < 1e-9);
  thermal.sample(() => 0);
  const r = thermal.readingsMilliC();
  assert.deepEqual([r[2], r[3], r[4]], [undefined, undefined, undefined]);
  assert.equal(r[8], Math.max(...[0, 1, 5, 6, 7].map((i) => r[i]!)));
});

Deno.test("ThermalModel.govern() caps the cooled domain above the trip and lifts the cap once cool", () => {
  const { thermal, domains } = model("imx8mp");
  const cpu = domains[0];
  thermal.ambientC = 95;
  thermal.settle(() => new Map([["cpu", 0]]));
  for (let i = 0; i < 3; i++) {
    thermal.step(new Map([["cpu", 2]]), 1000);
    thermal.sample(() => 0);
    thermal.govern();
  }
  assert.ok(thermal.coolingStates()[0] >= 1);
  assert.ok(cpu.coolCapHz < 1.8e9);
  thermal.ambientC = 25;
  for (let i = 0; i < 400; i++) {
    thermal.step(new Map([["cpu", 0]]), 1000);
    thermal.sample(() => 0);
    thermal.govern();
  }
  assert.equal(thermal.coolingStates()[0], 0);
  assert.equal(cpu.coolCapHz, Number.POSITIVE_INFINITY);
});
