import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import { getLayout } from "../../src/sim/layout.ts";
import { powerReadings } from "../../src/sim/sensors.ts";

const jetson = getLayout("jetson-orin-nano").power;
const noiseless = () => 0;

Deno.test("powerReadings() reports INA3221 channels in mV and mA on the chip's LSB grid", () => {
  const [vin, cpuGpu, soc] = powerReadings(jetson, [], (id) => (id === "cpu" ? 3 : 5), 2, noiseless) as {
    mV: number;
    mA: number;
  }[];
  assert.equal(vin.mV % 8, 0);
  assert.equal(vin.mA % 8, 0);
  assert.ok(Math.abs(vin.mV * vin.mA / 1e6 - 10) < 0.05, "VDD_IN carries units + the rest of the board");
  assert.ok(Math.abs(cpuGpu.mV * cpuGpu.mA / 1e6 - 8) < 0.05);
  assert.ok(Math.abs(soc.mV * soc.mA / 1e6 - 0.9) < 0.05, "VDD_SOC carries 45% of the base");
});

Deno.test("powerReadings() noise and quantisation average out to the true power", () => {
  const rng = createRng(3);
  const gauss = (sigma: number) => sigma * rng.normal();
  let sumW = 0;
  const n = 4000;
  for (let i = 0; i < n; i++) {
    const [vin] = powerReadings(jetson, [], () => 1.234, 0.5, gauss) as { mV: number; mA: number }[];
    sumW += vin.mV * vin.mA / 1e6;
  }
  assert.ok(Math.abs(sumW / n - 2.968) / 2.968 < 0.003, `mean ${sumW / n} W`);
  const channels = [{ label: "total", units: ["npu"], baseShare: 1, files: { powerMicroW: "x" } }];
  const [total] = powerReadings({ kind: "sim-hwmon" }, channels, () => 1.5, 0.25, noiseless) as { microW: number }[];
  assert.equal(total.microW, 1_750_000);
});
