/**
 * File operations of a simulated sysfs tree under one root: value writes that
 * skip unchanged text, symlinks, knob reads that tell the simulator's own
 * writes from someone else's, knob replacements that never lose a concurrent
 * write, and the sensor faults that remove a file or fill it with garbage
 * until cleared.
 *
 * Two write modes. `atomic` lets a reader that races the writer see the old or
 * the new value, never half of one: realtime boards need it. A value goes into
 * an inode no reader has open, which is then renamed over the file. A file's
 * first value is a fresh temp file; later values reuse inodes the file showed
 * before (kept open, hard-linked in a hidden pool directory, rewritten in
 * place, linked to the temp name and renamed over the file), and an inode is
 * reused only after it has been out of sight for `REUSE_AFTER_MS`. On ext4 a
 * fresh temp file renamed over a file costs about 150 µs of CPU (auto_da_alloc
 * allocates and flushes the new file's blocks at the rename), a reused inode
 * about 20 µs (its block is allocated already); on tmpfs 18 and 13 µs.
 * `in-place` rewrites a value through a file handle kept open (seek, write,
 * truncate to the new length): about 4 µs on tmpfs and 7 µs on ext4, but a
 * concurrent reader could see a torn value, so it is for virtual-time boards,
 * which write only while no reader can run.
 *
 * Knobs (files someone else writes too) are read through kept handles in both
 * modes (seek, read), which assumes what sysfs enforces: other writers write
 * a file in place (open, write), as the HAL's actuators and `echo v > file`
 * do; a file replaced by a rename would keep being read through the old inode.
 * The writer itself changes a knob only through `replaceKnob()`, which never
 * loses what someone else writes meanwhile, and stamps the inodes it writes
 * with `KNOB_MTIME_MS`, so a write of the very text a knob shows is seen too.
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

/** A file kept open: a value file in in-place mode, or a knob read through it. */
interface KeptFile {
  file: Deno.FsFile;
  /** Length this writer left the file at, bytes; -1 when unknown (a new handle, a knob). */
  bytes: number;
}

/** An inode of the atomic writer's pool: what one file shows now, or a spare for its next value. */
interface PooledInode {
  /** Its hidden name in the pool directory (absolute). */
  poolPath: string;
  file: Deno.FsFile;
  /** Length it holds, bytes; -1 when unknown. */
  bytes: number;
  /** Permission bits it has now. */
  mode: number;
  /** Permission bits it was created with (a value written without a mode gets them back). */
  createdMode: number;
  /** When a newer inode took the file's name (`nowMs()`), ms; NaN while it is the file. */
  retiredAtMs: number;
}

/** The pooled inodes of one file. */
interface PooledFile {
  shown: PooledInode | undefined;
  /** Retired inodes, longest retired first. */
  spares: PooledInode[];
}

/** A knob inode `replaceKnob()` replaced, watched for a write that was already under way. */
interface Orphan {
  file: Deno.FsFile;
  /** What it held when last looked at. */
  text: string;
  /** Its modification time then, ms since the epoch. */
  mtimeMs: number;
  /** `nowMs()` after which the watch ends, ms. */
  untilMs: number;
}

/** How value files are replaced. */
export type WriteMode = "atomic" | "in-place";

/** Options of a `TreeWriter`. */
export interface TreeWriterOptions {
  /** `atomic`: a new inode renamed over the file; `in-place`: rewrite through kept-open handles. @default "atomic" */
  mode?: WriteMode;
  /** Most files kept open at once for in-place values and knob reads (the oldest is closed beyond). @default 256 */
  maxOpenFiles?: number;
  /**
   * Monotonic wall time, ms: when pooled inodes may be reused and how long
   * replaced knob inodes are watched. @default performance.now
   */
  nowMs?: () => number;
}

/** Directory under the root that holds the hidden names of the atomic writer's pooled inodes. */
export const POOL_DIR = ".qeil-sim-pool";

/**
 * An inode that stopped being a file is rewritten for a later value only after
 * this long, ms. A reader that opened the file just before the rename reads
 * long before then (a sysfs read is one open, read and close), so it sees the
 * old value or the new one, never one being rewritten.
 */
export const REUSE_AFTER_MS = 20;

/** Pooled inodes per file at most; a file rewritten faster than the pool allows gets fresh temp files. */
const MAX_POOLED_PER_FILE = 16;

/**
 * A knob that reads empty while the writer expected a value is a write under
 * way (the writer's open truncated it, its write follows at once): it is
 * given this long to land, ms.
 */
const WRITE_UNDER_WAY_MS = 2;

/**
 * Modification time the writer gives every knob inode it writes, ms since the
 * epoch. Any write by someone else sets the current time, so a write of the
 * very text the file shows is seen too (the contents alone cannot tell, and
 * file times of real writes are too coarse to tell two writes apart).
 */
export const KNOB_MTIME_MS = 1000;

/**
 * How long an inode `replaceKnob()` replaced is watched for a write by
 * someone who looked the file up before the rename, ms: such a write follows
 * within one open() call.
 */
export const QUIET_ORPHAN_MS = 100;

/** How long a replaced inode someone truncated (their write still to come) is watched, ms. */
const PENDING_ORPHAN_MS = 10_000;

/** Replaced inodes watched per knob at most; beyond, the longest replaced goes first. */
const MAX_ORPHANS_PER_KNOB = 8;

const NONE: readonly string[] = Object.freeze([]);

/** Modification time of an open file, ms since the epoch (NaN when the file system keeps none). */
function mtimeOf(file: Deno.FsFile): number {
  return file.statSync().mtime?.getTime() ?? Number.NaN;
}

/** errno codes of a file system that cannot hard-link the pool into the tree: pooling is then off. */
const NO_LINK_CODES = new Set(["EXDEV", "EPERM", "EMLINK", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);

const encoder = new TextEncoder();

function withNewline(content: string, raw = false): string {
  return raw || content.endsWith("\n") ? content : content + "\n";
}

/** Writes and reads files below `root`; every path argument is relative to it. */
export class TreeWriter {
  readonly root: string;
  readonly mode: WriteMode;
  /** Last content each file is known to hold (to skip identical rewrites and spot foreign writes). */
  #written = new Map<string, string>();
  #madeDirs = new Set<string>();
  #faults: PathFault[] = [];
  /** Open handles (read + write) of in-place value files and of knobs, oldest first. */
  #handles = new Map<string, KeptFile>();
  /** Files read as knobs: someone else writes them too, so their length is never known. */
  #knobFiles = new Set<string>();
  /** Atomic mode: the pooled inodes of each rewritten file. */
  #pool = new Map<string, PooledFile>();
  #poolSeq = 0;
  #poolReady = false;
  /** Set when the file system cannot hard-link the pool into the tree. */
  #poolOff = false;
  /** Replaced knob inodes still watched, per knob. */
  #orphans = new Map<string, Orphan[]>();
  /** Modification time each knob file had when its text was last written or read by this writer, ms. */
  #knobMtimeMs = new Map<string, number>();
  readonly #maxOpenFiles: number;
  readonly #nowMs: () => number;
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
    this.#nowMs = options.nowMs ?? (() => performance.now());
    if (!(Number.isInteger(this.#maxOpenFiles) && this.#maxOpenFiles >= 0)) {
      throw new RangeError(`TreeWriter: maxOpenFiles must be an integer >= 0, got ${options.maxOpenFiles}`);
    }
  }

  /** Number of files held open for in-place values and knob reads. */
  get openFiles(): number {
    return this.#handles.size;
  }

  /** Number of replaced knob inodes still watched for late writes. */
  get watchedKnobInodes(): number {
    let n = 0;
    for (const list of this.#orphans.values()) n += list.length;
    return n;
  }

  /** Number of inodes in the atomic writer's pool (shown and spare). */
  get pooledInodes(): number {
    let n = 0;
    for (const p of this.#pool.values()) n += p.spares.length + (p.shown ? 1 : 0);
    return n;
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
   * far as this writer knows) or a fault covers it. `raw` writes the content
   * as is (device-tree properties end in NUL, not newline).
   */
  write(rel: string, content: string, options: { mode?: number; raw?: boolean } = {}): void {
    const text = withNewline(content, options.raw);
    if (this.#written.get(rel) === text) return;
    if (this.#faultAt(rel)) return;
    const dir = parentOf(rel);
    this.mkdir(dir);
    if (this.mode === "in-place") this.#rewrite(rel, dir, text, options.mode);
    else if (!this.#publishPooled(rel, dir, text, options.mode)) this.#replace(rel, dir, text, options.mode);
    this.#written.set(rel, text);
    // Not stamped: its modification time is unknown.
    if (this.#knobMtimeMs.size > 0) this.#knobMtimeMs.delete(rel);
  }

  /** True when the file is known to hold `content` (plus the newline). */
  shows(rel: string, content: string): boolean {
    return this.#written.get(rel) === withNewline(content);
  }

  /**
   * Closes the kept handles and the pool (whose directory goes); later writes
   * replace their file with a fresh temp file.
   */
  close(): void {
    this.#closed = true;
    for (const rel of [...this.#handles.keys()]) this.#drop(rel);
    for (const rel of [...this.#orphans.keys()]) this.#forgetOrphans(rel);
    for (const rel of [...this.#pool.keys()]) this.#dropPooled(rel);
    if (this.#poolReady) {
      this.#poolReady = false;
      try {
        Deno.removeSync(this.abs(POOL_DIR), { recursive: true });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
  }

  #tmpPath(rel: string, dir: string): string {
    return this.abs(`${dir === "" ? "" : dir + "/"}.${baseOf(rel)}.qeil-tmp`);
  }

  /** Replaces the file with a fresh temp file. */
  #replace(rel: string, dir: string, text: string, mode: number | undefined): void {
    this.#drop(rel);
    const tmp = this.#tmpPath(rel, dir);
    Deno.writeTextFileSync(tmp, text);
    // Explicit chmod: the create mode is filtered by the umask and ignored for a leftover temp file.
    if (mode !== undefined) Deno.chmodSync(tmp, mode);
    Deno.renameSync(tmp, this.abs(rel));
    const pooled = this.#pool.get(rel);
    if (pooled?.shown) this.#retire(pooled, this.#nowMs());
  }

  /**
   * Atomic mode, a file written before: the value goes into a pooled inode
   * that has been out of sight long enough (or a new one), which then takes
   * the file's name by a link to the temp name and a rename. False when the
   * pool cannot serve (first write, closed writer, pool full, no hard links).
   */
  #publishPooled(rel: string, dir: string, text: string, mode: number | undefined): boolean {
    if (this.#closed || this.#poolOff || !this.#written.has(rel)) return false;
    let pooled = this.#pool.get(rel);
    const nowMs = this.#nowMs();
    let inode: PooledInode | undefined;
    if (pooled && pooled.spares.length > 0 && nowMs - pooled.spares[0].retiredAtMs >= REUSE_AFTER_MS) {
      inode = pooled.spares.shift()!;
    } else {
      const count = pooled ? pooled.spares.length + (pooled.shown ? 1 : 0) : 0;
      if (count >= MAX_POOLED_PER_FILE) return false;
      inode = this.#newPooled();
    }
    if (!pooled) {
      pooled = { shown: undefined, spares: [] };
      this.#pool.set(rel, pooled);
    }
    this.#fill(inode, text, mode);
    const tmp = this.#tmpPath(rel, dir);
    try {
      this.#link(inode.poolPath, tmp);
    } catch (error) {
      if (!NO_LINK_CODES.has((error as { code?: string }).code ?? "")) throw error;
      // No hard links here (another file system under the root, or none at all): fresh temp files from now on.
      this.#poolOff = true;
      this.#closePooled(inode);
      return false;
    }
    Deno.renameSync(tmp, this.abs(rel));
    // A knob's kept handle reads the inode that was just replaced.
    this.#drop(rel);
    if (pooled.shown) this.#retire(pooled, nowMs);
    inode.retiredAtMs = Number.NaN;
    pooled.shown = inode;
    return true;
  }

  #newPooled(): PooledInode {
    if (!this.#poolReady) {
      Deno.mkdirSync(this.abs(POOL_DIR), { recursive: true });
      this.#poolReady = true;
    }
    const poolPath = this.abs(`${POOL_DIR}/${this.#poolSeq++}`);
    const file = Deno.openSync(poolPath, { read: true, write: true, create: true, truncate: true });
    const mode = (file.statSync().mode ?? 0o644) & 0o777;
    return { poolPath, file, bytes: 0, mode, createdMode: mode, retiredAtMs: Number.NaN };
  }

  /** Rewrites a pooled inode in place: its block is allocated already, so ext4 has nothing to flush. */
  #fill(inode: PooledInode, text: string, mode: number | undefined): void {
    const bytes = this.#encode(text);
    const file = inode.file;
    file.seekSync(0, Deno.SeekMode.Start);
    for (let offset = 0; offset < bytes.length;) offset += file.writeSync(bytes.subarray(offset));
    if (inode.bytes < 0 || bytes.length < inode.bytes) file.truncateSync(bytes.length);
    inode.bytes = bytes.length;
    // The handle opened before any chmod keeps its write access, even to a 0400 or 0000 file.
    const wanted = mode ?? inode.createdMode;
    if (inode.mode !== wanted) {
      Deno.chmodSync(inode.poolPath, wanted);
      inode.mode = wanted;
    }
  }

  #link(from: string, to: string): void {
    try {
      Deno.linkSync(from, to);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      // A temp name left by a crash.
      Deno.removeSync(to);
      Deno.linkSync(from, to);
    }
  }

  #retire(pooled: PooledFile, nowMs: number): void {
    const shown = pooled.shown!;
    pooled.shown = undefined;
    shown.retiredAtMs = nowMs;
    pooled.spares.push(shown);
  }

  #closePooled(inode: PooledInode): void {
    inode.file.close();
    try {
      Deno.removeSync(inode.poolPath);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  /** Lets go of the pooled inodes of `rel` (the file keeps its current inode). */
  #dropPooled(rel: string): void {
    const pooled = this.#pool.get(rel);
    if (!pooled) return;
    this.#pool.delete(rel);
    if (pooled.shown) this.#closePooled(pooled.shown);
    for (const spare of pooled.spares) this.#closePooled(spare);
  }

  #encode(text: string): Uint8Array {
    const { read, written } = encoder.encodeInto(text, this.#buffer);
    if (read === text.length) return this.#buffer.subarray(0, written);
    const bytes = encoder.encode(text);
    if (bytes.length <= 1 << 20) this.#buffer = new Uint8Array(bytes.length * 2);
    return bytes;
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
    const bytes = this.#encode(text);
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

  /** The kept handle of `rel`, opened (without creating the file) when missing; undefined when the file is. */
  #handle(rel: string): KeptFile | undefined {
    const kept = this.#handles.get(rel);
    if (kept) return kept;
    try {
      return this.#keep(rel, Deno.openSync(this.abs(rel), { read: true, write: true }));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  }

  /** Everything a file holds, read through a handle from the start. */
  #readFile(file: Deno.FsFile): string {
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

  /** Lets go of the handles, watched inodes and pooled inodes of `rel` and everything below it. */
  #dropUnder(rel: string): void {
    const under = (key: string) => rel === "" || key === rel || key.startsWith(rel + "/");
    for (const key of [...this.#handles.keys()]) if (under(key)) this.#drop(key);
    for (const key of [...this.#orphans.keys()]) if (under(key)) this.#forgetOrphans(key);
    for (const key of [...this.#pool.keys()]) if (under(key)) this.#dropPooled(key);
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
    this.#forget(rel);
    for (const dir of [...this.#madeDirs]) {
      if (dir === rel || dir.startsWith(rel + "/")) this.#madeDirs.delete(dir);
    }
  }

  /**
   * Reads a knob file through its kept handle. `foreign` is true when someone
   * else (an actuator) wrote it since this writer last wrote or adopted it:
   * its text differs, or its modification time does (a write of the same
   * text). Missing files read as `undefined`.
   */
  readKnob(rel: string): { text: string; foreign: boolean; mtimeMs: number } | undefined {
    if (this.#faultAt(rel)) return undefined;
    if (!this.#knobFiles.has(rel)) {
      this.#knobFiles.add(rel);
      const kept = this.#handles.get(rel);
      if (kept) kept.bytes = -1;
    }
    const knownMtimeMs = this.#knobMtimeMs.get(rel);
    let text: string;
    let mtimeMs: number;
    if (!this.#closed && this.#maxOpenFiles > 0) {
      const kept = this.#handle(rel);
      if (!kept) return undefined;
      // The time first: a write landing between the two reads shows in the text, and again in the time next read.
      mtimeMs = mtimeOf(kept.file);
      // Untouched since this writer stamped it: nothing to read.
      if (mtimeMs === KNOB_MTIME_MS && knownMtimeMs === KNOB_MTIME_MS) {
        return { text: this.#written.get(rel)!, foreign: false, mtimeMs };
      }
      text = this.#readFile(kept.file);
    } else {
      try {
        mtimeMs = Deno.statSync(this.abs(rel)).mtime?.getTime() ?? Number.NaN;
        text = Deno.readTextFileSync(this.abs(rel));
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return undefined;
        throw error;
      }
    }
    const foreign = text !== this.#written.get(rel) || (knownMtimeMs !== undefined && mtimeMs !== knownMtimeMs);
    return { text, foreign, mtimeMs };
  }

  /**
   * Values someone wrote into knob inodes after `replaceKnob()` had replaced
   * them (writes that were under way when the name moved on), oldest
   * replacement first. The file does not show them; the caller takes them in
   * as requests made before whatever the file holds now.
   */
  lateKnobWrites(rel: string): readonly string[] {
    if (this.#orphans.size === 0) return NONE;
    const orphans = this.#orphans.get(rel);
    if (!orphans) return NONE;
    let late: string[] | undefined;
    const nowMs = this.#nowMs();
    for (let i = 0; i < orphans.length;) {
      const o = orphans[i];
      const now = this.#changedSince(o.file, o.text, o.mtimeMs);
      if (now) {
        o.text = now.text;
        o.mtimeMs = now.mtimeMs;
        if (o.text.trim() === "") o.untilMs = Math.max(o.untilMs, nowMs + PENDING_ORPHAN_MS);
        else (late ??= []).push(o.text);
      }
      if (nowMs > o.untilMs) {
        o.file.close();
        orphans.splice(i, 1);
      } else {
        i++;
      }
    }
    if (orphans.length === 0) this.#orphans.delete(rel);
    return late ?? NONE;
  }

  /**
   * Makes a knob file show `content` (plus the newline) without losing what
   * someone else writes meanwhile, like the kernel changing what a knob shows
   * when policy changes (a thermal cap), never what user space asked for.
   *
   * First the late writes into inodes replaced before are collected (see
   * `lateKnobWrites()`). Then the file is read right before: a write this
   * writer has not seen is returned instead of replaced (a write whose open
   * truncated the file gets `WRITE_UNDER_WAY_MS` to land). Otherwise a new
   * inode, stamped with `KNOB_MTIME_MS`, takes the file's name (rename), and
   * the replaced inode is looked at again: a writer that opened the file
   * before the rename wrote there, and that value is returned. The replaced
   * inode stays watched for a while for a writer slower than that.
   *
   * @returns values other writers wrote, oldest first, which the caller takes
   *   in before deciding what to show again (the writer then knows what the
   *   file holds: the last of them when read from the file, or `content`);
   *   empty when the file shows `content` and nobody else wrote
   */
  replaceKnob(rel: string, content: string): readonly string[] {
    const text = withNewline(content);
    if (this.#faultAt(rel)) return NONE;
    const late = this.lateKnobWrites(rel);
    if (late.length > 0) return late;
    this.#knobFiles.add(rel);
    // The handle leaves the kept set: after the rename it reads the replaced inode.
    let file: Deno.FsFile | undefined = this.#handles.get(rel)?.file;
    if (file) {
      this.#handles.delete(rel);
    } else {
      try {
        file = Deno.openSync(this.abs(rel), { read: true, write: true });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    if (!file) {
      // Missing (the first time, or back after a fault): nobody else can write a file that is not there.
      this.#stampedReplace(rel, text);
      return NONE;
    }
    try {
      let mtimeMs = mtimeOf(file);
      let before = this.#readFile(file);
      const knownMtimeMs = this.#knobMtimeMs.get(rel);
      if (before !== this.#written.get(rel) || (knownMtimeMs !== undefined && mtimeMs !== knownMtimeMs)) {
        if (before.trim() === "") ({ text: before, mtimeMs } = this.#awaitWrite(file, before, mtimeMs));
        this.adopt(rel, before, mtimeMs);
        if (!this.#closed && this.#maxOpenFiles > 0) {
          this.#keep(rel, file);
          file = undefined;
        }
        return [before];
      }
      this.#stampedReplace(rel, text);
      let after = this.#changedSince(file, before, mtimeMs);
      if (after && after.text.trim() === "") after = this.#awaitWrite(file, after.text, after.mtimeMs);
      const pending = after !== undefined && after.text.trim() === "";
      this.#watchOrphan(
        rel,
        { file, text: after?.text ?? before, mtimeMs: after?.mtimeMs ?? mtimeMs, untilMs: 0 },
        pending,
      );
      file = undefined;
      return after && !pending ? [after.text] : NONE;
    } finally {
      file?.close();
    }
  }

  /**
   * What `file` holds now if someone wrote it since it held `text` at
   * `mtimeMs`; undefined when nobody did. Text and time both count: a write
   * sets the time, but two writes within one tick of the file system's coarse
   * clock share it, so only the stamp proves an inode untouched unread.
   */
  #changedSince(file: Deno.FsFile, text: string, mtimeMs: number): { text: string; mtimeMs: number } | undefined {
    const nowMtimeMs = mtimeOf(file);
    if (nowMtimeMs === KNOB_MTIME_MS && mtimeMs === KNOB_MTIME_MS) return undefined;
    const nowText = this.#readFile(file);
    return nowText !== text || nowMtimeMs !== mtimeMs ? { text: nowText, mtimeMs: nowMtimeMs } : undefined;
  }

  /** A new inode with `text` and the knob stamp takes the name `rel`. */
  #stampedReplace(rel: string, text: string): void {
    const dir = parentOf(rel);
    this.mkdir(dir);
    const tmp = this.#tmpPath(rel, dir);
    Deno.writeTextFileSync(tmp, text);
    const stamp = new Date(KNOB_MTIME_MS);
    Deno.utimeSync(tmp, stamp, stamp);
    Deno.renameSync(tmp, this.abs(rel));
    this.#written.set(rel, text);
    this.#knobMtimeMs.set(rel, KNOB_MTIME_MS);
  }

  /**
   * Reads `file` until it holds something other than `text`, for up to
   * `WRITE_UNDER_WAY_MS` of real time (a busy wait for another thread).
   */
  #awaitWrite(file: Deno.FsFile, text: string, mtimeMs: number): { text: string; mtimeMs: number } {
    const endMs = performance.now() + WRITE_UNDER_WAY_MS;
    let now = text;
    while (now === text && performance.now() < endMs) now = this.#readFile(file);
    return { text: now, mtimeMs: now === text ? mtimeMs : mtimeOf(file) };
  }

  #watchOrphan(rel: string, orphan: Orphan, pending: boolean): void {
    if (this.#closed) {
      orphan.file.close();
      return;
    }
    orphan.untilMs = this.#nowMs() + (pending ? PENDING_ORPHAN_MS : QUIET_ORPHAN_MS);
    let orphans = this.#orphans.get(rel);
    if (!orphans) this.#orphans.set(rel, orphans = []);
    orphans.push(orphan);
    if (orphans.length > MAX_ORPHANS_PER_KNOB) orphans.shift()!.file.close();
  }

  #forgetOrphans(rel: string): void {
    const orphans = this.#orphans.get(rel);
    if (!orphans) return;
    this.#orphans.delete(rel);
    for (const o of orphans) o.file.close();
  }

  /** Records that `rel` holds `text` now (a value someone else wrote, read back), with its modification time. */
  adopt(rel: string, text: string, mtimeMs?: number): void {
    this.#written.set(rel, text);
    if (mtimeMs === undefined) this.#knobMtimeMs.delete(rel);
    else this.#knobMtimeMs.set(rel, mtimeMs);
  }

  /** Forgets what was written at `rel`, so the next write happens even if unchanged. */
  invalidate(rel: string): void {
    this.#written.delete(rel);
    this.#knobMtimeMs.delete(rel);
  }

  /** Forgets what `rel` and everything below it hold. */
  #forget(rel: string): void {
    for (const key of [...this.#written.keys()]) {
      if (key === rel || key.startsWith(rel + "/")) this.#written.delete(key);
    }
    for (const key of [...this.#knobMtimeMs.keys()]) {
      if (key === rel || key.startsWith(rel + "/")) this.#knobMtimeMs.delete(key);
    }
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
    const shown = this.#pool.get(rel)?.shown;
    if (shown) shown.bytes = -1;
    this.invalidate(rel);
    this.#faults.push({ rel, kind: "garbage" });
  }

  /**
   * Fills the files of the `sensor-garbage` faults in force with garbage
   * again: after their tree was removed and written anew (a simulated board
   * that booted again), a garbled sensor stays garbled.
   */
  restoreGarbage(): void {
    for (const f of this.#faults) {
      if (f.kind !== "garbage" || this.#faults.some((g) => g.kind === "remove" && this.#covers(g.rel, f.rel))) continue;
      this.mkdir(parentOf(f.rel));
      this.#drop(f.rel);
      Deno.writeTextFileSync(this.abs(f.rel), GARBAGE_TEXT);
      this.invalidate(f.rel);
    }
  }

  /** Lifts the faults on `rel`; the files reappear at their next write. Returns how many were lifted. */
  clearFault(rel: string): number {
    const lifted = this.#faults.filter((f) => f.rel === rel);
    this.#faults = this.#faults.filter((f) => !lifted.includes(f));
    for (const f of lifted) {
      this.#forget(f.rel);
      for (const dir of [...this.#madeDirs]) {
        if (dir === f.rel || dir.startsWith(f.rel + "/")) this.#madeDirs.delete(dir);
      }
    }
    return lifted.length;
  }

  /** True when a fault covers `rel` (the path itself or a directory above it). */
  #faultAt(rel: string): boolean {
    if (this.#faults.length === 0) return false;
    return this.#faults.some((f) => this.#covers(f.rel, rel));
  }

  /** True when `rel` is `faultRel` or below it. */
  #covers(faultRel: string, rel: string): boolean {
    return faultRel === "" || rel === faultRel || rel.startsWith(faultRel + "/");
  }
}
