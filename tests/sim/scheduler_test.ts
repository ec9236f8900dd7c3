import assert from "node:assert/strict";
import { BackendError, TimeoutError } from "../../src/core/mod.ts";
import { getProfile } from "../../src/hal/mod.ts";
import type { SimExecution } from "../../src/sim/api.ts";
import { type Item, Scheduler, type SchedUnit } from "../../src/sim/scheduler.ts";
import { createUnit } from "../../src/sim/units.ts";

function setup() {
  const units = new Map<string, SchedUnit>();
  for (const p of getProfile("imx8mp").priors.units) units.set(p.id, createUnit<Item>(p, []));
  let now = 0;
  const scheduler = new Scheduler(units, "imx8mp", () => now, () => {});
  /** What the board does between events: progress at the units' rates, then settle what is due. */
  const advanceTo = (t: number) => {
    for (const unit of units.values()) {
      if (unit.active) unit.active.remaining = Math.max(0, unit.active.remaining - unit.ratePerMs * (t - now));
    }
    now = t;
    scheduler.predictEnds();
    scheduler.settleDue();
  };
  return { units, scheduler, advanceTo };
}

function submit(s: Scheduler, items: Parameters<Scheduler["validate"]>[0], options = {}) {
  let result: SimExecution[] | undefined;
  let error: unknown;
  s.submit(s.validate(items, options), options, (r) => (result = r), (e) => (error = e));
  return { result: () => result, error: () => error };
}

Deno.test("Scheduler runs one unit's items in order and units side by side", () => {
  const { units, scheduler, advanceTo } = setup();
  const run = submit(scheduler, [
    { unitId: "cpu", flops: 1, bytes: 1, precision: "fp32" },
    { unitId: "cpu", flops: 1, bytes: 1, precision: "fp32" },
    { unitId: "npu", flops: 1, bytes: 1, precision: "int8" },
  ]);
  const cpu = units.get("cpu")!;
  const npu = units.get("npu")!;
  assert.equal(cpu.queue.length, 1);
  assert.ok(cpu.active && npu.active);
  cpu.ratePerMs = 1 / 10;
  npu.ratePerMs = 1 / 15;
  assert.equal(scheduler.predictEnds(), 10);
  advanceTo(10);
  assert.equal(cpu.active?.startMs, 10, "the second cpu item starts when the first ends");
  assert.equal(run.result(), undefined);
  advanceTo(15);
  advanceTo(20);
  assert.deepEqual(run.result()!.map((r) => [r.unitId, r.startMs, r.endMs]), [
    ["cpu", 0, 10],
    ["cpu", 10, 20],
    ["npu", 0, 15],
  ]);
  assert.equal(scheduler.calls.size, 0);
});

Deno.test("Scheduler settles deadlines, aborts and unit failures, releasing the units", () => {
  const { units, scheduler, advanceTo } = setup();
  const late = submit(scheduler, [{ unitId: "npu", flops: 1, bytes: 1, precision: "int8" }], { timeoutMs: 50 });
  const controller = new AbortController();
  const aborted = submit(scheduler, [{ unitId: "cpu", flops: 1, bytes: 1, precision: "fp32" }], {
    signal: controller.signal,
  });
  controller.abort(new Error("stop"));
  assert.equal((aborted.error() as Error).message, "stop");
  assert.equal(units.get("cpu")!.active, undefined);
  advanceTo(50);
  assert.ok(late.error() instanceof TimeoutError);
  const failing = submit(scheduler, [{ unitId: "cpu", flops: 1, bytes: 1, precision: "fp32" }]);
  scheduler.failUnit(units.get("cpu")!, new BackendError("cpu broke"));
  assert.ok(failing.error() instanceof BackendError);
  units.get("npu")!.failed = true;
  assert.throws(
    () => scheduler.validate([{ unitId: "npu", flops: 1, bytes: 1, precision: "int8" }], {}),
    (e: unknown) => e instanceof BackendError && e.details.unitId === "npu",
  );
});

Deno.test("Scheduler.validate() names the item and field that are wrong", () => {
  const { scheduler } = setup();
  const bad = (item: unknown, pattern: RegExp) => assert.throws(() => scheduler.validate([item as never], {}), pattern);
  bad(
    { unitId: "gpu", flops: 1, bytes: 1, precision: "fp32" },
    /item 0: unknown unit "gpu" on imx8mp \(units: cpu, npu\)/,
  );
  bad({ unitId: "cpu", flops: Infinity, bytes: 1, precision: "fp32" }, /flops must be a finite number >= 0/);
  bad({ unitId: "npu", flops: 1, bytes: 1, precision: "fp16" }, /"npu" cannot compute fp16 \(it runs int8\)/);
  bad(null, /item 0 is not an object/);
  assert.throws(() => scheduler.validate("x" as never, {}), TypeError);
  assert.throws(() => scheduler.validate([], { timeoutMs: 0 }), /timeoutMs must be a finite number > 0/);
  assert.equal(scheduler.validate([{ unitId: "npu", flops: 0, bytes: 5, precision: "fp32" }], {}).length, 1);
});
