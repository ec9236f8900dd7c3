import assert from "node:assert/strict";
import { FrequencyDomain, snapFrequency } from "../../src/sim/dvfs.ts";
import type { CpufreqSpec, DevfreqSpec } from "../../src/sim/layout.ts";
import { TreeWriter } from "../../src/sim/writer.ts";
import { tempRoot } from "./helpers.ts";

const TABLE = [408e6, 816e6, 1200e6, 1800e6];
const cpufreq: CpufreqSpec = {
  kind: "cpufreq",
  name: "policy0",
  unitId: "cpu",
  cpus: [0, 1],
  governor: "ondemand",
  governors: ["ondemand", "userspace", "powersave", "performance"],
  driver: "cpufreq-dt",
  transitionLatencyNs: 1,
};
const devfreq: DevfreqSpec = {
  kind: "devfreq",
  name: "gpu",
  devicePath: "platform/gpu",
  unitId: "gpu",
  governor: "simple_ondemand",
  governors: ["simple_ondemand", "userspace", "performance"],
  pollingIntervalMs: 50,
};
const identity = (hz: number) => hz;

Deno.test("snapFrequency() picks the highest table entry at or below the target and not below min", () => {
  assert.equal(snapFrequency(TABLE, 1000e6, 408e6), 816e6);
  assert.equal(snapFrequency(TABLE, 1800e6, 408e6), 1800e6);
  assert.equal(snapFrequency(TABLE, 100e6, 408e6), 408e6);
  assert.equal(snapFrequency(TABLE, 900e6, 850e6), 816e6, "no entry in [min, target]: highest below the target");
});

Deno.test("FrequencyDomain.resolve() follows the governor, the caps and the busy state", () => {
  const d = new FrequencyDomain(0, cpufreq, TABLE);
  d.resolve(true, identity);
  assert.equal(d.curHz, 1800e6, "load-based governor while busy: max");
  d.resolve(false, identity);
  assert.equal(d.curHz, 408e6, "idle: min");
  d.coolCapHz = 1200e6;
  d.resolve(true, identity);
  assert.equal(d.curHz, 1200e6);
  assert.equal(d.knobView().maxHz, 1200e6, "the cap shows in max");
  d.governor = "powersave";
  d.resolve(true, identity);
  assert.equal(d.curHz, 408e6);
  d.governor = "userspace";
  d.setspeedHz = 816e6;
  d.resolve(false, (hz) => Math.max(hz, 1000e6));
  assert.deepEqual([d.curHz, d.trueHz], [816e6, 1000e6], "silicon may differ from the kernel's clock");
  assert.equal(d.transitions.flat().reduce((a, b) => a + b, 0), 5);
  d.accumulate(100, true);
  assert.equal(d.timeInStateMs[1], 100);
  assert.equal(d.stepBusyMs, 100);
});

Deno.test("FrequencyDomain.takeKnobs() takes valid foreign writes and drops what the kernel would refuse", async () => {
  const root = await tempRoot();
  try {
    const w = new TreeWriter(root);
    const knobs = { governor: "g", min: "min", max: "max", setspeed: "set", scale: 1e-3 };
    const d = new FrequencyDomain(0, cpufreq, TABLE);
    w.write("g", "ondemand");
    w.write("min", "408000");
    w.write("max", "1800000");
    d.takeKnobs(w, knobs, true, 0);
    assert.deepEqual([d.governor, d.userMinHz, d.userMaxHz], ["ondemand", 408e6, 1800e6], "own writes change nothing");
    Deno.writeTextFileSync(`${root}/g`, "performance");
    Deno.writeTextFileSync(`${root}/max`, "1000000");
    Deno.writeTextFileSync(`${root}/min`, "99999999");
    d.takeKnobs(w, knobs, false, 0);
    assert.deepEqual([d.governor, d.userMaxHz, d.userMinHz], ["performance", 1000e6, 1800e6]);
    assert.equal(d.minHz, 1000e6, "min never exceeds the effective max");
    Deno.writeTextFileSync(`${root}/g`, "warp");
    Deno.writeTextFileSync(`${root}/max`, "-5");
    d.takeKnobs(w, knobs, false, 0);
    assert.deepEqual([d.governor, d.userMaxHz], ["performance", 1000e6]);
    d.curHz = 816e6;
    Deno.writeTextFileSync(`${root}/g`, "userspace");
    d.takeKnobs(w, knobs, false, 0);
    assert.equal(d.setspeedHz, 816e6, "userspace starts at the current clock");
    assert.equal(d.knobView().setspeedHz, 816e6);
    const gpu = new FrequencyDomain(1, devfreq, [300e6, 600e6]);
    gpu.governor = "userspace";
    assert.equal(gpu.knobView().setspeedHz, null, "devfreq userspace has no set point until written");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("FrequencyDomain.takeKnobs() takes a write of the capped value as the request, and waits a step before calling an empty file a refused write", async () => {
  const root = await tempRoot();
  const w = new TreeWriter(root);
  try {
    const knobs = { governor: "g", min: "min", max: "max", setspeed: "set", scale: 1e-3 };
    const d = new FrequencyDomain(0, cpufreq, TABLE);
    d.coolCapHz = 1200e6;
    for (const [rel, text] of [["g", "ondemand"], ["min", "408000"], ["max", "1200000"], ["set", "<unsupported>"]]) {
      w.replaceKnob(rel, text);
    }
    d.markKnobsShown();
    assert.equal(d.knobsUnshown(), false);
    // Someone asks for exactly what the capped file shows: that is the request now, and it outlives the cap.
    Deno.writeTextFileSync(`${root}/max`, "1200000\n");
    d.takeKnobs(w, knobs, true, 1);
    assert.equal(d.userMaxHz, 1200e6);
    assert.equal(d.knobsTouched, true);
    d.coolCapHz = Number.POSITIVE_INFINITY;
    assert.equal(d.maxHz, 1200e6);
    d.markKnobsShown();
    // An empty file is a write under way (its open truncated it) until a later step finds it still empty.
    Deno.writeTextFileSync(`${root}/min`, "");
    d.takeKnobs(w, knobs, true, 2);
    d.takeKnobs(w, knobs, true, 2);
    assert.equal(d.knobsTouched, false, "left alone within the step");
    assert.ok(w.shows("min", "408000"));
    d.takeKnobs(w, knobs, true, 3);
    assert.equal(d.knobsTouched, true, "refused at a later step: the file must show the limit again");
    assert.equal(w.readKnob("min")?.foreign, false, "the empty file is known now");
    assert.equal(d.userMinHz, 408e6);
    assert.equal(d.knobsUnshown(), true);
    // A value that lands before the next step is simply taken.
    d.markKnobsShown();
    Deno.writeTextFileSync(`${root}/min`, "");
    d.takeKnobs(w, knobs, true, 4);
    Deno.writeTextFileSync(`${root}/min`, "816000\n");
    d.takeKnobs(w, knobs, true, 4);
    assert.equal(d.userMinHz, 816e6);
    // The kernel refuses a set point outside the userspace governor.
    assert.equal(d.takeKnob("setspeed", "1200000", 1e-3), false);
    assert.equal(d.takeKnob("governor", "turbo", 1e-3), false);
  } finally {
    w.close();
    await Deno.remove(root, { recursive: true });
  }
});
