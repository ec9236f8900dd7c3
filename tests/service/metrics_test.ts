import assert from "node:assert/strict";
import { createServiceMetrics, MetricsRegistry, recordJob, renderPrometheus } from "../../src/service/mod.ts";

Deno.test("renderPrometheus() writes HELP, TYPE and escaped label values", () => {
  const r = new MetricsRegistry();
  const c = r.counter("demo_events_total", "Events seen.\nSecond line \\ with backslash.", ["path"]);
  c.inc({ path: 'a"b\\c\nd' }, 2);
  const g = r.gauge("demo_temperature_celsius", "A temperature.");
  g.set({}, Infinity);
  assert.equal(
    renderPrometheus(r.collect()),
    [
      "# HELP demo_events_total Events seen.\\nSecond line \\\\ with backslash.",
      "# TYPE demo_events_total counter",
      'demo_events_total{path="a\\"b\\\\c\\nd"} 2',
      "# HELP demo_temperature_celsius A temperature.",
      "# TYPE demo_temperature_celsius gauge",
      "demo_temperature_celsius +Inf",
      "",
    ].join("\n"),
  );
});

Deno.test("a histogram counts cumulatively into its buckets and +Inf", () => {
  const r = new MetricsRegistry();
  const h = r.histogram("demo_latency_seconds", "Latency.", [0.1, 1]);
  for (const v of [0.05, 0.1, 0.5, 3]) h.observe({}, v);
  const samples = r.collect()[0].samples.map((s) => [s.name, s.labels.le ?? "", s.value]);
  assert.deepEqual(samples, [
    ["demo_latency_seconds_bucket", "0.1", 2],
    ["demo_latency_seconds_bucket", "1", 3],
    ["demo_latency_seconds_bucket", "+Inf", 4],
    ["demo_latency_seconds_sum", "", 3.65],
    ["demo_latency_seconds_count", "", 4],
  ]);
});

Deno.test("the registry refuses invalid names, wrong labels and shrinking counters", () => {
  const r = new MetricsRegistry();
  assert.throws(() => r.counter("events", "x"), /_total/);
  assert.throws(() => r.gauge("bad-name", "x"), RangeError);
  assert.throws(() => r.gauge("g", "x", ["le"]), RangeError);
  const c = r.counter("ok_total", "x", ["kind"]);
  assert.throws(() => c.inc({}), /needs labels \{kind\}/);
  assert.throws(() => c.inc({ kind: "a" }, -1), /only grow/);
  assert.throws(() => r.counter("ok_total", "again"), /twice/);
  assert.throws(() => r.histogram("h", "x", [1, 1]), /increasing/);
});

Deno.test("recordJob() counts outcomes, latency, energy and samples saved", () => {
  const m = createServiceMetrics();
  const request = {
    schemaVersion: 1 as const,
    id: "a",
    task: "text" as const,
    prompt: "p",
    samples: 8,
    maxTokens: 4,
    temperature: 0,
  };
  recordJob(m, request, {
    schemaVersion: 1,
    id: "a",
    ok: true,
    answer: "x",
    text: "x",
    confidence: 1,
    samplesUsed: 3,
    stopReason: "unanimous",
    energyJ: 2.5,
    latencyMs: 1500,
    placement: { prefillUnit: "cpu", lanes: [], freqLevel: {} },
  });
  recordJob(m, request, { schemaVersion: 1, id: "b", ok: false, error: { code: "Timeout", message: "late" } });
  assert.equal(m.jobs.get({ outcome: "ok" }), 1);
  assert.equal(m.jobs.get({ outcome: "Timeout" }), 1);
  assert.equal(m.samplesSaved.get(), 5);
  assert.equal(m.samplesUsed.get(), 3);
  assert.equal(m.jobEnergyJoules.get(), 2.5);
  const latency = m.registry.collect().find((f) => f.name === "qeil_job_latency_seconds")!;
  assert.equal(latency.samples.find((s) => s.labels.le === "2.5")?.value, 1);
  assert.equal(latency.samples.find((s) => s.labels.le === "1")?.value, 0);
});
