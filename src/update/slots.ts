/**
 * A/B slots in one directory: `a/` and `b/` hold unpacked releases, `current`
 * is a symlink to the active one (or to the read-only factory install), and
 * `staging/` is where an update is unpacked before it replaces the inactive
 * slot. The switch is a symlink created beside `current` and renamed over it,
 * then the directory is fsynced: after a crash `current` is either the old or
 * the new target, never missing or half-written.
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

/** Flushes a directory's entries (a rename is durable only once its directory is synced). */
export async function fsyncDir(path: string): Promise<void> {
  using dir = await Deno.open(path, { read: true });
  await dir.sync();
}
