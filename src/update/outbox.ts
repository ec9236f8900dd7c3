/**
 * The outcomes of updates that must reach the fleet: a commit, or a rollback
 * and its fault. An outcome is often decided when nobody can hear it (a
 * rollback decided at the very start of a process, before the broker is
 * connected; a rollback because the broker never connected; a process that
 * exits right after), so it is written here first, in the same step that
 * records it in the update state, and removed only once the publisher has
 * delivered it (the service: acknowledged by the broker). Until then every
 * `Updater.announce()` (each start, each broker connection) tries again.
 *
 * One file per announcement in `<stateDir>/outbox/`: writing one and deleting
 * another never touch the same file, so announcing needs no lock against an
 * update that is running.
 */
import type { UpdateFaultEvent, UpdateStatusEvent } from "./events.ts";
import { fsyncDir, writeFileDurably } from "./slots.ts";

/** An outcome waiting to be announced. */
export interface UpdateAnnouncement {
  /**
   * `<manifestId>-<step>`: writing the same outcome again (a rollback resumed after a crash) keeps
   * one announcement.
   */
  id: string;
  /** The `committed` or `rolled-back` step, stamped when the outcome was decided. */
  status: UpdateStatusEvent;
  /** The fault that goes with it (a rollback's `HealthGate`). */
  fault?: UpdateFaultEvent;
}

/** What `list()` found. */
export interface OutboxContents {
  /** Oldest outcome first. */
  announcements: UpdateAnnouncement[];
  /** Files that are not announcements; `list()` leaves them, `discard()` removes them. */
  unreadable: { fileName: string; reason: string }[];
}

const SUFFIX = ".json";
const ID_PATTERN = /^[A-Za-z0-9_-]{1,200}$/;

/** The announcement spool of one state directory. */
export class UpdateOutbox {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = `${stateDir}/outbox`;
  }

  /** Writes an announcement durably (replacing one with the same id). */
  async put(announcement: UpdateAnnouncement): Promise<void> {
    if (!ID_PATTERN.test(announcement.id)) {
      throw new TypeError(`outbox: announcement id must match ${ID_PATTERN}, got "${announcement.id}"`);
    }
    await writeFileDurably(`${this.dir}/${announcement.id}${SUFFIX}`, JSON.stringify(announcement) + "\n", 0o600);
  }

  /** Every announcement waiting, oldest first. */
  async list(): Promise<OutboxContents> {
    const announcements: UpdateAnnouncement[] = [];
    const unreadable: OutboxContents["unreadable"] = [];
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(this.dir));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { announcements, unreadable };
      throw error;
    }
    for (const entry of entries) {
      // `<id>.json.tmp` is a write a crash interrupted: its rename never happened, so it never counted.
      if (!entry.isFile || !entry.name.endsWith(SUFFIX)) continue;
      try {
        const value = JSON.parse(await Deno.readTextFile(`${this.dir}/${entry.name}`));
        if (
          typeof value?.id !== "string" || `${value.id}${SUFFIX}` !== entry.name ||
          typeof value.status?.step !== "string" || typeof value.status.timestampMs !== "number"
        ) {
          throw new SyntaxError("not an update announcement with an id matching its file name and a status step");
        }
        announcements.push(value as UpdateAnnouncement);
      } catch (error) {
        unreadable.push({ fileName: entry.name, reason: error instanceof Error ? error.message : String(error) });
      }
    }
    announcements.sort((a, b) => a.status.timestampMs - b.status.timestampMs || (a.id < b.id ? -1 : 1));
    return { announcements, unreadable };
  }

  /** Removes an announcement once it was delivered (absent already: nothing to do). */
  async remove(id: string): Promise<void> {
    await this.discard(`${id}${SUFFIX}`);
  }

  /** Removes a file of the outbox by name (an unreadable one `list()` reported). */
  async discard(fileName: string): Promise<void> {
    if (fileName.includes("/")) throw new TypeError(`outbox: "${fileName}" is not a file name`);
    try {
      await Deno.remove(`${this.dir}/${fileName}`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    // A removal lost in a power cut announces the outcome once more: harmless, but rare this way.
    await fsyncDir(this.dir);
  }
}
