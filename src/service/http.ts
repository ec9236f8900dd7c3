/**
 * The HTTP API (hono): health, readiness, Prometheus metrics, status,
 * telemetry and plan views, and `POST /v1/infer` with the same request
 * schema as MQTT. The app is a pure function of an injected `ServiceApi`, so
 * it is tested with `app.request()`; `serveHttp` puts it on a socket. Errors
 * become HTTP responses in one place (`errorResponse`).
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { methodNotAllowed } from "hono/method-not-allowed";
import { createHash, timingSafeEqual } from "node:crypto";
import { isQeilError, type Logger } from "../core/mod.ts";
import { type MetricFamily, renderPrometheus } from "./metrics.ts";
import {
  type ErrorPayload,
  errorPayload,
  type InferRequest,
  maxRequestBytes,
  parseInferRequest,
  type ReplyPayload,
  type RequestLimits,
} from "./schema.ts";
import type { HealthReport } from "./watchdog.ts";
import type { Dashboard } from "./dashboard.ts";

/** Whether the service takes requests now. */
export interface ReadinessReport {
  ready: boolean;
  /** Why not (starting, draining, broker unreachable...). */
  reason?: string;
}

/**
 * What the HTTP API needs of the service. The orchestrator implements it;
 * every method answers from live state.
 */
export interface ServiceApi {
  /**
   * Runs (or answers from the journal) one request and resolves with its
   * payload, a result or a job error. Throws for requests refused outright
   * (BusyError when the queue is full). A client that disconnects does not
   * cancel the job: it is journaled, and a retry with the same id gets its result.
   */
  infer(request: InferRequest): Promise<ReplyPayload>;
  /** Node, version, boot sequence, queue, broker, units and their health. */
  status(): unknown | Promise<unknown>;
  /** The latest telemetry snapshot. */
  telemetry(): unknown | Promise<unknown>;
  /** The current placement plan and the Pareto front it came from. */
  plan(): unknown | Promise<unknown>;
  metrics(): MetricFamily[] | Promise<MetricFamily[]>;
  health(): HealthReport | Promise<HealthReport>;
  ready(): ReadinessReport | Promise<ReadinessReport>;
}

/** Options of `createHttpApp`. */
export interface HttpAppOptions {
  limits: RequestLimits;
  /** Bearer token required by state-changing routes. @default none required */
  token?: string;
  /** @default no logging */
  logger?: Logger;
  /** Live dashboard routes (`/dashboard`, `/v1/events`; read-only, no token). @default none */
  dashboard?: Dashboard;
}

/** An error of the HTTP layer itself (routing, auth, body size). */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** HTTP status of each error code; anything else is 500. */
const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  Input: 400,
  Infeasible: 422,
  Busy: 503,
  SensorUnavailable: 503,
  Timeout: 504,
};

/** The HTTP status of an error payload's code. */
export function httpStatusOf(code: string): number {
  return STATUS_OF_CODE[code] ?? 500;
}

function retryAfterOf(error: unknown): string | undefined {
  if (isQeilError(error, "Busy")) {
    const s = error.details.retryAfterS;
    return String(typeof s === "number" && s > 0 ? Math.ceil(s) : 1);
  }
  return undefined;
}

const JSON_TYPE = { "content-type": "application/json; charset=utf-8" };

function json(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_TYPE, ...headers } });
}

/**
 * The one place where errors and error payloads become HTTP responses: the
 * status from the code, `Retry-After` on overload, the body an error payload.
 */
export function errorResponse(error: unknown, id: string | null = null, payload?: ErrorPayload): Response {
  if (error instanceof HttpError) {
    const body: ErrorPayload = { schemaVersion: 1, id, ok: false, error: { code: error.code, message: error.message } };
    return json(body, error.status, error.headers);
  }
  const body = payload ?? errorPayload(id, error);
  const headers: Record<string, string> = {};
  const retryAfter = body.error.code === "Busy" ? retryAfterOf(error) ?? "1" : undefined;
  if (retryAfter) headers["retry-after"] = retryAfter;
  return json(body, httpStatusOf(body.error.code), headers);
}

function digest(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/** Compares a presented token with the expected one in constant time (both hashed to equal length first). */
export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** Creates the HTTP app over `api`. */
export function createHttpApp(api: ServiceApi, options: HttpAppOptions): Hono {
  const app = new Hono();
  const log = options.logger;
  const expectedToken = options.token;

  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (_c, methods) =>
        errorResponse(
          new HttpError(405, "MethodNotAllowed", `method not allowed; this route takes ${methods.join(", ")}`, {
            allow: methods.join(", "),
          }),
        ),
    }),
  );

  const requireToken = async (c: { req: { header(name: string): string | undefined } }, next: () => Promise<void>) => {
    if (expectedToken === undefined) return await next();
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!match || !tokenMatches(match[1], expectedToken)) {
      throw new HttpError(401, "Unauthorized", "a valid bearer token is required", {
        "www-authenticate": 'Bearer realm="qeil"',
      });
    }
    await next();
  };

  app.get("/healthz", async () => {
    const report = await api.health();
    return json(report, report.ok ? 200 : 503);
  });
  app.get("/readyz", async () => {
    const report = await api.ready();
    return json(report, report.ready ? 200 : 503);
  });
  app.get("/metrics", async () => {
    const text = renderPrometheus(await api.metrics());
    return new Response(text, { status: 200, headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
  });
  app.get("/v1/status", async () => json(await api.status(), 200));
  app.get("/v1/telemetry", async () => json(await api.telemetry(), 200));
  app.get("/v1/plan", async () => json(await api.plan(), 200));
  app.post(
    "/v1/infer",
    requireToken,
    bodyLimit({
      maxSize: maxRequestBytes(options.limits),
      onError: () => {
        throw new HttpError(
          413,
          "PayloadTooLarge",
          `request body is larger than ${maxRequestBytes(options.limits)} bytes`,
        );
      },
    }),
    async (c) => {
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      let request: InferRequest;
      try {
        request = parseInferRequest(bytes, options.limits);
      } catch (error) {
        log?.info("HTTP request refused", { error });
        return errorResponse(error);
      }
      let payload: ReplyPayload;
      try {
        payload = await api.infer(request);
      } catch (error) {
        return errorResponse(error, request.id);
      }
      return payload.ok ? json(payload, 200) : errorResponse(undefined, request.id, payload);
    },
  );

  options.dashboard?.mount(app);

  app.notFound((c) => errorResponse(new HttpError(404, "NotFound", `no route ${c.req.method} ${c.req.path}`)));
  app.onError((error) => {
    if (!(error instanceof HttpError)) log?.error("HTTP handler failed", { error });
    return errorResponse(error);
  });
  return app;
}

/** Options of `serveHttp`. */
export interface ServeHttpOptions {
  /** @default "127.0.0.1" */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
  /** @default no logging */
  logger?: Logger;
}

/** A running HTTP server. */
export interface HttpServer extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** Stops accepting, lets open requests finish, then resolves. */
  shutdown(): Promise<void>;
}

/** Serves `app` on a socket (Deno.serve) and resolves once it listens. */
export function serveHttp(app: Hono, options: ServeHttpOptions): Promise<HttpServer> {
  const host = options.host ?? "127.0.0.1";
  return new Promise((resolve, reject) => {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        hostname: host,
        port: options.port,
        ...(options.signal ? { signal: options.signal } : {}),
        onListen: (addr) => {
          const url = `http://${addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname}:${addr.port}`;
          options.logger?.info("HTTP API listening", { url });
          const shutdown = async () => {
            await server.shutdown();
          };
          resolve({ host: addr.hostname, port: addr.port, url, shutdown, [Symbol.asyncDispose]: shutdown });
        },
        onError: (error) => {
          options.logger?.error("HTTP server error", { error });
          return errorResponse(error);
        },
      }, app.fetch);
    } catch (error) {
      reject(new Error(`serve HTTP on ${host}:${options.port}: ${(error as Error).message}`, { cause: error }));
    }
  });
}
