/**
 * A/B slots in one directory: `a/` and `b/` hold unpacked releases, `current`
 * is a symlink to the active one (or to the read-only factory install), and
 * `staging/` is where an update is unpacked before it replaces the inactive
 * slot. The switch is a symlink created beside `current` and renamed over it,
 * then the directory is fsynced: after a crash `current` is either the old or
 * the new target, never missing or half-written.
 *
 * While a freshly switched slot is on trial (between the switch and its
 * passed health gate), `trial` names it, the slot to fall back to and how many
 * starts it gets; the device's launcher (yocto-layer/meta-qeil, files/
 * qeil-launcher.sh) appends a line to `trial-boots` at each start of the trial
 * slot and starts the fallback instead once the starts are used up, so even a
 * release that cannot start its runtime is left behind.
 */

/** The two writable slots. */
export type SlotName = "a" | "b";
/** What `current` can point at: a slot, or the factory install. */
export type SlotRef = SlotName | "factory";

/** What was installed in a slot (`slot.json` inside it). */
export interface SlotInfo {
  version: string;
  manifestId: string;
  installedAtMs: number;
}

/** Options of `SlotStore`. */
export interface SlotStoreOptions {
  /** Directory holding `a/`, `b/`, `current` and `staging/`. */
  root: string;
  /**
   * Absolute path of the factory install (e.g. `/usr/lib/qeil` from the image).
   * When `current` is missing, the factory install is active.
   * @default undefined (no factory install: `current` must exist once an update ran)
   */
  factoryDir?: string;
}

const SLOT_INFO_FILE = "slot.json";
/** Names the slot on trial, its fallback and its start limit, one per line (read by the launcher). */
const TRIAL_FILE = "trial";
/** One line per start of the trial slot, appended by the launcher. */
const TRIAL_BOOTS_FILE = "trial-boots";

/** What `trial` says: the launcher's view of a slot that has not passed its health gate yet. */
export interface SlotTrial {
  slot: SlotName;
  /** Where the launcher goes once `maxBootAttempts` starts are used up. */
  fallback: SlotRef;
  maxBootAttempts: number;
}

/** The A/B slot directory. */
export class SlotStore {
  readonly root: string;
  readonly factoryDir: string | undefined;

  constructor(options: SlotStoreOptions) {
    if (options.factoryDir !== undefined && !options.factoryDir.startsWith("/")) {
      throw new TypeError(`SlotStore: factoryDir must be an absolute path, got "${options.factoryDir}"`);
    }
    this.root = options.root;
    this.factoryDir = options.factoryDir;
  }

  /** Path of a slot directory. */
  slotPath(slot: SlotName): string {
    return `${this.root}/${slot}`;
  }

  /** Path of `current`. */
  get currentPath(): string {
    return `${this.root}/current`;
  }

  /** Path of the staging directory. */
  get stagingPath(): string {
    return `${this.root}/staging`;
  }

  /** Creates the root directory if needed. */
  async init(): Promise<void> {
    await Deno.mkdir(this.root, { recursive: true });
  }

  /** The slot `current` points at. @throws Error when it points somewhere unknown */
  async active(): Promise<SlotRef> {
    let target: string;
    try {
      target = await Deno.readLink(this.currentPath);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return "factory";
      throw error;
    }
    if (target === "a" || target === "b") return target;
    if (this.factoryDir !== undefined && target === this.factoryDir) return "factory";
    throw new Error(`slots: ${this.currentPath} points at "${target}", which is neither slot a, b nor the factory`);
  }

  /** The slot an update goes into while `active` runs. */
  inactiveOf(active: SlotRef): SlotName {
    return active === "a" ? "b" : "a";
  }

  /** Empties and recreates `staging/`; returns its path. */
  async resetStaging(): Promise<string> {
    await this.clearStaging();
    await Deno.mkdir(this.stagingPath, { recursive: true });
    return this.stagingPath;
  }

  /** Removes `staging/` if present. */
  async clearStaging(): Promise<void> {
    await Deno.remove(this.stagingPath, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }

  /**
   * Replaces slot `slot` with the directory `treeDir` (inside staging) and
   * records `info` in it. Refuses to touch the active slot.
   */
  async replaceSlot(slot: SlotName, treeDir: string, info: SlotInfo): Promise<void> {
    if ((await this.active()) === slot) throw new Error(`slots: refusing to replace the active slot ${slot}`);
    await Deno.writeTextFile(`${treeDir}/${SLOT_INFO_FILE}`, JSON.stringify(info) + "\n");
    await Deno.remove(this.slotPath(slot), { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    await Deno.rename(treeDir, this.slotPath(slot));
    await fsyncDir(this.root);
  }

  /** What `slot.json` of a slot says, or `undefined` when the slot is empty or unreadable. */
  async slotInfo(slot: SlotName): Promise<SlotInfo | undefined> {
    try {
      const info = JSON.parse(await Deno.readTextFile(`${this.slotPath(slot)}/${SLOT_INFO_FILE}`));
      return typeof info?.version === "string" ? info as SlotInfo : undefined;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof SyntaxError) return undefined;
      throw error;
    }
  }

  /**
   * Puts `slot` on trial for the launcher, before `current` is switched to it: the launcher's start
   * count starts from zero, and after `maxBootAttempts` starts it runs `fallback` instead.
   */
  async beginTrial(trial: SlotTrial): Promise<void> {
    if (!Number.isInteger(trial.maxBootAttempts) || trial.maxBootAttempts < 1) {
      throw new RangeError(`slots: maxBootAttempts must be an integer >= 1, got ${trial.maxBootAttempts}`);
    }
    await removeIfPresent(`${this.root}/${TRIAL_BOOTS_FILE}`);
    await writeFileDurably(
      `${this.root}/${TRIAL_FILE}`,
      `${trial.slot}\n${trial.fallback}\n${trial.maxBootAttempts}\n`,
    );
  }

  /** Ends the trial (the slot passed its gate or was rolled back): the launcher stops counting. */
  async endTrial(): Promise<void> {
    const removed = await removeIfPresent(`${this.root}/${TRIAL_FILE}`);
    const counted = await removeIfPresent(`${this.root}/${TRIAL_BOOTS_FILE}`);
    if (removed || counted) await fsyncDir(this.root);
  }

  /** The trial in progress, or `undefined`. @throws SyntaxError when `trial` is not what `beginTrial` writes */
  async trial(): Promise<SlotTrial | undefined> {
    let text: string;
    try {
      text = await Deno.readTextFile(`${this.root}/${TRIAL_FILE}`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    const [slot, fallback, max] = text.split("\n");
    const maxBootAttempts = Number(max);
    if (
      (slot !== "a" && slot !== "b") || (fallback !== "a" && fallback !== "b" && fallback !== "factory") ||
      !Number.isInteger(maxBootAttempts) || maxBootAttempts < 1
    ) {
      throw new SyntaxError(
        `slots: ${this.root}/${TRIAL_FILE} is not "<slot>\\n<fallback>\\n<starts>": ${JSON.stringify(text)}`,
      );
    }
    return { slot, fallback, maxBootAttempts };
  }

  /** Starts of the trial slot the launcher counted (0 without a launcher, or before the first start). */
  async trialBoots(): Promise<number> {
    try {
      const text = await Deno.readTextFile(`${this.root}/${TRIAL_BOOTS_FILE}`);
      return text.split("\n").filter((line) => line !== "").length;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return 0;
      throw error;
    }
  }

  /** Atomically points `current` at `ref` (rename over the old link, then fsync the directory). */
  async switchTo(ref: SlotRef): Promise<void> {
    let target: string;
    if (ref === "factory") {
      if (this.factoryDir === undefined) {
        throw new Error("slots: cannot switch to the factory install: none is configured");
      }
      target = this.factoryDir;
    } else {
      target = ref;
      const stat = await Deno.stat(this.slotPath(ref)).catch(() => undefined);
      if (!stat?.isDirectory) {
        throw new Error(`slots: cannot switch to slot ${ref}: ${this.slotPath(ref)} is not a directory`);
      }
    }
    const temp = `${this.root}/current.next`;
    await Deno.remove(temp).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    await Deno.symlink(target, temp);
    await Deno.rename(temp, this.currentPath);
    await fsyncDir(this.root);
  }
}

/** Removes a file; false when it was not there. */
async function removeIfPresent(path: string): Promise<boolean> {
  try {
    await Deno.remove(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Writes a file so that after a crash it holds either its old or its new content: a temporary file
 * beside it, fsynced, renamed over it, then the directory fsynced.
 */
export async function writeFileDurably(path: string, text: string, mode = 0o644): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/")) || ".";
  await Deno.mkdir(dir, { recursive: true });
  const temp = `${path}.tmp`;
  const bytes = new TextEncoder().encode(text);
  {
    using file = await Deno.open(temp, { write: true, create: true, truncate: true, mode });
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  }
  await Deno.rename(temp, path);
  await fsyncDir(dir);
}

/** Flushes a directory's entries (a rename is durable only once its directory is synced). */
export async function fsyncDir(path: string): Promise<void> {
  using dir = await Deno.open(path, { read: true });
  await dir.sync();
}
