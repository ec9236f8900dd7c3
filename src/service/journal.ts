/**
 * The job journal: an append-only log in the state folder that makes
 * accepted jobs survive a crash. A job is appended and fsynced before the
 * service acknowledges it; its result is appended when it finishes and a
 * delivery mark when the client has it. On start every unfinished job and
 * every undelivered result is handed back for replay, and results are kept
 * (bounded) so a repeated request id gets the first result.
 *
 * Format: one record per line, `<crc32 hex> <json>\n`. A torn or corrupt
 * record (power cut mid-append) fails its checksum and is skipped with a
 * warning; the log is then rewritten clean. Concurrent appends share one
 * fsync (group commit). When enough records are dead the log is compacted:
 * live entries are written to a sibling that atomically replaces it.
 */
import type { Clock, Logger } from "../core/mod.ts";
import { syncDir, writeAll, writeFileAtomic } from "./durable_file.ts";

/** Options of `openJournal`. */
export interface JournalOptions {
  /** Folder of the journal (created when missing). */
  dir: string;
  /** Timestamps of records. */
  clock: Clock;
  /** @default no logging */
  logger?: Logger;
  /** Finished results kept for repeated request ids; older delivered ones are dropped at compaction. @default 10000 */
  retainResults?: number;
  /** Records appended after which a compaction is considered. @default 1000 */
  compactAfterRecords?: number;
}

/** A journaled job that has no result yet. */
export interface PendingJob<TJob> {
  id: string;
  job: TJob;
  /** Wall-clock time of acceptance, ms since the epoch. */
  acceptedAtMs: number;
}

/** A journaled result that the client may not have received. */
export interface UndeliveredResult<TJob, TResult> {
  id: string;
  job: TJob;
  result: TResult;
  finishedAtMs: number;
}

/** What the journal knows of a request id. */
export type JournalLookup<TJob, TResult> =
  | { state: "pending"; job: TJob; acceptedAtMs: number }
  | {
    state: "finished";
    result: TResult;
    finishedAtMs: number;
    delivered: boolean;
    /** The job, while its result is undelivered (dropped once delivered). */
    job: TJob | undefined;
  };

/** What opening found on disk. */
export interface JournalRecovery {
  /** Records read and applied. */
  records: number;
  /** Records skipped because their checksum or JSON was bad (a torn tail counts here). */
  corruptRecords: number;
  /** The last record was cut short (the process died mid-append). */
  tornTail: boolean;
}

/** Counters of a journal. */
export interface JournalStats {
  /** Records in the log file. */
  records: number;
  bytes: number;
  pending: number;
  finished: number;
  compactions: number;
  /** fsyncs of appended records (concurrent appends share one). */
  syncs: number;
}

/** The job journal. Job and result values must survive `JSON.stringify`. */
export interface Journal<TJob, TResult> extends AsyncDisposable {
  readonly path: string;
  readonly recovery: JournalRecovery;
  /** What is known of `id`, or `undefined`. */
  lookup(id: string): JournalLookup<TJob, TResult> | undefined;
  /**
   * Records an accepted job durably (resolves after fsync). The id is pending
   * from the moment of the call. @throws RangeError when `id` is already known
   */
  accept(id: string, job: TJob): Promise<void>;
  /** Records the result of a pending job durably. @throws RangeError when `id` is not pending */
  finish(id: string, result: TResult): Promise<void>;
  /** Records that the client received the result. @throws RangeError when `id` is not finished */
  markDelivered(id: string): Promise<void>;
  /** Pending jobs, in acceptance order. */
  unfinished(): PendingJob<TJob>[];
  /** Finished results not marked delivered, in finishing order. */
  undelivered(): UndeliveredResult<TJob, TResult>[];
  /** Rewrites the log with live entries only. */
  compact(): Promise<void>;
  stats(): JournalStats;
  /** Waits for pending writes and closes the file. */
  close(): Promise<void>;
}

interface Entry<TJob, TResult> {
  id: string;
  /** Dropped once a result is delivered (only the result is needed then). */
  job: TJob | undefined;
  acceptedAtMs: number;
  result?: TResult;
  finishedAtMs?: number;
  delivered: boolean;
}

type JsonRecord =
  | { t: "a"; id: string; at: number; job: unknown }
  | { t: "f"; id: string; at: number; result: unknown }
  | { t: "d"; id: string }
  | { t: "r"; id: string; at: number; result: unknown };

interface Pending {
  line: Uint8Array;
  /** Applied to the in-memory state right after the record is durable, before anything else runs. */
  apply?: () => void;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const LOG_NAME = "journal.log";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function encodeRecord(record: JsonRecord): Uint8Array {
  const json = encoder.encode(JSON.stringify(record));
  const head = encoder.encode(crc32(json).toString(16).padStart(8, "0") + " ");
  const line = new Uint8Array(head.length + json.length + 1);
  line.set(head, 0);
  line.set(json, head.length);
  line[line.length - 1] = 0x0a;
  return line;
}

function decodeRecord(line: Uint8Array): JsonRecord | undefined {
  if (line.length < 10 || line[8] !== 0x20) return undefined;
  const crcText = decoder.decode(line.subarray(0, 8));
  if (!/^[0-9a-f]{8}$/.test(crcText)) return undefined;
  const json = line.subarray(9);
  if (crc32(json) !== parseInt(crcText, 16)) return undefined;
  try {
    const record = JSON.parse(decoder.decode(json));
    if (typeof record !== "object" || record === null || typeof record.id !== "string") return undefined;
    if (!["a", "f", "d", "r"].includes(record.t)) return undefined;
    return record as JsonRecord;
  } catch {
    return undefined;
  }
}

class FileJournal<TJob, TResult> implements Journal<TJob, TResult> {
  readonly path: string;
  readonly recovery: JournalRecovery;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #retainResults: number;
  readonly #compactAfterRecords: number;
  readonly #entries: Map<string, Entry<TJob, TResult>>;
  #file: Deno.FsFile;
  #records: number;
  #bytes: number;
  #recordsSinceCompaction = 0;
  #compactions = 0;
  #syncs = 0;
  #queue: Pending[] = [];
  #writer: Promise<void> | undefined;
  #closed = false;

  constructor(
    options: JournalOptions,
    file: Deno.FsFile,
    entries: Map<string, Entry<TJob, TResult>>,
    recovery: JournalRecovery,
    bytes: number,
  ) {
    this.path = `${options.dir}/${LOG_NAME}`;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#retainResults = options.retainResults ?? 10_000;
    this.#compactAfterRecords = options.compactAfterRecords ?? 1000;
    this.#file = file;
    this.#entries = entries;
    this.recovery = recovery;
    this.#records = recovery.records;
    this.#bytes = bytes;
  }

  lookup(id: string): JournalLookup<TJob, TResult> | undefined {
    const e = this.#entries.get(id);
    if (!e) return undefined;
    if (e.result === undefined) return { state: "pending", job: e.job as TJob, acceptedAtMs: e.acceptedAtMs };
    return { state: "finished", result: e.result, finishedAtMs: e.finishedAtMs!, delivered: e.delivered, job: e.job };
  }

  accept(id: string, job: TJob): Promise<void> {
    if (this.#entries.has(id)) {
      return Promise.reject(new RangeError(`journal: request id "${id}" is already journaled`));
    }
    const at = this.#clock.nowMs();
    const entry: Entry<TJob, TResult> = { id, job, acceptedAtMs: at, delivered: false };
    this.#entries.set(id, entry);
    return this.#append({ t: "a", id, at, job }).catch((error) => {
      if (this.#entries.get(id) === entry) this.#entries.delete(id);
      throw error;
    });
  }

  finish(id: string, result: TResult): Promise<void> {
    const e = this.#entries.get(id);
    if (!e || e.result !== undefined) {
      return Promise.reject(new RangeError(`journal: request id "${id}" is not pending`));
    }
    const at = this.#clock.nowMs();
    return this.#append({ t: "f", id, at, result }, () => {
      e.result = result;
      e.finishedAtMs = at;
    });
  }

  markDelivered(id: string): Promise<void> {
    const e = this.#entries.get(id);
    if (!e || e.result === undefined) {
      return Promise.reject(new RangeError(`journal: request id "${id}" has no result to deliver`));
    }
    if (e.delivered) return Promise.resolve();
    return this.#append({ t: "d", id }, () => {
      e.delivered = true;
      e.job = undefined;
    });
  }

  unfinished(): PendingJob<TJob>[] {
    const out: PendingJob<TJob>[] = [];
    for (const e of this.#entries.values()) {
      if (e.result === undefined) out.push({ id: e.id, job: e.job as TJob, acceptedAtMs: e.acceptedAtMs });
    }
    return out;
  }

  undelivered(): UndeliveredResult<TJob, TResult>[] {
    const out: UndeliveredResult<TJob, TResult>[] = [];
    for (const e of this.#entries.values()) {
      if (e.result !== undefined && !e.delivered) {
        out.push({ id: e.id, job: e.job as TJob, result: e.result, finishedAtMs: e.finishedAtMs! });
      }
    }
    return out.sort((a, b) => a.finishedAtMs - b.finishedAtMs);
  }

  compact(): Promise<void> {
    return new Promise((resolve, reject) => {
      // An empty line marks a compaction request in the write queue, so it is ordered with appends.
      this.#queue.push({ line: new Uint8Array(0), resolve, reject });
      this.#kick();
    });
  }

  stats(): JournalStats {
    let pending = 0;
    let finished = 0;
    for (const e of this.#entries.values()) e.result === undefined ? pending++ : finished++;
    return {
      records: this.#records,
      bytes: this.#bytes,
      pending,
      finished,
      compactions: this.#compactions,
      syncs: this.#syncs,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writer;
    this.#file.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #append(record: JsonRecord, apply?: () => void): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`journal: ${this.path} is closed`));
    return new Promise((resolve, reject) => {
      this.#queue.push({ line: encodeRecord(record), apply, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#writer) return;
    this.#writer = this.#drain().finally(() => {
      this.#writer = undefined;
      if (this.#queue.length > 0) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0);
      const appends = batch.filter((p) => p.line.length > 0);
      const compactions = batch.filter((p) => p.line.length === 0);
      if (appends.length > 0) {
        try {
          const size = appends.reduce((n, p) => n + p.line.length, 0);
          const buffer = new Uint8Array(size);
          let offset = 0;
          for (const p of appends) {
            buffer.set(p.line, offset);
            offset += p.line.length;
          }
          await writeAll(this.#file, buffer);
          await this.#file.syncData();
          this.#syncs++;
          this.#records += appends.length;
          this.#bytes += size;
          this.#recordsSinceCompaction += appends.length;
          for (const p of appends) p.apply?.();
          for (const p of appends) p.resolve();
        } catch (error) {
          // Cut off a partial write, or the next record would be glued to it and lost with it.
          await this.#file.truncate(this.#bytes).catch((truncateError) =>
            this.#logger?.error("journal cannot cut off a failed append", { path: this.path, error: truncateError })
          );
          for (const p of appends) p.reject(error);
        }
      }
      const due = this.#recordsSinceCompaction >= this.#compactAfterRecords && this.#records > this.#liveRecords();
      if (compactions.length > 0 || due) {
        try {
          await this.#rewrite();
          for (const p of compactions) p.resolve();
        } catch (error) {
          this.#logger?.error("journal compaction failed; appending to the old log", { path: this.path, error });
          for (const p of compactions) p.reject(error);
        }
      }
    }
  }

  #liveRecords(): number {
    let n = 0;
    for (const e of this.#entries.values()) n += e.result !== undefined && !e.delivered ? 2 : 1;
    return n;
  }

  /** Drops the oldest delivered results beyond the retention bound. */
  #evict(): void {
    const delivered = [...this.#entries.values()].filter((e) => e.delivered);
    const excess = delivered.length - this.#retainResults;
    if (excess <= 0) return;
    delivered.sort((a, b) => a.finishedAtMs! - b.finishedAtMs!);
    for (let i = 0; i < excess; i++) this.#entries.delete(delivered[i].id);
  }

  async #rewrite(): Promise<void> {
    this.#evict();
    const lines: Uint8Array[] = [];
    for (const e of this.#entries.values()) {
      if (e.result === undefined) {
        lines.push(encodeRecord({ t: "a", id: e.id, at: e.acceptedAtMs, job: e.job }));
      } else if (!e.delivered) {
        lines.push(encodeRecord({ t: "a", id: e.id, at: e.acceptedAtMs, job: e.job }));
        lines.push(encodeRecord({ t: "f", id: e.id, at: e.finishedAtMs!, result: e.result }));
      } else {
        lines.push(encodeRecord({ t: "r", id: e.id, at: e.finishedAtMs!, result: e.result }));
      }
    }
    const size = lines.reduce((n, l) => n + l.length, 0);
    const buffer = new Uint8Array(size);
    let offset = 0;
    for (const l of lines) {
      buffer.set(l, offset);
      offset += l.length;
    }
    await writeFileAtomic(this.path, buffer);
    const file = await Deno.open(this.path, { append: true });
    this.#file.close();
    this.#file = file;
    this.#records = lines.length;
    this.#bytes = size;
    this.#recordsSinceCompaction = 0;
    this.#compactions++;
    this.#logger?.debug("journal compacted", { path: this.path, records: lines.length, bytes: size });
  }
}

function applyRecord<TJob, TResult>(
  entries: Map<string, Entry<TJob, TResult>>,
  record: JsonRecord,
): string | undefined {
  const e = entries.get(record.id);
  switch (record.t) {
    case "a":
      if (e) return `duplicate acceptance of "${record.id}"`;
      entries.set(record.id, { id: record.id, job: record.job as TJob, acceptedAtMs: record.at, delivered: false });
      return undefined;
    case "f":
      if (!e || e.result !== undefined) return `result for "${record.id}" that is not pending`;
      e.result = record.result as TResult;
      e.finishedAtMs = record.at;
      return undefined;
    case "d":
      if (!e || e.result === undefined) return `delivery mark for "${record.id}" without a result`;
      e.delivered = true;
      e.job = undefined;
      return undefined;
    case "r":
      if (e) return `retained result for "${record.id}" that is already known`;
      entries.set(record.id, {
        id: record.id,
        job: undefined,
        acceptedAtMs: record.at,
        result: record.result as TResult,
        finishedAtMs: record.at,
        delivered: true,
      });
      return undefined;
  }
}

/**
 * Opens (or creates) the journal in `options.dir` and replays it. Never fails
 * on bad records: they are skipped with a warning and the log is rewritten.
 */
export async function openJournal<TJob, TResult>(options: JournalOptions): Promise<Journal<TJob, TResult>> {
  const dir = options.dir;
  const path = `${dir}/${LOG_NAME}`;
  await Deno.mkdir(dir, { recursive: true });
  // A sibling left by a compaction that died before its rename holds nothing the log lacks.
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.startsWith(`${LOG_NAME}.tmp-`)) await Deno.remove(`${dir}/${entry.name}`);
  }
  let bytes = new Uint8Array(0);
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const entries = new Map<string, Entry<TJob, TResult>>();
  const recovery: JournalRecovery = { records: 0, corruptRecords: 0, tornTail: false };
  let start = 0;
  let lineNo = 0;
  while (start < bytes.length) {
    lineNo++;
    const end = bytes.indexOf(0x0a, start);
    if (end < 0) {
      recovery.tornTail = true;
      recovery.corruptRecords++;
      options.logger?.warn("journal ends in a torn record; skipping it", {
        path,
        line: lineNo,
        bytes: bytes.length - start,
      });
      break;
    }
    const record = decodeRecord(bytes.subarray(start, end));
    if (!record) {
      recovery.corruptRecords++;
      options.logger?.warn("journal record fails its checksum; skipping it", { path, line: lineNo });
    } else {
      const problem = applyRecord(entries, record);
      if (problem) options.logger?.warn(`journal record ignored: ${problem}`, { path, line: lineNo });
      recovery.records++;
    }
    start = end + 1;
  }
  if (recovery.corruptRecords > 0 && bytes.length > 0) {
    // Rewrite clean now, so new records never follow a torn one.
    const file = await Deno.open(path, { append: true, create: true });
    const journal = new FileJournal<TJob, TResult>(options, file, entries, recovery, bytes.length);
    await journal.compact();
    return journal;
  }
  const existed = bytes.length > 0;
  const file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
  if (!existed) await syncDir(dir);
  return new FileJournal<TJob, TResult>(options, file, entries, recovery, bytes.length);
}
