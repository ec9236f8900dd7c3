import assert from "node:assert/strict";
import { formatRknpuLoad, formatTimeInState, formatTransStat } from "../../src/sim/tree.ts";
import { readInt, readText, simBoard } from "./helpers.ts";

const view = {
  curHz: 400000000,
  minHz: 19200000,
  maxHz: 400000000,
  governor: "simple_ondemand",
  setspeedHz: undefined,
  timeInStateMs: [0, 925683],
  transitions: [[0, 2], [2, 0]],
  busy: 0,
  voltageV: 0.8,
};

Deno.test("formatTransStat() prints the devfreq table like the kernel (%10lu columns, * on the current row)", () => {
  assert.equal(
    formatTransStat([19200000, 400000000], view),
    [
      "     From  :   To",
      "           :  19200000 400000000   time(ms)",
      "   19200000:         0         2         0",
      "* 400000000:         2         0    925683",
      "Total transition : 4",
    ].join("\n"),
  );
});

Deno.test("formatTimeInState() prints kHz and USER_HZ ticks", () => {
  assert.equal(formatTimeInState([19200000, 400000000], view), "19200 0\n400000 92568");
});

Deno.test("formatRknpuLoad() prints each core with %2.d and the single-core variant without a core prefix", () => {
  assert.equal(formatRknpuLoad([0, 0, 0]), "NPU load:  Core0:  0%, Core1:  0%, Core2:  0%,");
  assert.equal(formatRknpuLoad([51, 8, 3]), "NPU load:  Core0: 51%, Core1:  8%, Core2:  3%,");
  assert.equal(formatRknpuLoad([100, 100, 100]), "NPU load:  Core0: 100%, Core1: 100%, Core2: 100%,");
  assert.equal(formatRknpuLoad([37]), "NPU load: 37%");
});

function link(root: string, rel: string): string {
  return Deno.readLinkSync(`${root}/${rel}`);
}

function hwmonByName(root: string): Map<string, string> {
  const byName = new Map<string, string>();
  for (const e of Deno.readDirSync(`${root}/sys/class/hwmon`)) {
    byName.set(readText(root, `sys/class/hwmon/${e.name}/name`), `sys/class/hwmon/${e.name}`);
  }
  return byName;
}

Deno.test("rk3588: vendor BSP zones, trips only on soc-thermal, cooling maps, cpufreq and devfreq as on a ROCK 5B", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 1 });
  const root = sim.root;
  const types = ["soc", "bigcore0", "bigcore1", "littlecore", "center", "gpu", "npu"].map((t) => `${t}-thermal`);
  types.forEach((type, i) => {
    assert.equal(readText(root, `sys/class/thermal/thermal_zone${i}/type`), type);
    assert.equal(link(root, `sys/class/thermal/thermal_zone${i}`), `../../devices/virtual/thermal/thermal_zone${i}`);
    assert.match(readText(root, `sys/class/thermal/thermal_zone${i}/temp`), /^\d{5}$/);
  });
  const soc = "sys/class/thermal/thermal_zone0";
  assert.deepEqual(
    [0, 1, 2].map((k) => [
      readInt(root, `${soc}/trip_point_${k}_temp`),
      readText(root, `${soc}/trip_point_${k}_type`),
      readInt(root, `${soc}/trip_point_${k}_hyst`),
    ]),
    [[75000, "passive", 2000], [85000, "passive", 2000], [115000, "critical", 2000]],
  );
  // The six other zones have no trips at all (boards.md 1.2).
  const zone1 = [...Deno.readDirSync(`${root}/sys/class/thermal/thermal_zone1`)].map((e) => e.name);
  assert.equal(zone1.some((n) => n.startsWith("trip_point")), false);
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((j) => readText(root, `sys/class/thermal/cooling_device${j}/type`)),
    ["cpufreq-cpu0", "cpufreq-cpu4", "cpufreq-cpu6", "devfreq-fb000000.gpu", "devfreq-dmc"],
  );
  assert.equal(readInt(root, "sys/class/thermal/cooling_device1/max_state"), 13);
  assert.equal(link(root, `${soc}/cdev1`), "../cooling_device1");
  assert.equal(readInt(root, `${soc}/cdev1_trip_point`), 1);

  const cpufreq = "sys/devices/system/cpu/cpufreq";
  assert.equal(readText(root, `${cpufreq}/policy0/affected_cpus`), "0 1 2 3");
  assert.equal(readText(root, `${cpufreq}/policy4/affected_cpus`), "4 5");
  assert.equal(readText(root, `${cpufreq}/policy6/related_cpus`), "6 7");
  assert.equal(
    readText(root, `${cpufreq}/policy0/scaling_available_frequencies`),
    "408000 600000 816000 1008000 1200000 1416000 1608000 1800000 ",
  );
  assert.equal(
    readText(root, `${cpufreq}/policy4/scaling_available_governors`),
    "conservative ondemand userspace powersave performance schedutil ",
  );
  assert.equal(readText(root, `${cpufreq}/policy4/scaling_governor`), "ondemand");
  assert.equal(readInt(root, `${cpufreq}/policy4/cpuinfo_max_freq`), 2400000);
  assert.equal(readText(root, `${cpufreq}/policy4/scaling_setspeed`), "<unsupported>");
  assert.equal(link(root, "sys/devices/system/cpu/cpu5/cpufreq"), "../cpufreq/policy4");
  assert.equal(Deno.statSync(`${root}/${cpufreq}/policy4/cpuinfo_cur_freq`).mode! & 0o777, 0o400);

  assert.equal(
    link(root, "sys/class/devfreq/fb000000.gpu"),
    "../../devices/platform/fb000000.gpu/devfreq/fb000000.gpu",
  );
  const gpu = "sys/class/devfreq/fb000000.gpu";
  assert.equal(readText(root, `${gpu}/governor`), "simple_ondemand");
  assert.equal(
    readText(root, `${gpu}/available_frequencies`),
    "300000000 400000000 500000000 600000000 700000000 800000000 900000000 1000000000",
  );
  assert.match(readText(root, `${gpu}/load`), /^0@300000000Hz$/);
  assert.equal(readText(root, "sys/class/devfreq/fdab0000.npu/governor"), "rknpu_ondemand");
  assert.equal(readText(root, "sys/class/devfreq/dmc/upthreshold"), "25");
  assert.equal(readText(root, "sys/kernel/debug/rknpu/load"), "NPU load:  Core0:  0%, Core1:  0%, Core2:  0%,");
  assert.equal(readText(root, "sys/kernel/debug/rknpu/version"), "RKNPU driver: v0.9.8");
  assert.equal(readText(root, "sys/class/misc/mali0/gpuinfo"), "Mali-G610 4 cores r0p0 0x0A080607");

  const hwmon = hwmonByName(root);
  for (const name of ["soc_thermal", "bigcore0_thermal", "npu_thermal", "qeil_sim"]) assert.ok(hwmon.has(name), name);
  assert.equal(readText(root, `${hwmon.get("soc_thermal")}/temp1_input`), readText(root, `${soc}/temp`));
  const sim_ = hwmon.get("qeil_sim")!;
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((k) => readText(root, `${sim_}/power${k}_label`)),
    ["cpu_big", "cpu_little", "gpu", "npu", "total"],
  );
  const units = [1, 2, 3, 4].reduce((s, k) => s + readInt(root, `${sim_}/power${k}_input`), 0);
  assert.ok(readInt(root, `${sim_}/power5_input`) > units, "the total includes the rest of the board");
  // Cumulative energy counters (µJ) next to each power channel, in a 32-bit register.
  for (const k of [1, 2, 3, 4, 5]) {
    const microJ = readInt(root, `${sim_}/energy${k}_input`);
    assert.ok(microJ >= 0 && microJ < 2 ** 32, `energy${k}_input ${microJ}`);
  }

  assert.equal(Deno.readTextFileSync(`${root}/proc/device-tree/compatible`), "radxa,rock-5b\0rockchip,rk3588\0");
  assert.equal(Deno.readTextFileSync(`${root}/sys/firmware/devicetree/base/model`), "Radxa ROCK 5B\0");
  const meminfo = readText(root, "proc/meminfo").split("\n");
  assert.match(meminfo[0], /^MemTotal: {8}\d{7} kB$/);
  assert.match(meminfo[2], /^MemAvailable: {4}\d{7} kB$/);
  assert.match(readText(root, "proc/stat"), /^cpu {2}\d+ 0 0 \d+ 0 0 0 0 0 0\ncpu0 /);
});

Deno.test("jetson-orin-nano: JetPack 6 zones with unreadable cv*, tj the hottest, INA3221 in mV and mA on its LSB grid", async () => {
  await using sim = await simBoard({ profileId: "jetson-orin-nano", seed: 2 });
  const root = sim.root;
  const types = ["cpu", "gpu", "cv0", "cv1", "cv2", "soc0", "soc1", "soc2", "tj"].map((t) => `${t}-thermal`);
  types.forEach((type, i) => assert.equal(readText(root, `sys/class/thermal/thermal_zone${i}/type`), type));
  for (const i of [2, 3, 4]) {
    const temp = `${root}/sys/class/thermal/thermal_zone${i}/temp`;
    assert.equal(Deno.statSync(temp).size, 0);
    assert.equal(Deno.statSync(temp).mode! & 0o777, 0);
  }
  const readable = [0, 1, 5, 6, 7].map((i) => readInt(root, `sys/class/thermal/thermal_zone${i}/temp`));
  assert.equal(readInt(root, "sys/class/thermal/thermal_zone8/temp"), Math.max(...readable));
  assert.equal(readInt(root, "sys/class/thermal/thermal_zone0/trip_point_0_temp"), 99000);
  assert.equal(readInt(root, "sys/class/thermal/thermal_zone0/trip_point_1_temp"), 104500);
  assert.equal(readText(root, "sys/class/thermal/thermal_zone8/trip_point_0_type"), "critical");

  const ina = "sys/bus/i2c/drivers/ina3221/1-0040";
  assert.equal(link(root, "sys/bus/i2c/devices/1-0040"), "../../../devices/platform/bus@0/c240000.i2c/i2c-1/1-0040");
  const hwmonDir = [...Deno.readDirSync(`${root}/${ina}/hwmon`)][0].name;
  const h = `${ina}/hwmon/${hwmonDir}`;
  assert.equal(readText(root, `${h}/name`), "ina3221");
  assert.deepEqual([1, 2, 3].map((k) => readText(root, `${h}/in${k}_label`)), ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]);
  assert.equal(readText(root, `${h}/in7_label`), "sum of shunt voltages");
  for (const k of [1, 2, 3]) {
    const mV = readInt(root, `${h}/in${k}_input`);
    const mA = readInt(root, `${h}/curr${k}_input`);
    assert.ok(mV > 4900 && mV < 5200, `in${k}_input ${mV} mV`);
    assert.equal(mV % 8, 0, "bus voltage LSB 8 mV");
    assert.equal(mA % 8, 0, "current LSB 40 µV / 5 mΩ = 8 mA");
    assert.equal(readInt(root, `${h}/in${k + 3}_input`), Math.round(mA * 5000 / 1000), "shunt voltage in µV");
    assert.equal(readInt(root, `${h}/shunt${k}_resistor`), 5000);
  }
  assert.equal(Deno.statSync(`${root}/${h}`).isDirectory, true);
  assert.equal([...Deno.readDirSync(`${root}/${h}`)].some((e) => e.name.startsWith("power")), false, "no power file");
  assert.equal([...Deno.readDirSync(`${root}/${h}`)].some((e) => e.name.startsWith("energy")), false, "no counter");

  const gpu = "sys/class/devfreq/17000000.gpu";
  assert.equal(link(root, gpu), "../../devices/platform/bus@0/17000000.gpu/devfreq/17000000.gpu");
  assert.equal(readText(root, `${gpu}/governor`), "nvhost_podgov");
  assert.equal(readInt(root, `${gpu}/device/load`), 0);
  assert.equal(Deno.readTextFileSync(`${root}/${gpu}/device/of_node/name`), "gpu\0");
  const [run] = await sim.execute([{ unitId: "gpu", flops: 1e11, bytes: 1e8, precision: "fp16" }]);
  await sim.advance(100);
  assert.ok(run.durationMs > 0);
  assert.equal(readText(root, "sys/devices/platform/gpu.0/load"), readText(root, `${gpu}/device/load`));
  assert.equal(readText(root, "sys/devices/system/cpu/cpufreq/policy4/affected_cpus"), "4 5");
  assert.equal(
    Deno.readTextFileSync(`${root}/proc/device-tree/compatible`),
    "nvidia,p3768-0000+p3767-0005\0nvidia,p3767-0005\0nvidia,tegra234\0",
  );
});

Deno.test("raspberry-pi-5: one zone with fan trips drives pwm-fan, hwmon chips as on a real Pi 5", async () => {
  await using sim = await simBoard({ profileId: "raspberry-pi-5", seed: 3, stepMs: 1000 });
  const root = sim.root;
  const zone = "sys/class/thermal/thermal_zone0";
  assert.equal(readText(root, `${zone}/type`), "cpu-thermal");
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((k) =>
      `${readInt(root, `${zone}/trip_point_${k}_temp`)} ${readText(root, `${zone}/trip_point_${k}_type`)}`
    ),
    ["110000 critical", "50000 active", "60000 active", "67500 active", "75000 active"],
  );
  assert.equal(readText(root, "sys/class/thermal/cooling_device0/type"), "pwm-fan");
  assert.equal(readInt(root, "sys/class/thermal/cooling_device0/max_state"), 4);
  const names = [0, 1, 2, 3, 4].map((i) => readText(root, `sys/class/hwmon/hwmon${i}/name`));
  assert.deepEqual(names, ["cpu_thermal", "rp1_adc", "pwmfan", "rpi_volt", "qeil_sim"]);
  assert.equal(readInt(root, "sys/class/hwmon/hwmon0/temp1_crit"), 110000);
  assert.equal(readInt(root, "sys/class/hwmon/hwmon2/pwm1"), 0);
  // A hot room crosses the fan trips; the fan spins up and lowers the temperature it settles at.
  sim.inject({ kind: "ambient-step", deltaC: 40 });
  await sim.advance(300_000);
  assert.ok(readInt(root, "sys/class/thermal/cooling_device0/cur_state") >= 1);
  assert.ok(readInt(root, "sys/class/hwmon/hwmon2/pwm1") > 0);
  assert.ok(readInt(root, "sys/class/hwmon/hwmon2/fan1_input") > 0);
  const ambientC = sim.truthForTests().ambientC;
  assert.ok(readInt(root, `${zone}/temp`) / 1000 < ambientC + 5, "the fan keeps the SoC near the air temperature");
  assert.match(
    readText(root, "sys/devices/platform/axi/1002000000.v3d/gpu_stats"),
    /^queue timestamp jobs runtime\nbin \d+ 0 0/,
  );
});

Deno.test("raspberry-pi-5: the firmware floors the clock at 1.5 GHz whatever cpufreq says", async () => {
  await using sim = await simBoard({ profileId: "raspberry-pi-5", seed: 3 });
  const root = sim.root;
  const policy = "sys/devices/system/cpu/cpufreq/policy0";
  const work = { unitId: "cpu", flops: 2e9, bytes: 1e5, precision: "fp32" } as const;
  Deno.writeTextFileSync(`${root}/${policy}/scaling_governor`, "powersave");
  const [slow] = await sim.execute([work]);
  assert.equal(readInt(root, `${policy}/scaling_cur_freq`), 1000000);
  Deno.writeTextFileSync(`${root}/${policy}/scaling_governor`, "performance");
  const [fast] = await sim.execute([work]);
  assert.ok(Math.abs(slow.durationMs / fast.durationMs - 2.4 / 1.5) < 1e-6, "runs at 1.5 GHz, not 1.0");
});

Deno.test("imx8mp: two TMU zones in whole degrees, one cpufreq cooling device, the NPU in galcore's load", async () => {
  await using sim = await simBoard({ profileId: "imx8mp", seed: 4, stepMs: 1000 });
  const root = sim.root;
  for (const [i, type] of ["cpu-thermal", "soc-thermal"].entries()) {
    const zone = `sys/class/thermal/thermal_zone${i}`;
    assert.equal(readText(root, `${zone}/type`), type);
    assert.equal(readInt(root, `${zone}/temp`) % 1000, 0);
    assert.equal(readInt(root, `${zone}/trip_point_0_temp`), 85000);
    assert.equal(readText(root, `${zone}/trip_point_0_type`), "passive");
    assert.equal(link(root, `${zone}/cdev0`), "../cooling_device0");
  }
  assert.equal(readText(root, "sys/class/thermal/cooling_device0/type"), "cpufreq-cpu0");
  assert.equal(
    readText(root, "sys/devices/system/cpu/cpufreq/policy0/scaling_available_frequencies"),
    "1200000 1600000 1800000 ",
  );
  assert.throws(() => Deno.statSync(`${root}/sys/class/devfreq`), Deno.errors.NotFound);
  const [npu] = await sim.execute([{ unitId: "npu", flops: 2e11, bytes: 1e7, precision: "int8" }]);
  assert.ok(npu.durationMs < 1000);
  await sim.advance(1000 - npu.durationMs);
  const percent = Math.round(npu.durationMs / 10);
  assert.equal(
    readText(root, "sys/kernel/debug/gc/load"),
    `core      : 0\nload      : 0%\n\ncore      : 1\nload      : ${percent}%\n`,
  );
  assert.match(
    readText(root, "sys/kernel/debug/gc/idle"),
    /^On: +[\d,]+ ns\nOff: +0 ns\nIdle: +[\d,]+ ns\nSuspend: +0 ns$/,
  );
  const names = [...hwmonByName(root).keys()].sort();
  assert.deepEqual(names, ["cpu_thermal", "qeil_sim", "soc_thermal"]);
});
