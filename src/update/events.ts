/**
 * What the updater reports: a status event at every step and a fault for
 * every failure, through an injected publisher (the MQTT bridge publishes
 * them on `update` and `fault`; tests record them).
 */
import type { UpdateFailureReason } from "./failure.ts";
import type { SlotRef } from "./slots.ts";

/** The steps an update goes through, in order, plus its endings. */
export type UpdateStep =
  | "received"
  | "rejected"
  | "verified"
  | "resumed"
  | "downloading"
  | "downloaded"
  | "installing"
  | "installed"
  | "switching"
  | "switched"
  | "restart-required"
  | "health-check"
  | "committed"
  | "rolling-back"
  | "rolled-back"
  | "interrupted"
  | "failed";

/** One step of an update. */
export interface UpdateStatusEvent {
  step: UpdateStep;
  /** Wall-clock time of the event, ms since the epoch. */
  timestampMs: number;
  /** Version the update installs (absent when the manifest could not be parsed). */
  version?: string;
  /** Version running when the update was accepted. */
  fromVersion?: string;
  manifestId?: string;
  /** Slot the step concerns (the target slot; the previous one for a rollback). */
  slot?: SlotRef;
  /** Step-specific figures (`bytes`, `failing` checks, `remainingMs`, `reason`). */
  detail?: Record<string, unknown>;
}

/** A failed or refused update. */
export interface UpdateFaultEvent {
  reason: UpdateFailureReason;
  /** The step during which it failed. */
  step: UpdateStep;
  message: string;
  timestampMs: number;
  version?: string;
  manifestId?: string;
}

/** Where update events go. A publisher that throws is logged, never fatal to the update. */
export interface UpdatePublisher {
  status(event: UpdateStatusEvent): void | Promise<void>;
  fault(event: UpdateFaultEvent): void | Promise<void>;
}
