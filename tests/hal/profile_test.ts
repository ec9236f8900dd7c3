import assert from "node:assert/strict";
import { getProfile, SIM_POWER_CHIP, simulatedRails } from "../../src/hal/mod.ts";

Deno.test("simulatedRails() gives one unit rail per unit and a total input rail on the qeil_sim chip", () => {
  const rails = simulatedRails(["cpu", "npu"], "no sensor");
  assert.equal(SIM_POWER_CHIP, "qeil_sim");
  assert.deepEqual(rails.map((r) => [r.name, r.label, r.role, r.unitId, r.format, r.simulatedOnly]), [
    ["cpu", "cpu", "unit", "cpu", "power", true],
    ["npu", "npu", "unit", "npu", "power", true],
    ["board_total", "total", "input", undefined, "power", true],
  ]);
  assert.ok(rails.every((r) => r.chips.length === 1 && r.chips[0] === "qeil_sim" && r.note.endsWith("no sensor")));
});

Deno.test("only boards without rail sensors carry simulated-only rails", () => {
  const simulated = (id: string) => getProfile(id).rails.filter((r) => r.simulatedOnly).map((r) => r.name);
  assert.deepEqual(simulated("rk3588"), ["cpu_big", "cpu_little", "gpu", "npu", "board_total"]);
  assert.deepEqual(simulated("raspberry-pi-5"), ["cpu", "board_total"]);
  assert.deepEqual(simulated("imx8mp"), ["cpu", "npu", "board_total"]);
  assert.deepEqual(simulated("jetson-orin-nano"), [], "the Orin Nano has a real INA3221");
  assert.deepEqual(simulated("generic"), []);
});
