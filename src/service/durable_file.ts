/**
 * Crash-safe file writes: a file is replaced by writing a sibling, syncing
 * it, renaming it over the target and syncing the folder, so after a power
 * cut the target holds either the old or the new content, never a mix.
 */

/** Syncs a folder so a rename or a new entry in it survives a power cut. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** Writes all of `data` to `file` (a write may take only part of a large buffer). */
export async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let rest = data;
  while (rest.length > 0) rest = rest.subarray(await file.write(rest));
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}

/** Atomically replaces `path` with `data` (write sibling, fsync, rename, fsync folder). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = `${path}.tmp-${Deno.pid}`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    await writeAll(file, bytes);
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
  await syncDir(dirOf(path));
}
