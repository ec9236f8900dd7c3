/**
 * The two ways an update on trial ends, shared by the start-up boot count
 * (boot.ts, which has no publisher yet) and the updater (updater.ts): a
 * rollback to the slot that ran before, or a commit. Each records its outcome
 * in the state file and queues its announcement in the outbox (outbox.ts);
 * `Updater.announce()` publishes it once someone can hear it.
 */
import { type Clock, describeError, type Logger, type UpdateError } from "../core/mod.ts";
import type { UpdateStatusEvent } from "./events.ts";
import { failureReason, updateFailure } from "./failure.ts";
import { type UpdateOutbox } from "./outbox.ts";
import { compareSemver } from "./semver.ts";
import type { SlotStore } from "./slots.ts";
import type { PendingUpdate, UpdateState, UpdateStateFile } from "./state.ts";

/** What ending a trial touches. */
export interface TrialEndDeps {
  file: UpdateStateFile;
  slots: SlotStore;
  outbox: UpdateOutbox;
  clock: Clock;
  log: Logger;
  /** Version of the running build. */
  currentVersion: string;
}

/** How a rollback ended. */
export type RollbackResult =
  /** `current` is back on the previous slot, which is the running build: carry on. */
  | { kind: "rolled-back"; version: string }
  /** `current` is back on the previous slot, but another build runs: exit so the service manager starts it. */
  | { kind: "restart-required"; reason: "rolled-back"; version: string }
  /** The switch back (or recording it) failed; the state still says `rolling-back`, the next start tries again. */
  | { kind: "failed"; error: UpdateError };

/** The fields every event about `pending` carries. */
export function aboutPending(
  p: PendingUpdate,
): Pick<UpdateStatusEvent, "version" | "fromVersion" | "manifestId" | "slot"> {
  return { version: p.manifest.version, fromVersion: p.fromVersion, manifestId: p.manifestId, slot: p.toSlot };
}

/** Saves the state, as a `Storage` update failure when that fails. */
export async function saveState(file: UpdateStateFile, state: UpdateState): Promise<void> {
  try {
    await file.save(state);
  } catch (error) {
    throw updateFailure("Storage", `update: cannot save the state to ${file.path}: ${describeError(error)}`, {
      cause: error,
    });
  }
}

/**
 * Switches `current` back to the slot that ran before `pending`, ends the launcher's trial, queues
 * the `rolled-back` announcement with its `HealthGate` fault, and records the rollback. Every step
 * is persisted before the next, so a crash anywhere resumes here (phase `rolling-back`) at the next
 * start. `onRollingBack` hears the `rolling-back` step once it is recorded (the updater publishes it
 * live; the boot count has nobody to tell yet).
 */
export async function rollBack(
  deps: TrialEndDeps,
  state: UpdateState,
  pending: PendingUpdate,
  reason: string,
  onRollingBack?: (event: Omit<UpdateStatusEvent, "timestampMs">) => void,
): Promise<RollbackResult> {
  const version = pending.manifest.version;
  const back = { ...aboutPending(pending), slot: pending.fromSlot };
  try {
    state.phase = "rolling-back";
    pending.rollbackReason = reason;
    await saveState(deps.file, state);
    onRollingBack?.({ step: "rolling-back", ...back, detail: { reason, bootAttempts: pending.bootAttempts } });
    try {
      await deps.slots.switchTo(pending.fromSlot);
    } catch (error) {
      throw updateFailure(
        "SwitchFailed",
        `update: cannot switch current back to ${pending.fromSlot}: ${describeError(error)}`,
        { cause: error },
      );
    }
    // `current` no longer names the trial slot, so a trial file left behind would count nothing.
    await deps.slots.endTrial().catch((error) => deps.log.warn("cannot end the launcher's trial", { error }));
    const atMs = deps.clock.nowMs();
    await deps.outbox.put({
      id: `${pending.manifestId}-rolled-back`,
      status: {
        step: "rolled-back",
        ...back,
        timestampMs: atMs,
        detail: { reason, bootAttempts: pending.bootAttempts },
      },
      fault: {
        reason: "HealthGate",
        step: "rolled-back",
        message: `update to ${version} rolled back to ${pending.fromVersion}: ${reason}`,
        timestampMs: atMs,
        version,
        manifestId: pending.manifestId,
      },
    }).catch((error) => {
      throw updateFailure("Storage", `update: cannot queue the rollback's announcement: ${describeError(error)}`, {
        cause: error,
      });
    });
    state.phase = "idle";
    delete state.pending;
    state.last = { outcome: "rolled-back", version, manifestId: pending.manifestId, atMs, reason };
    await saveState(deps.file, state);
  } catch (raw) {
    const error = failureReason(raw) !== undefined
      ? raw as UpdateError
      : updateFailure("Storage", describeError(raw), { cause: raw });
    return { kind: "failed", error };
  }
  deps.log.warn("update rolled back", { version, to: pending.fromVersion, reason });
  if (deps.currentVersion === pending.fromVersion) return { kind: "rolled-back", version: pending.fromVersion };
  return { kind: "restart-required", reason: "rolled-back", version: pending.fromVersion };
}

/**
 * Records that the running version passed its gate: ends the launcher's trial first (a trial left
 * over a committed version would make the launcher fall back after a few ordinary restarts), queues
 * the `committed` announcement, then records the commit.
 * @throws UpdateError "Storage" when a step cannot be written (the state still says `awaiting-health`)
 */
export async function commit(deps: TrialEndDeps, state: UpdateState, pending: PendingUpdate): Promise<void> {
  const version = pending.manifest.version;
  try {
    await deps.slots.endTrial();
  } catch (error) {
    throw updateFailure("Storage", `update: cannot end the launcher's trial: ${describeError(error)}`, {
      cause: error,
    });
  }
  const atMs = deps.clock.nowMs();
  await deps.outbox.put({
    id: `${pending.manifestId}-committed`,
    status: {
      step: "committed",
      ...aboutPending(pending),
      timestampMs: atMs,
      detail: { bootAttempts: pending.bootAttempts },
    },
  }).catch((error) => {
    throw updateFailure("Storage", `update: cannot queue the commit's announcement: ${describeError(error)}`, {
      cause: error,
    });
  });
  if (compareSemver(version, state.installedVersion) > 0) state.installedVersion = version;
  state.phase = "idle";
  delete state.pending;
  state.last = { outcome: "committed", version, manifestId: pending.manifestId, atMs };
  await saveState(deps.file, state);
}
