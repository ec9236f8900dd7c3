/**
 * The wire contract of the service (issue 6 "Contract"), shared by MQTT and
 * HTTP: inference requests validated at the edge, result and error payloads,
 * fault events. Every payload carries `schemaVersion: 1`. Errors become error
 * payloads in exactly one place (`errorPayload`).
 */
import { InputError, isQeilError, type QeilError } from "../core/mod.ts";
import type { Placement } from "../physics/mod.ts";
import type { ServiceConfig } from "./config.ts";

/** Version of every payload this service reads and writes. */
export const SCHEMA_VERSION = 1;

/** What the answer is extracted as. */
export type Task = "text" | "gsm8k" | "arc_challenge";

/** Every task, in documentation order. */
export const TASKS: readonly Task[] = ["text", "gsm8k", "arc_challenge"];

/** A validated inference request with every default applied. */
export interface InferRequest {
  schemaVersion: 1;
  /** Client-chosen id; results are idempotent by it. Generated when the client sends none. */
  id: string;
  task: Task;
  prompt: string;
  /** Answer choices (task `arc_challenge` only). */
  choices?: string[];
  /** Most samples to draw; the cascade may stop earlier. */
  samples: number;
  /** Most tokens generated per sample. */
  maxTokens: number;
  temperature: number;
  /** Latency objective, ms. */
  sloMs?: number;
  /** Topic to reply to (MQTT 3.1.1 clients, which have no response topic). */
  replyTo?: string;
}

/** Bounds and defaults applied to requests. */
export interface RequestLimits {
  maxPromptBytes: number;
  defaultSamples: number;
  maxSamples: number;
  defaultMaxTokens: number;
  maxMaxTokens: number;
  defaultTemperature: number;
  /** Largest `sloMs`. */
  maxSloMs: number;
}

/** Request limits from the service configuration. */
export function requestLimitsOf(config: Pick<ServiceConfig, "request" | "deadlines">): RequestLimits {
  return { ...config.request, maxSloMs: config.deadlines.maxMs };
}

/** Room for everything but the prompt in a request payload (JSON escaping may also grow the prompt 6-fold). */
const ENVELOPE_BYTES = 16 * 1024;

/** Largest raw request payload accepted before parsing, bytes. */
export function maxRequestBytes(limits: RequestLimits): number {
  return limits.maxPromptBytes * 6 + ENVELOPE_BYTES;
}

const MAX_ID_CHARS = 128;
const MAX_CHOICES = 26;
const MAX_CHOICE_CHARS = 1024;
const MAX_TOPIC_BYTES = 1024;
const KNOWN_FIELDS = new Set([
  "schemaVersion",
  "id",
  "task",
  "prompt",
  "choices",
  "samples",
  "maxTokens",
  "temperature",
  "sloMs",
  "replyTo",
]);

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function bad(field: string, message: string): never {
  throw new InputError(`${field} ${message}`, { details: { field } });
}

function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function intField(obj: Record<string, unknown>, key: string, min: number, max: number, fallback?: number): number {
  const v = obj[key];
  if (v === undefined) {
    if (fallback === undefined) bad(key, "is required");
    return fallback;
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    bad(key, `must be an integer in ${min}..${max}, got ${quote(v)}`);
  }
  return v;
}

/** True when `topic` may be published to: non-empty, no wildcards, no NUL, bounded. */
export function isPublishableTopic(topic: string): boolean {
  // MQTT forbids NUL in topic names (spec 4.7.3), so matching it is the point.
  // deno-lint-ignore no-control-regex
  return topic.length > 0 && !/[+#\u0000]/.test(topic) && encoder.encode(topic).length <= MAX_TOPIC_BYTES;
}

/** Options of `parseInferRequest`. */
export interface ParseRequestOptions {
  /** Makes an id for a request that carries none. @default crypto.randomUUID */
  newId?: () => string;
}

/**
 * Validates an inference request at the edge.
 *
 * @param input raw payload bytes, JSON text, or an already parsed value
 * @throws InputError whose `details.field` names the offending field (`payload` for the whole payload)
 */
export function parseInferRequest(
  input: Uint8Array | string | unknown,
  limits: RequestLimits,
  options: ParseRequestOptions = {},
): InferRequest {
  let value: unknown = input;
  if (input instanceof Uint8Array || typeof input === "string") {
    const size = typeof input === "string" ? encoder.encode(input).length : input.length;
    if (size > maxRequestBytes(limits)) {
      bad("payload", `is ${size} bytes, more than the limit of ${maxRequestBytes(limits)}`);
    }
    let text: string;
    try {
      text = typeof input === "string" ? input : decoder.decode(input);
    } catch {
      bad("payload", "is not valid UTF-8");
    }
    try {
      value = JSON.parse(text);
    } catch (error) {
      bad("payload", `is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    bad("payload", `must be a JSON object, got ${quote(value)}`);
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!KNOWN_FIELDS.has(key)) bad(key, "is not a known request field");
  }
  if (obj.schemaVersion !== undefined && obj.schemaVersion !== SCHEMA_VERSION) {
    bad("schemaVersion", `must be ${SCHEMA_VERSION}, got ${quote(obj.schemaVersion)}`);
  }
  let id: string;
  if (obj.id === undefined) {
    id = (options.newId ?? (() => crypto.randomUUID()))();
  } else {
    if (typeof obj.id !== "string" || obj.id.length === 0 || obj.id.length > MAX_ID_CHARS) {
      bad("id", `must be a string of 1..${MAX_ID_CHARS} characters, got ${quote(obj.id)}`);
    }
    // Ids end up in logs and topics: control characters there are an injection risk.
    // deno-lint-ignore no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(obj.id)) bad("id", `must not contain control characters, got ${quote(obj.id)}`);
    id = obj.id;
  }
  const task = obj.task === undefined ? "text" : obj.task;
  if (typeof task !== "string" || !(TASKS as readonly string[]).includes(task)) {
    bad("task", `must be one of ${TASKS.join(", ")}, got ${quote(obj.task)}`);
  }
  if (obj.prompt === undefined) bad("prompt", "is required");
  if (typeof obj.prompt !== "string") bad("prompt", `must be a string, got ${quote(obj.prompt)}`);
  if (obj.prompt.trim() === "") bad("prompt", "must not be empty");
  const promptBytes = encoder.encode(obj.prompt).length;
  if (promptBytes > limits.maxPromptBytes) {
    bad("prompt", `is ${promptBytes} bytes, more than the limit of ${limits.maxPromptBytes}`);
  }
  let choices: string[] | undefined;
  if (obj.choices !== undefined) {
    if (task !== "arc_challenge") bad("choices", `is only valid with task arc_challenge, not ${quote(task)}`);
    if (!Array.isArray(obj.choices) || obj.choices.length < 2 || obj.choices.length > MAX_CHOICES) {
      bad("choices", `must be an array of 2..${MAX_CHOICES} strings, got ${quote(obj.choices)}`);
    }
    obj.choices.forEach((c, i) => {
      if (typeof c !== "string" || c.trim() === "" || c.length > MAX_CHOICE_CHARS) {
        bad(`choices[${i}]`, `must be a non-empty string of at most ${MAX_CHOICE_CHARS} characters, got ${quote(c)}`);
      }
    });
    choices = [...obj.choices as string[]];
  } else if (task === "arc_challenge") {
    bad("choices", "is required with task arc_challenge");
  }
  const samples = intField(obj, "samples", 1, limits.maxSamples, limits.defaultSamples);
  const maxTokens = intField(obj, "maxTokens", 1, limits.maxMaxTokens, limits.defaultMaxTokens);
  let temperature = limits.defaultTemperature;
  if (obj.temperature !== undefined) {
    if (
      typeof obj.temperature !== "number" || !Number.isFinite(obj.temperature) || obj.temperature < 0 ||
      obj.temperature > 2
    ) {
      bad("temperature", `must be a number in 0..2, got ${quote(obj.temperature)}`);
    }
    temperature = obj.temperature;
  }
  const request: InferRequest = {
    schemaVersion: 1,
    id,
    task: task as Task,
    prompt: obj.prompt,
    samples,
    maxTokens,
    temperature,
  };
  if (choices) request.choices = choices;
  if (obj.sloMs !== undefined) request.sloMs = intField(obj, "sloMs", 1, limits.maxSloMs);
  if (obj.replyTo !== undefined) {
    if (typeof obj.replyTo !== "string" || !isPublishableTopic(obj.replyTo)) {
      bad(
        "replyTo",
        `must be a topic without wildcards of at most ${MAX_TOPIC_BYTES} bytes, got ${quote(obj.replyTo)}`,
      );
    }
    request.replyTo = obj.replyTo;
  }
  return request;
}

/**
 * The request id and reply topic of a payload that failed validation, when
 * they can be read, so the error reply reaches the client and names the request.
 */
export function salvageReplyFields(input: Uint8Array | string): { id: string | null; replyTo?: string } {
  try {
    const text = typeof input === "string" ? input : decoder.decode(input);
    const obj = JSON.parse(text);
    if (typeof obj !== "object" || obj === null) return { id: null };
    const id = typeof obj.id === "string" && obj.id.length > 0 && obj.id.length <= MAX_ID_CHARS ? obj.id : null;
    const replyTo = typeof obj.replyTo === "string" && isPublishableTopic(obj.replyTo) ? obj.replyTo : undefined;
    return replyTo === undefined ? { id } : { id, replyTo };
  } catch {
    return { id: null };
  }
}

/**
 * Where the reply to a request is published: the MQTT 5 response topic with
 * its correlation data, or the `replyTo` topic of an MQTT 3.1.1 client.
 * Plain data, so it is journaled with the job and survives a restart.
 */
export interface ReplyRoute {
  topic: string;
  /** MQTT 5 correlation data, base64. */
  correlationData?: string;
}

/** A JSON value (what payloads may carry). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Why the cascade stopped sampling. */
export type StopReason = "unanimous" | "confident" | "budget";

/** What a finished job produced (everything of the result payload but the envelope). */
export interface InferOutcome {
  /** The selected answer; `null` when none could be extracted. */
  answer: string | null;
  /** Full text of the sample the answer came from. */
  text: string;
  /** Confidence of the answer, [0, 1]. */
  confidence: number;
  samplesUsed: number;
  stopReason: StopReason;
  /** Board energy over the job's window, J. */
  energyJ: number;
  /** From acceptance to result, ms. */
  latencyMs: number;
  /** The placement the job ran with. */
  placement: Placement;
}

/** A successful result payload. */
export interface ResultPayload extends InferOutcome {
  schemaVersion: 1;
  id: string;
  ok: true;
}

/** An error payload; `field` names the offending request field for input errors. */
export interface ErrorPayload {
  schemaVersion: 1;
  id: string | null;
  ok: false;
  error: { code: string; message: string; field?: string };
}

/** Whatever is sent back for a request. */
export type ReplyPayload = ResultPayload | ErrorPayload;

function finiteAtLeast(name: string, value: number, min: number): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new RangeError(`resultPayload(): ${name} must be a finite number >= ${min}, got ${value}`);
  }
}

/** Builds a result payload. @throws RangeError for values a correct job cannot produce */
export function resultPayload(id: string, outcome: InferOutcome): ResultPayload {
  finiteAtLeast("confidence", outcome.confidence, 0);
  if (outcome.confidence > 1) {
    throw new RangeError(`resultPayload(): confidence must be <= 1, got ${outcome.confidence}`);
  }
  finiteAtLeast("energyJ", outcome.energyJ, 0);
  finiteAtLeast("latencyMs", outcome.latencyMs, 0);
  if (!Number.isInteger(outcome.samplesUsed) || outcome.samplesUsed < 1) {
    throw new RangeError(`resultPayload(): samplesUsed must be a positive integer, got ${outcome.samplesUsed}`);
  }
  return {
    schemaVersion: 1,
    id,
    ok: true,
    answer: outcome.answer,
    text: outcome.text,
    confidence: outcome.confidence,
    samplesUsed: outcome.samplesUsed,
    stopReason: outcome.stopReason,
    energyJ: outcome.energyJ,
    latencyMs: outcome.latencyMs,
    placement: outcome.placement,
  };
}

/** Code of an error that is not a qeil domain error (a bug or an unexpected failure). */
export const INTERNAL_ERROR_CODE = "Internal";

/**
 * The error payload of any thrown value: the one place where errors become
 * wire payloads. Domain errors keep their code, message and field; anything
 * else is `Internal`.
 */
export function errorPayload(id: string | null, error: unknown): ErrorPayload {
  if (isQeilError(error)) {
    const e = error as QeilError;
    const out: ErrorPayload = { schemaVersion: 1, id, ok: false, error: { code: e.code, message: e.message } };
    if (typeof e.details.field === "string") out.error.field = e.details.field;
    return out;
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    schemaVersion: 1,
    id,
    ok: false,
    error: { code: INTERNAL_ERROR_CODE, message: `internal error: ${message}` },
  };
}

/** Encodes a payload as UTF-8 JSON. */
export function encodePayload(payload: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(payload));
}

/** Kind of a fault event. */
export type FaultKind =
  | "bad-request"
  | "unit-failed"
  | "unit-timeout"
  | "unit-probation"
  | "unit-recovered"
  | "sensor-lost"
  | "thermal-replan"
  | "job-failed"
  | "watchdog"
  | "journal-corrupt"
  | "delivery-failed"
  | "command-failed"
  /** A fleet update was refused, failed or was rolled back (details on the `update` topic). */
  | "update-failed";

/** A fault event, published on `<prefix>fault` (QoS 1). */
export interface FaultEvent {
  schemaVersion: 1;
  kind: FaultKind;
  severity: "info" | "warning" | "error";
  message: string;
  /** Wall-clock time, ms since the epoch. */
  timestampMs: number;
  requestId?: string;
  /** Offending request field (bad requests). */
  field?: string;
  /** Error code of the underlying error. */
  code?: string;
  unitId?: string;
}

/** Builds a fault event. */
export function faultEvent(
  kind: FaultKind,
  severity: FaultEvent["severity"],
  message: string,
  timestampMs: number,
  extra: Partial<Pick<FaultEvent, "requestId" | "field" | "code" | "unitId">> = {},
): FaultEvent {
  const event: FaultEvent = { schemaVersion: 1, kind, severity, message, timestampMs };
  for (const key of ["requestId", "field", "code", "unitId"] as const) {
    if (extra[key] !== undefined) event[key] = extra[key];
  }
  return event;
}

/** The fault event of a request rejected at the edge. */
export function badRequestFault(payload: ErrorPayload, timestampMs: number): FaultEvent {
  return faultEvent("bad-request", "warning", payload.error.message, timestampMs, {
    ...(payload.id !== null ? { requestId: payload.id } : {}),
    ...(payload.error.field !== undefined ? { field: payload.error.field } : {}),
    code: payload.error.code,
  });
}

/** The retained status message (`online` birth, or `offline` last will). */
export interface StatusPayload {
  schemaVersion: 1;
  state: "online" | "offline";
  nodeId: string;
  /** Increments on every start of the service (persisted in the state folder). */
  bootSequence: number;
  version: string;
  /** Wall-clock time of the birth, ms since the epoch (absent in the last will, which is written at connect). */
  timestampMs?: number;
  /** Why the service went offline, when it said so itself. */
  reason?: string;
}
