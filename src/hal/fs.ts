/**
 * Filesystem access of the HAL: every read goes through here so that a failed
 * read becomes a `Reading` failure whose reason names the file and the error
 * (EAGAIN from a power-gated sensor, permission denied, a missing file), never
 * an exception.
 */
import { fail, ok, type Reading } from "../core/mod.ts";

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** A one-line reason for a failed filesystem operation on `path`. Maps Deno errors by class and errno code. */
export function describeFsError(path: string, error: unknown): string {
  const code = errorCode(error);
  if (error instanceof Deno.errors.NotFound || code === "ENOENT") return `${path}: missing file`;
  if (error instanceof Deno.errors.NotADirectory || code === "ENOTDIR") {
    return `${path}: missing file (a parent is not a directory)`;
  }
  if (error instanceof Deno.errors.PermissionDenied || code === "EACCES" || code === "EPERM") {
    return `${path}: permission denied`;
  }
  if (error instanceof Deno.errors.NotCapable) return `${path}: not allowed to read (Deno needs --allow-read)`;
  if (error instanceof Deno.errors.IsADirectory || code === "EISDIR") {
    return `${path}: is a directory, not a value file`;
  }
  if (error instanceof Deno.errors.WouldBlock || code === "EAGAIN" || code === "EWOULDBLOCK") {
    return `${path}: read failed with EAGAIN (sensor temporarily unavailable, e.g. power-gated)`;
  }
  if (code === "ENODATA") return `${path}: read failed with ENODATA (the sensor has no data)`;
  if (code === "EIO") return `${path}: read failed with EIO (I/O error talking to the sensor)`;
  if (error instanceof Deno.errors.Busy || code === "EBUSY") return `${path}: read failed with EBUSY (device busy)`;
  if (code === "EINVAL") return `${path}: read failed with EINVAL (the driver rejected the read)`;
  if (code === "ENODEV" || code === "ENXIO") return `${path}: read failed with ${code} (device gone)`;
  const message = error instanceof Error ? error.message : String(error);
  return `${path}: read failed: ${message}${code ? ` (${code})` : ""}`;
}

/**
 * Reads a sysfs value file as trimmed text. An empty file (after trimming) is
 * a failure: a power-gated sensor can return zero bytes.
 */
export async function readValue(path: string): Promise<Reading<string>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    return fail(describeFsError(path, error));
  }
  const trimmed = text.trim();
  if (trimmed === "") return fail(`${path}: file is empty`);
  return ok(trimmed);
}

/** Reads a file as raw bytes (device-tree strings are NUL-separated). */
export async function readBytes(path: string): Promise<Reading<Uint8Array>> {
  try {
    return ok(await Deno.readFile(path));
  } catch (error) {
    return fail(describeFsError(path, error));
  }
}

/** What a path is, following symlinks; `denied` when a parent cannot be searched. */
export type PathKind = "file" | "dir" | "missing" | "denied";

/** Classifies a path without throwing. */
export async function pathKind(path: string): Promise<PathKind> {
  try {
    const info = await Deno.stat(path);
    return info.isDirectory ? "dir" : "file";
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied || errorCode(error) === "EACCES") return "denied";
    return "missing";
  }
}

/** Compares names with embedded numbers naturally (`thermal_zone2` before `thermal_zone10`). */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

/** Entry names of a directory in natural order, or `undefined` when it does not exist or cannot be listed. */
export async function listDir(dir: string): Promise<string[] | undefined> {
  try {
    const names: string[] = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    return names.sort(naturalCompare);
  } catch {
    // A missing class directory just means the kernel lacks that subsystem.
    return undefined;
  }
}

/** Joins path segments with single slashes. */
export function joinPath(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/").replace(/\/{2,}/g, "/");
  return joined.length > 1 && joined.endsWith("/") ? joined.slice(0, -1) : joined;
}

/** The last segment of a path. */
export function baseName(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/**
 * Resolves `path` when it is a symlink whose target is absolute: on a board
 * the target is relative to `/`, so under another root it is re-rooted there
 * (a sysfs tree copied with absolute links still reads below `root`).
 * Relative links and plain paths are returned unchanged (the OS follows them).
 * `root` must be absolute.
 */
export async function resolveUnderRoot(root: string, path: string): Promise<string> {
  let target: string;
  try {
    target = await Deno.readLink(path);
  } catch {
    // Not a symlink (EINVAL) or gone: the path is used as it is.
    return path;
  }
  // Relative links stay inside the tree by construction; the OS follows them.
  if (!target.startsWith("/")) return path;
  if (root === "/" || root === "") return target;
  return joinPath(root, target);
}
