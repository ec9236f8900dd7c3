import assert from "node:assert/strict";
import { BackendError, createRng, ManualClock, TimeoutError } from "../../src/core/mod.ts";
import { createSimBoard, GARBAGE_TEXT, type SimBoard } from "../../src/sim/mod.ts";
import { readInt, readText, simBoard, tempRoot, trapezoidJ } from "./helpers.ts";

const POLICY4 = "sys/devices/system/cpu/cpufreq/policy4";
const POLICY6 = "sys/devices/system/cpu/cpufreq/policy6";
const SOC_TEMP = "sys/class/thermal/thermal_zone0/temp";

/** Compute-bound work for the A76 cluster: ~0.1 s at the top clock, negligible traffic. */
const BIG_COMPUTE = { unitId: "cpu_big", flops: 2e9, bytes: 1e5, precision: "fp32" } as const;

function write(root: string, rel: string, text: string): void {
  Deno.writeTextFileSync(`${root}/${rel}`, text);
}

async function duration(sim: SimBoard, item: typeof BIG_COMPUTE | Parameters<SimBoard["execute"]>[0][0]) {
  const [run] = await sim.execute([item]);
  return run.durationMs;
}

/**
 * Sustained heavy load in a +55 K enclosure (seed 5), ms: long enough to cross
 * the 85 °C passive trip and stay throttled; past about 340 s the board would
 * reach its 115 °C critical trip and power off.
 */
const HOT_LOAD_MS = 150_000;

/** Records the soc-thermal reading (°C) after every step. */
function recordSoc(sim: SimBoard): { timeMs: number; tempC: number }[] {
  const trace: { timeMs: number; tempC: number }[] = [];
  sim.onStep((timeMs) => {
    trace.push({ timeMs, tempC: readInt(sim.root, SOC_TEMP) / 1000 });
  });
  return trace;
}

function at(trace: readonly { timeMs: number; tempC: number }[], timeMs: number): number {
  let best = trace[0];
  for (const s of trace) if (Math.abs(s.timeMs - timeMs) < Math.abs(best.timeMs - timeMs)) best = s;
  return best.tempC;
}

Deno.test("temperatures rise under load and relax toward the idle state with the zone's RC time constant", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 3, stepMs: 500 });
  const tauMs = sim.truthForTests().priors.zones.find((z) => z.id === "soc")!.tauS * 1000;
  const trace = recordSoc(sim);
  await sim.advance(1000);
  const t0 = sim.truthForTests().timeMs;
  const idleC = at(trace, t0);
  // A constant load (the A76 and A55 clusters and the NPU flat out) for 6 tau; the deadline ends it.
  const load = [
    { unitId: "cpu_big", flops: 1e16, bytes: 1e9, precision: "fp32" as const },
    { unitId: "cpu_little", flops: 1e16, bytes: 1e9, precision: "fp32" as const },
    { unitId: "npu", flops: 1e18, bytes: 1e9, precision: "int8" as const },
  ];
  await assert.rejects(sim.execute(load, { timeoutMs: 6 * tauMs }), TimeoutError);
  const hotC = at(trace, t0 + 6 * tauMs);
  assert.ok(hotC > idleC + 15, `load heats the SoC (${idleC.toFixed(1)} -> ${hotC.toFixed(1)} °C)`);
  // First-order response: after one tau the zone has covered 1 - 1/e of the step (6 tau ~ the end value).
  const riseShare = (at(trace, t0 + tauMs) - idleC) / (hotC - idleC);
  assert.ok(Math.abs(riseShare - (1 - Math.exp(-1))) < 0.05, `rise after one tau: ${riseShare.toFixed(3)}`);
  const t1 = t0 + 6 * tauMs;
  await sim.advance(6 * tauMs);
  const cooledC = at(trace, t1 + 6 * tauMs);
  const fallShare = (hotC - at(trace, t1 + tauMs)) / (hotC - cooledC);
  assert.ok(Math.abs(fallShare - (1 - Math.exp(-1))) < 0.05, `fall after one tau: ${fallShare.toFixed(3)}`);
  assert.ok(Math.abs(cooledC - idleC) < 1.5, `back near the idle state (${cooledC} vs ${idleC})`);
  // Idle sits a few kelvin above ambient (idle power and leakage through R).
  const ambientC = sim.truthForTests().ambientC;
  assert.ok(cooledC > ambientC && cooledC < ambientC + 10, `idle ${cooledC} °C, ambient ${ambientC} °C`);
});

Deno.test("the step_wise governor throttles past the passive trip and releases below trip - hysteresis", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 5, stepMs: 500 });
  const root = sim.root;
  const cdevBig = sim.paths.cooling.find((c) => c.type === "cpufreq-cpu4")!.path;
  const topKHz = readInt(root, `${POLICY4}/cpuinfo_max_freq`);
  assert.equal(readInt(root, `${cdevBig}/cur_state`), 0);
  assert.equal(readInt(root, `${POLICY4}/scaling_max_freq`), topKHz);
  const fullSpeedMs = await duration(sim, BIG_COMPUTE);

  // A hot enclosure and sustained load drive soc-thermal across its 85 °C trip.
  sim.inject({ kind: "ambient-step", deltaC: 55 });
  let throttledAt: number | undefined;
  let maxState = 0;
  const off = sim.onStep((timeMs) => {
    const state = readInt(root, `${cdevBig}/cur_state`);
    maxState = Math.max(maxState, state);
    if (state > 0 && throttledAt === undefined) {
      throttledAt = timeMs;
      assert.ok(readInt(root, SOC_TEMP) >= 83_000, "throttling starts only around the trip");
    }
  });
  const heavy = [
    { unitId: "cpu_big", flops: 1e16, bytes: 1e9, precision: "fp32" as const },
    { unitId: "gpu", flops: 1e18, bytes: 1e9, precision: "fp16" as const },
  ];
  await assert.rejects(sim.execute(heavy, { timeoutMs: HOT_LOAD_MS }), TimeoutError);
  off();
  assert.ok(throttledAt !== undefined, "the cooling device engaged");
  assert.ok(maxState > 0);
  const stateNow = readInt(root, `${cdevBig}/cur_state`);
  assert.ok(stateNow > 0, "still throttled under load");
  const cappedKHz = readInt(root, `${POLICY4}/scaling_max_freq`);
  assert.ok(cappedKHz < topKHz, `scaling_max_freq lowered to ${cappedKHz} kHz`);
  assert.equal(readInt(root, `${POLICY4}/scaling_cur_freq`) <= cappedKHz, true);
  assert.ok(sim.truthForTests().unitFreqHz.cpu_big < topKHz * 1000);
  // Throttled clocks make the same work slower.
  assert.ok(await duration(sim, BIG_COMPUTE) > fullSpeedMs * 1.05);

  // Cooler air and no load: the zone falls below 83 °C and the cap goes away.
  sim.clear({ kind: "ambient-step", deltaC: 55 });
  await sim.advance(200_000);
  assert.ok(readInt(root, SOC_TEMP) < 83_000);
  assert.equal(readInt(root, `${cdevBig}/cur_state`), 0);
  assert.equal(readInt(root, `${POLICY4}/scaling_max_freq`), topKHz);
  assert.ok(Math.abs(await duration(sim, BIG_COMPUTE) - fullSpeedMs) / fullSpeedMs < 0.01);
});

Deno.test("energy integrated from the tree's power files matches the true energy within 2%", async () => {
  for (const profileId of ["rk3588", "jetson-orin-nano"]) {
    await using sim = await simBoard({ profileId, seed: 11, stepMs: 100 });
    const root = sim.root;
    const inputRail = sim.paths.power.find((p) => p.label === "total" || p.label === "VDD_IN")!;
    const samples: { timeMs: number; powerW: number }[] = [];
    let startJ = 0;
    let endJ = 0;
    sim.onStep((timeMs) => {
      const f = inputRail.files;
      const powerW = "powerMicroW" in f
        ? readInt(root, f.powerMicroW) / 1e6
        : readInt(root, f.voltageMv) * readInt(root, f.currentMa) / 1e6;
      if (samples.length === 0) startJ = sim.truthForTests().energyJ.totalJ;
      samples.push({ timeMs, powerW });
      endJ = sim.truthForTests().energyJ.totalJ;
    });
    await sim.advance(100);
    const [a, b] = profileId === "rk3588" ? ["cpu_big", "npu"] : ["cpu", "gpu"];
    const precisionB = profileId === "rk3588" ? "int8" : "fp16";
    for (let i = 0; i < 30; i++) {
      await sim.execute([
        { unitId: a, flops: 3e9 * (1 + (i % 3)), bytes: 2e8, precision: "fp32" },
        { unitId: b, flops: 5e11, bytes: 6e8, precision: precisionB },
      ]);
      await sim.advance(150 + 40 * (i % 4));
    }
    await sim.advance(200);
    const measuredJ = trapezoidJ(samples);
    const trueJ = endJ - startJ;
    assert.ok(trueJ > 10, `${profileId}: a meaningful amount of energy (${trueJ} J)`);
    const error = Math.abs(measuredJ - trueJ) / trueJ;
    assert.ok(error < 0.02, `${profileId}: measured ${measuredJ.toFixed(3)} J vs true ${trueJ.toFixed(3)} J`);
  }
});

function snapshot(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string, rel: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const path = `${dir}/${e.name}`;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymlink) files.set(r, `-> ${Deno.readLinkSync(path)}`);
      else if (e.isDirectory) walk(path, r);
      else files.set(r, Deno.readTextFileSync(path));
    }
  };
  walk(root, "");
  return files;
}

async function scenario(seed: number): Promise<{ files: Map<string, string>; ceffF: number }> {
  await using sim = await simBoard({ profileId: "rk3588", seed, stepMs: 100 });
  for (let i = 0; i < 10; i++) {
    await sim.execute([
      { unitId: "cpu_big", flops: 2e10, bytes: 3e8, precision: "fp32" },
      { unitId: "gpu", flops: 4e10, bytes: 4e8, precision: "fp16" },
    ]);
    await sim.advance(333);
  }
  return { files: snapshot(sim.root), ceffF: sim.truthForTests().priors.units[0].ceffF };
}

Deno.test("the same seed gives a bit-identical tree; another seed another truth", async () => {
  const a = await scenario(21);
  const b = await scenario(21);
  assert.deepEqual([...a.files.keys()].sort(), [...b.files.keys()].sort());
  for (const [rel, text] of a.files) assert.equal(b.files.get(rel), text, rel);
  const c = await scenario(22);
  assert.notEqual(c.ceffF, a.ceffF);
  const differing = [...a.files].filter(([rel, text]) => c.files.get(rel) !== text).length;
  assert.ok(differing > 10, `${differing} files differ between seeds`);
});

Deno.test("governor and frequency knobs written into the tree change durations as the roofline says", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 2 });
  const root = sim.root;
  const both = (file: string, text: string) => {
    write(root, `${POLICY4}/${file}`, text);
    write(root, `${POLICY6}/${file}`, text);
  };
  both("scaling_governor", "performance");
  const topMs = await duration(sim, BIG_COMPUTE);
  const memoryBound = { unitId: "cpu_big", flops: 1e6, bytes: 2e9, precision: "fp32" } as const;
  const memoryMs = await duration(sim, memoryBound);

  both("scaling_governor", "powersave");
  assert.ok(Math.abs(await duration(sim, BIG_COMPUTE) / topMs - 2400 / 408) < 1e-6, "compute time scales with 1/f");
  assert.equal(readInt(root, `${POLICY4}/scaling_cur_freq`), 408000);

  both("scaling_governor", "performance");
  both("scaling_max_freq", "1200000");
  assert.ok(Math.abs(await duration(sim, BIG_COMPUTE) / topMs - 2) < 1e-6);
  assert.ok(Math.abs(await duration(sim, memoryBound) / memoryMs - 1) < 1e-9, "memory-bound work ignores the clock");
  // Only one of the two A76 policies capped: half the cores at half speed.
  write(root, `${POLICY6}/scaling_max_freq`, "2400000");
  assert.ok(Math.abs(await duration(sim, BIG_COMPUTE) / topMs - 1 / 0.75) < 1e-6);

  both("scaling_governor", "userspace");
  // The simulator notices knob writes at its next step or execute(), like a polling governor.
  await sim.advance(100);
  assert.equal(readText(root, `${POLICY4}/scaling_setspeed`), String(readInt(root, `${POLICY4}/scaling_cur_freq`)));
  both("scaling_max_freq", "2400000");
  both("scaling_setspeed", "816000");
  assert.ok(Math.abs(await duration(sim, BIG_COMPUTE) / topMs - 2400 / 816) < 1e-6);

  // Values the kernel would refuse are put back; out-of-range ones are clamped.
  write(root, `${POLICY4}/scaling_governor`, "turbo");
  write(root, `${POLICY4}/scaling_max_freq`, "fast");
  write(root, `${POLICY6}/scaling_max_freq`, "9999999");
  await sim.execute([BIG_COMPUTE]);
  assert.equal(readText(root, `${POLICY4}/scaling_governor`), "userspace");
  assert.equal(readText(root, `${POLICY4}/scaling_max_freq`), "2400000");
  assert.equal(readText(root, `${POLICY6}/scaling_max_freq`), "2400000");
  both("scaling_governor", "ondemand");
  assert.equal(readText(root, `${POLICY4}/scaling_setspeed`).length > 0, true);
  await sim.advance(100);
  assert.equal(readText(root, `${POLICY4}/scaling_setspeed`), "<unsupported>");

  // devfreq: the GPU under the userspace governor runs at userspace/set_freq.
  const gpu = "sys/class/devfreq/fb000000.gpu";
  const gpuWork = { unitId: "gpu", flops: 5e10, bytes: 1e5, precision: "fp16" } as const;
  write(root, `${gpu}/governor`, "performance");
  const gpuTopMs = await duration(sim, gpuWork);
  write(root, `${gpu}/governor`, "userspace");
  await sim.advance(100);
  // devfreq's userspace governor has no set point until one is written; the clock stays put.
  assert.equal(readText(root, `${gpu}/userspace/set_freq`), "undefined");
  assert.equal(readInt(root, `${gpu}/cur_freq`), 1_000_000_000);
  write(root, `${gpu}/userspace/set_freq`, "500000000");
  assert.ok(Math.abs(await duration(sim, gpuWork) / gpuTopMs - 2) < 1e-6);
  write(root, `${gpu}/governor`, "simple_ondemand");
  await sim.advance(100);
  assert.equal(readText(root, `${gpu}/userspace/set_freq`), "undefined", "no set point outside userspace");
  assert.equal(readInt(root, `${gpu}/cur_freq`), 300_000_000, "idle under a load-based governor");
});

Deno.test("items on different units run concurrently and share the DRAM bus; items on one unit run in order", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 4 });
  const cpuStream = { unitId: "cpu_big", flops: 1e6, bytes: 4e9, precision: "fp32" } as const;
  const npuStream = { unitId: "npu", flops: 1e6, bytes: 4e9, precision: "int8" } as const;
  const cpuAlone = await duration(sim, cpuStream);
  const npuAlone = await duration(sim, npuStream);
  const t0 = sim.clock.monotonicMs();
  const [cpu, npu] = await sim.execute([cpuStream, npuStream]);
  assert.equal(cpu.startMs, t0);
  assert.equal(npu.startMs, t0);
  // ~21 + ~22 GB/s of demand on a ~34 GB/s bus: both slow down while they overlap.
  assert.ok(cpu.durationMs > cpuAlone * 1.1 && npu.durationMs > npuAlone * 1.1);
  const [first, second] = await sim.execute([BIG_COMPUTE, BIG_COMPUTE]);
  assert.equal(second.startMs, first.endMs);
  assert.ok(Math.abs(second.durationMs - first.durationMs) < 1e-6);
  // Concurrent callers submitting at the same instant also start together.
  const t1 = sim.clock.monotonicMs();
  const [[x], [y]] = await Promise.all([sim.execute([BIG_COMPUTE]), sim.execute([npuStream])]);
  assert.deepEqual([x.startMs, y.startMs], [t1, t1]);
  assert.deepEqual(await sim.execute([]), []);
  const [zero] = await sim.execute([{ unitId: "gpu", flops: 0, bytes: 0, precision: "fp16" }]);
  assert.equal(zero.durationMs, 0);
});

Deno.test("load files report the busy share of the last step", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 6, stepMs: 1000 });
  const root = sim.root;
  const [gpu] = await sim.execute([{ unitId: "gpu", flops: 4e10, bytes: 1e8, precision: "fp16" }]);
  assert.ok(gpu.durationMs < 1000);
  await sim.advance(1000 - gpu.durationMs);
  const freq = readInt(root, "sys/class/devfreq/fb000000.gpu/cur_freq");
  assert.equal(readText(root, "sys/class/devfreq/fb000000.gpu/load"), `${Math.round(gpu.durationMs / 10)}@${freq}Hz`);
  assert.equal(readText(root, "sys/kernel/debug/rknpu/load"), "NPU load:  Core0:  0%, Core1:  0%, Core2:  0%,");
  assert.equal(sim.clock.monotonicMs(), 1000);
  const [npu] = await sim.execute([{ unitId: "npu", flops: 4e11, bytes: 1e8, precision: "int8" }]);
  assert.ok(npu.endMs < 2000);
  await sim.advance(2000 - npu.endMs);
  const percent = String(Math.round(npu.durationMs / 10)).padStart(2);
  assert.equal(
    readText(root, "sys/kernel/debug/rknpu/load"),
    `NPU load:  Core0: ${percent}%, Core1: ${percent}%, Core2: ${percent}%,`,
  );
  const stat = readText(root, "proc/stat").split("\n");
  assert.match(stat[0], /^cpu {2}\d+ 0 0 \d+ 0 0 0 0 0 0$/);
  // The NPU devfreq load file always reads 100 on vendor kernels, busy or not.
  assert.match(readText(root, "sys/class/devfreq/fdab0000.npu/load"), /^100@\d+Hz$/);
  // A CPU run shows up in /proc/stat for the cluster's CPUs only.
  const before = readText(root, "proc/stat").split("\n");
  await sim.execute([{ unitId: "cpu_little", flops: 1e10, bytes: 1e6, precision: "fp32" }]);
  await sim.advance(1000);
  const after = readText(root, "proc/stat").split("\n");
  const busyTicks = (lines: string[], cpu: number) => Number(lines[1 + cpu].split(" ")[1]);
  assert.ok(busyTicks(after, 0) - busyTicks(before, 0) >= 50, "cpu0 (A55) busy");
  assert.ok(busyTicks(after, 4) - busyTicks(before, 4) <= 1, "cpu4 (A76) idle");
});

Deno.test("unit-fail rejects with BackendError until cleared, also for calls already running", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 7 });
  const running = sim.execute([{ unitId: "npu", flops: 1e15, bytes: 1e6, precision: "int8" }]);
  sim.inject({ kind: "unit-fail", unitId: "npu" });
  const error = await running.then(() => undefined, (e) => e);
  assert.ok(error instanceof BackendError);
  assert.equal(error.details.unitId, "npu");
  await assert.rejects(
    sim.execute([BIG_COMPUTE, { unitId: "npu", flops: 1, bytes: 1, precision: "int8" }]),
    (e: unknown) => e instanceof BackendError && /npu/.test(e.message),
  );
  assert.ok((await sim.execute([BIG_COMPUTE]))[0].durationMs > 0, "other units keep working");
  sim.clear({ kind: "unit-fail", unitId: "npu" });
  assert.equal(sim.faults.length, 0);
  assert.ok((await sim.execute([{ unitId: "npu", flops: 1e9, bytes: 1e6, precision: "int8" }]))[0].durationMs > 0);
});

Deno.test("unit-hang advances virtual time to the deadline, then TimeoutError; abort and clear also end it", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 8 });
  sim.inject({ kind: "unit-hang", unitId: "gpu" });
  const t0 = sim.clock.monotonicMs();
  const error = await sim.execute([{ unitId: "gpu", flops: 1e9, bytes: 1e6, precision: "fp16" }], { timeoutMs: 5000 })
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof TimeoutError, String(error));
  assert.deepEqual(error.details.unitIds, ["gpu"]);
  assert.ok(Math.abs(sim.clock.monotonicMs() - t0 - 5000) < 1e-6);
  // The hung unit looks busy in the tree.
  assert.match(readText(sim.root, "sys/class/devfreq/fb000000.gpu/load"), /^100@/);

  const controller = new AbortController();
  const hung = sim.execute([{ unitId: "gpu", flops: 1e9, bytes: 1e6, precision: "fp16" }], {
    signal: controller.signal,
  });
  const reason = new Error("caller gave up");
  controller.abort(reason);
  await assert.rejects(hung, (e) => e === reason);

  const resumed = sim.execute([{ unitId: "gpu", flops: 1e9, bytes: 1e6, precision: "fp16" }]);
  await sim.advance(1000);
  sim.clear({ kind: "unit-hang", unitId: "gpu" });
  const [run] = await resumed;
  assert.ok(run.durationMs >= 1000, "the item resumed after the hang was cleared");
});

Deno.test("sensor-remove and sensor-garbage persist across steps until cleared", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 9 });
  const root = sim.root;
  const power = sim.paths.power.find((p) => p.label === "total")!.files as { powerMicroW: string };
  sim.inject({ kind: "sensor-remove", path: SOC_TEMP });
  sim.inject({ kind: "sensor-garbage", path: `${root}/${power.powerMicroW}` });
  sim.inject({ kind: "sensor-remove", path: "sys/class/thermal/thermal_zone5" });
  await sim.execute([BIG_COMPUTE]);
  await sim.advance(500);
  assert.throws(() => Deno.statSync(`${root}/${SOC_TEMP}`), Deno.errors.NotFound);
  assert.equal(readText(root, "sys/class/thermal/thermal_zone0/type"), "soc-thermal");
  assert.equal(Deno.readTextFileSync(`${root}/${power.powerMicroW}`), GARBAGE_TEXT);
  assert.throws(() => Deno.lstatSync(`${root}/sys/class/thermal/thermal_zone5`), Deno.errors.NotFound);
  assert.equal(sim.faults.length, 3);
  assert.throws(() => sim.inject({ kind: "sensor-remove", path: "sys/class/thermal/nope/temp" }), RangeError);
  assert.throws(() => sim.inject({ kind: "sensor-garbage", path: "/etc/hostname" }), RangeError);

  sim.clear({ kind: "sensor-garbage", path: power.powerMicroW });
  assert.equal(sim.faults.length, 2);
  assert.ok(readInt(root, power.powerMicroW) > 0);
  sim.clear();
  assert.ok(readInt(root, SOC_TEMP) > 20_000);
  assert.equal(readText(root, "sys/class/thermal/thermal_zone5/type"), "gpu-thermal");
  await sim.advance(200);
  assert.ok(readInt(root, SOC_TEMP) > 20_000);
});

Deno.test("ambient-step moves every zone toward the new ambient; clearing moves it back", async () => {
  await using sim = await simBoard({ profileId: "imx8mp", seed: 10, stepMs: 1000 });
  const before = sim.truthForTests();
  sim.inject({ kind: "ambient-step", deltaC: 10 });
  assert.ok(Math.abs(sim.truthForTests().ambientC - before.ambientC - 10) < 1e-9);
  await sim.advance(400_000);
  const warm = sim.truthForTests();
  for (const id of Object.keys(before.zoneTempsC)) {
    assert.ok(Math.abs(warm.zoneTempsC[id] - before.zoneTempsC[id] - 10) < 0.3, id);
  }
  sim.clear({ kind: "ambient-step", deltaC: 10 });
  await sim.advance(400_000);
  for (const id of Object.keys(before.zoneTempsC)) {
    assert.ok(Math.abs(sim.truthForTests().zoneTempsC[id] - before.zoneTempsC[id]) < 0.3, id);
  }
});

Deno.test("bad arguments are refused with errors that name what was wrong", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 1 });
  const bad = async (item: Record<string, unknown>, pattern: RegExp) =>
    await assert.rejects(
      sim.execute([item as never]),
      (e: unknown) => e instanceof RangeError && pattern.test(e.message),
    );
  await bad(
    { unitId: "tpu", flops: 1, bytes: 1, precision: "fp32" },
    /unknown unit "tpu".*cpu_big, cpu_little, gpu, npu/,
  );
  await bad({ unitId: "gpu", flops: -1, bytes: 1, precision: "fp16" }, /flops must be a finite number >= 0, got -1/);
  await bad({ unitId: "gpu", flops: 1, bytes: Number.NaN, precision: "fp16" }, /bytes must be .* got NaN/);
  await bad({ unitId: "gpu", flops: 1, bytes: 1, precision: "fp8" }, /precision must be one of .* got "fp8"/);
  await bad({ unitId: "npu", flops: 1, bytes: 1, precision: "fp32" }, /"npu" cannot compute fp32/);
  await assert.rejects(sim.execute([BIG_COMPUTE], { timeoutMs: -5 }), /timeoutMs must be/);
  await assert.rejects(sim.advance(-1), RangeError);
  assert.throws(() => sim.inject({ kind: "unit-hang", unitId: "dsp" }), /unknown unit "dsp"/);
  assert.throws(() => sim.start(), /realtime/);

  const root = await tempRoot();
  try {
    await assert.rejects(createSimBoard({ profileId: "rk3399", root, seed: 1 }), /no simulated board "rk3399"/);
    await assert.rejects(createSimBoard({ profileId: "rk3588", root, seed: -1 }), /seed must be an integer >= 0/);
    await assert.rejects(createSimBoard({ profileId: "rk3588", root, seed: 1, stepMs: 0 }), /stepMs/);
    await assert.rejects(
      createSimBoard({ profileId: "rk3588", root, seed: 1, clock: { ...new ManualClock() } as never }),
      TypeError,
    );
    Deno.writeTextFileSync(`${root}/precious.txt`, "keep me");
    await assert.rejects(createSimBoard({ profileId: "rk3588", root, seed: 1 }), /refusing to write into non-empty/);
    assert.equal(Deno.readTextFileSync(`${root}/precious.txt`), "keep me");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  // A root an earlier simulated board wrote is reused.
  const reused = await createSimBoard({ profileId: "imx8mp", root: sim.root, seed: 1 });
  await reused[Symbol.asyncDispose]();
  await assert.rejects(reused.execute([BIG_COMPUTE]), /disposed/);
});

Deno.test("onStep callbacks run after each step with the tree written, and are awaited", async () => {
  await using sim = await simBoard({ profileId: "raspberry-pi-5", seed: 12, stepMs: 250 });
  const events: string[] = [];
  const off = sim.onStep(async (timeMs) => {
    events.push(`start ${timeMs}`);
    const text = await Deno.readTextFile(`${sim.root}/sys/class/thermal/thermal_zone0/temp`);
    assert.match(text, /^\d+\n$/);
    events.push(`end ${timeMs}`);
  });
  await sim.advance(1000);
  off();
  await sim.advance(1000);
  assert.deepEqual(events, [
    "start 250",
    "end 250",
    "start 500",
    "end 500",
    "start 750",
    "end 750",
    "start 1000",
    "end 1000",
  ]);
});

Deno.test("a realtime board follows its clock: steps and completions happen as the clock passes them", async () => {
  const clock = new ManualClock();
  const root = await tempRoot();
  try {
    await using sim = await createSimBoard({ profileId: "rk3588", root, seed: 13, timeMode: "realtime", clock });
    await assert.rejects(sim.execute([BIG_COMPUTE]), /start\(\) first/);
    await assert.rejects(sim.advance(10), /virtual time/);
    const steps: number[] = [];
    sim.onStep((timeMs) => {
      steps.push(timeMs);
    });
    sim.start();
    let done: { durationMs: number } | undefined;
    const pending = sim.execute([BIG_COMPUTE]).then(([r]) => (done = r));
    for (let i = 0; i < 200 && done === undefined; i++) await clock.advance(10);
    await pending;
    assert.ok(done !== undefined);
    // Same seed, virtual time: the same duration.
    await using twin = await simBoard({ profileId: "rk3588", seed: 13 });
    assert.ok(Math.abs(done!.durationMs - (await twin.execute([BIG_COMPUTE]))[0].durationMs) < 1e-6);
    // A hung unit waits on the clock until the deadline passes.
    sim.inject({ kind: "unit-hang", unitId: "npu" });
    const startMs = clock.monotonicMs();
    let timedOutAt: number | undefined;
    const hung = sim.execute([{ unitId: "npu", flops: 1e9, bytes: 1e6, precision: "int8" }], { timeoutMs: 300 })
      .catch((e) => {
        timedOutAt = clock.monotonicMs();
        return e;
      });
    for (let i = 0; i < 50; i++) await clock.advance(10);
    assert.ok((await hung) instanceof TimeoutError);
    assert.ok(
      timedOutAt! - startMs >= 300 && timedOutAt! - startMs <= 310,
      `timed out after ${timedOutAt! - startMs} ms`,
    );
    await sim.stop();
    assert.ok(steps.length >= 5, `steps: ${steps}`);
    steps.forEach((t, i) => assert.equal(t, (i + 1) * 100));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

const COUNTER_RANGE_MICROJ = 2 ** 32;

/** Every power channel of the simulated-only chip with its energy counter file. */
function counterChannels(sim: SimBoard): { label: string; energyMicroJ: string }[] {
  return sim.paths.power.map((p) => {
    const files = p.files as { energyMicroJ?: string };
    assert.ok(files.energyMicroJ, `channel ${p.label} has an energy counter`);
    return { label: p.label, energyMicroJ: files.energyMicroJ };
  });
}

/** Counter readings (µJ) and the true energies (J) of the same instant, per channel. */
function countersAndTruth(sim: SimBoard): { counts: number[]; trueJ: number[] } {
  const channels = counterChannels(sim);
  const truth = sim.truthForTests().energyJ;
  return {
    counts: channels.map((c) => readInt(sim.root, c.energyMicroJ)),
    trueJ: channels.map((c) => (c.label === "total" ? truth.totalJ : truth.units[c.label])),
  };
}

/** Asserts that each counter moved by the true energy, in whole µJ, modulo the register's range. */
function assertCountersFollow(
  before: ReturnType<typeof countersAndTruth>,
  after: ReturnType<typeof countersAndTruth>,
  what: string,
): void {
  after.counts.forEach((count, i) => {
    assert.ok(Number.isInteger(count) && count >= 0 && count < COUNTER_RANGE_MICROJ, `${what}: counter ${count}`);
    const countedMicroJ = (count - before.counts[i] + COUNTER_RANGE_MICROJ) % COUNTER_RANGE_MICROJ;
    const trueMicroJ = (after.trueJ[i] - before.trueJ[i]) * 1e6;
    // Each reading is the floor of the true energy in µJ: a delta is within one LSB.
    assert.ok(Math.abs(countedMicroJ - trueMicroJ) <= 1, `${what}, channel ${i}: ${countedMicroJ} µJ vs ${trueMicroJ}`);
  });
}

Deno.test("the qeil_sim energyK_input counters hold the true energy in whole µJ at every publish, mid-step included", async () => {
  for (const profileId of ["rk3588", "raspberry-pi-5", "imx8mp"]) {
    await using sim = await simBoard({ profileId, seed: 14, stepMs: 100 });
    const start = countersAndTruth(sim);
    const unit = sim.units[0];
    // A short item settles between two step ends: the counters show that instant, not the last step end.
    const [run] = await sim.execute([{ unitId: unit.id, flops: 3e8, bytes: 1e6, precision: unit.precisions[0] }]);
    assert.ok(run.endMs % 100 > 1 && run.durationMs > 0, `${profileId}: ends mid-step at ${run.endMs} ms`);
    const afterRun = countersAndTruth(sim);
    assertCountersFollow(start, afterRun, `${profileId} after a short run`);
    assert.ok(afterRun.trueJ[0] > start.trueJ[0], `${profileId}: the unit used energy`);
    // Idle time nobody watched: the counters show its end.
    await sim.advance(12_345);
    assertCountersFollow(afterRun, countersAndTruth(sim), `${profileId} after idle time`);
  }
});

Deno.test("onStep({periodMs}) calls back at the multiples of the period since creation, with the tree written", async () => {
  await using sim = await simBoard({ profileId: "imx8mp", seed: 12, stepMs: 100 });
  const every: number[] = [];
  const coarse: number[] = [];
  const rounded: number[] = [];
  const start = countersAndTruth(sim);
  sim.onStep((timeMs) => {
    every.push(timeMs);
  });
  sim.onStep((timeMs) => {
    coarse.push(timeMs);
    assert.equal(sim.clock.monotonicMs(), timeMs);
    assertCountersFollow(start, countersAndTruth(sim), `callback at ${timeMs} ms`);
  }, { periodMs: 500 });
  await sim.advance(1250);
  // 250 ms is not a whole number of 100 ms steps: rounded up to 300 ms.
  const off = sim.onStep((timeMs) => void rounded.push(timeMs), { periodMs: 250 });
  await sim.advance(1000);
  off();
  await sim.advance(500);
  assert.equal(every.length, 27);
  assert.deepEqual(coarse, [500, 1000, 1500, 2000, 2500]);
  assert.deepEqual(rounded, [1500, 1800, 2100]);
  assert.throws(() => sim.onStep(() => {}, { periodMs: 0 }), /periodMs must be a finite number > 0, got 0/);
  assert.throws(() => sim.onStep(() => {}, { periodMs: Number.NaN }), RangeError);
});

/** Files that a published tree rewrites at most once per second (their content is that of the publish time). */
const SLOW_FILES = /(\/stats\/|\/trans_stat$|^proc\/meminfo$|\/gpu_stats$)/;

async function watchedScenario(watch: boolean): Promise<Map<string, string>> {
  await using sim = await simBoard({ profileId: "rk3588", seed: 31, stepMs: 100 });
  if (watch) {
    sim.onStep(() => {
      readInt(sim.root, SOC_TEMP);
    });
  }
  for (let i = 0; i < 6; i++) {
    await sim.execute([
      { unitId: "cpu_big", flops: 4e10, bytes: 3e8, precision: "fp32" },
      { unitId: "npu", flops: 8e11, bytes: 4e8, precision: "int8" },
    ]);
    await sim.advance(1234 + 100 * i);
  }
  return snapshot(sim.root);
}

Deno.test("watching every step changes no value: the same calls give the same tree as an unwatched run", async () => {
  const watched = await watchedScenario(true);
  const unwatched = await watchedScenario(false);
  assert.deepEqual([...watched.keys()].sort(), [...unwatched.keys()].sort());
  let compared = 0;
  for (const [rel, text] of watched) {
    if (SLOW_FILES.test(rel)) continue;
    assert.equal(unwatched.get(rel), text, rel);
    compared++;
  }
  assert.ok(compared > 150, `${compared} files compared`);
});

/** The A55, A76 and A76 policies of the rk3588 with their cooling devices and frequency tables (kHz). */
function cpuPolicies(sim: SimBoard): { max: string; min: string; cdev: string; tableKHz: number[] }[] {
  return ["policy0", "policy4", "policy6"].map((name) => {
    const dir = `sys/devices/system/cpu/cpufreq/${name}`;
    const cpu = readText(sim.root, `${dir}/related_cpus`).split(" ")[0];
    return {
      max: `${dir}/scaling_max_freq`,
      min: `${dir}/scaling_min_freq`,
      cdev: sim.paths.cooling.find((c) => c.type === `cpufreq-cpu${cpu}`)!.path,
      tableKHz: readText(sim.root, `${dir}/scaling_available_frequencies`).trim().split(" ").map(Number),
    };
  });
}

/**
 * Writes random limits into the A55/A76 knob files (two at a time, as user
 * space does: open, truncate, write, on Deno's I/O threads) while a hot board
 * steps and executes through many thermal cap changes, and checks after every
 * round that each file shows the last request under the cap its cooling
 * device imposes now; once cooled down, each file holds the request exactly.
 */
async function knobWritesRacingCaps(sim: SimBoard, run: (item: Parameters<SimBoard["execute"]>[0]) => Promise<void>) {
  const policies = cpuPolicies(sim);
  const requested = new Map<string, number>();
  for (const p of policies) {
    requested.set(p.max, readInt(sim.root, p.max));
    requested.set(p.min, readInt(sim.root, p.min));
  }
  const capKHz = (p: (typeof policies)[number]) => {
    const state = readInt(sim.root, `${p.cdev}/cur_state`);
    return p.tableKHz[p.tableKHz.length - 1 - state];
  };
  const rng = createRng(11);
  // Heat from units whose clocks the writes leave alone (GPU, NPU), plus some CPU work.
  const load = [
    { unitId: "gpu", flops: 1e10, bytes: 1e6, precision: "fp16" as const },
    { unitId: "npu", flops: 1e11, bytes: 1e6, precision: "int8" as const },
    { unitId: "cpu_big", flops: 1e9, bytes: 1e6, precision: "fp32" as const },
  ];
  // A very hot enclosure brings soc-thermal to its 85 °C trip quickly; a hot one and steady load then keep it
  // around the trip, where the caps move all the time.
  sim.inject({ kind: "ambient-step", deltaC: 60 });
  for (let i = 0; i < 2000 && policies.every((p) => readInt(sim.root, `${p.cdev}/cur_state`) === 0); i++) {
    await run(load);
  }
  sim.clear({ kind: "ambient-step", deltaC: 60 });
  sim.inject({ kind: "ambient-step", deltaC: 40 });
  let capChanges = 0;
  let lastCaps = policies.map(capKHz).join();
  for (let round = 0; round < 80; round++) {
    const picked = [policies[rng.int(3)], policies[rng.int(3)]];
    const files = [picked[0].max, rng.next() < 0.3 ? picked[1].min : picked[1].max];
    if (files[0] === files[1]) files.pop();
    let settled = false;
    const writes = Promise.all(files.map(async (rel) => {
      const p = policies.find((q) => q.max === rel || q.min === rel)!;
      const kHz = p.tableKHz[rng.int(p.tableKHz.length)];
      await Deno.writeTextFile(`${sim.root}/${rel}`, `${kHz}\n`, { create: false });
      requested.set(rel, kHz);
    })).finally(() => (settled = true));
    while (!settled) {
      await run(load);
      // The runtime's own work between charges lets the writes' file operations complete.
      await Deno.stat(sim.root);
    }
    await writes;
    // The board takes the writes in at its next step, like a polling governor.
    await run([]);
    for (const p of policies) {
      const maxKHz = Math.min(requested.get(p.max)!, capKHz(p));
      assert.equal(readInt(sim.root, p.max), maxKHz, `round ${round}: ${p.max}`);
      assert.equal(readInt(sim.root, p.min), Math.min(requested.get(p.min)!, maxKHz), `round ${round}: ${p.min}`);
    }
    const caps = policies.map(capKHz).join();
    if (caps !== lastCaps) capChanges++;
    lastCaps = caps;
  }
  assert.ok(capChanges >= 20, `the caps changed between ${capChanges} of 80 rounds`);
  // Cool air and no load: every cap goes, every file shows exactly what was asked for last.
  sim.clear({ kind: "ambient-step", deltaC: 40 });
  for (let i = 0; i < 400 && policies.some((p) => readInt(sim.root, `${p.cdev}/cur_state`) > 0); i++) await run([]);
  for (const p of policies) {
    assert.equal(readInt(sim.root, `${p.cdev}/cur_state`), 0, `${p.cdev} released`);
    assert.equal(readInt(sim.root, p.max), requested.get(p.max), p.max);
    assert.equal(readInt(sim.root, p.min), Math.min(requested.get(p.min)!, requested.get(p.max)!), p.min);
  }
}

Deno.test("knob writes racing thermal cap changes on a virtual board: each file shows the request under the cap, and the request once released", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 43, stepMs: 100 });
  sim.onStep(() => {});
  await knobWritesRacingCaps(sim, async (items) => {
    await Promise.all([sim.execute(items), sim.advance(500)]);
  });
});

Deno.test("knob writes racing thermal cap changes on a realtime board: each file shows the request under the cap, and the request once released", async () => {
  const clock = new ManualClock();
  // Longer steps than the virtual board's: a realtime board publishes at every step.
  await using sim = await simBoard({ profileId: "rk3588", seed: 43, stepMs: 250, timeMode: "realtime", clock });
  sim.start();
  await knobWritesRacingCaps(sim, async (items) => {
    let done = false;
    const call = sim.execute(items).finally(() => (done = true));
    await clock.advance(500);
    while (!done) await clock.advance(100);
    await call;
  });
  await sim.stop();
});

/** Inode and modification time of every knob file of the board. */
function knobStats(sim: SimBoard): Map<string, string> {
  const files = [
    ...sim.paths.cpufreq.flatMap((p) =>
      ["scaling_governor", "scaling_min_freq", "scaling_max_freq", "scaling_setspeed"].map((f) => `${p.path}/${f}`)
    ),
    ...sim.paths.devfreq.flatMap((p) => ["governor", "min_freq", "max_freq"].map((f) => `${p.path}/${f}`)),
  ];
  return new Map(files.map((rel) => {
    const info = Deno.statSync(`${sim.root}/${rel}`);
    return [rel, `${info.ino} ${info.mtime?.getTime()}`];
  }));
}

Deno.test("knob files are rewritten only when what the kernel shows changes; a value written into one stays in its file", async () => {
  for (const timeMode of ["virtual", "realtime"] as const) {
    const clock = new ManualClock();
    await using sim = await simBoard({
      profileId: "rk3588",
      seed: 53,
      stepMs: 100,
      timeMode,
      ...(timeMode === "realtime" ? { clock } : {}),
    });
    if (timeMode === "realtime") sim.start();
    else sim.onStep(() => {});
    const maxRel = `${POLICY4}/scaling_max_freq`;
    // Like an actuator (open, write): the file keeps its inode.
    write(sim.root, maxRel, "1800000\n");
    const before = knobStats(sim);
    for (let i = 0; i < 20; i++) {
      const call = sim.execute([BIG_COMPUTE, { unitId: "gpu", flops: 1e9, bytes: 1e6, precision: "fp16" }]);
      if (timeMode === "realtime") {
        let done = false;
        call.finally(() => (done = true));
        while (!done) await clock.advance(50);
      } else {
        await sim.advance(150);
      }
      await call;
    }
    assert.ok(sim.readings().timeMs >= 2000, `${timeMode}: ${sim.readings().timeMs} ms simulated`);
    assert.deepEqual(knobStats(sim), before, `${timeMode}: no knob file replaced or rewritten`);
    assert.equal(readText(sim.root, maxRel), "1800000");
    assert.equal(
      readInt(sim.root, `${POLICY4}/scaling_cur_freq`) <= 1_800_000,
      true,
      `${timeMode}: the written limit is in force`,
    );
    if (timeMode === "realtime") await sim.stop();
  }
});

Deno.test("a limit written equal to the value a thermal cap shows stays the request once the cap goes", async () => {
  await using sim = await simBoard({ profileId: "rk3588", seed: 5, stepMs: 500 });
  const root = sim.root;
  const cdevBig = sim.paths.cooling.find((c) => c.type === "cpufreq-cpu4")!.path;
  const topKHz = readInt(root, `${POLICY4}/cpuinfo_max_freq`);
  sim.inject({ kind: "ambient-step", deltaC: 55 });
  const heavy = [
    { unitId: "cpu_big", flops: 1e16, bytes: 1e9, precision: "fp32" as const },
    { unitId: "gpu", flops: 1e18, bytes: 1e9, precision: "fp16" as const },
  ];
  await assert.rejects(sim.execute(heavy, { timeoutMs: HOT_LOAD_MS }), TimeoutError);
  const cappedKHz = readInt(root, `${POLICY4}/scaling_max_freq`);
  assert.ok(readInt(root, `${cdevBig}/cur_state`) > 0 && cappedKHz < topKHz, `capped at ${cappedKHz} kHz`);
  // Pinning at the cap, as the service's DVFS does: min = max = the value scaling_max_freq shows.
  write(root, `${POLICY4}/scaling_min_freq`, `${cappedKHz}\n`);
  write(root, `${POLICY4}/scaling_max_freq`, `${cappedKHz}\n`);
  await sim.advance(500);
  sim.clear({ kind: "ambient-step", deltaC: 55 });
  await sim.advance(200_000);
  assert.equal(readInt(root, `${cdevBig}/cur_state`), 0, "the cap went");
  assert.equal(readInt(root, `${POLICY4}/scaling_max_freq`), cappedKHz, "the request stands, not the old maximum");
  assert.equal(readInt(root, `${POLICY4}/scaling_min_freq`), cappedKHz);
  await sim.execute([BIG_COMPUTE]);
  assert.equal(readInt(root, `${POLICY4}/scaling_cur_freq`), cappedKHz);
});
