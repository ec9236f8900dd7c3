/**
 * The persistent state of the update state machine (`update-state.json` in the
 * state directory). Every transition is written before the step it announces
 * is taken (temp file, fsync, rename, fsync of the directory), so a crash at any
 * point leaves a state that names the step to resume or undo.
 */
import type { SignedManifest } from "./manifest.ts";
import type { SlotName, SlotRef } from "./slots.ts";
import { writeFileDurably } from "./slots.ts";
import { updateFailure } from "./failure.ts";
import { isSemver } from "./semver.ts";

/** The steps of the state machine that survive a restart. */
export type UpdatePhase =
  /** Nothing in progress. */
  | "idle"
  /** Downloading and verifying the artifact into staging. */
  | "downloading"
  /** Unpacking the artifact into the inactive slot. */
  | "installing"
  /** The new slot is complete; `current` is being switched to it. */
  | "switching"
  /** `current` points at the new slot; it must pass its health gate. */
  | "awaiting-health"
  /** `current` is being switched back to the previous slot. */
  | "rolling-back";

/** An update between acceptance and commit (or rollback). */
export interface PendingUpdate {
  manifest: SignedManifest;
  manifestId: string;
  /** Version that was running when the update was accepted. */
  fromVersion: string;
  fromSlot: SlotRef;
  toSlot: SlotName;
  /** How many times the download/install pipeline has been started for it. */
  attempts: number;
  /**
   * Starts of the new version so far, counted by `countBootAttempt()` at the very beginning of each
   * start (before anything that could crash), while it has not passed its gate.
   */
  bootAttempts: number;
  /**
   * Starts the new version gets before it is rolled back, fixed by the version that accepted the
   * update (so the new version's own config cannot change it). Absent in states written before it
   * was recorded: the running updater's setting applies.
   */
  maxBootAttempts?: number;
  acceptedAtMs: number;
  /** Why a rollback was started (set in phase "rolling-back"). */
  rollbackReason?: string;
}

/** How the last update ended. */
export interface LastUpdate {
  outcome: "committed" | "rolled-back" | "failed";
  version: string;
  manifestId: string;
  atMs: number;
  reason?: string;
}

/** The whole persistent state. */
export interface UpdateState {
  schema: 1;
  phase: UpdatePhase;
  /** Highest version that passed its health gate here (or the factory version). */
  installedVersion: string;
  /** Ids of signed manifests already acted on, oldest first (bounded). */
  seenManifestIds: string[];
  pending?: PendingUpdate;
  last?: LastUpdate;
}

const PHASES: readonly UpdatePhase[] = [
  "idle",
  "downloading",
  "installing",
  "switching",
  "awaiting-health",
  "rolling-back",
];

/** Reads and writes the state file. */
export class UpdateStateFile {
  readonly path: string;

  constructor(stateDir: string, fileName = "update-state.json") {
    this.path = `${stateDir}/${fileName}`;
  }

  /**
   * Loads the state; a missing file gives a fresh idle state at `initialVersion`.
   * @throws UpdateError "StateCorrupt" naming the file and what is wrong
   */
  async load(initialVersion: string): Promise<UpdateState> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        return { schema: 1, phase: "idle", installedVersion: initialVersion, seenManifestIds: [] };
      }
      throw updateFailure("StateCorrupt", `read update state ${this.path}`, {
        cause: error,
        details: { path: this.path },
      });
    }
    try {
      return validateState(JSON.parse(text));
    } catch (error) {
      throw updateFailure(
        "StateCorrupt",
        `read update state ${this.path}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, details: { path: this.path } },
      );
    }
  }

  /** Writes the state durably (temp file + fsync + rename + directory fsync). */
  async save(state: UpdateState): Promise<void> {
    await writeFileDurably(this.path, JSON.stringify(state, null, 1) + "\n", 0o600);
  }
}

function validateState(value: unknown): UpdateState {
  if (typeof value !== "object" || value === null) throw new SyntaxError("not a JSON object");
  const s = value as Record<string, unknown>;
  if (s.schema !== 1) throw new SyntaxError(`unknown schema ${JSON.stringify(s.schema)}`);
  if (!PHASES.includes(s.phase as UpdatePhase)) throw new SyntaxError(`unknown phase ${JSON.stringify(s.phase)}`);
  if (typeof s.installedVersion !== "string" || !isSemver(s.installedVersion)) {
    throw new SyntaxError(`installedVersion ${JSON.stringify(s.installedVersion)} is not a semantic version`);
  }
  if (!Array.isArray(s.seenManifestIds) || !s.seenManifestIds.every((id) => typeof id === "string")) {
    throw new SyntaxError("seenManifestIds must be an array of strings");
  }
  if (s.phase !== "idle") {
    const p = s.pending as Record<string, unknown> | undefined;
    if (
      typeof p !== "object" || p === null || typeof p.manifestId !== "string" || typeof p.fromVersion !== "string" ||
      (p.toSlot !== "a" && p.toSlot !== "b") || typeof p.manifest !== "object" || typeof p.attempts !== "number" ||
      typeof p.bootAttempts !== "number"
    ) {
      throw new SyntaxError(`phase ${s.phase} needs a complete pending update`);
    }
    if (p.maxBootAttempts !== undefined && !(Number.isInteger(p.maxBootAttempts) && Number(p.maxBootAttempts) >= 1)) {
      throw new SyntaxError(
        `pending.maxBootAttempts must be an integer >= 1, got ${JSON.stringify(p.maxBootAttempts)}`,
      );
    }
  }
  return value as UpdateState;
}
