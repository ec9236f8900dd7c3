/** The seeded fault schedule and its injection into a simulated board while a query runs. */
import assert from "node:assert/strict";
import {
  createSimFaultInjector,
  describeFault,
  type EvalQuery,
  scheduleFaults,
  simFaultSensors,
} from "../../src/eval/mod.ts";
import { createSimBoard } from "../../src/sim/mod.ts";

const SENSORS = [
  { label: "thermal soc", path: "sys/class/thermal/thermal_zone0/temp" },
  { label: "thermal gpu", path: "sys/class/thermal/thermal_zone1/temp" },
];
const IDS = Array.from({ length: 30 }, (_, i) => `q/${i}`);

Deno.test("scheduleFaults() gives one query in `every` a fault, the kinds in turn, the same for the same seed", () => {
  const a = scheduleFaults(IDS, { seed: 4, sensors: SENSORS, every: 3 });
  assert.deepEqual([...a], [...scheduleFaults(IDS, { seed: 4, sensors: SENSORS, every: 3 })]);
  assert.equal(a.size, 10);
  const positions = [...a.keys()].map((id) => IDS.indexOf(id));
  assert.ok(positions.every((p) => p % 3 === positions[0] % 3), `every third query: ${positions}`);
  const kinds = [...a.values()].map((f) => f.kind);
  for (let i = 3; i < kinds.length; i++) assert.equal(kinds[i], kinds[i - 3], "kinds cycle");
  assert.deepEqual(new Set(kinds), new Set(["unit-fail", "unit-hang", "sensor-loss"]));
  const lost = [...a.values()].flatMap((f) => (f.kind === "sensor-loss" ? [f.sensor] : []));
  assert.deepEqual(new Set(lost), new Set(SENSORS.map((s) => s.label)), "every sensor is lost in turn");
  const seeds = Array.from(
    { length: 8 },
    (_, seed) => JSON.stringify([...scheduleFaults(IDS, { seed, sensors: SENSORS })]),
  );
  assert.ok(new Set(seeds).size > 1, "the seed moves the schedule");
  assert.equal(scheduleFaults(IDS, { seed: 4, sensors: SENSORS, every: 1 }).size, 30);
});

Deno.test("scheduleFaults() rejects a period below 1 and no sensor to lose", () => {
  assert.throws(() => scheduleFaults(IDS, { seed: 1, sensors: SENSORS, every: 0 }), RangeError);
  assert.throws(() => scheduleFaults(IDS, { seed: 1, sensors: [] }), /no sensor/);
});

Deno.test("describeFault() names the kind and what it struck", () => {
  assert.equal(describeFault({ kind: "unit-hang" }, "npu"), "unit-hang npu");
  assert.equal(describeFault({ kind: "unit-fail" }), "unit-fail");
  assert.equal(describeFault({ kind: "sensor-loss", sensor: "thermal soc", path: "x" }), "sensor-loss thermal soc");
});

function query(id: string): EvalQuery {
  return {
    task: "wikitext",
    id,
    index: 0,
    article: { index: 0, line: 1, title: "T", page: "x", text: "x", words: 1, whitespaceWords: 1, bytes: 1 },
  };
}

const CPU_WORK = { unitId: "cpu", flops: 5e11, bytes: 1e9, precision: "fp32" as const };

Deno.test("the sim injector strikes the unit at work in the query's first busy step and clears it when it settles", async () => {
  const root = await Deno.makeTempDir({ prefix: "qeil-eval-faults-" });
  try {
    await using sim = await createSimBoard({ profileId: "jetson-orin-nano", root, seed: 3 });
    const sensors = simFaultSensors(sim);
    assert.ok(sensors.some((s) => s.label === "thermal gpu-thermal"), JSON.stringify(sensors));
    assert.ok(sensors.some((s) => s.label === "rail VDD_IN current"), JSON.stringify(sensors));
    const lost = sensors.find((s) => s.label === "thermal gpu-thermal")!;
    const injector = createSimFaultInjector(
      sim,
      new Map([
        ["fail", { kind: "unit-fail" as const }],
        ["hang", { kind: "unit-hang" as const }],
        ["sensor", { kind: "sensor-loss" as const, sensor: lost.label, path: lost.path }],
      ]),
    );

    // Idle steps (a board cooling before a job) strike nothing.
    const fail = injector.arm(query("fail"), "qeil");
    await sim.advance(300);
    assert.deepEqual(sim.faults, []);
    // In the middle of the CPU's work, the CPU fails.
    await assert.rejects(sim.execute([CPU_WORK]), (error: unknown) => (error as Error).message.includes("cpu"));
    assert.deepEqual(sim.faults, [{ kind: "unit-fail", unitId: "cpu" }]);
    assert.deepEqual(await fail.disarm(), ["unit-fail cpu"]);
    assert.deepEqual(sim.faults, [], "cleared when the query settles");
    await sim.execute([{ ...CPU_WORK, flops: 1e9 }]);

    const hang = injector.arm(query("hang"), "standard");
    await assert.rejects(sim.execute([CPU_WORK], { timeoutMs: 3000 }), /3000|timed out|timeout/i);
    assert.deepEqual(await hang.disarm(), ["unit-hang cpu"]);

    const sensor = injector.arm(query("sensor"), "greedy");
    await sim.execute([CPU_WORK]);
    assert.deepEqual(sim.faults, [{ kind: "sensor-remove", path: lost.path }]);
    await assert.rejects(Deno.stat(`${root}/${lost.path}`), Deno.errors.NotFound);
    assert.deepEqual(await sensor.disarm(), ["sensor-loss thermal gpu-thermal"]);

    // A query whose work never filled a step met no fault, and left none behind.
    const quick = injector.arm(query("fail"), "standard");
    await sim.execute([{ ...CPU_WORK, flops: 1e6, bytes: 1e3 }]);
    assert.deepEqual(await quick.disarm(), []);
    await sim.execute([CPU_WORK]);
    assert.deepEqual(sim.faults, []);

    // A query without a scheduled fault.
    assert.deepEqual(await injector.arm(query("clean"), "greedy").disarm(), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
