/**
 * Service metrics in the Prometheus text exposition format (version 0.0.4):
 * a small registry of counters, gauges and histograms, the service's own
 * metric set with base units in the names (seconds, joules, celsius, watts),
 * and the renderer behind `GET /metrics`.
 */
import type { InferRequest, ReplyPayload } from "./schema.ts";

/** Prometheus metric type. */
export type MetricType = "counter" | "gauge" | "histogram";

/** Label names to values. */
export type Labels = Readonly<Record<string, string>>;

/** One sample line: a series name (the family name, or `_bucket`/`_sum`/`_count` of a histogram), labels, value. */
export interface MetricSample {
  name: string;
  labels: Labels;
  value: number;
}

/** A metric family: what `# HELP` and `# TYPE` describe, and its samples. */
export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: MetricSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

/** Renders families in the Prometheus text format (each family: HELP, TYPE, then its samples). */
export function renderPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const keys = Object.keys(s.labels);
      const labels = keys.length === 0 ? "" : `{${keys.map((k) => `${k}="${escapeLabel(s.labels[k])}"`).join(",")}}`;
      lines.push(`${s.name}${labels} ${formatValue(s.value)}`);
    }
  }
  return lines.join("\n") + "\n";
}

abstract class Metric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];

  constructor(name: string, help: string, labelNames: readonly string[]) {
    if (!METRIC_NAME.test(name)) throw new RangeError(`metric name "${name}" is not valid in Prometheus`);
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith("__") || l === "le") {
        throw new RangeError(`label name "${l}" of ${name} is not valid`);
      }
    }
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  protected check(labels: Labels): void {
    const given = Object.keys(labels);
    if (given.length !== this.labelNames.length || !this.labelNames.every((l) => typeof labels[l] === "string")) {
      throw new RangeError(`${this.name} needs labels {${this.labelNames.join(", ")}}, got {${given.join(", ")}}`);
    }
  }

  abstract collect(): MetricFamily;
}

/** A monotonically increasing count. */
export class Counter extends Metric {
  #values = new Map<string, { labels: Labels; value: number }>();

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) {
      throw new RangeError(`${this.name} can only grow, got an increment of ${by}`);
    }
    this.check(labels);
    const key = labelKey(labels);
    const cur = this.#values.get(key);
    if (cur) cur.value += by;
    else this.#values.set(key, { labels: { ...labels }, value: by });
  }

  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(labels))?.value ?? 0;
  }

  collect(): MetricFamily {
    const samples = [...this.#values.values()].map((v) => ({ name: this.name, labels: v.labels, value: v.value }));
    if (samples.length === 0 && this.labelNames.length === 0) samples.push({ name: this.name, labels: {}, value: 0 });
    return { name: this.name, help: this.help, type: "counter", samples };
  }
}

/** A value that goes up and down. */
export class Gauge extends Metric {
  #values = new Map<string, { labels: Labels; value: number }>();

  set(labels: Labels, value: number): void {
    this.check(labels);
    this.#values.set(labelKey(labels), { labels: { ...labels }, value });
  }

  /** Removes every series (before setting the current set of, e.g., zones). */
  reset(): void {
    this.#values.clear();
  }

  get(labels: Labels = {}): number | undefined {
    return this.#values.get(labelKey(labels))?.value;
  }

  collect(): MetricFamily {
    const samples = [...this.#values.values()].map((v) => ({ name: this.name, labels: v.labels, value: v.value }));
    return { name: this.name, help: this.help, type: "gauge", samples };
  }
}

/** Observations counted into cumulative buckets. */
export class Histogram extends Metric {
  readonly bounds: readonly number[];
  #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(name: string, help: string, bounds: readonly number[], labelNames: readonly string[]) {
    super(name, help, labelNames);
    if (bounds.length === 0 || bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= bounds[i - 1]))) {
      throw new RangeError(`${name} needs finite, strictly increasing bucket bounds, got ${bounds.join(", ")}`);
    }
    this.bounds = bounds;
  }

  observe(labels: Labels, value: number): void {
    this.check(labels);
    const key = labelKey(labels);
    let s = this.#series.get(key);
    if (!s) {
      s = { labels: { ...labels }, counts: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  collect(): MetricFamily {
    const samples: MetricSample[] = [];
    for (const s of this.#series.values()) {
      this.bounds.forEach((b, i) =>
        samples.push({ name: `${this.name}_bucket`, labels: { ...s.labels, le: formatValue(b) }, value: s.counts[i] })
      );
      samples.push({ name: `${this.name}_bucket`, labels: { ...s.labels, le: "+Inf" }, value: s.count });
      samples.push({ name: `${this.name}_sum`, labels: s.labels, value: s.sum });
      samples.push({ name: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: "histogram", samples };
  }
}

/** A set of metrics, collected in registration order. */
export class MetricsRegistry {
  #metrics: Metric[] = [];

  #add<T extends Metric>(metric: T): T {
    if (this.#metrics.some((m) => m.name === metric.name)) {
      throw new RangeError(`metric ${metric.name} is registered twice`);
    }
    this.#metrics.push(metric);
    return metric;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    if (!name.endsWith("_total")) throw new RangeError(`counter ${name} must end with _total`);
    return this.#add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, bounds: readonly number[], labelNames: readonly string[] = []): Histogram {
    return this.#add(new Histogram(name, help, bounds, labelNames));
  }

  collect(): MetricFamily[] {
    return this.#metrics.map((m) => m.collect());
  }
}

/** The metrics of the service (`qeil_*`). The orchestrator updates them; `/metrics` renders them. */
export interface ServiceMetrics {
  registry: MetricsRegistry;
  /** Jobs finished, by outcome (`ok` or the error code). */
  jobs: Counter;
  /** Job latency from acceptance to result, s. */
  jobLatencySeconds: Histogram;
  /** Board energy spent on jobs, J. */
  jobEnergyJoules: Counter;
  samplesUsed: Counter;
  /** Samples requested but not drawn because the cascade stopped early. */
  samplesSaved: Counter;
  /** Thermal zone temperature, °C, by zone. */
  zoneTemperatureCelsius: Gauge;
  /** Board power, W. */
  boardPowerWatts: Gauge;
  /** Fault events, by kind. */
  faults: Counter;
  /** Calibration error of the physics model as a ratio (MAPE / 100), by quantity (`energy`, `latency`). */
  calibrationErrorRatio: Gauge;
  /** Mean absolute temperature prediction error, °C. */
  calibrationTemperatureErrorCelsius: Gauge;
  /** Jobs in the queue, by state (`waiting`, `running`). */
  queueJobs: Gauge;
  /** Jobs refused because the queue was full. */
  busyRejections: Counter;
  /** 1 while the MQTT broker is connected. */
  mqttConnected: Gauge;
  /** Boot sequence number of this run. */
  bootSequence: Gauge;
}

/** Latency buckets, s: 50 ms to 10 min. */
export const LATENCY_BUCKETS_S: readonly number[] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** Creates the service's metric set in a new registry. */
export function createServiceMetrics(): ServiceMetrics {
  const r = new MetricsRegistry();
  return {
    registry: r,
    jobs: r.counter("qeil_jobs_total", "Inference jobs finished, by outcome (ok or error code).", ["outcome"]),
    jobLatencySeconds: r.histogram(
      "qeil_job_latency_seconds",
      "Job latency from acceptance to result.",
      LATENCY_BUCKETS_S,
    ),
    jobEnergyJoules: r.counter("qeil_job_energy_joules_total", "Board energy measured over job windows."),
    samplesUsed: r.counter("qeil_samples_used_total", "Samples drawn for finished jobs."),
    samplesSaved: r.counter("qeil_samples_saved_total", "Samples requested but not drawn thanks to early stopping."),
    zoneTemperatureCelsius: r.gauge("qeil_zone_temperature_celsius", "Thermal zone temperature.", ["zone"]),
    boardPowerWatts: r.gauge("qeil_board_power_watts", "Board power."),
    faults: r.counter("qeil_faults_total", "Fault events published, by kind.", ["kind"]),
    calibrationErrorRatio: r.gauge(
      "qeil_calibration_error_ratio",
      "Mean absolute percentage error of the calibrated model / 100, by quantity.",
      ["quantity"],
    ),
    calibrationTemperatureErrorCelsius: r.gauge(
      "qeil_calibration_temperature_error_celsius",
      "Mean absolute error of predicted temperatures.",
    ),
    queueJobs: r.gauge("qeil_queue_jobs", "Jobs in the queue, by state.", ["state"]),
    busyRejections: r.counter("qeil_busy_rejections_total", "Requests refused because the queue was full."),
    mqttConnected: r.gauge("qeil_mqtt_connected", "1 while the MQTT broker is connected."),
    bootSequence: r.gauge("qeil_boot_sequence", "Boot sequence number of this run."),
  };
}

/** Counts a finished job into the metrics (hook it to the intake's `onSettled`). */
export function recordJob(metrics: ServiceMetrics, request: InferRequest, payload: ReplyPayload): void {
  if (payload.ok) {
    metrics.jobs.inc({ outcome: "ok" });
    metrics.jobLatencySeconds.observe({}, payload.latencyMs / 1000);
    metrics.jobEnergyJoules.inc({}, payload.energyJ);
    metrics.samplesUsed.inc({}, payload.samplesUsed);
    metrics.samplesSaved.inc({}, Math.max(0, request.samples - payload.samplesUsed));
  } else {
    metrics.jobs.inc({ outcome: payload.error.code });
  }
}
