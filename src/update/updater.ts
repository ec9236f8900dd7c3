/**
 * The fleet-update state machine.
 *
 * `apply(manifest)` (from MQTT `cmd/update`): parse, verify the signature with
 * the fleet keys, refuse stale manifests, replays and downgrades, then
 * download into staging with a size limit and a deadline, check size and
 * hash, unpack into the inactive slot, switch `current` atomically and tell
 * the caller to exit so systemd starts the new version.
 *
 * Every start of the service first counts itself with `countBootAttempt()`
 * (boot.ts), before anything that could crash: a new version that keeps dying
 * in its start-up is rolled back after `maxBootAttempts` starts without ever
 * reaching `onStart`. Then `onStart(checks)`, once the service runs, finishes
 * whatever a crash interrupted, and when the running build is a freshly
 * switched version, runs its health gate: the injected checks must all pass
 * within the configured time, else `current` goes back to the previous slot
 * and the caller must exit again.
 *
 * Outcomes (a commit, a rollback and its fault) are queued in the outbox
 * (outbox.ts) and published by `announce()`, which the service calls at each
 * start and each broker connection until the publisher delivered them: a
 * rollback decided while nobody could hear it is still reported.
 *
 * Each transition is persisted (see state.ts) before its step is taken, so a
 * crash at any step resumes or undoes cleanly on the next start.
 */
import {
  type Clock,
  describeError,
  type Logger,
  type Reading,
  silentLogger,
  systemClock,
  UpdateError,
} from "../core/mod.ts";
import type { UpdateFaultEvent, UpdatePublisher, UpdateStatusEvent, UpdateStep } from "./events.ts";
import { failureReason, updateFailure } from "./failure.ts";
import { createTarballInstaller, type Installer } from "./install.ts";
import type { FleetPublicKey } from "./keys.ts";
import { manifestId, parseSignedManifest, type SignedManifest, verifyManifestSignature } from "./manifest.ts";
import { downloadArtifact } from "./download.ts";
import { type UpdateAnnouncement, UpdateOutbox } from "./outbox.ts";
import { aboutPending, commit, rollBack, saveState, type TrialEndDeps } from "./rollback.ts";
import { compareSemver, isSemver } from "./semver.ts";
import { type SlotName, type SlotRef, SlotStore } from "./slots.ts";
import { type PendingUpdate, type UpdateState, UpdateStateFile } from "./state.ts";

/** One self-check of the health gate. */
export interface HealthCheck {
  /** Short name used in events (`broker`, `sampler`). */
  name: string;
  /** Resolves ok when healthy; a failure reason (or a throw) counts as unhealthy for this round. */
  check(signal: AbortSignal): Promise<Reading<unknown>>;
}

/** Health-gate settings. */
export interface HealthGateOptions {
  /** Time the new version has to pass every check. @default 120_000 */
  timeoutMs?: number;
  /** Pause between rounds of checks. @default 2_000 */
  intervalMs?: number;
  /**
   * Starts of the new version without a passed gate before it is rolled back. Recorded in the
   * pending update when it is accepted, so the limit of the accepting version applies. @default 3
   */
  maxBootAttempts?: number;
}

/** Options of `createUpdater`. */
export interface UpdaterOptions {
  /** Directory of the persistent state (`update-state.json`). */
  stateDir: string;
  /** Directory of the A/B slots (`a/`, `b/`, `current`, `staging/`). */
  slotsDir: string;
  /** Absolute path of the read-only factory install. @default undefined */
  factoryDir?: string;
  /** Version of the running build (VERSION of main.ts). */
  currentVersion: string;
  /** Fleet public keys; several may be valid at once for rotation. */
  publicKeys: readonly FleetPublicKey[];
  /**
   * Where events go: live steps without waiting for their delivery, queued outcomes from `announce()`,
   * which keeps each queued until the publisher delivered it.
   */
  publisher: UpdatePublisher;
  /** Unpacks the artifact into a slot. @default createTarballInstaller() */
  installer?: Installer;
  /** Time for deadlines and timestamps. @default systemClock */
  clock?: Clock;
  /** Largest artifact accepted, in bytes. @default 536_870_912 (512 MiB) */
  maxArtifactBytes?: number;
  /** Deadline of one download. @default 900_000 (15 min) */
  downloadTimeoutMs?: number;
  /** Refuse manifests whose `issuedAt` is older than this. @default undefined (no age limit) */
  maxManifestAgeMs?: number;
  /** Tolerated clock difference for an `issuedAt` in the future. @default 300_000 */
  clockSkewMs?: number;
  healthGate?: HealthGateOptions;
  /** Starts of the download/install pipeline for one manifest (crash resumes count). @default 3 */
  maxInstallAttempts?: number;
  /** Manifest ids remembered for replay protection. @default 1000 */
  maxSeenManifestIds?: number;
  /** @default silentLogger */
  logger?: Logger;
}

/** Result of `apply`. */
export type ApplyOutcome =
  /** The new version is in place: exit so systemd restarts the service on it. */
  | { kind: "restart-required"; version: string; slot: SlotName }
  /** Refused or failed; nothing was switched. A fault was published. */
  | { kind: "rejected"; error: UpdateError };

/** Result of `onStart`. */
export type StartOutcome =
  /** Nothing pending. */
  | { kind: "idle" }
  /** The running version passed its health gate and is now the installed version (announce it). */
  | { kind: "committed"; version: string }
  /** `current` changed (an interrupted switch finished, or a rollback): exit so systemd restarts. */
  | { kind: "restart-required"; reason: "switched" | "rolled-back"; version: string }
  /** An interrupted rollback finished and the running build is already the previous version. */
  | { kind: "rolled-back"; version: string }
  /** An interrupted update failed when resumed, or the state is unreadable. A fault was published. */
  | { kind: "failed"; error: UpdateError };

/** What one `announce()` achieved. */
export interface AnnounceResult {
  /** Outcomes the publisher delivered (and that left the outbox). */
  delivered: number;
  /** Outcomes still queued (the publisher failed, or the signal aborted). */
  pending: number;
}

/** The update state machine. */
export interface Updater {
  /** Handles one `cmd/update` payload (JSON text, bytes or parsed object). */
  apply(manifest: unknown, signal?: AbortSignal): Promise<ApplyOutcome>;
  /**
   * Call once per start, after `countBootAttempt()` counted the start and the subsystems the checks
   * look at were launched. It does not count starts itself.
   */
  onStart(checks: readonly HealthCheck[], signal?: AbortSignal): Promise<StartOutcome>;
  /**
   * Publishes the queued outcomes, oldest first, waiting for each (status, then its fault) to be
   * delivered before it leaves the queue; stops at the first failure. Calls are serialised.
   */
  announce(signal?: AbortSignal): Promise<AnnounceResult>;
  /** The persisted state (for status pages). */
  state(): Promise<UpdateState>;
}

const DEFAULTS = {
  maxArtifactBytes: 512 * 1024 * 1024,
  downloadTimeoutMs: 900_000,
  clockSkewMs: 300_000,
  gateTimeoutMs: 120_000,
  gateIntervalMs: 2_000,
  maxBootAttempts: 3,
  maxInstallAttempts: 3,
  maxSeenManifestIds: 1000,
};

/**
 * Creates the updater. Nothing touches the disk until a method is called.
 * @throws TypeError when `currentVersion` is not a semantic version
 */
export function createUpdater(options: UpdaterOptions): Updater {
  if (!isSemver(options.currentVersion)) {
    throw new TypeError(`createUpdater: currentVersion must be a semantic version, got "${options.currentVersion}"`);
  }
  return new StateMachine(options);
}

function asUpdateError(error: unknown, fallback: () => UpdateError): UpdateError {
  return failureReason(error) !== undefined ? error as UpdateError : fallback();
}

class StateMachine implements Updater {
  readonly #o: UpdaterOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #slots: SlotStore;
  readonly #file: UpdateStateFile;
  readonly #outbox: UpdateOutbox;
  readonly #installer: Installer;
  readonly #ends: TrialEndDeps;
  #busy = false;
  /** The announce() running (or finished); the next one starts after it. */
  #announcing: Promise<unknown> = Promise.resolve();

  constructor(options: UpdaterOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
    this.#slots = new SlotStore({
      root: options.slotsDir,
      ...(options.factoryDir === undefined ? {} : { factoryDir: options.factoryDir }),
    });
    this.#file = new UpdateStateFile(options.stateDir);
    this.#outbox = new UpdateOutbox(options.stateDir);
    this.#installer = options.installer ?? createTarballInstaller();
    this.#ends = {
      file: this.#file,
      slots: this.#slots,
      outbox: this.#outbox,
      clock: this.#clock,
      log: this.#log,
      currentVersion: options.currentVersion,
    };
  }

  state(): Promise<UpdateState> {
    return this.#file.load(this.#o.currentVersion);
  }

  async apply(input: unknown, signal?: AbortSignal): Promise<ApplyOutcome> {
    if (this.#busy) {
      const error = updateFailure("Busy", "update refused: another update step is running");
      await this.#fault("received", error);
      return { kind: "rejected", error };
    }
    this.#busy = true;
    try {
      return await this.#apply(input, signal);
    } finally {
      this.#busy = false;
    }
  }

  async onStart(checks: readonly HealthCheck[], signal?: AbortSignal): Promise<StartOutcome> {
    if (this.#busy) throw new Error("Updater.onStart() called while an update is running");
    this.#busy = true;
    try {
      return await this.#onStart(checks, signal);
    } finally {
      this.#busy = false;
    }
  }

  announce(signal?: AbortSignal): Promise<AnnounceResult> {
    const run = this.#announcing.then(() => this.#announce(signal));
    this.#announcing = run.catch(() => undefined);
    return run;
  }

  async #announce(signal?: AbortSignal): Promise<AnnounceResult> {
    const { announcements, unreadable } = await this.#outbox.list();
    for (const bad of unreadable) {
      // Nothing can be announced from it, and it would be reported at every start.
      this.#log.error("discarding an unreadable update announcement", { file: bad.fileName, reason: bad.reason });
      await this.#outbox.discard(bad.fileName);
    }
    let delivered = 0;
    for (const a of announcements) {
      try {
        signal?.throwIfAborted();
        await untilAborted(this.#deliver(a), signal);
      } catch (error) {
        this.#log.info("update outcome not announced yet; it stays queued", { id: a.id, error });
        return { delivered, pending: announcements.length - delivered };
      }
      await this.#outbox.remove(a.id);
      delivered++;
      this.#log.info("update outcome announced", { step: a.status.step, version: a.status.version });
    }
    return { delivered, pending: 0 };
  }

  async #deliver(a: UpdateAnnouncement): Promise<void> {
    const publisher = this.#o.publisher;
    if (publisher.announce) return await publisher.announce(a);
    await publisher.status(a.status);
    if (a.fault) await publisher.fault(a.fault);
  }

  // ---- apply ---------------------------------------------------------------------------------

  async #apply(input: unknown, signal?: AbortSignal): Promise<ApplyOutcome> {
    // What is known about the payload so far, for the events of a refusal.
    const known: { version?: string; manifestId?: string } = {};
    const reject = async (error: UpdateError): Promise<ApplyOutcome> => {
      await this.#status({ step: "rejected", ...known, detail: { reason: failureReason(error) } });
      await this.#fault("received", error, known.version, known.manifestId);
      return { kind: "rejected", error };
    };

    let state: UpdateState;
    try {
      state = await this.#file.load(this.#o.currentVersion);
    } catch (error) {
      return reject(asUpdateError(error, () => updateFailure("StateCorrupt", describeError(error), { cause: error })));
    }
    let manifest: SignedManifest;
    try {
      manifest = parseSignedManifest(input);
    } catch (error) {
      await this.#status({ step: "received" });
      return reject(asUpdateError(error, () => updateFailure("BadManifest", describeError(error), { cause: error })));
    }
    const id = await manifestId(manifest);
    known.version = manifest.version;
    known.manifestId = id;
    await this.#status({ step: "received", ...known });
    try {
      await verifyManifestSignature(manifest, this.#o.publicKeys);
      this.#checkFreshness(manifest);
    } catch (error) {
      return reject(asUpdateError(error, () => updateFailure("BadSignature", describeError(error), { cause: error })));
    }
    // Only signed manifests get this far, so nothing below leaks state to an unauthenticated sender.
    if (state.phase !== "idle") {
      return reject(updateFailure(
        "Busy",
        `update to ${manifest.version} refused: version ${state.pending?.manifest.version} is still ${state.phase}`,
      ));
    }
    if (state.seenManifestIds.includes(id)) {
      return reject(updateFailure("Replay", `update to ${manifest.version} refused: manifest ${id} was already used`));
    }
    const installed = compareSemver(state.installedVersion, this.#o.currentVersion) >= 0
      ? state.installedVersion
      : this.#o.currentVersion;
    if (compareSemver(manifest.version, installed) <= 0) {
      return reject(updateFailure(
        "Downgrade",
        `update to ${manifest.version} refused: it is not newer than the installed ${installed}`,
        { details: { installedVersion: installed } },
      ));
    }
    const maxBytes = this.#o.maxArtifactBytes ?? DEFAULTS.maxArtifactBytes;
    if (manifest.sizeBytes > maxBytes) {
      return reject(updateFailure(
        "TooLarge",
        `update to ${manifest.version} refused: ${manifest.sizeBytes} bytes exceed the limit of ${maxBytes}`,
        { details: { sizeBytes: manifest.sizeBytes, maxBytes } },
      ));
    }

    let fromSlot: SlotRef;
    try {
      await this.#slots.init();
      fromSlot = await this.#slots.active();
    } catch (error) {
      return reject(
        updateFailure("Storage", `update: cannot read the slots: ${describeError(error)}`, { cause: error }),
      );
    }
    const pending: PendingUpdate = {
      manifest,
      manifestId: id,
      fromVersion: this.#o.currentVersion,
      fromSlot,
      toSlot: this.#slots.inactiveOf(fromSlot),
      attempts: 1,
      bootAttempts: 0,
      maxBootAttempts: this.#maxBootAttempts(),
      acceptedAtMs: this.#clock.nowMs(),
    };
    const maxIds = this.#o.maxSeenManifestIds ?? DEFAULTS.maxSeenManifestIds;
    state.seenManifestIds = [...state.seenManifestIds, id].slice(-maxIds);
    state.phase = "downloading";
    state.pending = pending;
    try {
      await this.#file.save(state);
    } catch (error) {
      return reject(
        updateFailure("Storage", `update: cannot save the state: ${describeError(error)}`, { cause: error }),
      );
    }
    await this.#status({ step: "verified", ...this.#about(pending) });
    const outcome = await this.#pipeline(state, pending, signal);
    return outcome.kind === "restart-required" ? outcome : { kind: "rejected", error: outcome.error };
  }

  #checkFreshness(manifest: SignedManifest): void {
    if (manifest.issuedAt === undefined) return;
    const issuedMs = Date.parse(manifest.issuedAt);
    const nowMs = this.#clock.nowMs();
    const skewMs = this.#o.clockSkewMs ?? DEFAULTS.clockSkewMs;
    if (issuedMs > nowMs + skewMs) {
      throw updateFailure("Stale", `update manifest issued at ${manifest.issuedAt} is in the future`);
    }
    const maxAgeMs = this.#o.maxManifestAgeMs;
    if (maxAgeMs !== undefined && nowMs - issuedMs > maxAgeMs) {
      throw updateFailure(
        "Stale",
        `update manifest issued at ${manifest.issuedAt} is older than ${maxAgeMs} ms`,
        { details: { ageMs: nowMs - issuedMs, maxAgeMs } },
      );
    }
  }

  /** Download, verify, install, switch. On failure the state goes back to idle and nothing is switched. */
  async #pipeline(
    state: UpdateState,
    pending: PendingUpdate,
    signal?: AbortSignal,
  ): Promise<{ kind: "restart-required"; version: string; slot: SlotName } | { kind: "failed"; error: UpdateError }> {
    const { manifest } = pending;
    const about = this.#about(pending);
    let step: UpdateStep = "downloading";
    try {
      const staging = await this.#slots.resetStaging().catch((error) => {
        throw updateFailure("Storage", `update: cannot prepare ${this.#slots.stagingPath}`, { cause: error });
      });
      const artifact = `${staging}/artifact`;
      await this.#status({ step, ...about, detail: { url: manifest.artifactUrl, bytes: manifest.sizeBytes } });
      const download = await downloadArtifact({
        url: manifest.artifactUrl,
        destPath: artifact,
        expectedBytes: manifest.sizeBytes,
        maxBytes: this.#o.maxArtifactBytes ?? DEFAULTS.maxArtifactBytes,
        timeoutMs: this.#o.downloadTimeoutMs ?? DEFAULTS.downloadTimeoutMs,
        clock: this.#clock,
        ...(signal ? { signal } : {}),
      });
      if (download.sha256 !== manifest.sha256) {
        throw updateFailure(
          "HashMismatch",
          `update ${manifest.version}: the artifact hashes to ${download.sha256}, the manifest says ${manifest.sha256}`,
          { details: { sha256: download.sha256, expected: manifest.sha256 } },
        );
      }
      await this.#status({ step: "downloaded", ...about, detail: { bytes: download.bytes, sha256: download.sha256 } });

      step = "installing";
      state.phase = "installing";
      await this.#save(state);
      await this.#status({ step, ...about });
      const tree = `${staging}/tree`;
      try {
        await this.#installer.install(artifact, tree, {
          version: manifest.version,
          manifestId: pending.manifestId,
          ...(signal ? { signal } : {}),
        });
      } catch (error) {
        throw asUpdateError(error, () => updateFailure("InstallFailed", describeError(error), { cause: error }));
      }
      try {
        await this.#slots.replaceSlot(pending.toSlot, tree, {
          version: manifest.version,
          manifestId: pending.manifestId,
          installedAtMs: this.#clock.nowMs(),
        });
        await this.#slots.clearStaging();
      } catch (error) {
        throw updateFailure("Storage", `update: cannot fill slot ${pending.toSlot}: ${describeError(error)}`, {
          cause: error,
        });
      }
      await this.#status({ step: "installed", ...about });

      step = "switching";
      state.phase = "switching";
      await this.#save(state);
      await this.#status({ step, ...about });
      await this.#beginTrial(pending);
      await this.#switch(pending.toSlot);
      state.phase = "awaiting-health";
      pending.bootAttempts = 0;
      await this.#save(state);
      await this.#status({ step: "switched", ...about });
      await this.#status({ step: "restart-required", ...about });
      this.#log.info("update installed; restart required", { version: manifest.version, slot: pending.toSlot });
      return { kind: "restart-required", version: manifest.version, slot: pending.toSlot };
    } catch (raw) {
      const error = asUpdateError(raw, () => updateFailure("Storage", describeError(raw), { cause: raw }));
      if (signal?.aborted || failureReason(error) === "Aborted") {
        // A shutdown, not a failure: the state still names this step, so the next start resumes it.
        await this.#status({ step: "interrupted", ...about, detail: { during: step } });
        return { kind: "failed", error };
      }
      await this.#slots.clearStaging().catch((e) => this.#log.warn("cannot clear staging", { error: e }));
      state.phase = "idle";
      delete state.pending;
      state.last = {
        outcome: "failed",
        version: manifest.version,
        manifestId: pending.manifestId,
        atMs: this.#clock.nowMs(),
        reason: failureReason(error),
      };
      await this.#save(state).catch((e) => this.#log.error("cannot save the update state", { error: e }));
      await this.#status({ step: "failed", ...about, detail: { reason: failureReason(error), during: step } });
      await this.#fault(step, error, manifest.version, pending.manifestId);
      return { kind: "failed", error };
    }
  }

  /** Tells the launcher the slot is on trial (before `current` names it). */
  async #beginTrial(pending: PendingUpdate): Promise<void> {
    try {
      await this.#slots.beginTrial({
        slot: pending.toSlot,
        fallback: pending.fromSlot,
        maxBootAttempts: pending.maxBootAttempts ?? this.#maxBootAttempts(),
      });
    } catch (error) {
      throw updateFailure(
        "Storage",
        `update: cannot record the trial of slot ${pending.toSlot}: ${describeError(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  #maxBootAttempts(): number {
    return this.#o.healthGate?.maxBootAttempts ?? DEFAULTS.maxBootAttempts;
  }

  async #switch(slot: SlotRef): Promise<void> {
    try {
      await this.#slots.switchTo(slot);
    } catch (error) {
      throw updateFailure("SwitchFailed", `update: cannot switch current to ${slot}: ${describeError(error)}`, {
        cause: error,
      });
    }
  }

  // ---- start ---------------------------------------------------------------------------------

  async #onStart(checks: readonly HealthCheck[], signal?: AbortSignal): Promise<StartOutcome> {
    let state: UpdateState;
    try {
      state = await this.#file.load(this.#o.currentVersion);
    } catch (raw) {
      const error = asUpdateError(raw, () => updateFailure("StateCorrupt", describeError(raw), { cause: raw }));
      await this.#fault("resumed", error);
      return { kind: "failed", error };
    }
    const pending = state.pending;
    if (state.phase === "idle" || !pending) return { kind: "idle" };
    const about = this.#about(pending);
    switch (state.phase) {
      case "downloading":
      case "installing":
        return this.#resumePipeline(state, pending, signal);
      case "switching": {
        // The crash hit around the rename of `current`: finish the switch (it is idempotent).
        try {
          await this.#beginTrial(pending);
          await this.#switch(pending.toSlot);
        } catch (error) {
          return this.#rollback(state, pending, describeError(error));
        }
        state.phase = "awaiting-health";
        pending.bootAttempts = 0;
        await this.#save(state);
        await this.#status({ step: "switched", ...about, detail: { resumed: true } });
        if (this.#o.currentVersion !== pending.manifest.version) {
          await this.#status({ step: "restart-required", ...about });
          return { kind: "restart-required", reason: "switched", version: pending.manifest.version };
        }
        return this.#awaitHealth(state, pending, checks, signal);
      }
      case "awaiting-health":
        return this.#awaitHealth(state, pending, checks, signal);
      case "rolling-back":
        return this.#rollback(state, pending, pending.rollbackReason ?? "an interrupted rollback was resumed");
    }
  }

  async #resumePipeline(state: UpdateState, pending: PendingUpdate, signal?: AbortSignal): Promise<StartOutcome> {
    const max = this.#o.maxInstallAttempts ?? DEFAULTS.maxInstallAttempts;
    const about = this.#about(pending);
    let error: UpdateError | undefined;
    if (pending.attempts >= max) {
      error = updateFailure(
        "Interrupted",
        `update to ${pending.manifest.version} was interrupted ${pending.attempts} times; giving up`,
      );
    } else {
      try {
        // Keys may have been rotated since the manifest was accepted.
        await verifyManifestSignature(pending.manifest, this.#o.publicKeys);
      } catch (raw) {
        error = asUpdateError(raw, () => updateFailure("BadSignature", describeError(raw), { cause: raw }));
      }
    }
    if (error) {
      await this.#slots.clearStaging().catch((e) => this.#log.warn("cannot clear staging", { error: e }));
      state.phase = "idle";
      delete state.pending;
      state.last = {
        outcome: "failed",
        version: pending.manifest.version,
        manifestId: pending.manifestId,
        atMs: this.#clock.nowMs(),
        reason: failureReason(error),
      };
      await this.#save(state);
      await this.#status({ step: "failed", ...about, detail: { reason: failureReason(error) } });
      await this.#fault("resumed", error, pending.manifest.version, pending.manifestId);
      return { kind: "failed", error };
    }
    pending.attempts += 1;
    state.phase = "downloading";
    await this.#save(state);
    await this.#status({ step: "resumed", ...about, detail: { attempt: pending.attempts } });
    const outcome = await this.#pipeline(state, pending, signal);
    return outcome.kind === "restart-required"
      ? { kind: "restart-required", reason: "switched", version: outcome.version }
      : outcome;
  }

  async #awaitHealth(
    state: UpdateState,
    pending: PendingUpdate,
    checks: readonly HealthCheck[],
    signal?: AbortSignal,
  ): Promise<StartOutcome> {
    const version = pending.manifest.version;
    // countBootAttempt() settles both cases before the service starts; they are checked again for a
    // caller that did not count its start.
    if (this.#o.currentVersion !== version) {
      // `current` names the new slot but another build is running: the new one cannot be trusted.
      return this.#rollback(state, pending, `expected version ${version} to start, but ${this.#o.currentVersion} did`);
    }
    const maxBoots = pending.maxBootAttempts ?? this.#maxBootAttempts();
    if (pending.bootAttempts > maxBoots) {
      return this.#rollback(state, pending, `version ${version} started ${maxBoots} times without passing its gate`);
    }
    const result = await this.#runGate(pending, checks, this.#o.healthGate ?? {}, signal);
    if (result.ok) {
      try {
        await commit(this.#ends, state, pending);
      } catch (raw) {
        const error = asUpdateError(raw, () => updateFailure("Storage", describeError(raw), { cause: raw }));
        await this.#fault("health-check", error, version, pending.manifestId);
        return { kind: "failed", error };
      }
      this.#log.info("update committed", { version });
      return { kind: "committed", version };
    }
    if (result.reason === "aborted") {
      const error = updateFailure("Aborted", `health gate of ${version} aborted`);
      await this.#status({ step: "interrupted", ...this.#about(pending), detail: { during: "health-check" } });
      return { kind: "failed", error };
    }
    return this.#rollback(state, pending, result.reason);
  }

  /** Rounds of checks until all pass or the deadline passes (on the injected clock). */
  async #runGate(
    pending: PendingUpdate,
    checks: readonly HealthCheck[],
    gate: HealthGateOptions,
    signal?: AbortSignal,
  ): Promise<{ ok: true } | { ok: false; reason: string }> {
    const timeoutMs = gate.timeoutMs ?? DEFAULTS.gateTimeoutMs;
    const intervalMs = gate.intervalMs ?? DEFAULTS.gateIntervalMs;
    const deadlineMs = this.#clock.monotonicMs() + timeoutMs;
    let failing: string[] = [];
    for (let round = 1;; round++) {
      if (signal?.aborted) return { ok: false, reason: "aborted" };
      const remainingMs = deadlineMs - this.#clock.monotonicMs();
      if (remainingMs <= 0) break;
      failing = await this.#checkRound(checks, remainingMs, signal);
      if (failing.length === 0) return { ok: true };
      const leftMs = deadlineMs - this.#clock.monotonicMs();
      if (leftMs <= 0) break;
      // Start the pause before announcing the round, so whoever reacts to the event (a test
      // advancing a manual clock) finds the pause already scheduled.
      const pause = this.#clock.sleep(Math.min(intervalMs, leftMs), signal);
      await this.#status({
        step: "health-check",
        ...this.#about(pending),
        detail: { round, failing, remainingMs: leftMs },
      });
      try {
        await pause;
      } catch {
        return { ok: false, reason: "aborted" };
      }
    }
    return { ok: false, reason: `health gate not passed within ${timeoutMs} ms: failing ${failing.join("; ")}` };
  }

  /** Runs every check once, bounded by `remainingMs`; returns the failing ones as `name: reason`. */
  async #checkRound(checks: readonly HealthCheck[], remainingMs: number, signal?: AbortSignal): Promise<string[]> {
    const round = new AbortController();
    const onAbort = () => round.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const deadline = this.#clock.sleep(remainingMs, round.signal).then(
      () => "timed out" as const,
      () => "cancelled" as const, // the round ended first and cancelled its deadline
    );
    try {
      const results = await Promise.all(checks.map(async (c) => {
        const outcome = await Promise.race([
          c.check(round.signal).then(
            (r): string | undefined => (r.ok ? undefined : r.reason),
            (error): string => describeError(error),
          ),
          deadline,
        ]);
        return outcome === undefined ? undefined : `${c.name}: ${outcome}`;
      }));
      return results.filter((r): r is string => r !== undefined);
    } finally {
      round.abort();
      signal?.removeEventListener("abort", onAbort);
    }
  }

  async #rollback(state: UpdateState, pending: PendingUpdate, reason: string): Promise<StartOutcome> {
    const result = await rollBack(this.#ends, state, pending, reason, (event) => void this.#status(event));
    if (result.kind === "failed") {
      // The state still says rolling-back: the next start tries again.
      await this.#fault("rolling-back", result.error, pending.manifest.version, pending.manifestId);
    }
    return result;
  }

  // ---- helpers -------------------------------------------------------------------------------

  #about(p: PendingUpdate): Pick<UpdateStatusEvent, "version" | "fromVersion" | "manifestId" | "slot"> {
    return aboutPending(p);
  }

  #save(state: UpdateState): Promise<void> {
    return saveState(this.#file, state);
  }

  /** Hands a live step to the publisher without waiting for its delivery (see `UpdaterOptions.publisher`). */
  #status(event: Omit<UpdateStatusEvent, "timestampMs">): Promise<void> {
    const full: UpdateStatusEvent = { ...event, timestampMs: this.#clock.nowMs() };
    this.#log.debug("update step", { ...full });
    this.#handOver(() => this.#o.publisher.status(full), "status event", event.step);
    return Promise.resolve();
  }

  #fault(step: UpdateStep, error: UpdateError, version?: string, id?: string): Promise<void> {
    const event: UpdateFaultEvent = {
      reason: failureReason(error) ?? "InstallFailed",
      step,
      message: describeError(error),
      timestampMs: this.#clock.nowMs(),
      ...(version ? { version } : {}),
      ...(id ? { manifestId: id } : {}),
    };
    this.#log.warn("update fault", { ...event });
    this.#handOver(() => this.#o.publisher.fault(event), "fault", step);
    return Promise.resolve();
  }

  /** Calls the publisher; a throw or a rejection is logged, never fatal to the update. */
  #handOver(publish: () => void | Promise<void>, what: string, step: UpdateStep): void {
    try {
      Promise.resolve(publish()).catch((error) => this.#log.warn(`update ${what} not delivered`, { step, error }));
    } catch (error) {
      this.#log.warn(`cannot publish an update ${what}`, { step, error });
    }
  }
}

/** Resolves or rejects with `promise`, or rejects with the signal's reason once it aborts. */
function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
