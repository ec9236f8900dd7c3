import assert from "node:assert/strict";
import { type BoardPriors, ConfigError, PRECISIONS, type UnitPriors } from "../../../src/core/mod.ts";
import { detectProfile, getProfile, listProfiles } from "../../../src/hal/mod.ts";

const GB = 1e9;

function unit(priors: BoardPriors, id: string): UnitPriors {
  const u = priors.units.find((x) => x.id === id);
  assert.ok(u, `no unit ${id}`);
  return u;
}

/** Power of a unit at its top OPP and DASI 1 with leakage at tempC (the DESIGN.md 3 equation). */
function fullPowerW(u: UnitPriors, tempC: number, dasi = 1): number {
  const top = u.opps.at(-1)!;
  const leak = u.leakagePowerW * Math.exp(u.leakageKappaPerK * (tempC - u.leakageRefTempC));
  return u.idlePowerW + leak + u.ceffF * top.voltageV ** 2 * top.freqHz * dasi;
}

/**
 * Steady-state zone temperatures with the given units at full load, idle units
 * power-gated where they can be (leakage fed back to convergence).
 */
function steadyStateC(priors: BoardPriors, busy: readonly string[]): Record<string, number> {
  const temps: Record<string, number> = {};
  for (const z of priors.zones) temps[z.id] = priors.ambientC;
  for (let i = 0; i < 200; i++) {
    const power: Record<string, number> = {};
    for (const u of priors.units) {
      const t = temps[u.thermalZone];
      if (busy.includes(u.id)) power[u.id] = fullPowerW(u, t);
      else if (u.powerGateable) power[u.id] = 0;
      else power[u.id] = u.idlePowerW + u.leakagePowerW * Math.exp(u.leakageKappaPerK * (t - u.leakageRefTempC));
    }
    for (const z of priors.zones) {
      temps[z.id] = priors.ambientC + Object.entries(z.rthKPerW).reduce((s, [id, r]) => s + r * power[id], 0);
    }
  }
  return temps;
}

function idleBoardW(priors: BoardPriors): number {
  return priors.basePowerW + priors.units.reduce(
    (s, u) =>
      s + (u.powerGateable ? 0 : u.idlePowerW + u.leakagePowerW * Math.exp(
            u.leakageKappaPerK * (priors.ambientC + 10 - u.leakageRefTempC),
          )),
    0,
  );
}

Deno.test("listProfiles() has the five CONTRACTS.md profiles with generic last", () => {
  assert.deepEqual(listProfiles().map((p) => p.id), [
    "rk3588",
    "jetson-orin-nano",
    "raspberry-pi-5",
    "imx8mp",
    "generic",
  ]);
});

Deno.test("profiles use the CONTRACTS.md unit ids and default units", () => {
  const expected: Record<string, [string[], string]> = {
    "rk3588": [["cpu_big", "cpu_little", "gpu", "npu"], "cpu_big"],
    "jetson-orin-nano": [["cpu", "gpu"], "gpu"],
    "raspberry-pi-5": [["cpu"], "cpu"],
    "imx8mp": [["cpu", "npu"], "cpu"],
    "generic": [["cpu"], "cpu"],
  };
  for (const profile of listProfiles()) {
    const [ids, defaultUnit] = expected[profile.id];
    assert.deepEqual(profile.units.map((u) => u.id), ids, profile.id);
    assert.deepEqual(profile.priors.units.map((u) => u.id), ids, `${profile.id} priors`);
    assert.equal(profile.priors.defaultUnit, defaultUnit, profile.id);
  }
});

Deno.test("every profile's bindings, zones and priors refer to each other consistently", () => {
  for (const p of listProfiles()) {
    const zoneIds = new Set(Object.keys(p.zones));
    const unitIds = new Set(p.units.map((u) => u.id));
    for (const u of p.units) {
      for (const z of u.zones) assert.ok(zoneIds.has(z), `${p.id}/${u.id}: zone ${z} not in profile.zones`);
      assert.ok(u.load.length > 0, `${p.id}/${u.id} has no load source`);
    }
    for (const z of p.priors.zones) {
      assert.ok(zoneIds.has(z.id), `${p.id}: priors zone ${z.id} not in profile.zones`);
      for (const id of Object.keys(z.rthKPerW)) assert.ok(unitIds.has(id), `${p.id}/${z.id}: R for unknown unit ${id}`);
      assert.ok(z.tauS > 0);
      if (z.passiveTripC !== undefined && z.criticalTripC !== undefined) assert.ok(z.passiveTripC < z.criticalTripC);
    }
    for (const r of p.rails) {
      if (r.role === "unit") assert.ok(r.unitId && unitIds.has(r.unitId), `${p.id}/${r.name}: unit rail without unit`);
      assert.ok(r.label !== undefined || r.channel !== undefined || r.source === "powercap", `${p.id}/${r.name}`);
    }
    const priorZones = new Set(p.priors.zones.map((z) => z.id));
    for (const u of p.priors.units) assert.ok(priorZones.has(u.thermalZone), `${p.id}/${u.id}: ${u.thermalZone}`);
    assert.ok(p.priors.sources.length > 0 && p.priors.units.every((u) => u.sources.length > 0), p.id);
  }
});

Deno.test("every unit prior is physically sensible", () => {
  for (const p of listProfiles()) {
    for (const u of p.priors.units) {
      const where = `${p.id}/${u.id}`;
      assert.ok(u.opps.length > 0, where);
      for (let i = 1; i < u.opps.length; i++) {
        assert.ok(u.opps[i].freqHz > u.opps[i - 1].freqHz, `${where}: OPP frequencies ascend`);
        assert.ok(u.opps[i].voltageV >= u.opps[i - 1].voltageV, `${where}: OPP voltages never fall`);
      }
      for (const o of u.opps) assert.ok(o.voltageV >= 0.5 && o.voltageV <= 1.2, `${where}: ${o.voltageV} V`);
      const rates = Object.entries(u.peakOpsPerS);
      assert.ok(rates.length > 0, where);
      for (const [precision, rate] of rates) {
        assert.ok(PRECISIONS.includes(precision as never) && rate! > 1e9 && rate! < 1e15, `${where} ${precision}`);
      }
      for (const f of [u.computeEfficiency, u.memoryEfficiency]) assert.ok(f > 0 && f <= 1, where);
      assert.ok(u.bandwidthBytesPerS <= p.priors.busBandwidthBytesPerS, `${where}: unit bandwidth above the bus`);
      assert.ok(u.leakageKappaPerK >= 0.02 && u.leakageKappaPerK <= 0.06, where);
      assert.ok(u.energyPerByteJ > 1e-12 && u.energyPerByteJ < 1e-9, where);
      const topW = fullPowerW(u, 60);
      assert.ok(topW > 0.5 && topW < 30, `${where}: ${topW} W at full load`);
    }
  }
});

Deno.test("rk3588 priors reproduce boards.md power: idle <2 W, all-core load +~6 W", () => {
  const priors = getProfile("rk3588").priors;
  const idleW = idleBoardW(priors);
  assert.ok(idleW > 1.2 && idleW < 2, `idle ${idleW} W`);
  const temps = steadyStateC(priors, ["cpu_big", "cpu_little"]);
  const busyW = ["cpu_big", "cpu_little"].reduce((s, id) => {
    const u = unit(priors, id);
    return s + fullPowerW(u, temps[u.thermalZone]);
  }, 0);
  const idleCpuW = ["cpu_big", "cpu_little"].reduce((s, id) => {
    const u = unit(priors, id);
    return s + fullPowerW(u, priors.ambientC + 10, 0);
  }, 0);
  const addedW = busyW - idleCpuW;
  assert.ok(addedW > 4.5 && addedW < 7.5, `all-core load adds ${addedW} W`);
});

Deno.test("rk3588 passive cooling settles at 75-85 °C under sustained full CPU load", () => {
  const temps = steadyStateC(getProfile("rk3588").priors, ["cpu_big", "cpu_little"]);
  for (const zone of ["soc", "bigcore0", "bigcore1"]) {
    assert.ok(temps[zone] >= 72 && temps[zone] <= 88, `${zone} ${temps[zone]} °C`);
  }
});

Deno.test("decode bandwidth priors match DESIGN.md reality anchors", () => {
  const rk = getProfile("rk3588").priors;
  const eff = (p: BoardPriors, id: string) => unit(p, id).bandwidthBytesPerS * unit(p, id).memoryEfficiency;
  // RKLLM: MB resident x tok/s; llama.cpp RKNPU Gemma-3-1B Q8_0 ~1.07 GB x 16.5 tok/s.
  for (const needed of [0.670 * 41.6, 1.094 * 24.4, 1.689 * 16.7, 3.758 * 7.45, 1.07 * 16.5]) {
    const ratio = eff(rk, "npu") / (needed * GB);
    assert.ok(ratio > 0.7 && ratio < 1.3, `npu ${eff(rk, "npu") / GB} GB/s vs ${needed} GB/s`);
  }
  // llama.cpp A76 Q8_0 Gemma-3-1B 19.5 tok/s.
  assert.ok(Math.abs(eff(rk, "cpu_big") / (1.07 * 19.5 * GB) - 1) < 0.3);
  // Mali Vulkan Llama-3.2-1B Q4_1 (~0.8 GB) 3.6 tok/s: far below the A76.
  assert.ok(Math.abs(eff(rk, "gpu") / (0.8 * 3.6 * GB) - 1) < 0.3);
  assert.ok(eff(rk, "gpu") < eff(rk, "cpu_big") / 3);
  const orin = getProfile("jetson-orin-nano").priors;
  assert.ok(Math.abs(eff(orin, "gpu") / (0.84 * 102 * GB) - 1) < 0.05);
});

Deno.test("Orin Nano and Pi 5 priors match their published idle and load power", () => {
  const orin = getProfile("jetson-orin-nano").priors;
  const orinIdle = idleBoardW(orin);
  assert.ok(orinIdle > 3 && orinIdle < 5, `Orin idle ${orinIdle} W (jtop VDD_IN 4.17 W)`);
  const orinTemps = steadyStateC(orin, ["cpu", "gpu"]);
  const orinFull = orin.basePowerW + fullPowerW(unit(orin, "cpu"), orinTemps.cpu) +
    fullPowerW(unit(orin, "gpu"), orinTemps.gpu);
  assert.ok(orinFull > 15 && orinFull < 28, `Orin full ${orinFull} W in the 25 W mode`);
  assert.ok(orinTemps.tj < 99, `Orin Tj ${orinTemps.tj} °C stays under the 99 °C trip`);
  const pi = getProfile("raspberry-pi-5").priors;
  const piIdle = idleBoardW(pi);
  assert.ok(Math.abs(piIdle / 3.3 - 1) < 0.2, `Pi 5 idle ${piIdle} W`);
  const piTemps = steadyStateC(pi, ["cpu"]);
  const piFull = pi.basePowerW + fullPowerW(unit(pi, "cpu"), piTemps.cpu);
  assert.ok(Math.abs(piFull / 9.8 - 1) < 0.2, `Pi 5 stress ${piFull} W`);
});

Deno.test("boards.md UNSURE figures are flagged UNSURE in the sources", () => {
  const rk = getProfile("rk3588").priors;
  assert.ok(unit(rk, "gpu").sources.some((s) => s.includes("UNSURE")));
  assert.ok(unit(rk, "cpu_little").sources.some((s) => s.includes("UNSURE")));
  assert.ok(getProfile("imx8mp").priors.sources.some((s) => s.includes("UNSURE")));
});

Deno.test("getProfile() names the known profiles when the id is unknown", () => {
  assert.equal(getProfile("imx8mp").id, "imx8mp");
  assert.throws(() => getProfile("rk3399"), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /unknown board profile "rk3399".*rk3588, jetson-orin-nano/);
    assert.equal(e.details.field, "board");
    return true;
  });
});

Deno.test("detectProfile() matches the most specific compatible entry, then the model, then generic", () => {
  assert.equal(detectProfile(["radxa,rock-5b", "rockchip,rk3588"], "Radxa ROCK 5B").id, "rk3588");
  assert.equal(detectProfile(["xunlong,orangepi-5", "rockchip,rk3588s"], "").id, "rk3588");
  assert.equal(
    detectProfile(["nvidia,p3768-0000+p3767-0005", "nvidia,p3767-0005", "nvidia,tegra234"], "").id,
    "jetson-orin-nano",
  );
  // AGX Orin shares tegra234 but not the Orin Nano's priors.
  assert.equal(detectProfile(["nvidia,p3737-0000+p3701-0000", "nvidia,tegra234"], "Jetson AGX Orin").id, "generic");
  assert.equal(detectProfile(["raspberrypi,5-model-b", "brcm,bcm2712"], "").id, "raspberry-pi-5");
  assert.equal(detectProfile(["fsl,imx8mp-evk", "fsl,imx8mp"], "").id, "imx8mp");
  assert.equal(detectProfile([], "NVIDIA Jetson Orin Nano Developer Kit").id, "jetson-orin-nano");
  assert.equal(detectProfile(["khadas,vim3", "amlogic,a311d"], "Khadas VIM3").id, "generic");
  assert.equal(detectProfile([], "").id, "generic");
});
