/**
 * The release bundle's own manifest (`MANIFEST.json`): the SHA-256, size and
 * mode of every file, so a device can check an unpacked bundle before it
 * switches to it, and a release can be audited. Written by scripts/release.ts,
 * verified by the tarball installer.
 */
import { createHash } from "node:crypto";

/** File name of the bundle manifest at the bundle root. */
export const BUNDLE_MANIFEST_FILE = "MANIFEST.json";

/** One file of a bundle. */
export interface BundleFile {
  /** Path relative to the bundle root, `/`-separated. */
  path: string;
  bytes: number;
  sha256: string;
  /** Unix permission bits (e.g. 0o755 = 493). */
  mode: number;
}

/** The bundle manifest. */
export interface BundleManifest {
  schema: 1;
  name: string;
  version: string;
  /** `aarch64` or `x86_64`. */
  target: string;
  /** Version of the Deno runtime shipped in the bundle. */
  denoVersion: string;
  /** Files sorted by path; excludes the manifest itself. */
  files: BundleFile[];
}

/** Streams a file through SHA-256; returns the hex digest and size. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(1 << 20);
  for (;;) {
    signal?.throwIfAborted();
    const n = await file.read(buffer);
    if (n === null) break;
    hash.update(buffer.subarray(0, n));
    bytes += n;
  }
  return { sha256: hash.digest("hex"), bytes };
}

async function* walkFiles(root: string, rel = ""): AsyncGenerator<string> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(rel ? `${root}/${rel}` : root)) entries.push(entry);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory) yield* walkFiles(root, path);
    else if (entry.isFile) yield path;
    else throw new TypeError(`bundle: ${path} is neither a file nor a directory (symlinks are not allowed)`);
  }
}

/** Lists and hashes every file under `root` (except the manifest). */
export async function describeBundleFiles(root: string, signal?: AbortSignal): Promise<BundleFile[]> {
  const files: BundleFile[] = [];
  for await (const path of walkFiles(root)) {
    if (path === BUNDLE_MANIFEST_FILE) continue;
    const { sha256, bytes } = await hashFile(`${root}/${path}`, signal);
    const mode = ((await Deno.stat(`${root}/${path}`)).mode ?? 0o644) & 0o777;
    files.push({ path, bytes, sha256, mode });
  }
  return files;
}

/** Hashes every file under `root` and writes `MANIFEST.json`; returns the manifest. */
export async function writeBundleManifest(
  root: string,
  meta: Omit<BundleManifest, "schema" | "files">,
  signal?: AbortSignal,
): Promise<BundleManifest> {
  const manifest: BundleManifest = { schema: 1, ...meta, files: await describeBundleFiles(root, signal) };
  await Deno.writeTextFile(`${root}/${BUNDLE_MANIFEST_FILE}`, JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

/** Result of checking an unpacked bundle against its manifest. */
export type BundleCheck =
  | { ok: true; manifest: BundleManifest }
  | { ok: false; problems: string[]; manifest?: BundleManifest };

function parseBundleManifest(text: string): BundleManifest {
  const value = JSON.parse(text);
  if (typeof value !== "object" || value === null || value.schema !== 1 || !Array.isArray(value.files)) {
    throw new SyntaxError("not a schema 1 bundle manifest with a files array");
  }
  for (const key of ["name", "version", "target", "denoVersion"]) {
    if (typeof value[key] !== "string") throw new SyntaxError(`field ${key} must be a string`);
  }
  for (const [i, f] of (value.files as unknown[]).entries()) {
    const file = f as Record<string, unknown>;
    if (
      typeof file?.path !== "string" || typeof file.sha256 !== "string" || typeof file.bytes !== "number" ||
      typeof file.mode !== "number"
    ) {
      throw new SyntaxError(`files[${i}] must have path, bytes, sha256 and mode`);
    }
  }
  return value as BundleManifest;
}

/**
 * Checks every file of the bundle at `root` against its `MANIFEST.json`:
 * hashes, sizes, no missing and no extra files.
 */
export async function verifyBundle(root: string, signal?: AbortSignal): Promise<BundleCheck> {
  let manifest: BundleManifest;
  try {
    manifest = parseBundleManifest(await Deno.readTextFile(`${root}/${BUNDLE_MANIFEST_FILE}`));
  } catch (error) {
    return {
      ok: false,
      problems: [`${BUNDLE_MANIFEST_FILE}: ${error instanceof Error ? error.message : String(error)}`],
    };
  }
  const problems: string[] = [];
  const actual = new Map((await describeBundleFiles(root, signal)).map((f) => [f.path, f]));
  for (const expected of manifest.files) {
    const found = actual.get(expected.path);
    actual.delete(expected.path);
    if (!found) problems.push(`${expected.path}: missing`);
    else if (found.bytes !== expected.bytes) {
      problems.push(`${expected.path}: ${found.bytes} bytes, expected ${expected.bytes}`);
    } else if (found.sha256 !== expected.sha256) problems.push(`${expected.path}: sha256 differs from the manifest`);
    else if ((found.mode & 0o100) !== (expected.mode & 0o100)) {
      // Only the owner's execute bit is compared: group/other bits follow the umask of whoever unpacked it.
      problems.push(`${expected.path}: mode ${found.mode.toString(8)}, expected ${expected.mode.toString(8)}`);
    }
  }
  for (const extra of actual.keys()) problems.push(`${extra}: not listed in ${BUNDLE_MANIFEST_FILE}`);
  return problems.length === 0 ? { ok: true, manifest } : { ok: false, problems, manifest };
}
