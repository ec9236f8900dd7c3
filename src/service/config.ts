/**
 * The one typed configuration of the service, parsed once at start from three
 * layers: the config file (parsed JSON), then `QEIL_*` environment variables,
 * then command-line flags. Parsing is pure: the composition root reads the
 * file and the environment and passes them in. Every key is declared once in
 * `CONFIG_FIELDS` (type, default, documentation); the environment variable
 * name is derived from the key path (`http.port` -> `QEIL_HTTP_PORT`).
 */
import { ConfigError, isLogLevel, type LogLevel } from "../core/mod.ts";
import { isAbsolute, resolve } from "node:path";
import { TRIAL_REFAIL_PROBABILITY } from "./planner.ts";

/** Where the board comes from: the real sysfs tree, or a simulated board writing its own. */
export type BoardSource =
  | { kind: "real"; /** Profile id, or `auto` to match the device tree. */ profileId: string }
  | { kind: "sim"; profileId: string };

/** Which MQTT broker the service talks to. */
export type BrokerSource =
  | { kind: "external"; url: string }
  | { kind: "embedded"; host: string; port: number };

/** MQTT protocol level: `auto` tries 5 and falls back to 3.1.1 when the broker refuses it. */
export type MqttProtocolChoice = "auto" | "5" | "3.1.1";

/** The whole service configuration, with every default applied. */
export interface ServiceConfig {
  /** Node id; part of every MQTT topic. */
  nodeId: string;
  board: BoardSource;
  /** Root of the sysfs tree read by the HAL (a simulated board writes its tree here). */
  sysfsRoot: string;
  /** The model to serve: the built-in tiny model (generated into `dir`) or a model folder. */
  model: { source: "tiny" | "dir"; dir: string };
  /** Folder for the journal, boot counter and generated files. */
  stateDir: string;
  http: { enabled: boolean; host: string; port: number; token: string | undefined };
  mqtt: {
    broker: BrokerSource;
    protocol: MqttProtocolChoice;
    clientId: string;
    username: string | undefined;
    password: string | undefined;
    tls: {
      caPath: string | undefined;
      certPath: string | undefined;
      keyPath: string | undefined;
      rejectUnauthorized: boolean;
    };
    /** Ends with `/`; topics are `<topicPrefix>infer/request` etc. */
    topicPrefix: string;
    keepaliveS: number;
    connectTimeoutMs: number;
    reconnectMinMs: number;
    reconnectMaxMs: number;
    /** 0: clean session; otherwise the broker keeps the session (and queued requests) this long. */
    sessionExpiryS: number;
    offlineQueueLimit: number;
  };
  telemetry: { periodMs: number };
  queue: { capacity: number; concurrency: number };
  request: {
    maxPromptBytes: number;
    defaultSamples: number;
    maxSamples: number;
    defaultMaxTokens: number;
    maxMaxTokens: number;
    defaultTemperature: number;
  };
  deadlines: { defaultMs: number; maxMs: number };
  watchdog: { checkIntervalMs: number; maxEventLoopLagMs: number; samplerMaxAgeMs: number; deadlineGraceMs: number };
  faults: { probationMs: number; probationShare: number; maxRetries: number; trialRefailProbability: number };
  /** DVFS: `readOnly` records the clocks the plans ask for but never writes a knob. */
  dvfs: { readOnly: boolean };
  orchestrator: {
    mode: "qeil" | "standard" | "greedy";
    policy: "energy" | "latency" | "balanced" | "efficient";
    waves: "adaptive" | "all";
    /** Config of a declared model a simulated board is charged for (tokens still come from the served model). */
    costModel: string | undefined;
  };
  /** A simulated board's seed (its hidden truth and sensor noise) and physics step. */
  sim: { seed: number; stepMs: number };
  journal: { retainResults: number; compactAfterRecords: number };
  log: { level: LogLevel; format: "json" | "text" };
  /** Signed fleet updates (MQTT `cmd/update`) into A/B slots, with a health gate at the next start. */
  update: {
    /** Fleet public keys (base64 of the raw 32-byte Ed25519 keys); empty: every update is refused. */
    publicKeys: string[];
    /** Holds slots `a/`, `b/`, the `current` link and `staging/`. */
    slotsDir: string;
    /** Holds the update state file. */
    stateDir: string;
    /** The read-only factory install a rollback may return to. */
    factoryDir: string;
    maxArtifactBytes: number;
    downloadTimeoutMs: number;
    /** Manifests issued longer ago are refused; `undefined`: no age limit. */
    maxManifestAgeMs: number | undefined;
    healthGateTimeoutMs: number;
    healthGateIntervalMs: number;
    maxBootAttempts: number;
  };
}

/** A raw value from one layer: JSON from the file, strings (or typed values) from env and flags. */
export type RawValue = string | number | boolean | null | undefined;

type FieldType =
  | { kind: "string"; pattern?: RegExp; what?: string; minLength?: number; maxLength?: number }
  | { kind: "int"; min: number; max: number; note?: string }
  | { kind: "number"; min: number; max: number }
  | { kind: "bool" }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "path" };

/** One configuration key. */
export interface ConfigField {
  /** Dotted key path in the config file (`http.port`). */
  key: string;
  type: FieldType;
  /** Default as documented; `undefined` means "absent" (see `doc`), a function derives it from the environment. */
  default: string | number | boolean | undefined;
  /** Derived default, described in `defaultDoc`. */
  derivedDefault?: string;
  doc: string;
}

const PORT_RANGE = { min: 0, max: 65535, note: "0: any free port" } as const;
/** One or more base64 raw Ed25519 public keys (32 bytes: 43 characters, or 44 with padding), comma-separated. */
const PUBLIC_KEYS_PATTERN = /^\s*[A-Za-z0-9+/_-]{43}=?(\s*,\s*[A-Za-z0-9+/_-]{43}=?)*\s*$/;
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Every configuration key, its type, default and meaning. This table is the
 * schema: parsing, environment names and the reference documentation all
 * come from it.
 */
export const CONFIG_FIELDS: readonly ConfigField[] = [
  {
    key: "nodeId",
    type: { kind: "string", pattern: ID_PATTERN, what: "1-64 characters of A-Z a-z 0-9 _ -" },
    default: undefined,
    derivedDefault: "the host name with other characters replaced by `-`, or `qeil`",
    doc: "Node id; part of every MQTT topic (`qeil/v1/<nodeId>/`).",
  },
  {
    key: "board",
    type: {
      kind: "string",
      pattern: /^(sim:)?[a-z0-9][a-z0-9-]*$/,
      what: "a board profile id or sim:<profile id> (e.g. rk3588, sim:rk3588, auto)",
    },
    default: "sim:rk3588",
    doc: "Board: a real board profile (`auto` matches the device tree) or `sim:<profile>`.",
  },
  {
    key: "sysfsRoot",
    type: { kind: "path" },
    default: undefined,
    derivedDefault: "`/` for a real board, `<stateDir>/sim-sysfs` for a simulated one",
    doc: "Root of the sysfs tree the HAL reads (a simulated board writes its tree here).",
  },
  {
    key: "modelDir",
    type: { kind: "path" },
    default: undefined,
    derivedDefault: "the built-in tiny model, generated under `<stateDir>/models/tiny`",
    doc: "Model folder to serve.",
  },
  {
    key: "stateDir",
    type: { kind: "path" },
    default: undefined,
    derivedDefault: "`$STATE_DIRECTORY` (systemd), else `$XDG_STATE_HOME/qeil`, else `$HOME/.local/state/qeil`",
    doc: "State folder: job journal, boot counter, generated files.",
  },
  { key: "http.enabled", type: { kind: "bool" }, default: true, doc: "Serve the HTTP API." },
  {
    key: "http.host",
    type: { kind: "string", minLength: 1, maxLength: 253 },
    default: "127.0.0.1",
    doc: "Address the HTTP API binds to.",
  },
  { key: "http.port", type: { kind: "int", ...PORT_RANGE }, default: 8780, doc: "HTTP API port." },
  {
    key: "http.token",
    type: { kind: "string", minLength: 16, maxLength: 4096 },
    default: undefined,
    doc: "Bearer token for state-changing routes; required when `http.host` is not a loopback address.",
  },
  {
    key: "mqtt.url",
    type: {
      kind: "string",
      pattern: /^(embedded|(mqtt|mqtts|tcp|ssl|ws|wss):\/\/[^\s]+)$/,
      what: "`embedded` or a URL mqtt://, mqtts://, tcp://, ssl://, ws:// or wss://",
    },
    default: "embedded",
    doc: "MQTT broker URL, or `embedded` for the built-in broker (MQTT 3.1.1).",
  },
  {
    key: "mqtt.embeddedHost",
    type: { kind: "string", minLength: 1, maxLength: 253 },
    default: "127.0.0.1",
    doc: "Address the embedded broker binds to.",
  },
  { key: "mqtt.embeddedPort", type: { kind: "int", ...PORT_RANGE }, default: 1883, doc: "Embedded broker port." },
  {
    key: "mqtt.protocol",
    type: { kind: "enum", values: ["auto", "5", "3.1.1"] },
    default: "auto",
    doc: "MQTT protocol: `auto` tries MQTT 5 and falls back to 3.1.1.",
  },
  {
    key: "mqtt.clientId",
    type: { kind: "string", pattern: /^[\x21-\x7e]{1,128}$/, what: "1-128 printable ASCII characters" },
    default: undefined,
    derivedDefault: "`qeil-<nodeId>`",
    doc: "MQTT client id (the broker keeps the session under it).",
  },
  { key: "mqtt.username", type: { kind: "string", minLength: 1 }, default: undefined, doc: "MQTT user name." },
  {
    key: "mqtt.password",
    type: { kind: "string", minLength: 1 },
    default: undefined,
    doc: "MQTT password (needs `mqtt.username`).",
  },
  {
    key: "mqtt.tls.ca",
    type: { kind: "path" },
    default: undefined,
    doc: "PEM file of the CA(s) trusted for the broker.",
  },
  {
    key: "mqtt.tls.cert",
    type: { kind: "path" },
    default: undefined,
    doc: "PEM client certificate (with `mqtt.tls.key`).",
  },
  { key: "mqtt.tls.key", type: { kind: "path" }, default: undefined, doc: "PEM client key (with `mqtt.tls.cert`)." },
  {
    key: "mqtt.tls.rejectUnauthorized",
    type: { kind: "bool" },
    default: true,
    doc: "Reject a broker certificate that does not verify.",
  },
  {
    key: "mqtt.topicPrefix",
    type: {
      kind: "string",
      // MQTT forbids NUL in topic names (spec 4.7.3).
      // deno-lint-ignore no-control-regex
      pattern: /^[^+#\u0000]+\/$/,
      what: "a topic ending with / without + # or NUL",
      maxLength: 512,
    },
    default: undefined,
    derivedDefault: "`qeil/v1/<nodeId>/`",
    doc: "Prefix of every topic.",
  },
  { key: "mqtt.keepaliveS", type: { kind: "int", min: 1, max: 65535 }, default: 30, doc: "MQTT keepalive, s." },
  {
    key: "mqtt.connectTimeoutMs",
    type: { kind: "int", min: 100, max: 600_000 },
    default: 10_000,
    doc: "Time to wait for CONNACK, ms.",
  },
  {
    key: "mqtt.reconnectMinMs",
    type: { kind: "int", min: 10, max: 3_600_000 },
    default: 1000,
    doc: "First reconnect delay, ms (doubles per failed attempt).",
  },
  {
    key: "mqtt.reconnectMaxMs",
    type: { kind: "int", min: 10, max: 3_600_000 },
    default: 30_000,
    doc: "Longest reconnect delay, ms.",
  },
  {
    key: "mqtt.sessionExpiryS",
    type: { kind: "int", min: 0, max: 4_294_967_295, note: "0: clean session" },
    default: 86_400,
    doc: "How long the broker keeps the session (subscriptions, queued requests) while the service is away, s.",
  },
  {
    key: "mqtt.offlineQueueLimit",
    type: { kind: "int", min: 1, max: 1_000_000 },
    default: 1000,
    doc: "QoS 1 messages held while disconnected; more are refused (results stay in the journal).",
  },
  {
    key: "telemetry.periodMs",
    type: { kind: "int", min: 100, max: 3_600_000 },
    default: 1000,
    doc: "Telemetry period, ms.",
  },
  {
    key: "queue.capacity",
    type: { kind: "int", min: 1, max: 100_000 },
    default: 32,
    doc: "Jobs that may wait; more are refused as busy.",
  },
  { key: "queue.concurrency", type: { kind: "int", min: 1, max: 64 }, default: 1, doc: "Jobs run at once." },
  {
    key: "request.maxPromptBytes",
    type: { kind: "int", min: 1, max: 16_777_216 },
    default: 8192,
    doc: "Largest prompt, UTF-8 bytes.",
  },
  {
    key: "request.defaultSamples",
    type: { kind: "int", min: 1, max: 256 },
    default: 5,
    doc: "Samples when a request names none.",
  },
  {
    key: "request.maxSamples",
    type: { kind: "int", min: 1, max: 256 },
    default: 16,
    doc: "Most samples a request may ask.",
  },
  {
    key: "request.defaultMaxTokens",
    type: { kind: "int", min: 1, max: 65_536 },
    default: 64,
    doc: "Generated tokens per sample when a request names none.",
  },
  {
    key: "request.maxMaxTokens",
    type: { kind: "int", min: 1, max: 65_536 },
    default: 512,
    doc: "Most generated tokens a request may ask.",
  },
  {
    key: "request.defaultTemperature",
    type: { kind: "number", min: 0, max: 2 },
    default: 0.7,
    doc: "Sampling temperature when a request names none.",
  },
  {
    key: "deadlines.defaultMs",
    type: { kind: "int", min: 100, max: 86_400_000 },
    default: 120_000,
    doc: "Deadline of a job without `sloMs`, ms from when it is queued.",
  },
  {
    key: "deadlines.maxMs",
    type: { kind: "int", min: 100, max: 86_400_000 },
    default: 600_000,
    doc: "Longest deadline and largest `sloMs` a request may ask, ms.",
  },
  {
    key: "watchdog.checkIntervalMs",
    type: { kind: "int", min: 10, max: 3_600_000 },
    default: 5000,
    doc: "Health-check period when systemd sets no WATCHDOG_USEC, ms.",
  },
  {
    key: "watchdog.maxEventLoopLagMs",
    type: { kind: "int", min: 1, max: 600_000 },
    default: 2000,
    doc: "Event-loop lag above which the service is unhealthy, ms.",
  },
  {
    key: "watchdog.samplerMaxAgeMs",
    type: { kind: "int", min: 1, max: 3_600_000 },
    default: 10_000,
    doc: "Age of the last telemetry sample above which the sampler is dead, ms.",
  },
  {
    key: "watchdog.deadlineGraceMs",
    type: { kind: "int", min: 0, max: 3_600_000 },
    default: 5000,
    doc: "Time a job may run past its deadline (after cancellation) before the service is unhealthy, ms.",
  },
  {
    key: "faults.probationMs",
    type: { kind: "int", min: 0, max: 86_400_000 },
    default: 60_000,
    doc: "Time an unhealthy unit stays out before it returns on probation, ms.",
  },
  {
    key: "faults.probationShare",
    type: { kind: "number", min: 0, max: 1 },
    default: 0.5,
    doc: "Share of work a unit on probation may take, (0, 1].",
  },
  {
    key: "faults.maxRetries",
    type: { kind: "int", min: 0, max: 10 },
    default: 2,
    doc: "Re-plans of a job after unit failures before it fails.",
  },
  {
    key: "faults.trialRefailProbability",
    type: { kind: "number", min: 0, max: 0.99 },
    default: TRIAL_REFAIL_PROBABILITY,
    doc: "Chance a unit on probation fails again, when weighing a trial beyond its limits (prefill, more samples).",
  },
  {
    key: "dvfs.readOnly",
    type: { kind: "bool" },
    default: false,
    doc: "Never write a DVFS knob: record the clocks plans ask for (observe-only deployments).",
  },
  {
    key: "orchestrator.mode",
    type: { kind: "enum", values: ["qeil", "standard", "greedy"] },
    default: "qeil",
    doc: "How jobs run: `qeil` (PGSAM + DVFS + cascade), `standard` (default unit, top clock, fixed k) or `greedy`.",
  },
  {
    key: "orchestrator.policy",
    type: { kind: "enum", values: ["efficient", "energy", "latency", "balanced"] },
    default: "efficient",
    doc: "Which member of the Pareto front qeil runs: `efficient` (least energy among placements predicted no " +
      "slower than the standard one), `energy` (least energy), `latency` (least latency), `balanced` (the knee).",
  },
  {
    key: "orchestrator.waves",
    type: { kind: "enum", values: ["adaptive", "all"] },
    default: "all",
    doc: "How qeil draws samples: `all` k at once (cancelled on a decision) or `adaptive` waves (n_min, then 2 more).",
  },
  {
    key: "orchestrator.costModel",
    type: { kind: "path" },
    default: undefined,
    doc:
      "Config file (or folder) of a declared model a simulated board is charged for; tokens still come from the served model.",
  },
  {
    key: "sim.seed",
    type: { kind: "int", min: 0, max: 4_294_967_295 },
    default: 0,
    doc: "Seed of a simulated board's hidden truth and sensor noise.",
  },
  {
    key: "sim.stepMs",
    type: { kind: "int", min: 10, max: 10_000 },
    default: 500,
    doc: "Physics step and tree refresh of a simulated board, ms (its power files average one step).",
  },
  {
    key: "journal.retainResults",
    type: { kind: "int", min: 1, max: 10_000_000 },
    default: 10_000,
    doc: "Finished results kept for idempotent replies to repeated request ids.",
  },
  {
    key: "journal.compactAfterRecords",
    type: { kind: "int", min: 1, max: 10_000_000 },
    default: 1000,
    doc: "Records appended after which the journal is rewritten with live entries only.",
  },
  {
    key: "update.publicKeys",
    type: {
      kind: "string",
      pattern: PUBLIC_KEYS_PATTERN,
      what: "base64 Ed25519 public keys (32 raw bytes each, as `qeil release keygen` prints them), comma-separated",
      maxLength: 4096,
    },
    default: undefined,
    doc: "Fleet public keys that may sign updates (several during a key rotation); absent: every update is refused.",
  },
  {
    key: "update.slotsDir",
    type: { kind: "path" },
    default: undefined,
    derivedDefault: "`<stateDir>/slots`",
    doc: "Folder of the update slots `a/` and `b/` and the `current` link `/usr/bin/qeil` follows.",
  },
  {
    key: "update.stateDir",
    type: { kind: "path" },
    default: undefined,
    derivedDefault: "`<stateDir>/update`",
    doc: "Folder of the update state (what is pending, manifests already used).",
  },
  {
    key: "update.factoryDir",
    type: { kind: "path" },
    default: "/usr/lib/qeil",
    doc: "The read-only factory install from the image, where a rollback of the first update returns.",
  },
  {
    key: "update.maxArtifactBytes",
    type: { kind: "int", min: 1, max: 17_179_869_184 },
    default: 536_870_912,
    doc: "Largest update artifact accepted, bytes.",
  },
  {
    key: "update.downloadTimeoutMs",
    type: { kind: "int", min: 1000, max: 86_400_000 },
    default: 900_000,
    doc: "Deadline of one artifact download, ms.",
  },
  {
    key: "update.maxManifestAgeMs",
    type: { kind: "int", min: 1000, max: 31_536_000_000 },
    default: undefined,
    doc: "Refuse manifests issued longer ago than this, ms; absent: no age limit (replays are refused anyway).",
  },
  {
    key: "update.healthGateTimeoutMs",
    type: { kind: "int", min: 100, max: 3_600_000 },
    default: 120_000,
    doc: "Time a new version has after its start to pass every self-check before it is rolled back, ms.",
  },
  {
    key: "update.healthGateIntervalMs",
    type: { kind: "int", min: 10, max: 600_000 },
    default: 2000,
    doc: "Pause between rounds of the health gate's self-checks, ms.",
  },
  {
    key: "update.maxBootAttempts",
    // At most StartLimitBurst (8, systemd/qeil.service) - 2: the rollback start and the previous version's start
    // must fit inside systemd's start limit, or the device stays down on the broken version.
    type: { kind: "int", min: 1, max: 6 },
    default: 3,
    doc: "Starts of a new version that end before its health gate passes, after which it is rolled back (at most 6).",
  },
  {
    key: "log.level",
    type: { kind: "enum", values: ["debug", "info", "warn", "error"] },
    default: "info",
    doc: "Least severe log level written.",
  },
  {
    key: "log.format",
    type: { kind: "enum", values: ["text", "json"] },
    default: "text",
    doc: "Log line format: text for a terminal, json for log shippers.",
  },
];

const FIELD_BY_KEY: ReadonlyMap<string, ConfigField> = new Map(CONFIG_FIELDS.map((f) => [f.key, f]));

/** The environment variable of a key: `http.port` -> `QEIL_HTTP_PORT`, `nodeId` -> `QEIL_NODE_ID`. */
export function envNameOf(key: string): string {
  return "QEIL_" + key.split(".").map((part) => part.replace(/([a-z0-9])([A-Z])/g, "$1_$2")).join("_").toUpperCase();
}

/**
 * Flags of `qeil serve` and the config key each sets, for the CLI to declare
 * its options once and hand `flags` to `parseConfig` keyed by config key.
 */
export const SERVE_FLAG_KEYS: Readonly<Record<string, string>> = {
  broker: "mqtt.url",
  "node-id": "nodeId",
  board: "board",
  model: "modelDir",
  "http-port": "http.port",
  "state-dir": "stateDir",
};

/** Options of `parseConfig`. */
export interface ParseConfigOptions {
  /** Folder that relative paths are resolved against. @default relative paths are refused */
  cwd?: string;
  /** Host name, for the default node id. @default "qeil" as node id */
  hostname?: string;
}

type Source = { layer: "file" | "env" | "flag"; name: string };

function sourceText(source: Source): string {
  return source.layer === "file"
    ? "config file"
    : source.layer === "env"
    ? `env ${source.name}`
    : `flag ${source.name}`;
}

function fail(key: string, message: string, source?: Source): never {
  throw new ConfigError(`config: ${key} ${message}${source ? ` (from ${sourceText(source)})` : ""}`, {
    details: { field: key, ...(source ? { source: sourceText(source) } : {}) },
  });
}

function quote(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function flattenFile(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(prefix || "(file)", `must be a JSON object, got ${quote(value)}`, { layer: "file", name: "" });
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (FIELD_BY_KEY.has(key)) {
      out.set(key, v);
    } else if (CONFIG_FIELDS.some((f) => f.key.startsWith(key + "."))) {
      flattenFile(v, key, out);
    } else {
      fail(key, "is not a known configuration key", { layer: "file", name: "" });
    }
  }
}

function coerce(field: ConfigField, raw: unknown, source: Source, cwd: string | undefined): string | number | boolean {
  const t = field.type;
  const fromText = source.layer !== "file" && typeof raw === "string";
  const got = `got ${quote(raw)}`;
  switch (t.kind) {
    case "int":
    case "number": {
      let n: unknown = raw;
      if (fromText) n = (raw as string).trim() === "" ? NaN : Number(raw);
      const what = t.kind === "int" ? "an integer" : "a number";
      const range = `${t.min}..${t.max}`;
      const note = t.kind === "int" && t.note ? ` (${t.note})` : "";
      if (typeof n !== "number" || !Number.isFinite(n) || (t.kind === "int" && !Number.isInteger(n))) {
        fail(field.key, `must be ${what} in ${range}${note}, ${got}`, source);
      }
      if (n < t.min || n > t.max) fail(field.key, `must be ${what} in ${range}${note}, ${got}`, source);
      return n;
    }
    case "bool": {
      if (typeof raw === "boolean") return raw;
      if (fromText) {
        const s = (raw as string).trim().toLowerCase();
        if (["true", "1", "yes", "on"].includes(s)) return true;
        if (["false", "0", "no", "off"].includes(s)) return false;
      }
      return fail(field.key, `must be true or false, ${got}`, source);
    }
    case "enum": {
      if (typeof raw === "string" && t.values.includes(raw)) return raw;
      return fail(field.key, `must be one of ${t.values.join(", ")}, ${got}`, source);
    }
    case "path": {
      if (typeof raw !== "string" || raw === "" || raw.includes("\0")) {
        fail(field.key, `must be a non-empty path, ${got}`, source);
      }
      if (isAbsolute(raw)) return resolve(raw);
      if (cwd === undefined) fail(field.key, `must be an absolute path, ${got}`, source);
      return resolve(cwd, raw);
    }
    case "string": {
      if (typeof raw !== "string") return fail(field.key, `must be a string, ${got}`, source);
      if (t.minLength !== undefined && raw.length < t.minLength) {
        fail(field.key, `must be at least ${t.minLength} characters long, got ${raw.length}`, source);
      }
      if (t.maxLength !== undefined && raw.length > t.maxLength) {
        fail(field.key, `must be at most ${t.maxLength} characters long, got ${raw.length}`, source);
      }
      if (t.pattern && !t.pattern.test(raw)) {
        fail(field.key, `must be ${t.what ?? `like ${t.pattern}`}, ${got}`, source);
      }
      return raw;
    }
  }
}

function defaultStateDir(env: Readonly<Record<string, string | undefined>>): string {
  // systemd's StateDirectory= exports STATE_DIRECTORY (possibly a colon list; the first is ours).
  const fromSystemd = env.STATE_DIRECTORY?.split(":")[0];
  if (fromSystemd && isAbsolute(fromSystemd)) return fromSystemd;
  if (env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME)) return `${env.XDG_STATE_HOME}/qeil`;
  if (env.HOME && isAbsolute(env.HOME)) return `${env.HOME}/.local/state/qeil`;
  return "/var/lib/qeil";
}

function defaultNodeId(hostname: string | undefined): string {
  const cleaned = (hostname ?? "").replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 64);
  return ID_PATTERN.test(cleaned) ? cleaned : "qeil";
}

function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Parses the service configuration from its three layers, file < env < flags.
 *
 * @param fileJson the parsed config file (`undefined` when there is none)
 * @param env the process environment; only `QEIL_*` names (and `STATE_DIRECTORY`, `XDG_STATE_HOME`, `HOME` for the
 *   default state folder) are read, other names are ignored
 * @param flags values from the command line keyed by config key (`{"mqtt.url": "mqtt://b:1883"}`, see `SERVE_FLAG_KEYS`)
 * @throws ConfigError naming the key path in `details.field` and the layer the bad value came from
 */
export function parseConfig(
  fileJson: unknown,
  env: Readonly<Record<string, string | undefined>> = {},
  flags: Readonly<Record<string, RawValue>> = {},
  options: ParseConfigOptions = {},
): ServiceConfig {
  const layers = new Map<string, { raw: unknown; source: Source }>();
  if (fileJson !== undefined) {
    const flat = new Map<string, unknown>();
    flattenFile(fileJson, "", flat);
    for (const [key, raw] of flat) {
      // null in the file means "use the default", so a generated file can list every key.
      if (raw !== null) layers.set(key, { raw, source: { layer: "file", name: key } });
    }
  }
  for (const field of CONFIG_FIELDS) {
    const name = envNameOf(field.key);
    const raw = env[name];
    if (raw !== undefined && raw !== "") layers.set(field.key, { raw, source: { layer: "env", name } });
  }
  for (const [key, raw] of Object.entries(flags)) {
    if (!FIELD_BY_KEY.has(key)) throw new TypeError(`parseConfig(): flag key "${key}" is not a configuration key`);
    if (raw !== undefined && raw !== null) layers.set(key, { raw, source: { layer: "flag", name: key } });
  }

  const values = new Map<string, string | number | boolean | undefined>();
  const sources = new Map<string, Source>();
  for (const field of CONFIG_FIELDS) {
    const layer = layers.get(field.key);
    if (layer) {
      values.set(field.key, coerce(field, layer.raw, layer.source, options.cwd));
      sources.set(field.key, layer.source);
    } else {
      values.set(field.key, field.default);
    }
  }
  const str = (key: string) => values.get(key) as string | undefined;
  const num = (key: string) => values.get(key) as number;
  const bool = (key: string) => values.get(key) as boolean;
  const check = (condition: boolean, key: string, message: string) => {
    if (!condition) fail(key, message, sources.get(key));
  };

  const nodeId = str("nodeId") ?? defaultNodeId(options.hostname);
  const stateDir = str("stateDir") ?? defaultStateDir(env);
  const boardText = str("board")!;
  const board: BoardSource = boardText.startsWith("sim:")
    ? { kind: "sim", profileId: boardText.slice(4) }
    : { kind: "real", profileId: boardText };
  check(!(board.kind === "sim" && board.profileId === "auto"), "board", `cannot simulate "auto", name a profile`);
  const sysfsRoot = str("sysfsRoot") ?? (board.kind === "sim" ? `${stateDir}/sim-sysfs` : "/");
  const modelDir = str("modelDir");

  const url = str("mqtt.url")!;
  const broker: BrokerSource = url === "embedded"
    ? { kind: "embedded", host: str("mqtt.embeddedHost")!, port: num("mqtt.embeddedPort") }
    : { kind: "external", url };
  const protocol = str("mqtt.protocol") as MqttProtocolChoice;
  check(
    !(broker.kind === "embedded" && protocol === "5"),
    "mqtt.protocol",
    `must not be "5" with the embedded broker (it speaks MQTT 3.1.1 only)`,
  );
  const username = str("mqtt.username");
  const password = str("mqtt.password");
  check(!(password !== undefined && username === undefined), "mqtt.password", "needs mqtt.username");
  const tls = {
    caPath: str("mqtt.tls.ca"),
    certPath: str("mqtt.tls.cert"),
    keyPath: str("mqtt.tls.key"),
    rejectUnauthorized: bool("mqtt.tls.rejectUnauthorized"),
  };
  check(
    (tls.certPath === undefined) === (tls.keyPath === undefined),
    tls.certPath ? "mqtt.tls.key" : "mqtt.tls.cert",
    "must be given together with mqtt.tls.cert/mqtt.tls.key",
  );
  check(
    num("mqtt.reconnectMinMs") <= num("mqtt.reconnectMaxMs"),
    "mqtt.reconnectMinMs",
    `must be <= mqtt.reconnectMaxMs (${num("mqtt.reconnectMaxMs")}), got ${num("mqtt.reconnectMinMs")}`,
  );

  const httpHost = str("http.host")!;
  const token = str("http.token");
  check(
    !(bool("http.enabled") && token === undefined && !isLoopbackHost(httpHost)),
    "http.token",
    `is required when http.host (${quote(httpHost)}) is not a loopback address`,
  );

  check(
    num("request.defaultSamples") <= num("request.maxSamples"),
    "request.defaultSamples",
    `must be <= request.maxSamples (${num("request.maxSamples")}), got ${num("request.defaultSamples")}`,
  );
  check(
    num("request.defaultMaxTokens") <= num("request.maxMaxTokens"),
    "request.defaultMaxTokens",
    `must be <= request.maxMaxTokens (${num("request.maxMaxTokens")}), got ${num("request.defaultMaxTokens")}`,
  );
  check(
    num("deadlines.defaultMs") <= num("deadlines.maxMs"),
    "deadlines.defaultMs",
    `must be <= deadlines.maxMs (${num("deadlines.maxMs")}), got ${num("deadlines.defaultMs")}`,
  );
  check(num("faults.probationShare") > 0, "faults.probationShare", `must be in (0, 1], got 0`);
  check(
    num("update.healthGateIntervalMs") <= num("update.healthGateTimeoutMs"),
    "update.healthGateIntervalMs",
    `must be <= update.healthGateTimeoutMs (${num("update.healthGateTimeoutMs")}), got ${
      num("update.healthGateIntervalMs")
    }`,
  );
  const level = str("log.level");
  if (!isLogLevel(level)) throw new TypeError(`log.level passed validation but is ${level}`);

  return {
    nodeId,
    board,
    sysfsRoot,
    model: modelDir === undefined
      ? { source: "tiny", dir: `${stateDir}/models/tiny` }
      : { source: "dir", dir: modelDir },
    stateDir,
    http: { enabled: bool("http.enabled"), host: httpHost, port: num("http.port"), token },
    mqtt: {
      broker,
      protocol,
      clientId: str("mqtt.clientId") ?? `qeil-${nodeId}`,
      username,
      password,
      tls,
      topicPrefix: str("mqtt.topicPrefix") ?? `qeil/v1/${nodeId}/`,
      keepaliveS: num("mqtt.keepaliveS"),
      connectTimeoutMs: num("mqtt.connectTimeoutMs"),
      reconnectMinMs: num("mqtt.reconnectMinMs"),
      reconnectMaxMs: num("mqtt.reconnectMaxMs"),
      sessionExpiryS: num("mqtt.sessionExpiryS"),
      offlineQueueLimit: num("mqtt.offlineQueueLimit"),
    },
    telemetry: { periodMs: num("telemetry.periodMs") },
    queue: { capacity: num("queue.capacity"), concurrency: num("queue.concurrency") },
    request: {
      maxPromptBytes: num("request.maxPromptBytes"),
      defaultSamples: num("request.defaultSamples"),
      maxSamples: num("request.maxSamples"),
      defaultMaxTokens: num("request.defaultMaxTokens"),
      maxMaxTokens: num("request.maxMaxTokens"),
      defaultTemperature: num("request.defaultTemperature"),
    },
    deadlines: { defaultMs: num("deadlines.defaultMs"), maxMs: num("deadlines.maxMs") },
    watchdog: {
      checkIntervalMs: num("watchdog.checkIntervalMs"),
      maxEventLoopLagMs: num("watchdog.maxEventLoopLagMs"),
      samplerMaxAgeMs: num("watchdog.samplerMaxAgeMs"),
      deadlineGraceMs: num("watchdog.deadlineGraceMs"),
    },
    faults: {
      probationMs: num("faults.probationMs"),
      probationShare: num("faults.probationShare"),
      maxRetries: num("faults.maxRetries"),
      trialRefailProbability: num("faults.trialRefailProbability"),
    },
    dvfs: { readOnly: bool("dvfs.readOnly") },
    orchestrator: {
      mode: str("orchestrator.mode") as ServiceConfig["orchestrator"]["mode"],
      policy: str("orchestrator.policy") as ServiceConfig["orchestrator"]["policy"],
      waves: str("orchestrator.waves") as ServiceConfig["orchestrator"]["waves"],
      costModel: str("orchestrator.costModel"),
    },
    sim: { seed: num("sim.seed"), stepMs: num("sim.stepMs") },
    journal: { retainResults: num("journal.retainResults"), compactAfterRecords: num("journal.compactAfterRecords") },
    log: { level, format: str("log.format") as "json" | "text" },
    update: {
      publicKeys: (str("update.publicKeys") ?? "").split(",").map((k) => k.trim()).filter((k) => k !== ""),
      slotsDir: str("update.slotsDir") ?? `${stateDir}/slots`,
      stateDir: str("update.stateDir") ?? `${stateDir}/update`,
      factoryDir: str("update.factoryDir")!,
      maxArtifactBytes: num("update.maxArtifactBytes"),
      downloadTimeoutMs: num("update.downloadTimeoutMs"),
      maxManifestAgeMs: values.get("update.maxManifestAgeMs") as number | undefined,
      healthGateTimeoutMs: num("update.healthGateTimeoutMs"),
      healthGateIntervalMs: num("update.healthGateIntervalMs"),
      maxBootAttempts: num("update.maxBootAttempts"),
    },
  };
}

/** A Markdown table of every key: environment name, default and meaning (for the README and `--help`). */
export function configReference(): string {
  const rows = CONFIG_FIELDS.map((f) => {
    const def = f.derivedDefault ?? (f.default === undefined ? "(absent)" : `\`${JSON.stringify(f.default)}\``);
    return `| \`${f.key}\` | \`${envNameOf(f.key)}\` | ${def} | ${f.doc} |`;
  });
  return ["| Key | Environment | Default | Meaning |", "|---|---|---|---|", ...rows].join("\n");
}
