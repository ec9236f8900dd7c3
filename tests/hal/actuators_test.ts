import assert from "node:assert/strict";
import { ActuatorError } from "../../src/core/mod.ts";
import { createActuators, discoverBoard } from "../../src/hal/mod.ts";
import { mkfifo, tempFixture } from "./helpers.ts";

const CPUFREQ = "sys/devices/system/cpu/cpufreq";
const GPU = "sys/devices/platform/fb000000.gpu/devfreq/fb000000.gpu";

async function read(root: string, rel: string): Promise<string> {
  return (await Deno.readTextFile(`${root}/${rel}`)).trim();
}

/**
 * Replaces a knob file with a FIFO behind which the test plays the kernel:
 * it takes the actuator's write, then serves each of `readBacks` to one read,
 * in order (a FIFO open blocks until both ends are there, so every read the
 * actuator makes must be served, and no more).
 */
/** A step of the kernel's side: a knob read-back, or the cooling device's state. */
type KernelStep = { knob: string } | { cooling: string };

/**
 * Replaces the knob (and, when a step serves it, the cooling device's cur_state) with a FIFO and plays the
 * kernel: takes the actuator's write, then serves each step's value to the actuator's next read of that file,
 * in order. Steps must alternate between the two files: each FIFO write waits for the actuator to open the
 * file, so a step is served only after the actuator finished the read before it (two values in a row on one
 * FIFO could reach a single read).
 */
async function kernelKnob(
  path: string,
  steps: KernelStep[],
  coolingPath?: string,
): Promise<{ written: Promise<string> }> {
  steps.forEach((step, i) => {
    const file = (x: KernelStep) => ("knob" in x ? "knob" : "cooling");
    if (i > 0 && file(steps[i - 1]) === file(step)) throw new Error(`kernelKnob: steps ${i - 1} and ${i} share a FIFO`);
    if ("cooling" in step && coolingPath === undefined) throw new Error("kernelKnob: a cooling step needs its path");
  });
  await Deno.remove(path);
  await mkfifo(path);
  if (coolingPath !== undefined) {
    await Deno.remove(coolingPath);
    await mkfifo(coolingPath);
  }
  // Wrapped in an object: an async function returning a bare promise would wait for it.
  const written = (async () => {
    const text = await Deno.readTextFile(path);
    for (const step of steps) {
      const [file, value] = "knob" in step ? [path, step.knob] : [coolingPath!, step.cooling];
      await Deno.writeTextFile(file, `${value}\n`, { create: false });
    }
    return text.trim();
  })();
  return { written };
}

/** Puts a plain knob file back where a FIFO was (disposing the actuators reads it to restore the unit). */
async function plainKnob(path: string, value: string): Promise<void> {
  await Deno.remove(path);
  await Deno.writeTextFile(path, `${value}\n`);
}

Deno.test("setGovernor() and setMaxFreq() write every policy of a unit in kernel units and read back", async () => {
  await using tree = await tempFixture("rk3588");
  const board = await discoverBoard(tree.root);
  await using act = createActuators(board);
  const gov = await act.setGovernor("cpu_big", "performance");
  assert.deepEqual(gov.writes.map((w) => [w.path.slice(tree.root.length), w.value, w.readBack]), [
    [`/${CPUFREQ}/policy4/scaling_governor`, "performance", "performance"],
    [`/${CPUFREQ}/policy6/scaling_governor`, "performance", "performance"],
  ]);
  const max = await act.setMaxFreq("cpu_big", 1.8e9);
  assert.deepEqual(max.writes.map((w) => [w.path.slice(tree.root.length), w.value]), [
    [`/${CPUFREQ}/policy4/scaling_max_freq`, "1800000"],
    [`/${CPUFREQ}/policy6/scaling_max_freq`, "1800000"],
  ]);
  assert.equal(await read(tree.root, `${CPUFREQ}/policy0/scaling_max_freq`), "1800000", "little cluster untouched");
  const s = await board.read();
  assert.deepEqual(s.units.cpu_big.maxFreqHz, { ok: true, value: 1.8e9 });
  await act.setMaxFreq("gpu", 800e6);
  assert.equal(await read(tree.root, `${GPU}/max_freq`), "800000000", "devfreq takes Hz");
  await act.setMinFreq("gpu", 500e6);
  assert.equal(await read(tree.root, `${GPU}/min_freq`), "500000000");
  assert.deepEqual(act.history.map((r) => [r.unitId, r.action, r.value, r.dryRun]), [
    ["cpu_big", "setGovernor", "performance", false],
    ["cpu_big", "setMaxFreq", 1.8e9, false],
    ["gpu", "setMaxFreq", 800e6, false],
    ["gpu", "setMinFreq", 500e6, false],
  ]);
});

Deno.test("actuators refuse values outside what sysfs offers, naming the allowed ones, and write nothing", async () => {
  await using tree = await tempFixture("rk3588");
  const board = await discoverBoard(tree.root);
  await using act = createActuators(board);
  await assert.rejects(act.setMaxFreq("gpu", 750e6), (e: unknown) => {
    assert.ok(e instanceof RangeError);
    assert.match(
      e.message,
      /^750000000 Hz is not an available frequency of gpu \(.*fb000000\.gpu\); available Hz: 300000000, 400000000,/,
    );
    return true;
  });
  await assert.rejects(
    act.setGovernor("npu", "turbo"),
    /governor "turbo" is not available for npu .*available: rknpu_ondemand, dmc_ondemand, userspace/,
  );
  await assert.rejects(act.pinFrequency("tpu", 1e9), /unknown unit "tpu"; units: cpu_big, cpu_little, gpu, npu/);
  await assert.rejects(act.setMinFreq("cpu_little", Number.NaN), /must be a positive number of Hz/);
  await act.setMaxFreq("cpu_little", 408e6);
  await assert.rejects(
    act.setMinFreq("cpu_little", 600e6),
    /cannot set the minimum of cpu_little to 600 MHz: above its maximum 408 MHz/,
  );
  await act.setMinFreq("gpu", 500e6);
  await assert.rejects(
    act.setMaxFreq("gpu", 400e6),
    /cannot set the maximum of gpu to 400 MHz: below its minimum 500 MHz/,
  );
  assert.equal(await read(tree.root, `${GPU}/governor`), "simple_ondemand");
  assert.equal(await read(tree.root, `${GPU}/max_freq`), "1000000000");
  assert.equal(await read(tree.root, `${CPUFREQ}/policy0/scaling_min_freq`), "408000");
  assert.deepEqual(act.history.map((r) => r.action), ["setMaxFreq", "setMinFreq"], "refused calls leave no record");
});

Deno.test("pinFrequency() sets min = max without ever crossing them, and release() restores discovery", async () => {
  await using tree = await tempFixture("rk3588");
  const board = await discoverBoard(tree.root);
  await using act = createActuators(board);
  const down = await act.pinFrequency("gpu", 600e6);
  assert.deepEqual(down.writes.map((w) => [w.path.split("/").at(-1), w.value]), [
    ["min_freq", "600000000"],
    ["max_freq", "600000000"],
  ]);
  const up = await act.pinFrequency("gpu", 900e6);
  assert.deepEqual(up.writes.map((w) => [w.path.split("/").at(-1), w.value]), [
    ["max_freq", "900000000"],
    ["min_freq", "900000000"],
  ]);
  await act.setGovernor("gpu", "performance");
  const released = await act.release("gpu");
  assert.deepEqual(released.writes.map((w) => [w.path.split("/").at(-1), w.value]), [
    ["governor", "simple_ondemand"],
    ["min_freq", "300000000"],
    ["max_freq", "1000000000"],
  ]);
  assert.deepEqual(
    [
      await read(tree.root, `${GPU}/governor`),
      await read(tree.root, `${GPU}/min_freq`),
      await read(tree.root, `${GPU}/max_freq`),
    ],
    ["simple_ondemand", "300000000", "1000000000"],
  );
});

Deno.test("setSpeed() needs the userspace governor and writes the set point", async () => {
  await using tree = await tempFixture("rk3588");
  const board = await discoverBoard(tree.root);
  await using act = createActuators(board);
  await assert.rejects(act.setSpeed("cpu_little", 1.2e9), (e: unknown) => {
    assert.ok(e instanceof ActuatorError);
    assert.match(e.message, /needs the userspace governor, but .*policy0\/scaling_governor is "ondemand"/);
    return true;
  });
  await act.setGovernor("cpu_little", "userspace");
  await act.setSpeed("cpu_little", 1.2e9);
  assert.equal(await read(tree.root, `${CPUFREQ}/policy0/scaling_setspeed`), "1200000");
  // devfreq creates userspace/set_freq when the governor switches; a plain tree has no such file.
  await act.setGovernor("gpu", "userspace");
  await assert.rejects(
    act.setSpeed("gpu", 400e6),
    /failed to write "400000000" to .*userspace\/set_freq: missing file/,
  );
  await Deno.mkdir(`${tree.root}/${GPU}/userspace`);
  await Deno.writeTextFile(`${tree.root}/${GPU}/userspace/set_freq`, "undefined\n");
  await act.setSpeed("gpu", 400e6);
  assert.equal(await read(tree.root, `${GPU}/userspace/set_freq`), "400000000");
});

Deno.test("a write that does not read back is an ActuatorError naming path, requested and read-back values", async () => {
  await using tree = await tempFixture("rk3588");
  const board = await discoverBoard(tree.root);
  await using act = createActuators(board);
  const path = `${tree.root}/${CPUFREQ}/policy0/scaling_max_freq`;
  // The cooling device is idle, so the lower value is read once more before it counts as a mismatch.
  const cooling = `${tree.root}/sys/devices/virtual/thermal/cooling_device0/cur_state`;
  const kernel = await kernelKnob(
    path,
    [{ knob: "1008000" }, { cooling: "0" }, { knob: "1008000" }, { cooling: "0" }],
    cooling,
  );
  await assert.rejects(act.setMaxFreq("cpu_little", 1.2e9), (e: unknown) => {
    assert.ok(e instanceof ActuatorError);
    assert.equal(e.code, "Actuator");
    assert.equal(e.message, `wrote "1200000" to ${path} but it reads back "1008000"`);
    assert.deepEqual(e.details, { path, requested: "1200000", readBack: "1008000" });
    return true;
  });
  assert.equal(await kernel.written, "1200000");
  await plainKnob(cooling, "0");
  await plainKnob(path, "1008000");
});

Deno.test("a lower read-back is accepted as the kernel's thermal cap when the knob's cooling device is active", async () => {
  await using tree = await tempFixture("rk3588");
  const board = await discoverBoard(tree.root);
  await using act = createActuators(board);
  await Deno.writeTextFile(`${tree.root}/sys/devices/virtual/thermal/cooling_device0/cur_state`, "2\n");
  const path = `${tree.root}/${CPUFREQ}/policy0/scaling_max_freq`;
  const kernel = await kernelKnob(path, [{ knob: "1416000" }]);
  const record = await act.setMaxFreq("cpu_little", 1.608e9);
  assert.deepEqual(record.writes, [{ path, value: "1608000", readBack: "1416000", cappedByThermal: true }]);
  assert.equal(await kernel.written, "1608000");
  await plainKnob(path, "1416000");
});

Deno.test("a cap released between the read-back and the cooling-state read is no mismatch: the knob is read again", async () => {
  await using tree = await tempFixture("rk3588");
  const board = await discoverBoard(tree.root);
  await using act = createActuators(board);
  // The kernel showed the capped value, then released the cap (cooling state 0) before the HAL looked.
  const cooling = `${tree.root}/sys/devices/virtual/thermal/cooling_device0/cur_state`;
  const path = `${tree.root}/${CPUFREQ}/policy0/scaling_max_freq`;
  const kernel = await kernelKnob(path, [{ knob: "1416000" }, { cooling: "0" }, { knob: "1608000" }], cooling);
  const record = await act.setMaxFreq("cpu_little", 1.608e9);
  assert.deepEqual(record.writes, [{ path, value: "1608000", readBack: "1608000" }]);
  assert.equal(await kernel.written, "1608000");
  await plainKnob(cooling, "0");
  await plainKnob(path, "1608000");
});

Deno.test("writes to one device are serialised while other devices proceed", async () => {
  await using tree = await tempFixture("rk3588");
  const board = await discoverBoard(tree.root);
  await using act = createActuators(board);
  const maxPath = `${tree.root}/${CPUFREQ}/policy0/scaling_max_freq`;
  await Deno.remove(maxPath);
  await mkfifo(maxPath);
  // The first call blocks inside its write until the test (the kernel) takes it.
  const first = act.setMaxFreq("cpu_little", 1.608e9);
  const second = act.setMinFreq("cpu_little", 600e6);
  // Another device is not held up by the blocked one.
  await act.setMaxFreq("gpu", 900e6);
  for (let i = 0; i < 5; i++) await Deno.stat(tree.root);
  assert.equal(await read(tree.root, `${CPUFREQ}/policy0/scaling_min_freq`), "408000", "second waits for first");
  const written = await Deno.readTextFile(maxPath);
  await Deno.writeTextFile(maxPath, written, { create: false }); // the first call's read-back
  await first;
  await Deno.writeTextFile(maxPath, written, { create: false }); // the second call checks min <= max
  await second;
  assert.equal(written.trim(), "1608000");
  await plainKnob(maxPath, "1608000");
  assert.equal(await read(tree.root, `${CPUFREQ}/policy0/scaling_min_freq`), "600000");
});

Deno.test("read-only actuators validate and record intents but never write", async () => {
  await using tree = await tempFixture("rk3588");
  const board = await discoverBoard(tree.root);
  const act = createActuators(board, { readOnly: true });
  const before = await read(tree.root, `${CPUFREQ}/policy4/scaling_max_freq`);
  const record = await act.setMaxFreq("cpu_big", 2.016e9);
  await act.pinFrequency("npu", 800e6);
  assert.equal(record.dryRun, true);
  assert.deepEqual(record.writes.map((w) => [w.path.split("/").slice(-2).join("/"), w.value, w.readBack]), [
    ["policy4/scaling_max_freq", "2016000", undefined],
    ["policy6/scaling_max_freq", "2016000", undefined],
  ]);
  assert.equal(await read(tree.root, `${CPUFREQ}/policy4/scaling_max_freq`), before);
  assert.equal(await read(tree.root, "sys/devices/platform/fdab0000.npu/devfreq/fdab0000.npu/min_freq"), "300000000");
  assert.deepEqual(act.history.map((r) => [r.action, r.dryRun]), [["setMaxFreq", true], ["pinFrequency", true]]);
  await assert.rejects(act.setMaxFreq("cpu_big", 2.5e9), RangeError);
});

Deno.test("one writer per board: a second writer is refused until the first is disposed, which restores", async () => {
  await using tree = await tempFixture("rk3588");
  const board = await discoverBoard(tree.root);
  {
    await using first = createActuators(board);
    assert.throws(() => createActuators(board), (e: unknown) => {
      assert.ok(e instanceof ActuatorError);
      assert.match(e.message, /already have a writer \(one writer per actuator\)/);
      return true;
    });
    createActuators(board, { readOnly: true }); // observers are fine
    await first.setGovernor("gpu", "performance");
    await first.pinFrequency("gpu", 700e6);
  }
  assert.equal(await read(tree.root, `${GPU}/governor`), "simple_ondemand", "dispose released gpu");
  assert.equal(await read(tree.root, `${GPU}/max_freq`), "1000000000");
  const second = createActuators(board);
  await second[Symbol.asyncDispose]();
});

Deno.test("a unit without a DVFS knob is an ActuatorError that says why", async () => {
  await using tree = await tempFixture("imx8mp");
  const board = await discoverBoard(tree.root);
  await using act = createActuators(board);
  await assert.rejects(act.setMaxFreq("npu", 1e9), (e: unknown) => {
    assert.ok(e instanceof ActuatorError);
    assert.equal(e.message, "unit npu has no DVFS knob: the galcore NPU clock has no devfreq on i.MX 8M Plus");
    return true;
  });
});
