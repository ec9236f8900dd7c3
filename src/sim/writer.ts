/**
 * File operations of a simulated sysfs tree under one root: value writes that
 * skip unchanged text, symlinks, knob reads that tell the simulator's own
 * writes from someone else's, and the sensor faults that remove a file or
 * fill it with garbage until cleared.
 *
 * Two write modes. `atomic` (temp file + rename) lets a reader that races the
 * writer see the old or the new value, never half of one: realtime boards need
 * it. `in-place` rewrites a value through a file handle kept open (seek,
 * write, truncate to the new length): about 4 µs on tmpfs and 7 µs on ext4
 * instead of 26 µs and 210 µs (ext4 flushes on every rename over a file and on
 * every truncate to zero), but a concurrent reader could see a torn value, so
 * it is for virtual-time boards, which write only while no reader can run.
 * In-place mode also reads knobs through the kept handles (seek, read), so it
 * assumes what sysfs enforces: other writers write a file in place (open,
 * write), as the HAL's actuators and `echo v > file` do; a file replaced by a
 * rename would keep being read through the old inode.
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

/** A file kept open in in-place mode. */
interface KeptFile {
  file: Deno.FsFile;
  /** Length this writer left the file at, bytes; -1 when unknown (a new handle, a knob). */
  bytes: number;
}

/** How value files are replaced. */
export type WriteMode = "atomic" | "in-place";

/** Options of a `TreeWriter`. */
export interface TreeWriterOptions {
  /** `atomic`: temp file + rename; `in-place`: rewrite through kept-open handles. @default "atomic" */
  mode?: WriteMode;
  /** In-place mode: most value files kept open at once (the oldest is closed beyond). @default 256 */
  maxOpenFiles?: number;
}

const encoder = new TextEncoder();

/** Writes and reads files below `root`; every path argument is relative to it. */
export class TreeWriter {
  readonly root: string;
  readonly mode: WriteMode;
  /** Last content this writer put in each file (to skip identical rewrites and spot foreign writes). */
  #written = new Map<string, string>();
  #madeDirs = new Set<string>();
  #faults: PathFault[] = [];
  /** In-place mode: open handles (read + write) of value files, oldest first. */
  #handles = new Map<string, KeptFile>();
  /** Files read as knobs: someone else writes them too, so their length is never known. */
  #knobFiles = new Set<string>();
  readonly #maxOpenFiles: number;
  #closed = false;
  #buffer = new Uint8Array(4096);
  readonly #decoder = new TextDecoder();

  constructor(root: string, options: TreeWriterOptions = {}) {
    this.root = root.replace(/\/+$/, "") || "/";
    this.mode = options.mode ?? "atomic";
    if (this.mode !== "atomic" && this.mode !== "in-place") {
      throw new RangeError(`TreeWriter: mode must be "atomic" or "in-place", got "${this.mode}"`);
    }
    this.#maxOpenFiles = options.maxOpenFiles ?? 256;
    if (!(Number.isInteger(this.#maxOpenFiles) && this.#maxOpenFiles >= 0)) {
      throw new RangeError(`TreeWriter: maxOpenFiles must be an integer >= 0, got ${options.maxOpenFiles}`);
    }
  }

  /** Number of value files held open (in-place mode). */
  get openFiles(): number {
    return this.#handles.size;
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
   * Writes `content` plus the sysfs trailing newline (atomically or in place,
   * per the writer's mode), unless the file already holds exactly that (as
   * written by this writer) or a fault covers it. `raw` writes the content as
   * is (device-tree properties end in NUL, not newline).
   */
  write(rel: string, content: string, options: { mode?: number; raw?: boolean } = {}): void {
    const text = options.raw || content.endsWith("\n") ? content : content + "\n";
    if (this.#written.get(rel) === text) return;
    if (this.#faultAt(rel)) return;
    const dir = parentOf(rel);
    this.mkdir(dir);
    if (this.mode === "atomic") this.#replace(rel, dir, text, options.mode);
    else this.#rewrite(rel, dir, text, options.mode);
    this.#written.set(rel, text);
  }

  /** Closes the kept-open handles; later writes replace their file (temp + rename). */
  close(): void {
    this.#closed = true;
    for (const rel of [...this.#handles.keys()]) this.#drop(rel);
  }

  #replace(rel: string, dir: string, text: string, mode: number | undefined): void {
    this.#drop(rel);
    const tmp = `${dir === "" ? "" : dir + "/"}.${baseOf(rel)}.qeil-tmp`;
    Deno.writeTextFileSync(this.abs(tmp), text);
    // Explicit chmod: the create mode is filtered by the umask and ignored for a leftover temp file.
    if (mode !== undefined) Deno.chmodSync(this.abs(tmp), mode);
    Deno.renameSync(this.abs(tmp), this.abs(rel));
  }

  /**
   * In-place rewrite through the kept handle, opened on first use and then
   * chmodded: the open handle keeps its write access even to a 0400 file.
   */
  #rewrite(rel: string, dir: string, text: string, mode: number | undefined): void {
    let kept = this.#handles.get(rel);
    if (!kept) {
      let opened: Deno.FsFile | undefined;
      if (!this.#closed && this.#maxOpenFiles > 0) {
        try {
          opened = Deno.openSync(this.abs(rel), { read: true, write: true, create: true });
        } catch (error) {
          // A read-only file whose handle was closed: replacing it is the only way left.
          if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
        }
      }
      if (!opened) {
        this.#replace(rel, dir, text, mode);
        return;
      }
      kept = this.#keep(rel, opened);
      if (mode !== undefined) Deno.chmodSync(this.abs(rel), mode);
    }
    let bytes: Uint8Array;
    const { read, written } = encoder.encodeInto(text, this.#buffer);
    if (read === text.length) {
      bytes = this.#buffer.subarray(0, written);
    } else {
      bytes = encoder.encode(text);
      if (bytes.length <= 1 << 20) this.#buffer = new Uint8Array(bytes.length * 2);
    }
    const file = kept.file;
    file.seekSync(0, Deno.SeekMode.Start);
    for (let offset = 0; offset < bytes.length;) offset += file.writeSync(bytes.subarray(offset));
    // Only a shorter value leaves old bytes behind (sysfs numbers mostly keep their width).
    if (kept.bytes < 0 || bytes.length < kept.bytes) file.truncateSync(bytes.length);
    kept.bytes = this.#knobFiles.has(rel) ? -1 : bytes.length;
  }

  #keep(rel: string, file: Deno.FsFile): KeptFile {
    if (this.#handles.size >= this.#maxOpenFiles) this.#drop(this.#handles.keys().next().value!);
    const kept = { file, bytes: -1 };
    this.#handles.set(rel, kept);
    return kept;
  }

  /** Text of a file through its kept handle (opening it without creating it); undefined when missing. */
  #readHandle(rel: string): string | undefined {
    let kept = this.#handles.get(rel);
    if (!kept) {
      try {
        kept = this.#keep(rel, Deno.openSync(this.abs(rel), { read: true, write: true }));
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return undefined;
        throw error;
      }
    }
    const file = kept.file;
    file.seekSync(0, Deno.SeekMode.Start);
    let length = 0;
    for (;;) {
      if (length === this.#buffer.length) {
        const larger = new Uint8Array(this.#buffer.length * 2);
        larger.set(this.#buffer);
        this.#buffer = larger;
      }
      const n = file.readSync(this.#buffer.subarray(length));
      if (n === null || n === 0) break;
      length += n;
      // A regular file returns all it holds when the buffer has room: a short read is the end.
      if (length < this.#buffer.length) break;
    }
    return this.#decoder.decode(this.#buffer.subarray(0, length));
  }

  /** Closes the kept handle of `rel`, if any. */
  #drop(rel: string): void {
    const kept = this.#handles.get(rel);
    if (!kept) return;
    this.#handles.delete(rel);
    kept.file.close();
  }

  /** Closes the kept handles of `rel` and everything below it. */
  #dropUnder(rel: string): void {
    for (const key of [...this.#handles.keys()]) {
      if (rel === "" || key === rel || key.startsWith(rel + "/")) this.#drop(key);
    }
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
    this.#dropUnder(rel);
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
    if (!this.#knobFiles.has(rel)) {
      this.#knobFiles.add(rel);
      const kept = this.#handles.get(rel);
      if (kept) kept.bytes = -1;
    }
    let text: string | undefined;
    if (this.mode === "in-place" && !this.#closed && this.#maxOpenFiles > 0) {
      text = this.#readHandle(rel);
      if (text === undefined) return undefined;
    } else {
      try {
        text = Deno.readTextFileSync(this.abs(rel));
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return undefined;
        throw error;
      }
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
    // Written by path like a foreign writer; the kept handle (whose length it changed) is let go.
    this.#drop(rel);
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
