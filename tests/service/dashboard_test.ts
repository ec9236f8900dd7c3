import assert from "node:assert/strict";
import { createRng, ManualClock } from "../../src/core/mod.ts";
import { type Board, discoverBoard } from "../../src/hal/mod.ts";
import { createBoardModel, type Job } from "../../src/physics/mod.ts";
import { plan } from "../../src/pgsam/mod.ts";
import { createSimBoard, type SimBoard } from "../../src/sim/mod.ts";
import {
  createDashboard,
  createDashboardHub,
  createHttpApp,
  type DashboardFeed,
  type DashboardHub,
  type DashboardJob,
  type DashboardOptions,
  dashboardPlan,
  type DashboardSnapshot,
  faultEvent,
  MIN_POWER_SCALE_W,
  powerScaleOf,
  type RequestLimits,
  serveHttp,
  sseComment,
  sseEvent,
} from "../../src/service/mod.ts";
import { createMemoryService } from "./_memory_service.ts";
import { captureLogger } from "./_helpers.ts";

const LIMITS: RequestLimits = {
  maxPromptBytes: 128,
  defaultSamples: 3,
  maxSamples: 8,
  defaultMaxTokens: 16,
  maxMaxTokens: 64,
  defaultTemperature: 0.5,
  maxSloMs: 10_000,
};
const TOKEN = "dashboard-token-0123456789";
const PERIOD_MS = 1000;

/** A virtual-time simulated RK3588 discovered by the HAL, and a hub over it. */
async function simHub(options: { historyPoints?: number; maxJobs?: number; maxFaults?: number } = {}) {
  const root = await Deno.makeTempDir({ prefix: "qeil-dashboard-test-" });
  const sim: SimBoard = await createSimBoard({ profileId: "rk3588", root, seed: 3, timeMode: "virtual" });
  const board: Board = await discoverBoard(root, { profileId: "rk3588", clock: sim.clock });
  const clock = new ManualClock();
  const hub = createDashboardHub({ board, nodeId: "node-1", periodMs: PERIOD_MS, clock, bootId: "boot-1", ...options });
  /** Lets a second of simulated time pass and records what the HAL reads then. */
  const tick = async () => {
    await sim.advance(PERIOD_MS);
    hub.recordSample(await board.read());
  };
  return {
    sim,
    board,
    hub,
    clock,
    tick,
    async [Symbol.asyncDispose]() {
      await sim[Symbol.asyncDispose]();
      await Deno.remove(root, { recursive: true });
    },
  };
}

function appOver(feed: DashboardFeed, options: DashboardOptions = {}) {
  const dashboard = createDashboard(feed, options);
  return {
    dashboard,
    mount: (api: Parameters<typeof createHttpApp>[0]) =>
      createHttpApp(api, { limits: LIMITS, token: TOKEN, dashboard }),
  };
}

interface Frame {
  event?: string;
  data?: string;
  retry?: number;
  comments: string[];
}

/** Reads server-sent event frames from a response body. */
function frames(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    reader,
    /** The next frame, or `undefined` when the stream ended. */
    async next(): Promise<Frame | undefined> {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const text = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const frame: Frame = { comments: [] };
          const data: string[] = [];
          for (const line of text.split("\n")) {
            if (line.startsWith(":")) frame.comments.push(line.slice(1).trim());
            else if (line.startsWith("event: ")) frame.event = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
            else if (line.startsWith("retry: ")) frame.retry = Number(line.slice(7));
            else throw new Error(`unexpected SSE line ${JSON.stringify(line)}`);
          }
          if (data.length > 0) frame.data = data.join("\n");
          return frame;
        }
        const { done, value } = await reader.read();
        if (done) {
          assert.equal(buffer, "", "the stream ended inside a frame");
          return undefined;
        }
        buffer += decoder.decode(value, { stream: true });
      }
    },
  };
}

function snapshotOf(frame: Frame | undefined): DashboardSnapshot {
  assert.ok(frame?.data, `expected a data frame, got ${JSON.stringify(frame)}`);
  return JSON.parse(frame.data);
}

function job(id: string, overrides: Partial<DashboardJob> = {}): DashboardJob {
  return {
    id,
    task: "gsm8k",
    ok: true,
    answer: "42",
    samplesUsed: 3,
    samplesMax: 8,
    stopReason: "confident",
    energyJ: 10,
    latencyMs: 900,
    standardEnergyJ: 25,
    finishedAtMs: 1_700_000_000_000,
    ...overrides,
  };
}

Deno.test("sseEvent() frames retry, event, id and one data line per line, ending with a blank line", () => {
  assert.equal(
    sseEvent({ retryMs: 2000, event: "update", id: "7", data: "a\nb\r\nc" }),
    "retry: 2000\nevent: update\nid: 7\ndata: a\ndata: b\ndata: c\n\n",
  );
  assert.equal(sseEvent({ data: "" }), "data: \n\n");
  assert.equal(sseComment("heartbeat"), ": heartbeat\n\n");
  assert.equal(sseComment("two\nlines"), ": two\n: lines\n\n");
});

Deno.test("sseEvent() refuses fields that would break the framing", () => {
  assert.throws(() => sseEvent({ event: "up\ndate", data: "x" }), { name: "TypeError", message: /event name/ });
  assert.throws(() => sseEvent({ id: "1\r2", data: "x" }), { name: "TypeError", message: /id/ });
  assert.throws(() => sseEvent({ retryMs: -1 }), { name: "TypeError", message: /retryMs/ });
  assert.throws(() => sseEvent({}), { name: "TypeError", message: /at least one field/ });
});

Deno.test("GET /dashboard serves the page and every asset it references, with a same-origin-only CSP", async () => {
  await using s = await simHub();
  await using service = await createMemoryService();
  const { mount } = appOver(s.hub);
  const app = mount(service.api);
  const res = await app.request("/dashboard");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/html/);
  const csp = res.headers.get("content-security-policy")!;
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /connect-src 'self'/);
  const html = await res.text();
  const refs = [...html.matchAll(/(?:src|href)="(dashboard\/assets\/[^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(refs.sort(), ["dashboard/assets/dashboard.css", "dashboard/assets/dashboard.js"]);
  assert.doesNotMatch(html, /https?:\/\//, "the page loads nothing from elsewhere");
  const types: Record<string, RegExp> = { css: /^text\/css/, js: /^text\/javascript/ };
  for (const ref of refs) {
    const asset = await app.request(`/${ref}`);
    assert.equal(asset.status, 200, ref);
    assert.match(asset.headers.get("content-type")!, types[ref.split(".").at(-1)!], ref);
    assert.equal(asset.headers.get("x-content-type-options"), "nosniff");
    assert.ok((await asset.text()).length > 1000, `${ref} has content`);
  }
  const redirect = await app.request("/dashboard/");
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get("location"), "/dashboard");
});

Deno.test("unknown dashboard assets and paths out of the asset folder are 404 with a JSON error", async () => {
  await using s = await simHub();
  await using service = await createMemoryService();
  const app = appOver(s.hub).mount(service.api);
  for (const path of ["/dashboard/assets/nope.js", "/dashboard/assets/..%2Fhttp.ts", "/dashboard/assets/../http.ts"]) {
    const res = await app.request(path);
    assert.equal(res.status, 404, path);
    const body = await res.json();
    assert.equal(body.ok, false);
    assert.equal(body.error.code, "NotFound");
  }
});

Deno.test("the dashboard's routes are read-only without a token while POST /v1/infer still needs one", async () => {
  await using s = await simHub();
  await using service = await createMemoryService();
  const { mount, dashboard } = appOver(s.hub);
  const app = mount(service.api);
  assert.equal((await app.request("/dashboard")).status, 200);
  const json = await app.request("/v1/dashboard");
  assert.equal(json.status, 200);
  assert.equal((await json.json()).bootId, "boot-1");
  const events = await app.request("/v1/events");
  assert.equal(events.status, 200);
  await events.body!.cancel();
  const post = await app.request("/v1/infer", { method: "POST", body: JSON.stringify({ prompt: "hi" }) });
  assert.equal(post.status, 401);
  const head = await app.request("/v1/events", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.match(head.headers.get("content-type")!, /^text\/event-stream/);
  assert.equal(s.hub.listeners, 0, "HEAD opens no stream");
  const wrong = await app.request("/v1/events", { method: "POST" });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "GET, HEAD");
  assert.equal(dashboard.connections, 0);
});

Deno.test("GET /v1/events sends a snapshot, then updates carrying only the points the client has not seen", async () => {
  await using s = await simHub();
  await s.tick();
  await s.tick();
  await using service = await createMemoryService();
  const { mount, dashboard } = appOver(s.hub, { clock: s.clock, retryMs: 1500 });
  const res = await mount(service.api).request("/v1/events");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
  assert.equal(res.headers.get("cache-control"), "no-cache, no-transform");
  const stream = frames(res.body!);
  try {
    const first = await stream.next();
    assert.equal(first?.event, "snapshot");
    assert.equal(first?.retry, 1500);
    const snapshot = snapshotOf(first);
    assert.deepEqual(snapshot, JSON.parse(JSON.stringify(s.hub.snapshot())));
    assert.deepEqual(snapshot.units.map((u) => u.id), ["cpu_big", "cpu_little", "gpu", "npu"]);
    for (const u of snapshot.units) assert.equal(u.history.length, 2, u.id);

    await s.tick();
    const update = await stream.next();
    assert.equal(update?.event, "update");
    const after = snapshotOf(update);
    const latest = s.hub.snapshot();
    for (const u of after.units) {
      assert.equal(u.history.length, 1, `${u.id} gets only its new point`);
      assert.deepEqual(u.history[0], latest.units.find((x) => x.id === u.id)!.history.at(-1));
      assert.ok(u.history[0].timestampMs > snapshot.units[0].history[1].timestampMs);
    }

    s.hub.recordJob(job("j1"));
    const withJob = snapshotOf(await stream.next());
    assert.deepEqual(withJob.jobs.map((j) => j.id), ["j1"]);
    for (const u of withJob.units) assert.deepEqual(u.history, [], `${u.id}: no new telemetry in a job update`);
    assert.equal(dashboard.connections, 1);
  } finally {
    await stream.reader.cancel();
  }
});

Deno.test("a client that does not read gets the changes coalesced into one update, with no point lost", async () => {
  await using s = await simHub({ historyPoints: 50 });
  await s.tick();
  await using service = await createMemoryService();
  const res = await appOver(s.hub, { clock: s.clock }).mount(service.api).request("/v1/events");
  const stream = frames(res.body!);
  try {
    // The snapshot waits unread in the stream; five samples and a fault arrive meanwhile.
    for (let i = 0; i < 5; i++) await s.tick();
    s.hub.recordFault(faultEvent("unit-failed", "error", "npu stopped", 1_700_000_000_000, { unitId: "npu" }));
    const first = snapshotOf(await stream.next());
    const update = await stream.next();
    assert.equal(update?.event, "update");
    const after = snapshotOf(update);
    const seen = first.units[0].history.length;
    for (const u of after.units) {
      assert.equal(
        u.history.length + seen,
        s.hub.snapshot().units[0].history.length,
        `${u.id}: every point arrives once`,
      );
    }
    assert.equal(after.faults[0].kind, "unit-failed");
  } finally {
    await stream.reader.cancel();
  }
});

Deno.test("an idle event stream gets a heartbeat comment every heartbeatMs of its clock", async () => {
  await using s = await simHub();
  await using service = await createMemoryService();
  const { mount } = appOver(s.hub, { clock: s.clock, heartbeatMs: 5000 });
  const stream = frames((await mount(service.api).request("/v1/events")).body!);
  try {
    assert.equal((await stream.next())?.event, "snapshot");
    await s.clock.advance(5000);
    assert.deepEqual(await stream.next(), { comments: ["heartbeat"] });
    await s.clock.advance(5000);
    assert.deepEqual(await stream.next(), { comments: ["heartbeat"] });
  } finally {
    await stream.reader.cancel();
  }
});

Deno.test("a client going away unsubscribes its stream from the feed and stops its heartbeat", async () => {
  await using s = await simHub();
  await using service = await createMemoryService();
  const { mount, dashboard } = appOver(s.hub, { clock: s.clock });
  const app = mount(service.api);
  const a = frames((await app.request("/v1/events")).body!);
  const b = frames((await app.request("/v1/events")).body!);
  await a.next();
  await b.next();
  assert.equal(s.hub.listeners, 2);
  assert.equal(s.clock.pendingSleeps, 2);
  assert.equal(dashboard.connections, 2);
  await a.reader.cancel();
  assert.equal(s.hub.listeners, 1);
  assert.equal(s.clock.pendingSleeps, 1);
  assert.equal(dashboard.connections, 1);
  await b.reader.cancel();
  assert.equal(s.hub.listeners, 0);
  assert.equal(s.clock.pendingSleeps, 0, "no heartbeat left behind");
  assert.equal(dashboard.connections, 0);
  s.hub.recordFault(faultEvent("watchdog", "warning", "after the clients left", 1));
});

Deno.test("close() ends every open event stream and later ones are refused with 503", async () => {
  await using s = await simHub();
  await using service = await createMemoryService();
  const { mount, dashboard } = appOver(s.hub, { clock: s.clock });
  const app = mount(service.api);
  const stream = frames((await app.request("/v1/events")).body!);
  assert.equal((await stream.next())?.event, "snapshot");
  dashboard.close();
  assert.equal(await stream.next(), undefined, "the stream ends");
  assert.equal(s.hub.listeners, 0);
  assert.equal(s.clock.pendingSleeps, 0);
  const later = await app.request("/v1/events");
  assert.equal(later.status, 503);
  assert.equal((await later.json()).error.code, "ShuttingDown");
  assert.equal((await app.request("/dashboard")).status, 200, "the page itself is still served");
});

Deno.test("event streams beyond maxConnections are refused with 503 Busy and Retry-After", async () => {
  await using s = await simHub();
  await using service = await createMemoryService();
  const app = appOver(s.hub, { clock: s.clock, maxConnections: 1 }).mount(service.api);
  const first = frames((await app.request("/v1/events")).body!);
  try {
    const second = await app.request("/v1/events");
    assert.equal(second.status, 503);
    assert.equal(second.headers.get("retry-after"), "5");
    assert.equal((await second.json()).error.code, "Busy");
  } finally {
    await first.reader.cancel();
  }
  const third = await app.request("/v1/events");
  assert.equal(third.status, 200, "a slot frees when a client leaves");
  await third.body!.cancel();
});

Deno.test("a feed whose snapshot() throws ends the stream and logs the error", async () => {
  const { logger, waitFor } = captureLogger();
  const broken: DashboardFeed = {
    snapshot: () => Promise.reject(new Error("state store unreadable")),
    subscribe: () => () => {},
  };
  await using service = await createMemoryService();
  const clock = new ManualClock();
  const { mount, dashboard } = appOver(broken, { clock, logger });
  const stream = frames((await mount(service.api).request("/v1/events")).body!);
  assert.equal(await stream.next(), undefined);
  const event = await waitFor((e) => e.msg.startsWith("dashboard feed failed"));
  assert.match(JSON.stringify(event), /state store unreadable/);
  assert.equal(dashboard.connections, 0);
  assert.equal(clock.pendingSleeps, 0);
});

Deno.test("createDashboard() refuses non-positive options", () => {
  const feed: DashboardFeed = { snapshot: () => Promise.reject(new Error("unused")), subscribe: () => () => {} };
  assert.throws(() => createDashboard(feed, { heartbeatMs: 0 }), { name: "RangeError", message: /heartbeatMs/ });
  assert.throws(() => createDashboard(feed, { maxConnections: 1.5 }), {
    name: "RangeError",
    message: /maxConnections/,
  });
});

/** The hub, with a promise that settles when a subscription ends. */
function watchedFeed(hub: DashboardHub) {
  let ended!: () => void;
  const unsubscribed = new Promise<void>((resolve) => ended = resolve);
  const feed: DashboardFeed = {
    snapshot: () => hub.snapshot(),
    subscribe: (onChange) => {
      const off = hub.subscribe(onChange);
      return () => {
        off();
        ended();
      };
    },
  };
  return { feed, unsubscribed };
}

Deno.test("over a socket, a client that disconnects is unsubscribed from the feed", async () => {
  await using s = await simHub();
  await using service = await createMemoryService();
  const { feed, unsubscribed } = watchedFeed(s.hub);
  const { mount, dashboard } = appOver(feed);
  const server = await serveHttp(mount(service.api), { port: 0 });
  try {
    const client = new AbortController();
    const res = await fetch(`${server.url}/v1/events`, { signal: client.signal });
    const stream = frames(res.body!);
    assert.equal((await stream.next())?.event, "snapshot");
    assert.equal(dashboard.connections, 1);
    client.abort();
    await unsubscribed;
    assert.equal(dashboard.connections, 0);
    assert.equal(s.hub.listeners, 0);
  } finally {
    dashboard.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() shuts down with an event stream open once the dashboard is closed", async () => {
  await using s = await simHub();
  await using service = await createMemoryService();
  const { mount, dashboard } = appOver(s.hub);
  const server = await serveHttp(mount(service.api), { port: 0 });
  try {
    const res = await fetch(`${server.url}/v1/events`);
    assert.equal(res.status, 200);
    const stream = frames(res.body!);
    assert.equal((await stream.next())?.event, "snapshot");
    await s.tick();
    assert.equal((await stream.next())?.event, "update");
    dashboard.close();
    assert.equal(await stream.next(), undefined, "the client sees the stream end");
  } finally {
    dashboard.close();
    await server.shutdown();
  }
  assert.equal(s.hub.listeners, 0);
});

Deno.test("the hub turns HAL samples into points: a removed sensor is a gap with its reason", async () => {
  await using s = await simHub();
  await s.tick();
  const npuTemp = s.sim.paths.zones.find((z) => z.type === "npu-thermal")!;
  s.sim.inject({ kind: "sensor-remove", path: `${npuTemp.path}/temp` });
  await s.tick();
  const snap = s.hub.snapshot();
  const npu = snap.units.find((u) => u.id === "npu")!;
  assert.equal(npu.history.length, 2);
  const [before, after] = npu.history;
  assert.ok(typeof before.tempC === "number" && before.tempC > 15 && before.tempC < 60, `npu tempC ${before.tempC}`);
  assert.equal(after.tempC, null);
  assert.match(npu.unreadable.tempC!, /temp/);
  assert.ok(after.timestampMs > before.timestampMs);
  const big = snap.units.find((u) => u.id === "cpu_big")!;
  assert.equal(big.unreadable.tempC, undefined);
  assert.ok(big.history.every((p) => p.freqHz !== null && p.freqHz >= big.minFreqHz! && p.freqHz <= big.maxFreqHz!));
  assert.ok(big.history.every((p) => p.powerW !== null && p.powerW >= 0));
  assert.equal(big.kind, "cpu");
});

Deno.test("the hub scales each unit's power chart to at least a quarter of its peak power, never below 1 W", async () => {
  await using s = await simHub();
  for (let i = 0; i < 3; i++) await s.tick();
  const snap = s.hub.snapshot();
  const scale = Object.fromEntries(snap.units.map((u) => [u.id, u.powerScaleW]));
  // RK3588 priors: cpu_big peaks near 4.5 W; the others below 4 W, so their floor is the 1 W minimum.
  for (const id of ["cpu_little", "gpu", "npu"]) assert.equal(scale[id], MIN_POWER_SCALE_W, id);
  const big = s.board.profile.priors.units.find((u) => u.id === "cpu_big")!;
  const top = big.opps[big.opps.length - 1];
  const peakW = big.idlePowerW + big.leakagePowerW + big.ceffF * top.voltageV ** 2 * top.freqHz;
  assert.ok(Math.abs(scale.cpu_big - peakW / 4) < 1e-12 && scale.cpu_big > 1, `cpu_big ${scale.cpu_big} W`);
  // What an idle unit's rail reads is far below its floor: it draws flat at the bottom of the chart.
  for (const unit of snap.units.filter((u) => u.id === "gpu" || u.id === "npu")) {
    for (const p of unit.history) assert.ok(p.powerW !== null && p.powerW < unit.powerScaleW / 10, `${unit.id}`);
  }
  // A board without priors for a unit still gets the minimum, and a bigger unit a larger floor.
  assert.equal(powerScaleOf(undefined), MIN_POWER_SCALE_W);
  assert.equal(powerScaleOf({ ...big, idlePowerW: 10, leakagePowerW: 2, ceffF: 0 }), 3);
});

Deno.test("the hub draws a unit's own trips, or the board's when its zones have none (RK3588: soc-thermal)", async () => {
  await using s = await simHub();
  const snap = s.hub.snapshot();
  const socTrips = s.board.thermalZones.find((z) => z.name === "soc-thermal")!.trips;
  assert.ok(socTrips.length > 0);
  for (const unit of snap.units) {
    assert.deepEqual(
      unit.trips.map((t) => [t.type, t.tempC, t.zone]),
      socTrips.map((t) => [t.type, t.tempC, "soc-thermal"]),
      unit.id,
    );
  }
});

Deno.test("the hub keeps the newest points, jobs and faults up to its bounds", async () => {
  await using s = await simHub({ historyPoints: 3, maxJobs: 2, maxFaults: 2 });
  for (let i = 0; i < 5; i++) await s.tick();
  for (const u of s.hub.snapshot().units) assert.equal(u.history.length, 3);
  for (const id of ["a", "b", "c"]) s.hub.recordJob(job(id));
  for (const m of ["one", "two", "three"]) s.hub.recordFault(faultEvent("watchdog", "warning", m, 1));
  const snap = s.hub.snapshot();
  assert.deepEqual(snap.jobs.map((j) => j.id), ["c", "b"]);
  assert.deepEqual(snap.faults.map((f) => f.message), ["three", "two"]);
  assert.equal(snap.totals.jobs, 3, "totals count every job, not only the kept ones");
});

Deno.test("the hub's totals: energy saved against the standard prediction, samples the cascade did not draw", async () => {
  await using s = await simHub();
  s.hub.recordJob(job("a", { energyJ: 10, standardEnergyJ: 25, samplesUsed: 3, samplesMax: 8 }));
  s.hub.recordJob(job("b", { energyJ: 30, standardEnergyJ: 20, samplesUsed: 8, samplesMax: 8, stopReason: "budget" }));
  s.hub.recordJob(job("c", { energyJ: 5, standardEnergyJ: undefined, samplesUsed: 1, samplesMax: 4 }));
  s.hub.recordJob(
    job("d", {
      ok: false,
      answer: null,
      energyJ: null,
      samplesUsed: 0,
      samplesMax: 4,
      stopReason: null,
      error: { code: "Backend", message: "npu failed" },
    }),
  );
  assert.deepEqual(s.hub.snapshot().totals, {
    jobs: 4,
    failedJobs: 1,
    energyJ: 45,
    standardEnergyJ: 45,
    energySavedJ: 5,
    samplesUsed: 12,
    samplesSaved: 8,
  });
});

Deno.test("the hub's health: reasons and since-times, unknown units refused", async () => {
  await using s = await simHub();
  const start = s.clock.nowMs();
  assert.deepEqual(s.hub.health("npu"), { state: "healthy", sinceMs: start });
  await s.clock.advance(1000);
  s.hub.setHealth("npu", "failed", "BackendError: npu stopped");
  await s.clock.advance(1000);
  s.hub.setHealth("npu", "failed", "still failing");
  assert.deepEqual(s.hub.health("npu"), { state: "failed", reason: "still failing", sinceMs: start + 1000 });
  s.hub.setHealth("npu", "probation", "passed 1 of 3 probes");
  assert.equal(s.hub.health("npu").sinceMs, start + 2000);
  assert.throws(() => s.hub.setHealth("tpu", "failed"), { name: "RangeError", message: /no unit "tpu".*cpu_big/ });
  assert.throws(
    () => createDashboardHub({ board: s.board, nodeId: "n", periodMs: 0 }),
    { name: "RangeError", message: /periodMs/ },
  );
});

Deno.test("a hub listener that throws is logged and does not stop the others", async () => {
  await using s = await simHub();
  const { logger, waitFor } = captureLogger();
  const hub: DashboardHub = createDashboardHub({ board: s.board, nodeId: "n", periodMs: 1000, logger });
  let calls = 0;
  hub.subscribe(() => {
    throw new Error("listener broke");
  });
  const off = hub.subscribe(() => calls++);
  hub.setPlan(null);
  assert.equal(calls, 1);
  await waitFor((e) => e.msg === "dashboard listener failed");
  off();
  hub.setPlan(null);
  assert.equal(calls, 1, "unsubscribed");
});

Deno.test("dashboardPlan() puts a PGSAM plan in the page's terms, clocks resolved from the operating points", async () => {
  await using s = await simHub();
  const model = createBoardModel(s.board.profile.priors);
  const shape = {
    family: "llama",
    mlpMatrices: 3 as const,
    layers: 8,
    hiddenSize: 512,
    intermediateSize: 1408,
    heads: 8,
    kvHeads: 4,
    headDim: 64,
    vocabSize: 32000,
    maxSeqLen: 2048,
    tiedEmbeddings: true,
    weightPrecision: "int8" as const,
    groupSize: 32,
    kvPrecision: "fp16" as const,
  };
  const j: Job = { shape, promptTokens: 64, genTokens: 16, samples: 4 };
  const state = {
    tempsC: {},
    ambientC: model.ambientC,
    memAvailableBytes: 4e9,
    healthyUnits: [...model.unitIds],
    maxFreqHz: {},
  };
  const result = plan(model, state, j, { policy: "balanced", maxEvaluations: 150, frequencyLevels: 3 }, createRng(5));
  const view = dashboardPlan(model, j, result, 1234);
  assert.equal(view.computedAtMs, 1234);
  assert.equal(view.policy, "balanced");
  assert.deepEqual(view.job, { promptTokens: 64, genTokens: 16, samples: 4, layers: 8 });
  assert.equal(view.front.length, result.front.length);
  assert.ok(view.front.length >= 2, `front of ${view.front.length}`);
  for (let i = 1; i < view.front.length; i++) assert.ok(view.front[i].energyJ >= view.front[i - 1].energyJ);
  assert.ok(view.front.some((p) => p.key === view.chosen.key), "the chosen point is on the front");
  const c = result.chosen.placement;
  const opps = model.units[c.prefillUnit].opps;
  assert.equal(view.chosen.placement.prefillFreqHz, opps[c.freqLevel[c.prefillUnit] ?? opps.length - 1].freqHz);
  for (const [i, lane] of view.chosen.placement.lanes.entries()) {
    assert.equal(lane.samples, c.lanes[i].samples);
    assert.equal(lane.segments.at(-1)!.layerEnd, 8);
    for (const seg of lane.segments) {
      assert.ok(model.units[seg.unitId].opps.some((o) => o.freqHz === seg.freqHz), `${seg.unitId} at ${seg.freqHz}`);
    }
  }
  assert.equal(view.standard.placement.prefillUnit, model.defaultUnit);
  const top = model.units[model.defaultUnit].opps.at(-1)!.freqHz;
  assert.equal(view.standard.placement.prefillFreqHz, top, "standard runs at the top clock");
  assert.equal(view.standard.energyJ, result.standard.prediction.energyJ);
  assert.equal(view.greedy.latencyMs, result.greedy.prediction.latencyMs);
});
