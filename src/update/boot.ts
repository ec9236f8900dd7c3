/**
 * The boot count: the first thing every start of the service does, before
 * the board, the model or the broker (anything that could crash), so that a
 * new version that dies anywhere in its start-up is still counted and rolled
 * back. It needs only the update folders: no keys, no network, no publisher.
 *
 * While an update waits for its health gate (phase `awaiting-health`), each
 * start of the new version adds one to `bootAttempts` and saves it durably;
 * the start after the last allowed one switches `current` back to the slot
 * that ran before and asks for a restart, so the service manager starts the
 * previous version, which announces the rollback once its broker is connected
 * (`Updater.announce()`). A start of another build while the new version is
 * on trial (the launcher fell back because the new version could not even
 * start its runtime, or someone started the old build) finishes the rollback
 * the same way. Everything else (an interrupted download, install or switch,
 * and the gate itself) is `Updater.onStart()`'s, once the service runs.
 */
import { type Clock, describeError, type Logger, silentLogger, systemClock, type UpdateError } from "../core/mod.ts";
import { failureReason, updateFailure } from "./failure.ts";
import { UpdateOutbox } from "./outbox.ts";
import { rollBack, type RollbackResult, type TrialEndDeps } from "./rollback.ts";
import { isSemver } from "./semver.ts";
import { SlotStore } from "./slots.ts";
import { type UpdatePhase, type UpdateState, UpdateStateFile } from "./state.ts";

/** Options of `countBootAttempt`: where the update files are, and which build is starting. */
export interface BootCountOptions {
  /** Directory of the persistent update state (`update-state.json`, `outbox/`). */
  stateDir: string;
  /** Directory of the A/B slots. */
  slotsDir: string;
  /** Absolute path of the read-only factory install. @default undefined */
  factoryDir?: string;
  /** Version of the build that is starting. */
  currentVersion: string;
  /**
   * Starts a new version gets when its pending update does not record a limit (states written
   * before the limit was recorded). @default 3
   */
  maxBootAttempts?: number;
  /** Timestamps of the rollback. @default systemClock */
  clock?: Clock;
  /** @default silentLogger */
  logger?: Logger;
}

/** What the boot count decided. */
export type BootOutcome =
  /** No update is on trial (`phase` says whether `Updater.onStart()` has an interrupted step to finish). */
  | { kind: "idle"; phase: UpdatePhase }
  /** This is start `bootAttempt` of `maxBootAttempts` of a new version: start, and let the gate decide. */
  | { kind: "trial"; version: string; bootAttempt: number; maxBootAttempts: number }
  /** The new version was rolled back and the running build is the previous one: start normally. */
  | { kind: "rolled-back"; version: string; reason: string }
  /** The new version was rolled back: exit with the restart status so the previous version starts. */
  | { kind: "restart-required"; reason: "rolled-back"; version: string; why: string }
  /**
   * The state could not be read or written, or the switch back failed. Start anyway (refusing to
   * start would help nobody); `Updater.onStart()` meets the same problem and publishes it as a fault.
   */
  | { kind: "failed"; error: UpdateError };

const DEFAULT_MAX_BOOT_ATTEMPTS = 3;

/**
 * Counts this start of the service (see the module doc). Call it once per start, before anything
 * else that could fail.
 * @throws TypeError when `currentVersion` is not a semantic version
 */
export async function countBootAttempt(options: BootCountOptions): Promise<BootOutcome> {
  if (!isSemver(options.currentVersion)) {
    throw new TypeError(`countBootAttempt: currentVersion must be a semantic version, got "${options.currentVersion}"`);
  }
  const log = options.logger ?? silentLogger;
  const file = new UpdateStateFile(options.stateDir);
  let state: UpdateState;
  try {
    state = await file.load(options.currentVersion);
  } catch (raw) {
    return { kind: "failed", error: asUpdateError(raw, "StateCorrupt") };
  }
  const slots = new SlotStore({
    root: options.slotsDir,
    ...(options.factoryDir === undefined ? {} : { factoryDir: options.factoryDir }),
  });
  const deps: TrialEndDeps = {
    file,
    slots,
    outbox: new UpdateOutbox(options.stateDir),
    clock: options.clock ?? systemClock,
    log,
    currentVersion: options.currentVersion,
  };
  const pending = state.pending;

  if (state.phase === "awaiting-health" && pending) {
    const version = pending.manifest.version;
    const maxBootAttempts = pending.maxBootAttempts ?? options.maxBootAttempts ?? DEFAULT_MAX_BOOT_ATTEMPTS;
    if (options.currentVersion !== version) {
      const launched = await slots.trialBoots().catch(() => 0);
      const reason = launched > maxBootAttempts
        ? `version ${version} did not pass its health gate in ${maxBootAttempts} starts; ` +
          `the launcher started ${options.currentVersion} instead`
        : `expected version ${version} to start, but ${options.currentVersion} did`;
      return outcomeOf(await rollBack(deps, state, pending, reason), reason);
    }
    // The count is on disk before anything of this start can crash.
    pending.bootAttempts += 1;
    try {
      await file.save(state);
    } catch (raw) {
      return { kind: "failed", error: asUpdateError(raw, "Storage", `cannot count the start in ${file.path}`) };
    }
    if (pending.bootAttempts > maxBootAttempts) {
      const reason = `version ${version} started ${maxBootAttempts} times without passing its health gate`;
      return outcomeOf(await rollBack(deps, state, pending, reason), reason);
    }
    log.info("update on trial", { version, bootAttempt: pending.bootAttempts, maxBootAttempts });
    return { kind: "trial", version, bootAttempt: pending.bootAttempts, maxBootAttempts };
  }

  if (state.phase === "rolling-back" && pending) {
    const reason = pending.rollbackReason ?? "an interrupted rollback was resumed";
    return outcomeOf(await rollBack(deps, state, pending, reason), reason);
  }

  // Nothing on trial: a trial file left behind by hand or by an older build would make the launcher
  // fall back after a few ordinary restarts.
  if (state.phase === "idle") {
    await slots.endTrial().catch((error) => log.warn("cannot remove a stale launcher trial", { error }));
  }
  return { kind: "idle", phase: state.phase };
}

function outcomeOf(result: RollbackResult, reason: string): BootOutcome {
  switch (result.kind) {
    case "rolled-back":
      return { kind: "rolled-back", version: result.version, reason };
    case "restart-required":
      return { kind: "restart-required", reason: "rolled-back", version: result.version, why: reason };
    case "failed":
      return result;
  }
}

function asUpdateError(raw: unknown, reason: "StateCorrupt" | "Storage", context?: string): UpdateError {
  if (failureReason(raw) !== undefined) return raw as UpdateError;
  const message = context ? `${context}: ${describeError(raw)}` : describeError(raw);
  return updateFailure(reason, message, { cause: raw });
}
