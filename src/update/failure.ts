/**
 * Why an update was refused or failed: one literal union, carried by
 * `UpdateError.details.reason` and by every published fault.
 */
import { UpdateError } from "../core/mod.ts";

/** Every reason an update can be refused or fail. */
export type UpdateFailureReason =
  /** The manifest is not valid JSON or a field is missing or malformed (`details.field`). */
  | "BadManifest"
  /** The manifest names a key id that is not among the configured fleet keys. */
  | "UnknownKey"
  /** The signature does not verify with any configured fleet key. */
  | "BadSignature"
  /** `issuedAt` is older than the allowed age, or in the future. */
  | "Stale"
  /** The version is not newer than the highest installed one. */
  | "Downgrade"
  /** This exact signed manifest was already acted on. */
  | "Replay"
  /** Another update is in progress or waiting for its health gate. */
  | "Busy"
  /** The declared size exceeds the configured artifact limit. */
  | "TooLarge"
  /** The artifact URL could not be fetched (connection refused, DNS, TLS). */
  | "Unreachable"
  /** The server answered with a status other than 200. */
  | "HttpStatus"
  /** The download did not finish within its time limit. */
  | "Timeout"
  /** The body ended (or broke) before the declared size. */
  | "Truncated"
  /** The body is larger than the declared size. */
  | "Oversize"
  /** The downloaded bytes do not hash to the manifest's sha256. */
  | "HashMismatch"
  /** The artifact, a slot or the state could not be written (disk full, permissions). */
  | "Storage"
  /** Unpacking or verifying the artifact into the inactive slot failed. */
  | "InstallFailed"
  /** The `current` slot link could not be switched. */
  | "SwitchFailed"
  /** The new version did not pass its health gate in time (or crashed repeatedly before it). */
  | "HealthGate"
  /** A crash interrupted the update too many times. */
  | "Interrupted"
  /** The caller aborted the update (shutdown). */
  | "Aborted"
  /** The persistent update state cannot be read. */
  | "StateCorrupt";

/** Creates an `UpdateError` whose `details.reason` is `reason`. */
export function updateFailure(
  reason: UpdateFailureReason,
  message: string,
  options: { cause?: unknown; details?: Record<string, unknown> } = {},
): UpdateError {
  return new UpdateError(message, {
    ...(options.cause === undefined ? {} : { cause: options.cause }),
    details: { ...options.details, reason },
  });
}

/** The failure reason of an `UpdateError` made by `updateFailure`, else `undefined`. */
export function failureReason(error: unknown): UpdateFailureReason | undefined {
  if (!(error instanceof UpdateError)) return undefined;
  const reason = error.details.reason;
  return typeof reason === "string" ? reason as UpdateFailureReason : undefined;
}
