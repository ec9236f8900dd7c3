/**
 * The live dashboard: a read-only page (`GET /dashboard`, plain HTML, CSS and
 * JS embedded in the module graph, so `deno compile` carries them) fed by
 * server-sent events (`GET /v1/events`: one `snapshot` event, then `update`
 * events about once a second, heartbeat comments in between).
 *
 * What the page shows comes from a `DashboardFeed`, which the orchestrator
 * implements; `createDashboardHub` is a ready feed that keeps recent telemetry,
 * health, the plan, jobs, faults and calibration error as they are pushed in.
 */
import type { Hono } from "hono";
import { type Clock, type Logger, systemClock, type UnitKind, type UnitPriors } from "../core/mod.ts";
import type { Board, Sample, UnitSample } from "../hal/mod.ts";
import {
  type BoardModel,
  dynamicPowerW,
  type Job,
  type Placement,
  type PredictionErrorReport,
} from "../physics/mod.ts";
import type { Plan, PlannedPlacement } from "../pgsam/mod.ts";
import { errorResponse, HttpError } from "./http.ts";
import type { FaultEvent, StopReason, Task } from "./schema.ts";
import pageHtml from "./dashboard/index.html" with { type: "text" };
import pageJs from "./dashboard/dashboard.js" with { type: "text" };
import pageCss from "./dashboard/dashboard.css" with { type: "text" };

// ---------------------------------------------------------------------------
// What the page shows

/** Health of a compute unit as the fault manager sees it. */
export type UnitHealthState = "healthy" | "probation" | "failed";

/** Every health state, from good to bad. */
export const UNIT_HEALTH_STATES: readonly UnitHealthState[] = ["healthy", "probation", "failed"];

/** A unit's health and why. */
export interface UnitHealth {
  state: UnitHealthState;
  /** Why the unit is in this state (the error that failed it, the probes passed so far). */
  reason?: string;
  /** Wall-clock time the unit entered this state, ms since the epoch. */
  sinceMs: number;
}

/**
 * A thermal trip point, drawn as a line on a unit's temperature chart: a trip of
 * the unit's own zones, or of the board's zones when the unit's have none.
 */
export interface DashboardTrip {
  /** `passive`, `hot`, `critical` or `active`. */
  type: string;
  tempC: number;
  /** Thermal zone `type` the trip belongs to. */
  zone: string;
}

/** One telemetry point of a unit; `null` where the channel could not be read (a gap in the chart). */
export interface DashboardPoint {
  /** Wall-clock time of the read, ms since the epoch. */
  timestampMs: number;
  tempC: number | null;
  powerW: number | null;
  freqHz: number | null;
  /** Busy share, 0..1. */
  utilization: number | null;
}

/** The telemetry channels of a point. */
export type DashboardChannel = "tempC" | "powerW" | "freqHz" | "utilization";

/** A compute unit on the dashboard. */
export interface DashboardUnit {
  id: string;
  kind: UnitKind;
  /** Human name (`Cortex-A76 x4`). */
  label: string;
  health: UnitHealth;
  trips: DashboardTrip[];
  /** Lowest and highest clock the unit offers, Hz (the frequency chart's scale); absent when unknown. */
  minFreqHz?: number;
  maxFreqHz?: number;
  /**
   * Smallest top of the unit's power chart, W: the chart spans at least 0..powerScaleW, so the
   * milliwatt noise of an idle rail draws as a flat line at the bottom instead of filling the chart
   * like activity. A quarter of the unit's peak power in the board's priors (idle and leakage power
   * plus dynamic power at the top operating point, fully active), and at least `MIN_POWER_SCALE_W`.
   */
  powerScaleW: number;
  /** Why a channel of the latest point is missing. */
  unreadable: Partial<Record<DashboardChannel, string>>;
  /** Recent points, oldest first. In `update` events: only the points the client has not seen. */
  history: DashboardPoint[];
}

/** Layers [layerStart, layerEnd) of a lane on one unit, at a clock. */
export interface DashboardSegment {
  unitId: string;
  layerStart: number;
  layerEnd: number;
  /** Clock the unit runs at, Hz; `null` when the unit's operating points are unknown. */
  freqHz: number | null;
}

/** A decode lane: `samples` samples decoded as one batch through the segments, in order. */
export interface DashboardLane {
  samples: number;
  segments: DashboardSegment[];
}

/** A placement in the terms the page puts into words. */
export interface DashboardPlacement {
  prefillUnit: string;
  prefillFreqHz: number | null;
  lanes: DashboardLane[];
}

/** A placement with its predicted objectives. */
export interface DashboardPlanPoint {
  /** Canonical placement key. */
  key: string;
  energyJ: number;
  latencyMs: number;
  /** Device underutilisation, 0..1 (the third objective). */
  underutilization: number;
  feasible: boolean;
  placement: DashboardPlacement;
}

/** The current plan: the Pareto front, the chosen point and the baselines. */
export interface DashboardPlan {
  /** Wall-clock time of planning, ms since the epoch. */
  computedAtMs: number;
  /** Selection policy that picked `chosen` (`energy`, `latency`, `balanced`). */
  policy: string;
  /** The job planned for. */
  job: { promptTokens: number; genTokens: number; samples: number; layers: number };
  /** Placements the search evaluated. */
  evaluations: number;
  /** Feasible non-dominated placements, by ascending energy. */
  front: DashboardPlanPoint[];
  chosen: DashboardPlanPoint;
  /** Everything on the default unit at its top clock. */
  standard: DashboardPlanPoint;
  /** QEIL v1's greedy rule. */
  greedy: DashboardPlanPoint;
}

/** A finished job. */
export interface DashboardJob {
  id: string;
  task: Task;
  ok: boolean;
  /** The selected answer; `null` when none was extracted or the job failed. */
  answer: string | null;
  /** Samples drawn before the cascade stopped (0 for a failed job). */
  samplesUsed: number;
  /** Samples the request allowed (k). */
  samplesMax: number;
  /** `null` for a failed job. */
  stopReason: StopReason | null;
  /** Measured board energy over the job, J; `null` when it could not be measured. */
  energyJ: number | null;
  latencyMs: number;
  /**
   * Estimated energy the standard placement would have needed for this job, J (the saving baseline).
   * An estimate, not a measurement: the measured energy scaled by the ratio of the physics model's
   * prediction for the standard placement to its prediction for the placement that ran (see
   * `standardEstimateJ`), so the model's own bias cancels. Absent without a usable prediction.
   */
  standardEnergyJ?: number;
  /** Error code and message of a failed job. */
  error?: { code: string; message: string };
  /** Wall-clock time the job finished, ms since the epoch. */
  finishedAtMs: number;
}

/** Totals since the service started. */
export interface DashboardTotals {
  jobs: number;
  failedJobs: number;
  /** Measured energy of all jobs, J. */
  energyJ: number;
  /** Estimated energy of the standard placement for the jobs that have one, J (see `DashboardJob.standardEnergyJ`). */
  standardEnergyJ: number;
  /** `standardEnergyJ` minus the measured energy of the same jobs, J (negative when qeil spent more). */
  energySavedJ: number;
  samplesUsed: number;
  /** Samples the requests allowed but the cascade did not draw. */
  samplesSaved: number;
}

/** Everything the page shows, at one moment. */
export interface DashboardSnapshot {
  schemaVersion: 1;
  nodeId: string;
  /** Changes at every start of the service: the page resets its charts when it changes. */
  bootId: string;
  board: { profileId: string; name: string; model: string };
  /** Wall-clock time of the snapshot, ms since the epoch. */
  timestampMs: number;
  /** Telemetry period, ms (the page calls the feed stale after a few periods without an update). */
  periodMs: number;
  units: DashboardUnit[];
  plan: DashboardPlan | null;
  /** Newest first. */
  jobs: DashboardJob[];
  /** Faults and recoveries, newest first. */
  faults: FaultEvent[];
  /** Prediction error of the physics model against measured jobs; `null` before any. */
  calibration: PredictionErrorReport | null;
  totals: DashboardTotals;
}

/**
 * What the dashboard needs of the service. The orchestrator implements it
 * (or pushes into a `DashboardHub`, which implements it).
 */
export interface DashboardFeed {
  /** The current state, with each unit's recent telemetry history (oldest first). */
  snapshot(): DashboardSnapshot | Promise<DashboardSnapshot>;
  /**
   * Calls `onChange` whenever the state changed: about once per telemetry
   * period (~1 Hz) and after each job, fault, health or plan change. The
   * dashboard then reads `snapshot()`; bursts coalesce. Returns the unsubscribe.
   */
  subscribe(onChange: () => void): () => void;
}

// ---------------------------------------------------------------------------
// Server-sent events

/** Fields of one server-sent event. */
export interface SseEvent {
  /** Event type (`snapshot`, `update`); absent: the default `message`. */
  event?: string;
  /** Payload; multi-line text becomes one `data:` line per line. */
  data?: string;
  id?: string;
  /** Reconnect delay the client should use, ms. */
  retryMs?: number;
}

const LINE_BREAK = /\r\n|\r|\n/;

/**
 * Frames one server-sent event (WHATWG HTML, "Server-sent events"): one
 * `field: value` line per field, `data` split at line breaks, a blank line
 * at the end.
 * @throws TypeError when `event` or `id` holds a line break (it would end the field early) or `id` a NUL
 */
export function sseEvent(fields: SseEvent): string {
  let out = "";
  if (fields.retryMs !== undefined) {
    if (!Number.isInteger(fields.retryMs) || fields.retryMs < 0) {
      throw new TypeError(`sseEvent(): retryMs must be an integer >= 0, got ${fields.retryMs}`);
    }
    out += `retry: ${fields.retryMs}\n`;
  }
  if (fields.event !== undefined) {
    if (LINE_BREAK.test(fields.event)) {
      throw new TypeError(`sseEvent(): event name ${JSON.stringify(fields.event)} holds a line break`);
    }
    out += `event: ${fields.event}\n`;
  }
  if (fields.id !== undefined) {
    if (LINE_BREAK.test(fields.id) || fields.id.includes("\0")) {
      throw new TypeError(`sseEvent(): id ${JSON.stringify(fields.id)} holds a line break or NUL`);
    }
    out += `id: ${fields.id}\n`;
  }
  if (fields.data !== undefined) {
    for (const line of fields.data.split(LINE_BREAK)) out += `data: ${line}\n`;
  }
  if (out === "") throw new TypeError("sseEvent(): an event needs at least one field");
  return out + "\n";
}

/** Frames a comment (ignored by clients; keeps idle connections and proxies alive). */
export function sseComment(text: string): string {
  return text.split(LINE_BREAK).map((line) => `: ${line}\n`).join("") + "\n";
}

// ---------------------------------------------------------------------------
// Routes

/** Options of `createDashboard`. */
export interface DashboardOptions {
  /** Time between heartbeat comments on an event stream, ms. @default 15000 */
  heartbeatMs?: number;
  /** Reconnect delay the browser is told to use, ms. @default 2000 */
  retryMs?: number;
  /** Most event streams open at once; more are refused with 503. @default 16 */
  maxConnections?: number;
  /** Paces the heartbeats. @default systemClock */
  clock?: Clock;
  /** @default no logging */
  logger?: Logger;
}

/** The dashboard's routes and its open event streams. */
export interface Dashboard extends AsyncDisposable {
  /** Adds `GET /dashboard`, `/dashboard/assets/*`, `/v1/dashboard` (the snapshot as JSON) and `/v1/events`. */
  mount(app: Hono): void;
  /** Event streams open now. */
  readonly connections: number;
  /**
   * Ends every open event stream and refuses new ones with 503. Call it before
   * the HTTP server's shutdown, which waits for open responses to finish.
   */
  close(): void;
}

/** An embedded static file. */
interface Asset {
  body: string;
  type: string;
}

const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ["dashboard.js", { body: pageJs, type: "text/javascript; charset=utf-8" }],
  ["dashboard.css", { body: pageCss, type: "text/css; charset=utf-8" }],
]);

/** The page loads nothing from elsewhere (devices are often offline) and runs no inline code. */
const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

const encoder = new TextEncoder();

/** Everything a client has seen, so updates carry only what is new. */
interface Seen {
  bootId: string;
  lastPointMs: Map<string, number>;
}

/** The `update` payload for a client that has seen `seen`: unit histories cut to their new points. */
function updateFor(snapshot: DashboardSnapshot, seen: Seen): DashboardSnapshot {
  return {
    ...snapshot,
    units: snapshot.units.map((u) => {
      const after = seen.lastPointMs.get(u.id) ?? -Infinity;
      return { ...u, history: u.history.filter((p) => p.timestampMs > after) };
    }),
  };
}

function remember(snapshot: DashboardSnapshot, seen: Seen): void {
  seen.bootId = snapshot.bootId;
  for (const u of snapshot.units) {
    const last = u.history.at(-1);
    if (last) seen.lastPointMs.set(u.id, last.timestampMs);
  }
}

/**
 * One open event stream. Writes happen only while the client keeps up (the
 * stream's queue has room); otherwise the change is remembered and the next
 * read sends the state of that moment, so a slow client never piles up frames.
 */
class EventStream {
  readonly response: Response;
  readonly #feed: DashboardFeed;
  readonly #options: Required<Pick<DashboardOptions, "heartbeatMs" | "retryMs" | "clock">>;
  readonly #log: Logger | undefined;
  readonly #onClosed: () => void;
  readonly #stop = new AbortController();
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #unsubscribe: () => void = () => {};
  #seen: Seen | undefined;
  #dirty = true;
  #sending = false;
  #closed = false;

  constructor(
    feed: DashboardFeed,
    options: Required<Pick<DashboardOptions, "heartbeatMs" | "retryMs" | "clock">>,
    log: Logger | undefined,
    onClosed: () => void,
  ) {
    this.#feed = feed;
    this.#options = options;
    this.#log = log;
    this.#onClosed = onClosed;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => this.#pump(),
      // Deno.serve cancels the body when the client goes away: the one signal of a departed client.
      cancel: () => this.#finish(false),
    }, new CountQueuingStrategy({ highWaterMark: 1 }));
    this.response = new Response(body, {
      status: 200,
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        // no-transform: a compressing proxy would hold events back.
        "cache-control": "no-cache, no-transform",
        "x-accel-buffering": "no",
      },
    });
    this.#unsubscribe = feed.subscribe(() => {
      this.#dirty = true;
      void this.#pump();
    });
    void this.#heartbeats();
  }

  /** Ends the stream from the server's side (the client sees the body end). */
  close(): void {
    this.#finish(true);
  }

  /** Releases the subscription and the heartbeat; `closeBody` unless the client cancelled the body itself. */
  #finish(closeBody: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    this.#unsubscribe();
    if (closeBody) this.#controller.close();
    this.#onClosed();
  }

  async #pump(): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    try {
      while (!this.#closed && this.#dirty && (this.#controller.desiredSize ?? 0) > 0) {
        this.#dirty = false;
        const snapshot = await this.#feed.snapshot();
        if (this.#closed) return;
        this.#controller.enqueue(encoder.encode(this.#frame(snapshot)));
      }
    } catch (error) {
      // A broken feed: end the stream so the page shows it and reconnects later.
      this.#log?.error("dashboard feed failed; closing the event stream", { error });
      this.#finish(true);
    } finally {
      this.#sending = false;
    }
  }

  #frame(snapshot: DashboardSnapshot): string {
    if (this.#seen === undefined || this.#seen.bootId !== snapshot.bootId) {
      const first = this.#seen === undefined;
      this.#seen = { bootId: snapshot.bootId, lastPointMs: new Map() };
      remember(snapshot, this.#seen);
      return sseEvent({
        ...(first ? { retryMs: this.#options.retryMs } : {}),
        event: "snapshot",
        data: JSON.stringify(snapshot),
      });
    }
    const update = updateFor(snapshot, this.#seen);
    remember(snapshot, this.#seen);
    return sseEvent({ event: "update", data: JSON.stringify(update) });
  }

  async #heartbeats(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        await this.#options.clock.sleep(this.#options.heartbeatMs, signal);
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
      // A client that is not reading gets no heartbeat: it is not idle, it is behind.
      if ((this.#controller.desiredSize ?? 0) > 0) this.#controller.enqueue(encoder.encode(sseComment("heartbeat")));
    }
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`createDashboard(): ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Creates the dashboard routes over `feed`. Every route is read-only and needs no token. */
export function createDashboard(feed: DashboardFeed, options: DashboardOptions = {}): Dashboard {
  const streamOptions = {
    heartbeatMs: positiveInteger("heartbeatMs", options.heartbeatMs ?? 15_000),
    retryMs: positiveInteger("retryMs", options.retryMs ?? 2_000),
    clock: options.clock ?? systemClock,
  };
  const maxConnections = positiveInteger("maxConnections", options.maxConnections ?? 16);
  const log = options.logger;
  const open = new Set<EventStream>();
  let closed = false;

  const close = () => {
    closed = true;
    for (const stream of [...open]) stream.close();
  };

  return {
    get connections() {
      return open.size;
    },
    close,
    [Symbol.asyncDispose]: () => {
      close();
      return Promise.resolve();
    },
    mount(app: Hono) {
      app.get(
        "/dashboard",
        () => new Response(pageHtml, { headers: { ...PAGE_HEADERS, "content-type": "text/html; charset=utf-8" } }),
      );
      app.get("/dashboard/", (c) => c.redirect("/dashboard", 301));
      app.get("/dashboard/assets/:name", (c) => {
        const name = c.req.param("name");
        const asset = ASSETS.get(name);
        if (!asset) throw new HttpError(404, "NotFound", `no dashboard asset "${name}"`);
        return new Response(asset.body, { headers: { ...PAGE_HEADERS, "content-type": asset.type } });
      });
      app.get("/v1/dashboard", async () =>
        new Response(JSON.stringify(await feed.snapshot()), {
          headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-cache" },
        }));
      app.get("/v1/events", (c) => {
        // Hono answers HEAD through the GET route and drops the body uncancelled: open no stream for it.
        if (c.req.method === "HEAD") return new Response(null, { headers: { "content-type": "text/event-stream" } });
        if (closed) {
          return errorResponse(
            new HttpError(503, "ShuttingDown", "the service is shutting down", { "retry-after": "2" }),
          );
        }
        if (open.size >= maxConnections) {
          return errorResponse(
            new HttpError(503, "Busy", `${maxConnections} event streams are open already`, { "retry-after": "5" }),
          );
        }
        const stream = new EventStream(feed, streamOptions, log, () => open.delete(stream));
        open.add(stream);
        log?.debug("dashboard event stream opened", { connections: open.size });
        return stream.response;
      });
    },
  };
}

// ---------------------------------------------------------------------------
// A feed that keeps what is pushed into it

/** Options of `createDashboardHub`. */
export interface DashboardHubOptions {
  /** The discovered board (units, thermal zones and their trips). */
  board: Pick<Board, "profile" | "model" | "units" | "thermalZones">;
  nodeId: string;
  /** Telemetry period, ms (what `recordSample` is called at). */
  periodMs: number;
  /** @default crypto.randomUUID() */
  bootId?: string;
  /** Timestamps of health changes and snapshots. @default systemClock */
  clock?: Clock;
  /** Points kept per unit. @default 120 */
  historyPoints?: number;
  /** Jobs kept. @default 20 */
  maxJobs?: number;
  /** Faults kept. @default 20 */
  maxFaults?: number;
  /** Reports listeners that throw. @default no logging */
  logger?: Logger;
}

/** A `DashboardFeed` that the service pushes state into. */
export interface DashboardHub extends DashboardFeed {
  snapshot(): DashboardSnapshot;
  /** Appends one point per unit from a HAL sample (a channel that failed becomes a gap, with its reason). */
  recordSample(sample: Sample): void;
  /** @throws RangeError for a unit the board does not have */
  setHealth(unitId: string, state: UnitHealthState, reason?: string): void;
  health(unitId: string): UnitHealth;
  setPlan(plan: DashboardPlan | null): void;
  recordJob(job: DashboardJob): void;
  recordFault(event: FaultEvent): void;
  setCalibration(report: PredictionErrorReport | null): void;
  /** Subscribers now. */
  readonly listeners: number;
}

/** Least top of a power chart, W: well above a rail's idle noise (milliwatts), below any unit's draw at work. */
export const MIN_POWER_SCALE_W = 1;

/** The power chart's smallest top for a unit (see `DashboardUnit.powerScaleW`). */
export function powerScaleOf(priors: UnitPriors | undefined): number {
  const top = priors?.opps[priors.opps.length - 1];
  if (!priors || !top) return MIN_POWER_SCALE_W;
  const peakW = priors.idlePowerW + priors.leakagePowerW + dynamicPowerW(priors.ceffF, top.voltageV, top.freqHz, 1);
  // A quarter of the peak: noise grows with the rail, and real work on any unit draws more than this.
  return Math.max(MIN_POWER_SCALE_W, peakW / 4);
}

function bounded(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`createDashboardHub(): ${name} must be an integer >= 1, got ${v}`);
  }
  return v;
}

function pointValue(
  reading: UnitSample["tempC"] | undefined,
  channel: DashboardChannel,
  unreadable: DashboardUnit["unreadable"],
): number | null {
  if (reading === undefined) {
    unreadable[channel] = "not in the sample";
    return null;
  }
  if (!reading.ok) {
    unreadable[channel] = reading.reason;
    return null;
  }
  return reading.value;
}

/** Creates a hub; every unit starts healthy. */
export function createDashboardHub(options: DashboardHubOptions): DashboardHub {
  const clock = options.clock ?? systemClock;
  if (!(options.periodMs > 0) || !Number.isFinite(options.periodMs)) {
    throw new RangeError(`createDashboardHub(): periodMs must be a finite number > 0, got ${options.periodMs}`);
  }
  const historyPoints = bounded("historyPoints", options.historyPoints, 120);
  const maxJobs = bounded("maxJobs", options.maxJobs, 20);
  const maxFaults = bounded("maxFaults", options.maxFaults, 20);
  const bootId = options.bootId ?? crypto.randomUUID();
  const { board } = options;
  const startedMs = clock.nowMs();

  const tripsOf = (zones: readonly { name: string; trips: readonly { type: string; tempC: number }[] }[]) => {
    const trips: DashboardTrip[] = [];
    for (const zone of zones) {
      for (const t of zone.trips) {
        // Zones of one unit often share trips: one line per distinct type and temperature.
        if (!trips.some((x) => x.type === t.type && x.tempC === t.tempC)) {
          trips.push({ type: t.type, tempC: t.tempC, zone: zone.name });
        }
      }
    }
    return trips.sort((a, b) => a.tempC - b.tempC);
  };
  // Where a unit's own sensors carry no trips (RK3588: only soc-thermal has them, and its
  // cooling maps throttle every cluster), the board's trips are the ones that throttle it.
  const boardTrips = tripsOf(board.thermalZones);
  const units = new Map<string, DashboardUnit>();
  for (const info of board.units) {
    const own = tripsOf(board.thermalZones.filter((z) => info.thermalZones.includes(z.name)));
    const trips = own.length > 0 ? own : boardTrips;
    const freqs = info.availableFreqsHz;
    units.set(info.id, {
      id: info.id,
      kind: info.kind,
      label: info.label,
      health: { state: "healthy", sinceMs: startedMs },
      trips: [...trips],
      ...(freqs.length > 0 ? { minFreqHz: freqs[0], maxFreqHz: freqs[freqs.length - 1] } : {}),
      powerScaleW: powerScaleOf(board.profile.priors.units.find((p) => p.id === info.id)),
      unreadable: {},
      history: [],
    });
  }

  let plan: DashboardPlan | null = null;
  let calibration: PredictionErrorReport | null = null;
  const jobs: DashboardJob[] = [];
  const faults: FaultEvent[] = [];
  const totals: DashboardTotals = {
    jobs: 0,
    failedJobs: 0,
    energyJ: 0,
    standardEnergyJ: 0,
    energySavedJ: 0,
    samplesUsed: 0,
    samplesSaved: 0,
  };
  const listeners = new Set<() => void>();

  const changed = () => {
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch (error) {
        options.logger?.error("dashboard listener failed", { error });
      }
    }
  };

  const unitOf = (unitId: string): DashboardUnit => {
    const unit = units.get(unitId);
    if (!unit) {
      throw new RangeError(`dashboard: no unit "${unitId}" on this board (units: ${[...units.keys()].join(", ")})`);
    }
    return unit;
  };

  return {
    get listeners() {
      return listeners.size;
    },
    subscribe(onChange) {
      // A wrapper per subscription, so subscribing one function twice gives two independent subscriptions.
      const entry = () => onChange();
      listeners.add(entry);
      return () => listeners.delete(entry);
    },
    snapshot() {
      return {
        schemaVersion: 1,
        nodeId: options.nodeId,
        bootId,
        board: { profileId: board.profile.id, name: board.profile.name, model: board.model },
        timestampMs: clock.nowMs(),
        periodMs: options.periodMs,
        units: [...units.values()].map((u) => ({
          ...u,
          health: { ...u.health },
          trips: [...u.trips],
          unreadable: { ...u.unreadable },
          history: [...u.history],
        })),
        plan,
        jobs: [...jobs],
        faults: [...faults],
        calibration,
        totals: { ...totals },
      };
    },
    recordSample(sample) {
      for (const unit of units.values()) {
        const s = sample.units[unit.id];
        const unreadable: DashboardUnit["unreadable"] = {};
        unit.history.push({
          timestampMs: sample.timestampMs,
          tempC: pointValue(s?.tempC, "tempC", unreadable),
          powerW: pointValue(s?.powerW, "powerW", unreadable),
          freqHz: pointValue(s?.curFreqHz, "freqHz", unreadable),
          utilization: pointValue(s?.utilization, "utilization", unreadable),
        });
        if (unit.history.length > historyPoints) unit.history.splice(0, unit.history.length - historyPoints);
        unit.unreadable = unreadable;
      }
      changed();
    },
    setHealth(unitId, state, reason) {
      const unit = unitOf(unitId);
      const sinceMs = unit.health.state === state ? unit.health.sinceMs : clock.nowMs();
      unit.health = reason === undefined ? { state, sinceMs } : { state, reason, sinceMs };
      changed();
    },
    health(unitId) {
      return { ...unitOf(unitId).health };
    },
    setPlan(next) {
      plan = next;
      changed();
    },
    recordJob(job) {
      jobs.unshift(job);
      if (jobs.length > maxJobs) jobs.length = maxJobs;
      totals.jobs++;
      if (!job.ok) totals.failedJobs++;
      if (job.energyJ !== null) {
        totals.energyJ += job.energyJ;
        if (job.standardEnergyJ !== undefined) {
          totals.standardEnergyJ += job.standardEnergyJ;
          totals.energySavedJ += job.standardEnergyJ - job.energyJ;
        }
      }
      totals.samplesUsed += job.samplesUsed;
      if (job.ok) totals.samplesSaved += Math.max(0, job.samplesMax - job.samplesUsed);
      changed();
    },
    recordFault(event) {
      faults.unshift(event);
      if (faults.length > maxFaults) faults.length = maxFaults;
      changed();
    },
    setCalibration(report) {
      calibration = report;
      changed();
    },
  };
}

// ---------------------------------------------------------------------------
// From the planner's terms to the page's

/** The clock a placement runs `unitId` at, Hz: its OPP level, or the top OPP when it has none. */
function freqOf(model: BoardModel, placement: Placement, unitId: string): number | null {
  const opps = model.units[unitId]?.opps;
  if (!opps || opps.length === 0) return null;
  const level = placement.freqLevel[unitId] ?? opps.length - 1;
  return opps[Math.min(Math.max(0, level), opps.length - 1)].freqHz;
}

/** A placement in the page's terms, with each unit's clock resolved from the model's operating points. */
export function dashboardPlacement(model: BoardModel, placement: Placement): DashboardPlacement {
  return {
    prefillUnit: placement.prefillUnit,
    prefillFreqHz: freqOf(model, placement, placement.prefillUnit),
    lanes: placement.lanes.map((lane) => ({
      samples: lane.samples,
      segments: lane.segments.map((s) => ({
        unitId: s.unitId,
        layerStart: s.layerStart,
        layerEnd: s.layerEnd,
        freqHz: freqOf(model, placement, s.unitId),
      })),
    })),
  };
}

function planPoint(model: BoardModel, x: PlannedPlacement): DashboardPlanPoint {
  return {
    key: x.key,
    energyJ: x.prediction.energyJ,
    latencyMs: x.prediction.latencyMs,
    underutilization: x.prediction.underutilization,
    feasible: x.prediction.feasible,
    placement: dashboardPlacement(model, x.placement),
  };
}

/** The dashboard's view of a PGSAM plan of `job`, made at `computedAtMs`. */
export function dashboardPlan(model: BoardModel, job: Job, result: Plan, computedAtMs: number): DashboardPlan {
  return {
    computedAtMs,
    policy: result.policy,
    job: { promptTokens: job.promptTokens, genTokens: job.genTokens, samples: job.samples, layers: job.shape.layers },
    evaluations: result.evaluations,
    front: result.front.map((x) => planPoint(model, x)),
    chosen: planPoint(model, result.chosen),
    standard: planPoint(model, result.standard),
    greedy: planPoint(model, result.greedy),
  };
}
