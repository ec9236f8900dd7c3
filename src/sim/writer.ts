/**
 * File operations of a simulated sysfs tree under one root: atomic value
 * writes (temp file + rename, so a concurrent reader sees the old or the new
 * value, never half of one), symlinks, knob reads that tell the simulator's
 * own writes from someone else's, and the sensor faults that remove a file or
 * fill it with garbage until cleared.
 */

/** Content a `sensor-garbage` fault leaves in a file: no number a parser could take. */
export const GARBAGE_TEXT = "\u0000\u0007qeil-sim:garbage\u00ff\n";

function parentOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}

function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf("/") + 1);
}

/** The relative symlink target that makes `linkRel` point at `targetRel` (both root-relative). */
export function relativeTarget(linkRel: string, targetRel: string): string {
  const from = parentOf(normalizeRel(linkRel)).split("/").filter((p) => p !== "");
  const to = normalizeRel(targetRel).split("/");
  let common = 0;
  while (common < from.length && common < to.length - 1 && from[common] === to[common]) common++;
  return [...from.slice(common).map(() => ".."), ...to.slice(common)].join("/");
}

/** Normalises a root-relative path (`a//b/./c` -> `a/b/c`); rejects `..`. */
export function normalizeRel(path: string): string {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new RangeError(`path "${path}" must stay inside the simulated root`);
  return parts.join("/");
}

/** A fault on a path (a file, or a directory and everything below it). */
interface PathFault {
  rel: string;
  kind: "remove" | "garbage";
}

/** Writes and reads files below `root`; every path argument is relative to it. */
export class TreeWriter {
  readonly root: string;
  /** Last content this writer put in each file (to skip identical rewrites and spot foreign writes). */
  #written = new Map<string, string>();
  #madeDirs = new Set<string>();
  #faults: PathFault[] = [];

  constructor(root: string) {
    this.root = root.replace(/\/+$/, "") || "/";
  }

  /** Absolute path of a root-relative one. */
  abs(rel: string): string {
    return `${this.root}/${rel}`;
  }

  /** Creates a directory and its parents. */
  mkdir(rel: string): void {
    if (rel === "" || this.#madeDirs.has(rel)) return;
    Deno.mkdirSync(this.abs(rel), { recursive: true });
    this.#madeDirs.add(rel);
  }

  /**
   * Writes `content` plus the sysfs trailing newline atomically, unless the file
   * already holds exactly that (as written by this writer) or a fault covers it.
   * `raw` writes the content as is (device-tree properties end in NUL, not newline).
   */
  write(rel: string, content: string, options: { mode?: number; raw?: boolean } = {}): void {
    const text = options.raw || content.endsWith("\n") ? content : content + "\n";
    if (this.#written.get(rel) === text) return;
    if (this.#faultAt(rel)) return;
    const dir = parentOf(rel);
    this.mkdir(dir);
    const tmp = `${dir === "" ? "" : dir + "/"}.${baseOf(rel)}.qeil-tmp`;
    Deno.writeTextFileSync(this.abs(tmp), text);
    // Explicit chmod: the create mode is filtered by the umask and ignored for a leftover temp file.
    if (options.mode !== undefined) Deno.chmodSync(this.abs(tmp), options.mode);
    Deno.renameSync(this.abs(tmp), this.abs(rel));
    this.#written.set(rel, text);
  }

  /** Creates (or replaces) a symlink at `rel` pointing to `target` (relative to the link's directory). */
  symlink(rel: string, target: string): void {
    if (this.#faultAt(rel)) return;
    this.mkdir(parentOf(rel));
    try {
      Deno.removeSync(this.abs(rel));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    Deno.symlinkSync(target, this.abs(rel));
  }

  /** Removes a file or directory this writer manages (e.g. `userspace/` when a governor changes). */
  remove(rel: string): void {
    try {
      Deno.removeSync(this.abs(rel), { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    for (const key of [...this.#written.keys()]) {
      if (key === rel || key.startsWith(rel + "/")) this.#written.delete(key);
    }
    for (const dir of [...this.#madeDirs]) {
      if (dir === rel || dir.startsWith(rel + "/")) this.#madeDirs.delete(dir);
    }
  }

  /**
   * Reads a knob file. `foreign` is true when its content differs from what this
   * writer last put there, i.e. someone else (an actuator) wrote it.
   * Missing files read as `undefined`.
   */
  readKnob(rel: string): { text: string; foreign: boolean } | undefined {
    if (this.#faultAt(rel)) return undefined;
    let text: string;
    try {
      text = Deno.readTextFileSync(this.abs(rel));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    return { text, foreign: text !== this.#written.get(rel) };
  }

  /** Records that `rel` holds `text` now (a foreign value the simulator accepted as is). */
  adopt(rel: string, text: string): void {
    this.#written.set(rel, text);
  }

  /** Forgets what was written at `rel`, so the next write happens even if unchanged. */
  invalidate(rel: string): void {
    this.#written.delete(rel);
  }

  /**
   * Resolves a fault path (absolute inside the root, or relative to it; it may
   * pass through class symlinks such as `sys/class/thermal/thermal_zone0`) to the
   * real root-relative path the writer uses.
   * @throws RangeError when the path is outside the root or does not exist
   */
  resolve(path: string): string {
    const realRoot = Deno.realPathSync(this.root);
    let rel: string;
    if (path.startsWith("/")) {
      const abs = path.replace(/\/+$/, "");
      if (abs === this.root || abs === realRoot) return "";
      if (abs.startsWith(this.root + "/")) rel = abs.slice(this.root.length + 1);
      else if (abs.startsWith(realRoot + "/")) rel = abs.slice(realRoot.length + 1);
      else throw new RangeError(`path "${path}" is outside the simulated root ${this.root}`);
    } else {
      rel = path;
    }
    rel = normalizeRel(rel);
    let realParent: string;
    try {
      realParent = Deno.realPathSync(this.abs(parentOf(rel)));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new RangeError(`path "${path}" does not exist in the simulated tree ${this.root}`);
      }
      throw error;
    }
    if (realParent !== realRoot && !realParent.startsWith(realRoot + "/")) {
      throw new RangeError(`path "${path}" leads outside the simulated root ${this.root}`);
    }
    const resolved = normalizeRel(`${realParent.slice(realRoot.length)}/${baseOf(rel)}`);
    let exists = true;
    try {
      Deno.lstatSync(this.abs(resolved));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      exists = false;
    }
    if (!exists && !this.#faults.some((f) => f.rel === resolved)) {
      throw new RangeError(`path "${path}" does not exist in the simulated tree ${this.root}`);
    }
    return resolved;
  }

  /** Removes a file or directory and keeps it absent until `clearFault()`. */
  removeFault(rel: string): void {
    this.#faults.push({ rel, kind: "remove" });
    this.remove(rel);
  }

  /** Fills a file with garbage and keeps it so until `clearFault()`. @throws RangeError for a directory */
  garbageFault(rel: string): void {
    if (Deno.lstatSync(this.abs(rel)).isDirectory) {
      throw new RangeError(`sensor-garbage needs a file, "${rel}" is a directory`);
    }
    Deno.writeTextFileSync(this.abs(rel), GARBAGE_TEXT);
    this.#written.delete(rel);
    this.#faults.push({ rel, kind: "garbage" });
  }

  /** Lifts the faults on `rel`; the files reappear at their next write. Returns how many were lifted. */
  clearFault(rel: string): number {
    const lifted = this.#faults.filter((f) => f.rel === rel);
    this.#faults = this.#faults.filter((f) => !lifted.includes(f));
    for (const f of lifted) {
      for (const key of [...this.#written.keys()]) {
        if (key === f.rel || key.startsWith(f.rel + "/")) this.#written.delete(key);
      }
      for (const dir of [...this.#madeDirs]) {
        if (dir === f.rel || dir.startsWith(f.rel + "/")) this.#madeDirs.delete(dir);
      }
    }
    return lifted.length;
  }

  /** True when a fault covers `rel` (the path itself or a directory above it). */
  #faultAt(rel: string): boolean {
    if (this.#faults.length === 0) return false;
    return this.#faults.some((f) => f.rel === "" || rel === f.rel || rel.startsWith(f.rel + "/"));
  }
}
