/**
 * The dashboard end to end: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) against the real service (`createService`, as `qeil serve`
 * composes it) on a simulated rk3588, with the embedded MQTT broker on a free
 * port and the HTTP API on 127.0.0.1. Jobs go through the real journal,
 * intake, planner, DVFS, simulated units and cascade; the unit fault is
 * injected into the service's own simulated board (`orchestrator.sim`), so
 * the failure, probation and recovery shown are the fault manager's.
 *
 * Skipped, saying why, when /usr/bin/chromium is missing; with CI=true a
 * missing browser fails instead (CI installs it).
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type ConsoleMessage, type Page } from "playwright-core";
import { createLogger } from "../../src/core/mod.ts";
import { createService, type DashboardSnapshot, parseConfig, type Service } from "../../src/service/mod.ts";
import { VERSION } from "../../main.ts";

const CHROMIUM = "/usr/bin/chromium";
/** The flags that work on these machines (see the machine notes): no sandbox as root, no GPU, no phoning home. */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const TOKEN = "e2e-token-0123456789abcdef";
/** Bound of every wait on the page, ms (the service and the browser share two cores with other work). */
const WAIT_MS = 30_000;
/** Jobs sent at most while waiting for a unit on probation to serve its way back to healthy. */
const MAX_PROBATION_JOBS = 10;
const ARTIFACTS = new URL("../../out/test-artifacts/", import.meta.url);

/** The DOM the page callbacks use: they run in the browser, and Deno's type library has no DOM. */
interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  getBoundingClientRect(): { width: number };
}
declare const document: {
  getElementById(id: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
  body: PageElement;
  documentElement: { scrollWidth: number };
};

async function chromiumMissing(): Promise<string | undefined> {
  try {
    const info = await Deno.stat(CHROMIUM);
    return info.isFile ? undefined : `${CHROMIUM} is not a file`;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return `${CHROMIUM} is not installed (apt-get install -y chromium)`;
    throw error;
  }
}

const missing = await chromiumMissing();
const requireBrowser = Deno.env.get("CI") === "true";
if (missing && !requireBrowser) {
  console.warn(`SKIPPING the dashboard's end-to-end test: ${missing}`);
}

/** Warnings and errors the service logged, shown when the scenario fails. */
const serviceLog: string[] = [];

/**
 * Starts the real service on a simulated rk3588 in `stateDir` (the same
 * folder again for a restart: a new boot of the same node). Telemetry every
 * 250 ms so charts move quickly; a failed unit returns on probation after 4 s.
 */
async function startService(stateDir: string, httpPort: number): Promise<Service> {
  const config = parseConfig({
    nodeId: "e2e",
    board: "sim:rk3588",
    stateDir,
    http: { host: "127.0.0.1", port: httpPort, token: TOKEN },
    mqtt: { url: "embedded", embeddedHost: "127.0.0.1", embeddedPort: 0 },
    telemetry: { periodMs: 250 },
    sim: { seed: 7, stepMs: 100 },
    // Long enough that the failed state outlasts a job and the page's next update on two busy cores.
    faults: { probationMs: 4000 },
    // The latency policy spreads decode over parallel lanes, so a unit back on probation (at most
    // half the samples) gets work and can serve its way back; the energy policy may leave it idle until the
    // cached plan expires (planTtlMs), which is longer than this test waits.
    orchestrator: { policy: "latency" },
    request: { maxPromptBytes: 256, defaultSamples: 4, maxSamples: 8, defaultMaxTokens: 16, maxMaxTokens: 32 },
  });
  const logger = createLogger({ level: "warn", format: "text", sink: (line) => serviceLog.push(line) });
  return await createService(config, { version: VERSION, env: {}, logger, drainTimeoutMs: 10_000 });
}

async function infer(url: string, body: Record<string, unknown>, token: string | null = TOKEN) {
  const res = await fetch(`${url}/v1/infer`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function getJson<T>(url: string, path: string): Promise<T> {
  const res = await fetch(`${url}${path}`);
  assert.equal(res.status, 200, `GET ${path}`);
  return await res.json() as T;
}

/** Waits for `selector` to match, naming what it waited for when the bound passes. */
async function waitFor(page: Page, selector: string, what: string): Promise<void> {
  try {
    await page.waitForSelector(selector, { timeout: WAIT_MS, state: "attached" });
  } catch (error) {
    throw new Error(`waiting for ${what} (${selector}): ${(error as Error).message}`, { cause: error });
  }
}

async function connState(page: Page): Promise<string> {
  return await page.$eval("#conn", (el) => (el as unknown as PageElement).dataset.state ?? "");
}

async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const path = new URL(name, ARTIFACTS).pathname;
  await page.screenshot({ path, fullPage });
  console.log(`dashboard screenshot: ${path}`);
  return path;
}

/** The units the plan of a reply uses for decoding, in lane order. */
function decodeUnits(placement: { lanes: { segments: { unitId: string }[] }[] }): string[] {
  return [...new Set(placement.lanes.flatMap((l) => l.segments.map((s) => s.unitId)))];
}

interface WirePlacement {
  prefillUnit: string;
  lanes: { samples: number; segments: { unitId: string; layerStart: number; layerEnd: number }[] }[];
}

/** A placement's units, layers and samples (without clocks), to compare the page's plan with what ran. */
function shapeOf(p: WirePlacement): string {
  return JSON.stringify([
    p.prefillUnit,
    p.lanes.map((l) => [l.samples, l.segments.map((s) => [s.unitId, s.layerStart, s.layerEnd])]),
  ]);
}

/**
 * The whole scenario: the page loads and goes live, charts receive updates, a
 * job sent over HTTP appears with its plan, a unit fault shows as a failed
 * unit that returns on probation and serves its way back to healthy, the
 * totals are the orchestrator's, the layout fits 1280x800 and a phone, the
 * page reconnects to a restarted service, and the console stays free of errors.
 */
async function dashboardEndToEnd(stateDir: string): Promise<void> {
  const consoleErrors: string[] = [];
  /** Connection errors are expected only while the service is down. */
  const restartNoise: string[] = [];
  let restarting = false;
  let service: Service | undefined = await startService(stateDir, 0);
  let browser: Browser | undefined;
  try {
    const url = service.info.httpUrl!;
    const port = Number(new URL(url).port);
    const sim = service.orchestrator.sim;
    assert.ok(sim, "the service runs a simulated board");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on("console", (m: ConsoleMessage) => {
      if (m.type() !== "error") return;
      (restarting && /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|503|v1\/events/.test(m.text() + m.location().url)
        ? restartNoise
        : consoleErrors)
        .push(`${m.text()} (${m.location().url})`);
    });
    page.on("pageerror", (error: Error) => consoleErrors.push(`page error: ${error.message}`));

    // The page loads and goes live, with every unit of the simulated rk3588 healthy.
    const response = await page.goto(`${url}/dashboard`);
    assert.equal(response?.status(), 200);
    await page.waitForFunction(() => document.getElementById("conn")?.dataset.state === "live", null, {
      timeout: WAIT_MS,
    });
    const unitIds = (await getJson<DashboardSnapshot>(url, "/v1/dashboard")).units.map((u) => u.id);
    assert.deepEqual(unitIds, ["cpu_big", "cpu_little", "gpu", "npu"]);
    for (const id of unitIds) {
      await waitFor(page, `[data-unit="${id}"][data-health="healthy"]`, `unit ${id} healthy`);
      assert.match(await page.textContent(`[data-unit="${id}"] .badge`) ?? "", /HEALTHY/);
    }
    assert.match(await page.textContent("#board") ?? "", /rk3588|RK3588/);

    // Every chart of every unit receives at least three updates (the service's own samples).
    const pointsNow = () =>
      page.$$eval("#units canvas", (cs) => cs.map((c) => Number((c as unknown as PageElement).dataset.points)));
    const before = await pointsNow();
    assert.equal(before.length, unitIds.length * 4, "four charts per unit");
    await page.waitForFunction(
      (start) =>
        [...document.querySelectorAll("#units canvas")].every((c, i) => Number(c.dataset.points) >= start[i] + 3),
      before,
      { timeout: WAIT_MS },
    );

    // A job sent over HTTP (with the token) appears in the job list with the orchestrator's result,
    // and its plan (the Pareto front, the placement in words) replaces "No plan yet".
    assert.equal((await infer(url, { id: "e2e-no-token", prompt: "hi" }, null)).status, 401);
    const first = await infer(url, { id: "e2e-job-1", prompt: "what is two plus two", samples: 4, maxTokens: 16 });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.ok, true, JSON.stringify(first.body));
    await waitFor(page, 'tr[data-job-id="e2e-job-1"][data-ok="true"]', "job e2e-job-1 in the list");
    const cells = await page.$$eval('tr[data-job-id="e2e-job-1"] td', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(cells.slice(0, 5), [
      "e2e-job-1",
      "text",
      first.body.answer ?? "(no answer)",
      `${first.body.samplesUsed} of 4`,
      first.body.stopReason,
    ]);
    assert.equal(cells[5], first.body.energyJ.toFixed(2));
    await waitFor(page, "#plan:not([hidden])", "the plan");
    const words = await page.textContent("#placement-words") ?? "";
    assert.match(words, /Prefill \(the whole prompt, all \d+ layers\): \w+/);
    assert.match(words, /Decode lane 1 \(\d+ samples?\): layers? \d/);
    await page.waitForFunction(
      () => !document.getElementById("calibration")?.textContent?.includes("no measured jobs"),
      null,
      { timeout: WAIT_MS },
    );

    // The totals are the orchestrator's: measured energy, and the standard placement's predicted
    // energy of the same jobs (over the same window) as the baseline of the saving.
    const snap = await getJson<DashboardSnapshot>(url, "/v1/dashboard");
    assert.equal(snap.totals.jobs, 1);
    assert.ok(Math.abs(snap.totals.energyJ - first.body.energyJ) < 1e-9, JSON.stringify(snap.totals));
    assert.ok(snap.totals.standardEnergyJ > 0, "the orchestrator predicted the standard placement's energy");
    assert.ok(
      Math.abs(snap.totals.energySavedJ - (snap.totals.standardEnergyJ - snap.totals.energyJ)) < 1e-9,
      JSON.stringify(snap.totals),
    );
    assert.ok(snap.plan && snap.plan.standard.placement.lanes.length === 1, "standard: one lane on one unit");
    assert.equal(shapeOf(snap.plan.chosen.placement), shapeOf(first.body.placement), "the plan shows what ran");
    await page.waitForFunction(
      (text) => document.getElementById("totals")?.textContent?.includes(text) ?? false,
      `${snap.totals.energySavedJ.toFixed(1)} J`,
      { timeout: WAIT_MS },
    );

    // An injected unit fault: the next job fails on the unit, is re-planned around it and finishes;
    // the unit shows as failed with the reason and the fault appears in the list.
    // Jobs shaped like the first are planned like it (the same cached plan), so they run on the unit.
    const [victim] = decodeUnits(first.body.placement);
    sim.inject({ kind: "unit-fail", unitId: victim });
    let faulted: string | undefined;
    for (let i = 0; i < 3 && faulted === undefined; i++) {
      const id = `e2e-fault-${i}`;
      const job = await infer(url, { id, prompt: "what is two plus six", samples: 4, maxTokens: 16 });
      assert.equal(job.status, 200, `the job is re-planned around ${victim}: ${JSON.stringify(job.body)}`);
      assert.ok(!decodeUnits(job.body.placement).includes(victim), JSON.stringify(job.body.placement));
      const { faults } = await getJson<DashboardSnapshot>(url, "/v1/dashboard");
      if (faults.some((f) => f.kind === "unit-failed" && f.unitId === victim)) faulted = id;
    }
    assert.ok(faulted, `a job ran into the fault on ${victim}`);
    await waitFor(page, `[data-unit="${victim}"][data-health="failed"]`, `unit ${victim} failed`);
    // Health, badge and reason read in one go (the unit leaves the failed state after probationMs).
    const shown = await page.$eval(`[data-unit="${victim}"]`, (el) => {
      const card = el as unknown as PageElement & { querySelector(s: string): PageElement | null };
      return {
        health: card.dataset.health,
        badge: card.querySelector(".badge")?.textContent ?? "",
        reason: card.querySelector(".reason")?.textContent ?? "",
      };
    });
    assert.equal(shown.health, "failed");
    assert.match(shown.badge, /FAILED/);
    assert.match(shown.reason, /fail/i);
    await waitFor(page, `#faults li[data-kind="unit-failed"][data-unit="${victim}"]`, "the unit-failed fault");
    await waitFor(page, `tr[data-job-id="${faulted}"][data-ok="true"]`, `job ${faulted} in the list`);
    await screenshot(page, "dashboard-fault-1280x800.png");

    // The fault clears: after its delay the unit returns on probation, and once it has served
    // its probation jobs without a fault it is healthy again.
    sim.clear({ kind: "unit-fail", unitId: victim });
    await waitFor(page, `#faults li[data-kind="unit-probation"][data-unit="${victim}"]`, "the probation event");
    await waitFor(page, `[data-unit="${victim}"][data-health="probation"]`, `unit ${victim} on probation`);
    const probationJobs: string[] = [];
    let lastPlacement: WirePlacement | undefined;
    for (let i = 0; i < MAX_PROBATION_JOBS; i++) {
      const job = await infer(url, { id: `e2e-probation-${i}`, prompt: `probation job ${i}`, samples: 4 });
      lastPlacement = job.body.placement;
      assert.equal(job.status, 200, JSON.stringify(job.body));
      const status = await getJson<{ units: { unitId: string; state: string; reason?: string }[] }>(url, "/v1/status");
      const now = status.units.find((u) => u.unitId === victim)!;
      probationJobs.push(`${JSON.stringify(job.body.placement)} -> ${victim} ${now.state} (${now.reason})`);
      if (now.state === "healthy") break;
    }
    assert.match(probationJobs.at(-1)!, / healthy \(/, `${victim} back to healthy:\n${probationJobs.join("\n")}`);
    await waitFor(page, `#faults li[data-kind="unit-recovered"][data-unit="${victim}"]`, "the unit-recovered event");
    await waitFor(page, `[data-unit="${victim}"][data-health="healthy"]`, `unit ${victim} healthy again`);
    // The plan on the page is the placement the last job ran (the one that respected the probation).
    const planNow = (await getJson<DashboardSnapshot>(url, "/v1/dashboard")).plan!;
    assert.equal(shapeOf(planNow.chosen.placement), shapeOf(lastPlacement!));

    // The layout at 1280x800 and at phone width: nothing wider than the screen.
    await screenshot(page, "dashboard-1280x800.png");
    await screenshot(page, "dashboard-1280-full.png", true);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction(
      () => document.getElementById("pareto")!.getBoundingClientRect().width <= 390,
      null,
      { timeout: WAIT_MS },
    );
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(overflow <= 390, `the page is ${overflow} px wide at a 390 px viewport`);
    await screenshot(page, "dashboard-390-full.png", true);
    await page.setViewportSize({ width: 1280, height: 800 });

    // The service stops (drains, ends the event streams, closes its socket): the page says it lost
    // the service and keeps trying.
    const oldBoot = await page.evaluate(() => document.body.dataset.bootId);
    restarting = true;
    await service.stop("the end-to-end test restarts it");
    service = undefined;
    await page.waitForFunction(
      () => ["reconnecting", "offline"].includes(document.getElementById("conn")!.dataset.state ?? ""),
      null,
      { timeout: WAIT_MS },
    );
    assert.match(await page.textContent("#conn") ?? "", /Reconnecting|Offline/);
    // It starts again (the next boot of the same node, on the same port): the page reconnects by
    // itself and shows the new boot, whose charts move again.
    service = await startService(stateDir, port);
    assert.equal(service.info.bootSequence, 2);
    await page.waitForFunction(
      (boot) => document.getElementById("conn")!.dataset.state === "live" && document.body.dataset.bootId !== boot,
      oldBoot,
      { timeout: WAIT_MS },
    );
    restarting = false;
    const updates = Number(await page.evaluate(() => document.body.dataset.updates));
    await page.waitForFunction((n) => Number(document.body.dataset.updates) >= n + 2, updates, { timeout: WAIT_MS });
    assert.equal(await connState(page), "live");

    assert.deepEqual(consoleErrors, [], "the browser console has no errors");
    if (restartNoise.length > 0) {
      console.log(`console errors while the service was down (expected):\n  ${restartNoise.join("\n  ")}`);
    }
  } catch (error) {
    if (serviceLog.length > 0) console.log(`service log (warnings):\n  ${serviceLog.slice(-30).join("\n  ")}`);
    throw error;
  } finally {
    await browser?.close();
    await service?.stop("the end-to-end test is over");
  }
}

Deno.test({
  name: "the dashboard in Chromium against the real service: live charts, a job over HTTP, a unit failing " +
    "and recovering, phone layout, restart",
  ignore: missing !== undefined && !requireBrowser,
  // playwright-core talks to Chromium over Node-compat pipes that Deno's sanitizers count until process exit.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    if (missing) throw new Error(`CI=true but the browser is missing: ${missing}`);
    const stateDir = await Deno.makeTempDir({ prefix: "qeil-dashboard-e2e-" });
    try {
      await dashboardEndToEnd(stateDir);
    } finally {
      await Deno.remove(stateDir, { recursive: true });
    }
  },
});
