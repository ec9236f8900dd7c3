import assert from "node:assert/strict";
import { createHttpApp, httpStatusOf, type RequestLimits, serveHttp, tokenMatches } from "../../src/service/mod.ts";
import { createMemoryService } from "./_memory_service.ts";

const LIMITS: RequestLimits = {
  maxPromptBytes: 128,
  defaultSamples: 3,
  maxSamples: 8,
  defaultMaxTokens: 16,
  maxMaxTokens: 64,
  defaultTemperature: 0.5,
  maxSloMs: 10_000,
};
const TOKEN = "s3cret-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };

async function setup(options: { capacity?: number } = {}) {
  const service = await createMemoryService(options);
  const app = createHttpApp(service.api, { limits: LIMITS, token: TOKEN });
  return { service, app };
}

function post(app: ReturnType<typeof createHttpApp>, body: unknown, headers: Record<string, string> = AUTH) {
  return app.request("/v1/infer", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

Deno.test("POST /v1/infer runs a request and returns the result payload", async () => {
  const { service, app } = await setup();
  await using _ = service;
  const res = await post(app, { schemaVersion: 1, id: "h1", prompt: "hello", samples: 4 });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  assert.deepEqual(await res.json(), {
    schemaVersion: 1,
    id: "h1",
    ok: true,
    answer: "HELLO",
    text: "HELLO",
    confidence: 0.75,
    samplesUsed: 2,
    stopReason: "confident",
    energyJ: 1.25,
    latencyMs: 40,
    placement: {
      prefillUnit: "cpu_big",
      lanes: [{ segments: [{ unitId: "cpu_big", layerStart: 0, layerEnd: 2 }], samples: 2 }],
      freqLevel: { cpu_big: 3 },
    },
  });
  const again = await post(app, { id: "h1", prompt: "something else" });
  assert.equal((await again.json()).answer, "HELLO", "a repeated id returns the first result");
  assert.deepEqual(service.runs, ["h1"]);
});

Deno.test("POST /v1/infer refuses bad input with 400 naming the field", async () => {
  const { service, app } = await setup();
  await using _ = service;
  const cases: [unknown, string][] = [
    ["{oops", "payload"],
    [{ id: "x", prompt: "p", samples: 0 }, "samples"],
    [{ id: "x", prompt: "p", task: "haiku" }, "task"],
    [{ id: "x" }, "prompt"],
    [{ id: "x", prompt: "x".repeat(129) }, "prompt"],
  ];
  for (const [body, field] of cases) {
    const res = await post(app, body);
    assert.equal(res.status, 400, JSON.stringify(body));
    const json = await res.json();
    assert.equal(json.ok, false);
    assert.equal(json.error.code, "Input");
    assert.equal(json.error.field, field);
  }
  assert.deepEqual(service.runs, []);
});

Deno.test("POST /v1/infer needs the bearer token; GET routes do not", async () => {
  const { service, app } = await setup();
  await using _ = service;
  const attempts: Record<string, string>[] = [{}, { authorization: "Bearer wrong-token" }, { authorization: TOKEN }];
  for (const headers of attempts) {
    const res = await post(app, { id: "a", prompt: "p" }, headers);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="qeil"');
    assert.equal((await res.json()).error.code, "Unauthorized");
  }
  assert.deepEqual(service.runs, [], "an unauthenticated request never runs");
  assert.equal((await app.request("/v1/status")).status, 200);
  const open = createHttpApp(service.api, { limits: LIMITS });
  assert.equal(
    (await post(open, { id: "b", prompt: "p" }, {})).status,
    200,
    "no token configured: open (loopback only)",
  );
});

Deno.test("tokenMatches() compares whole tokens", () => {
  assert.equal(tokenMatches(TOKEN, TOKEN), true);
  assert.equal(tokenMatches(TOKEN.slice(0, -1), TOKEN), false);
  assert.equal(tokenMatches(TOKEN + "x", TOKEN), false);
  assert.equal(tokenMatches("", TOKEN), false);
});

Deno.test("an overloaded service answers 503 with Retry-After instead of hanging", async () => {
  const { service, app } = await setup({ capacity: 0 });
  await using _ = service;
  service.hold = true;
  const first = post(app, { id: "busy-1", prompt: "first" });
  // The first request holds the only worker once it has started.
  await service.started("busy-1");
  const second = await post(app, { id: "busy-2", prompt: "second" });
  assert.equal(second.status, 503);
  assert.equal(second.headers.get("retry-after"), "1");
  assert.equal((await second.json()).error.code, "Busy");
  service.release();
  assert.equal((await first).status, 200);
  assert.equal(service.journal.lookup("busy-2"), undefined, "a refused request is not journaled");
});

Deno.test("a job that fails returns its error payload with the mapped status", async () => {
  const { service, app } = await setup();
  await using _ = service;
  service.failOn.add("explode");
  const res = await post(app, { id: "f1", prompt: "explode" });
  assert.equal(res.status, 500);
  assert.deepEqual(await res.json(), {
    schemaVersion: 1,
    id: "f1",
    ok: false,
    error: { code: "Backend", message: 'unit npu failed on "explode"' },
  });
  const statuses = Object.fromEntries(
    ["Input", "Busy", "Timeout", "Infeasible", "Backend", "Internal"].map((c) => [c, httpStatusOf(c)]),
  );
  assert.deepEqual(statuses, { Input: 400, Busy: 503, Timeout: 504, Infeasible: 422, Backend: 500, Internal: 500 });
});

Deno.test("unknown routes are 404 and wrong methods 405 with Allow, both as JSON", async () => {
  const { service, app } = await setup();
  await using _ = service;
  const missing = await app.request("/v2/nothing");
  assert.equal(missing.status, 404);
  assert.deepEqual((await missing.json()).error, { code: "NotFound", message: "no route GET /v2/nothing" });
  const put = await app.request("/v1/infer", { method: "PUT", headers: AUTH });
  assert.equal(put.status, 405);
  assert.equal(put.headers.get("allow"), "POST");
  assert.equal((await put.json()).error.code, "MethodNotAllowed");
  const postHealth = await app.request("/healthz", { method: "POST" });
  assert.equal(postHealth.status, 405);
  assert.equal(postHealth.headers.get("allow"), "GET, HEAD");
});

Deno.test("an oversize body is refused with 413 before it is parsed", async () => {
  const { service, app } = await setup();
  await using _ = service;
  const res = await post(app, JSON.stringify({ prompt: "p", pad: "x".repeat(200_000) }));
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error.code, "PayloadTooLarge");
});

Deno.test("GET /healthz and /readyz reflect the checks and readiness", async () => {
  const { service, app } = await setup();
  await using _ = service;
  service.checks = [{ name: "sampler", run: () => ({ ok: true }) }];
  const ok = await app.request("/healthz");
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { ok: true, checks: [{ name: "sampler", ok: true }] });
  service.checks.push({ name: "event-loop", run: () => ({ ok: false, reason: "event loop lags 3000 ms" }) });
  const bad = await app.request("/healthz");
  assert.equal(bad.status, 503);
  assert.deepEqual((await bad.json()).checks[1], { name: "event-loop", ok: false, reason: "event loop lags 3000 ms" });
  assert.equal((await app.request("/readyz")).status, 200);
  service.ready = false;
  const notReady = await app.request("/readyz");
  assert.equal(notReady.status, 503);
  assert.deepEqual(await notReady.json(), { ready: false, reason: "draining" });
});

Deno.test("GET /v1/status, /v1/telemetry and /v1/plan return the service's JSON", async () => {
  const { service, app } = await setup();
  await using _ = service;
  assert.equal((await (await app.request("/v1/status")).json()).nodeId, "memory");
  assert.equal((await (await app.request("/v1/telemetry")).json()).units.cpu_big.tempC, 48.5);
  assert.equal((await (await app.request("/v1/plan")).json()).policy, "balanced");
});

/** Checks Prometheus text format rules: HELP and TYPE before a family's samples, sample names of that family. */
function parsePrometheus(
  text: string,
): Map<string, { type: string; samples: { name: string; labels: string; value: number }[] }> {
  const families = new Map<string, { type: string; samples: { name: string; labels: string; value: number }[] }>();
  let current: string | undefined;
  const helped = new Set<string>();
  assert.ok(text.endsWith("\n"), "the exposition ends with a newline");
  for (const line of text.trimEnd().split("\n")) {
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$/))) {
      helped.add(m[1]);
      current = m[1];
    } else if ((m = line.match(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/))) {
      assert.ok(helped.has(m[1]) && current === m[1], `HELP precedes TYPE for ${m[1]}`);
      assert.ok(!families.has(m[1]), `${m[1]} is declared once`);
      families.set(m[1], { type: m[2], samples: [] });
    } else if ((m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/))) {
      const [, name, labels = "", value] = m;
      assert.ok(current !== undefined && families.has(current), `sample ${name} follows a TYPE line`);
      const fam = families.get(current!)!;
      const allowed = fam.type === "histogram"
        ? [`${current}_bucket`, `${current}_sum`, `${current}_count`]
        : [current];
      assert.ok(allowed.includes(name), `sample ${name} belongs to family ${current}`);
      if (labels) {
        assert.match(labels, /^\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,|(?=\})))*\}$/, `labels of ${name}`);
      }
      const n = value === "+Inf" ? Infinity : value === "-Inf" ? -Infinity : Number(value);
      assert.ok(!Number.isNaN(n) || value === "NaN", `value of ${name}: ${value}`);
      fam.samples.push({ name, labels, value: n });
    } else {
      assert.fail(`line is not Prometheus text format: ${JSON.stringify(line)}`);
    }
  }
  return families;
}

Deno.test("GET /metrics serves Prometheus text with HELP/TYPE lines and the job counters", async () => {
  const { service, app } = await setup();
  await using _ = service;
  await post(app, { id: "m1", prompt: "one", samples: 5 });
  service.failOn.add("two");
  await post(app, { id: "m2", prompt: "two" });
  const res = await app.request("/metrics");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const families = parsePrometheus(await res.text());
  const jobs = families.get("qeil_jobs_total")!;
  assert.equal(jobs.type, "counter");
  assert.deepEqual(jobs.samples.map((s) => [s.labels, s.value]), [['{outcome="ok"}', 1], ['{outcome="Backend"}', 1]]);
  assert.equal(families.get("qeil_samples_saved_total")!.samples[0].value, 3, "5 asked, 2 used");
  assert.equal(families.get("qeil_job_energy_joules_total")!.samples[0].value, 1.25);
  const latency = families.get("qeil_job_latency_seconds")!;
  assert.equal(latency.type, "histogram");
  assert.deepEqual(latency.samples.find((s) => s.labels === '{le="+Inf"}')?.value, 1);
  assert.deepEqual(
    latency.samples.find((s) => s.labels === '{le="0.05"}')?.value,
    1,
    "40 ms falls in the 50 ms bucket",
  );
  assert.equal(latency.samples.find((s) => s.name === "qeil_job_latency_seconds_sum")?.value, 0.04);
  assert.equal(families.get("qeil_zone_temperature_celsius")!.samples[0].labels, '{zone="soc"}');
  for (const name of ["qeil_faults_total", "qeil_calibration_error_ratio", "qeil_queue_jobs", "qeil_mqtt_connected"]) {
    assert.ok(families.has(name), `${name} is exposed`);
  }
});

Deno.test("the app serves the same API over a real socket on 127.0.0.1", async () => {
  const { service, app } = await setup();
  await using _ = service;
  const controller = new AbortController();
  await using server = await serveHttp(app, { host: "127.0.0.1", port: 0, signal: controller.signal });
  assert.ok(server.port > 0);
  const res = await fetch(`${server.url}/v1/infer`, {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/json" },
    body: JSON.stringify({ id: "sock-1", prompt: "over tcp" }),
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).answer, "OVER TCP");
  const metrics = await fetch(`${server.url}/metrics`);
  assert.match(await metrics.text(), /^qeil_jobs_total\{outcome="ok"\} 1$/m);
  const bad = await fetch(`${server.url}/v1/infer`, { method: "POST", headers: AUTH, body: "[]" });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.field, "payload");
  controller.abort();
});
