/**
 * What the updater reports: a status event at every step and a fault for
 * every failure, through an injected publisher (the MQTT bridge publishes
 * them on `update` and `fault`; tests record them). The outcomes (`committed`,
 * `rolled-back` and its fault) go through the outbox first (outbox.ts).
 */
import type { UpdateFailureReason } from "./failure.ts";
import type { UpdateAnnouncement } from "./outbox.ts";
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

/**
 * Where update events go. A publisher that throws or rejects is logged, never fatal to the update;
 * the updater never waits for a live step to be delivered.
 */
export interface UpdatePublisher {
  status(event: UpdateStatusEvent): void | Promise<void>;
  fault(event: UpdateFaultEvent): void | Promise<void>;
  /**
   * Delivers a queued outcome (`Updater.announce()`): its status, then its fault. Resolve only once
   * both were delivered (the service: acknowledged by the broker); until then the outcome stays queued
   * and a later `announce()` sends it again.
   * @default `status()` then `fault()`, each awaited
   */
  announce?(announcement: UpdateAnnouncement): Promise<void>;
}
