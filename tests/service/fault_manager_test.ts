import assert from "node:assert/strict";
import { ManualClock } from "../../src/core/mod.ts";
import { createFaultManager, type FaultEvent } from "../../src/service/mod.ts";

function manager(probationMs = 1000) {
  const clock = new ManualClock();
  const events: FaultEvent[] = [];
  const faults = createFaultManager({
    unitIds: ["cpu_big", "cpu_little", "npu"],
    clock,
    probationMs,
    probationShare: 0.5,
    probationJobs: 2,
    onEvent: (e) => events.push(e),
  });
  return { clock, events, faults };
}

Deno.test("unitFault() takes a unit out of every plan and publishes an event naming it and the request", () => {
  const { events, faults } = manager();
  faults.unitFault("npu", "failed", "simulated unit npu failed", "req-1");
  assert.deepEqual(faults.usableUnits(), ["cpu_big", "cpu_little"]);
  assert.equal(events.length, 1);
  assert.equal(events[0].kind, "unit-failed");
  assert.equal(events[0].severity, "error");
  assert.equal(events[0].unitId, "npu");
  assert.equal(events[0].requestId, "req-1");
  assert.equal(events[0].code, "Backend");
  const status = faults.status().find((s) => s.unitId === "npu")!;
  assert.equal(status.state, "failed");
  assert.match(status.reason!, /simulated unit npu failed/);
  assert.equal(status.faults, 1);
});

Deno.test("a missed deadline is a unit-timeout event with code Timeout", () => {
  const { events, faults } = manager();
  faults.unitFault("cpu_big", "timeout", "no progress in 2000 ms");
  assert.equal(events[0].kind, "unit-timeout");
  assert.equal(events[0].code, "Timeout");
});

Deno.test("a failed unit returns on probation after its delay, limited to its share, and is healthy after clean jobs", async () => {
  const { clock, events, faults } = manager(1000);
  faults.unitFault("npu", "failed", "boom");
  await clock.advance(999);
  assert.ok(!faults.usableUnits().includes("npu"), "still out before the delay has passed");
  await clock.advance(1);
  assert.ok(faults.usableUnits().includes("npu"));
  const limits = faults.probation();
  assert.deepEqual([...limits.units], ["npu"]);
  assert.equal(limits.maxSamples(5), 2);
  assert.equal(limits.maxSamples(1), 1, "at least one sample");
  assert.equal(events.at(-1)!.kind, "unit-probation");
  faults.jobSucceeded(["npu", "cpu_big"]);
  assert.equal(faults.status().find((s) => s.unitId === "npu")!.state, "probation");
  faults.jobSucceeded(["npu"]);
  assert.equal(faults.status().find((s) => s.unitId === "npu")!.state, "healthy");
  assert.equal(events.at(-1)!.kind, "unit-recovered");
  assert.equal(faults.probation().units.size, 0);
});

Deno.test("a fault on probation fails the unit again with a doubled delay", async () => {
  const { clock, faults } = manager(1000);
  faults.unitFault("npu", "failed", "first");
  await clock.advance(1000);
  assert.equal(faults.status().find((s) => s.unitId === "npu")!.state, "probation");
  faults.unitFault("npu", "failed", "again");
  await clock.advance(1999);
  assert.equal(faults.status().find((s) => s.unitId === "npu")!.state, "failed");
  await clock.advance(1);
  assert.equal(faults.status().find((s) => s.unitId === "npu")!.state, "probation");
  assert.equal(faults.status().find((s) => s.unitId === "npu")!.faults, 2);
});

Deno.test("sensor() reports a channel that stops reading once, and once when it returns", () => {
  const { events, faults } = manager();
  faults.sensor("thermal:soc-thermal", true);
  faults.sensor("thermal:soc-thermal", false, "temp: No such file");
  faults.sensor("thermal:soc-thermal", false, "temp: No such file");
  assert.deepEqual(faults.lostSensors(), { "thermal:soc-thermal": "temp: No such file" });
  faults.sensor("thermal:soc-thermal", true);
  assert.deepEqual(faults.lostSensors(), {});
  assert.deepEqual(events.map((e) => [e.kind, e.severity]), [["sensor-lost", "warning"], ["sensor-lost", "info"]]);
  assert.deepEqual(faults.counts(), { "sensor-lost": 2 });
});

Deno.test("createFaultManager() refuses a probation share outside (0, 1] and unknown units", () => {
  assert.throws(
    () => createFaultManager({ unitIds: ["cpu"], clock: new ManualClock(), probationMs: 1, probationShare: 0 }),
    RangeError,
  );
  const { faults } = manager();
  assert.throws(() => faults.unitFault("gpu", "failed", "x"), /unknown unit "gpu"/);
});
