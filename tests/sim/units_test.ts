import assert from "node:assert/strict";
import { getProfile } from "../../src/hal/mod.ts";
import { FrequencyDomain } from "../../src/sim/dvfs.ts";
import { getLayout } from "../../src/sim/layout.ts";
import { computeRates, createUnit, freqRatio, unitPowerW, type UnitWork } from "../../src/sim/units.ts";

const priors = getProfile("rk3588").priors;
const layout = getLayout("rk3588");

function unit(id: string) {
  const p = priors.units.find((u) => u.id === id)!;
  const domains = layout.domains.filter((d) => d.unitId === id).map((spec, i) =>
    new FrequencyDomain(i, spec, p.opps.map((o) => o.freqHz))
  );
  for (const d of domains) d.weight = 1 / domains.length;
  for (const d of domains) d.resolve(true, (hz) => hz);
  return createUnit<UnitWork>(p, domains);
}

Deno.test("createUnit() collects the CPUs of its policies and fixes the clock of a unit without a domain", () => {
  const big = unit("cpu_big");
  assert.deepEqual(big.cpus, [4, 5, 6, 7]);
  assert.equal(freqRatio(big), 1);
  const fixed = createUnit(getProfile("imx8mp").priors.units.find((u) => u.id === "npu")!, []);
  assert.equal(fixed.fixedHz, 1e9);
  assert.equal(freqRatio(fixed), 1);
});

Deno.test("computeRates() shares the bus only when concurrent demand exceeds it", () => {
  const cpu = unit("cpu_big");
  const npu = unit("npu");
  const stream = (precision: "fp32" | "int8"): UnitWork => ({ flops: 1, bytes: 1e9, precision, remaining: 1 });
  cpu.active = stream("fp32");
  computeRates([cpu], priors.busBandwidthBytesPerS);
  const aloneBytesPerS = cpu.bytesPerS;
  assert.ok(Math.abs(aloneBytesPerS - cpu.priors.bandwidthBytesPerS * cpu.priors.memoryEfficiency) < 1);
  npu.active = stream("int8");
  computeRates([cpu, npu], priors.busBandwidthBytesPerS);
  const demand = cpu.priors.bandwidthBytesPerS + npu.priors.bandwidthBytesPerS;
  const share = Math.min(
    1,
    priors.busBandwidthBytesPerS / (aloneBytesPerS + npu.priors.bandwidthBytesPerS * npu.priors.memoryEfficiency),
  );
  assert.ok(share < 1 && demand > priors.busBandwidthBytesPerS);
  assert.ok(Math.abs(cpu.bytesPerS / aloneBytesPerS - share) < 1e-9);
  cpu.hung = true;
  computeRates([cpu], priors.busBandwidthBytesPerS);
  assert.deepEqual([cpu.ratePerMs, cpu.dasi, cpu.bytesPerS], [0, 1, 0]);
});

Deno.test("unitPowerW() gates an idle gateable unit and adds switching and traffic power while busy", () => {
  const npu = unit("npu");
  assert.equal(unitPowerW(npu, 40), 0, "the NPU is power-gated when idle");
  const big = unit("cpu_big");
  const idle = unitPowerW(big, 40);
  assert.ok(idle > big.priors.idlePowerW, "idle + leakage");
  assert.ok(unitPowerW(big, 80) > idle, "leakage grows with temperature");
  big.active = { flops: 1e9, bytes: 1e6, precision: "fp32", remaining: 1 };
  computeRates([big], priors.busBandwidthBytesPerS);
  assert.ok(unitPowerW(big, 40) > idle + 1, "C V^2 f at the top OPP is watts");
});
