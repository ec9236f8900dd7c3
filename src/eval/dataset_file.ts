/**
 * Reading dataset files from any path: UTF-8 text and JSON Lines, with every
 * failure a DatasetError that names the file, the line and the problem, so a
 * user pointing at a bad or truncated copy learns what to fix.
 */
import { DatasetError } from "../core/mod.ts";

/** Builds a DatasetError for `path` (and `line`, from 1, when known). */
export function datasetError(
  what: string,
  path: string,
  problem: string,
  options: { line?: number; field?: string; cause?: unknown } = {},
): DatasetError {
  const where = options.line === undefined ? path : `${path} line ${options.line}`;
  return new DatasetError(`read ${what} ${where}: ${problem}`, {
    ...(options.cause !== undefined ? { cause: options.cause } : {}),
    details: {
      path,
      ...(options.line !== undefined ? { line: options.line } : {}),
      ...(options.field !== undefined ? { field: options.field } : {}),
    },
  });
}

/** A text file split into lines (without their `\n`). */
export interface TextLines {
  lines: string[];
  /** The file ends with a newline (the last element of `lines` is then the empty rest after it). */
  endsWithNewline: boolean;
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Reads a UTF-8 text file as lines. A byte-order mark is dropped.
 * @throws DatasetError when the file is missing, unreadable, empty or not UTF-8 (naming the first bad line)
 */
export async function readTextLines(what: string, path: string): Promise<TextLines> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    const problem = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.IsADirectory
      ? "is a directory, not a file"
      : `cannot be read (${error instanceof Error ? error.message : String(error)})`;
    throw datasetError(what, path, problem, { cause: error });
  }
  if (bytes.length === 0) throw datasetError(what, path, "the file is empty");
  const lines: string[] = [];
  let start = 0;
  for (let lineNo = 1; start <= bytes.length; lineNo++) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    try {
      lines.push(decoder.decode(bytes.subarray(start, end)));
    } catch (error) {
      throw datasetError(what, path, "is not valid UTF-8 text", { line: lineNo, cause: error });
    }
    start = end + 1;
  }
  if (lines[0].startsWith("\uFEFF")) lines[0] = lines[0].slice(1);
  return { lines, endsWithNewline: bytes[bytes.length - 1] === 0x0a };
}

/** One parsed JSON Lines record with its line number (from 1). */
export interface JsonLine {
  line: number;
  value: unknown;
}

/**
 * Reads a JSON Lines file: one JSON value per line; blank lines are skipped.
 * A last line that is not valid JSON and has no newline after it is reported
 * as truncated (a copy cut short), any other bad line as invalid JSON.
 * @throws DatasetError naming the file, the line and the problem
 */
export async function readJsonLines(what: string, path: string): Promise<JsonLine[]> {
  const { lines, endsWithNewline } = await readTextLines(what, path);
  const records: JsonLine[] = [];
  lines.forEach((text, i) => {
    if (text.trim() === "") return;
    try {
      records.push({ line: i + 1, value: JSON.parse(text) });
    } catch (error) {
      const last = i === lines.length - 1 && !endsWithNewline;
      const reason = error instanceof Error ? error.message : String(error);
      throw datasetError(
        what,
        path,
        last ? `the last line is cut short (truncated file?): ${reason}` : `invalid JSON: ${reason}`,
        { line: i + 1, cause: error },
      );
    }
  });
  if (records.length === 0) throw datasetError(what, path, "holds no records (only blank lines)");
  return records;
}

/** Where a field of a JSON record is, for error messages. */
export interface FieldSite {
  what: string;
  path: string;
  line: number;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * The object a record must be (or the object at `field`).
 * @throws DatasetError when it is missing or not an object
 */
export function objectAt(value: unknown, site: FieldSite, field?: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const subject = field === undefined ? "the record" : `field "${field}"`;
    const problem = value === undefined
      ? `${subject} is missing`
      : `${subject} must be an object, got ${typeName(value)}`;
    throw datasetError(site.what, site.path, problem, { line: site.line, ...(field ? { field } : {}) });
  }
  return value as Record<string, unknown>;
}

/**
 * The string at `obj[key]` (`field` names it in errors, dotted).
 * @throws DatasetError when it is missing, not a string or (unless `allowEmpty`) blank
 */
export function stringAt(
  obj: Record<string, unknown>,
  key: string,
  site: FieldSite,
  field = key,
  allowEmpty = false,
): string {
  const value = obj[key];
  if (value === undefined) {
    throw datasetError(site.what, site.path, `field "${field}" is missing`, { line: site.line, field });
  }
  if (typeof value !== "string") {
    throw datasetError(site.what, site.path, `field "${field}" must be a string, got ${typeName(value)}`, {
      line: site.line,
      field,
    });
  }
  if (!allowEmpty && value.trim() === "") {
    throw datasetError(site.what, site.path, `field "${field}" is blank`, { line: site.line, field });
  }
  return value;
}

/**
 * The array at `obj[key]`.
 * @throws DatasetError when it is missing or not an array
 */
export function arrayAt(obj: Record<string, unknown>, key: string, site: FieldSite, field = key): unknown[] {
  const value = obj[key];
  if (!Array.isArray(value)) {
    const problem = value === undefined
      ? `field "${field}" is missing`
      : `field "${field}" must be an array, got ${typeName(value)}`;
    throw datasetError(site.what, site.path, problem, { line: site.line, field });
  }
  return value;
}
