/**
 * Domain errors. Programmer errors use the built-ins (TypeError, RangeError,
 * SyntaxError); these are for failures a caller is expected to handle, each
 * with a stable `code` that transports map to a status (HTTP) or a fault
 * event (MQTT) in exactly one place each.
 */

/** Every domain error code, one literal union. */
export type ErrorCode =
  | "SensorUnavailable"
  | "Actuator"
  | "Infeasible"
  | "Backend"
  | "Config"
  | "Model"
  | "Input"
  | "Busy"
  | "Timeout"
  | "Dataset"
  | "Update";

/** Extra, machine-readable context: the offending field, file or path. */
export interface ErrorDetails {
  /** Dotted path of the offending field in a request or config (`"samples"`, `"mqtt.port"`). */
  field?: string;
  /** Filesystem path the error is about. */
  path?: string;
  [key: string]: unknown;
}

/** Base class of all qeil domain errors. */
export class QeilError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = `${code}Error`;
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** A sensor channel that cannot be read at all (discovery found nothing usable). */
export class SensorUnavailableError extends QeilError {
  constructor(message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super("SensorUnavailable", message, options);
  }
}

/** A write to a DVFS knob failed or did not read back as written. */
export class ActuatorError extends QeilError {
  constructor(message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super("Actuator", message, options);
  }
}

/** No placement satisfies the constraints (memory, thermal, SLO). */
export class InfeasibleError extends QeilError {
  constructor(message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super("Infeasible", message, options);
  }
}

/** A compute backend failed to load or to run. */
export class BackendError extends QeilError {
  constructor(message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super("Backend", message, options);
  }
}

/** Invalid configuration; `details.field` holds the key path. */
export class ConfigError extends QeilError {
  constructor(message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super("Config", message, options);
  }
}

/** A model folder that is missing files, inconsistent or corrupt. */
export class ModelError extends QeilError {
  constructor(message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super("Model", message, options);
  }
}

/** Invalid input from a client (request payload, CLI value); `details.field` names it. */
export class InputError extends QeilError {
  constructor(message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super("Input", message, options);
  }
}

/** The service is at capacity; retry later. */
export class BusyError extends QeilError {
  constructor(message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super("Busy", message, options);
  }
}

/** An operation exceeded its deadline. */
export class TimeoutError extends QeilError {
  constructor(message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super("Timeout", message, options);
  }
}

/** A dataset file that is missing, truncated or malformed; details name file and line. */
export class DatasetError extends QeilError {
  constructor(message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super("Dataset", message, options);
  }
}

/** A fleet update that was rejected or failed. */
export class UpdateError extends QeilError {
  constructor(message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super("Update", message, options);
  }
}

/** True when `error` is a qeil domain error, optionally of the given code. */
export function isQeilError(error: unknown, code?: ErrorCode): error is QeilError {
  return error instanceof QeilError && (code === undefined || error.code === code);
}

/** A one-line description of any thrown value, with its cause chain. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (current instanceof Error) {
      parts.push(current.message);
      current = (current as Error & { cause?: unknown }).cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join(": ");
}
