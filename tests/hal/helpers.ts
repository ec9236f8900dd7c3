/**
 * Shared helpers of the HAL tests: fixture locations and writable copies of
 * fixture trees in temporary folders (symlinks preserved, so the class-folder
 * links into sys/devices stay links).
 */

/** Absolute path of a fixture tree in tests/fixtures/sysfs. */
export function fixture(name: string): string {
  return new URL(`../fixtures/sysfs/${name}`, import.meta.url).pathname;
}

async function copyTree(from: string, to: string, absoluteLinksUnder?: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const src = `${from}/${entry.name}`;
    const dst = `${to}/${entry.name}`;
    if (entry.isSymlink) {
      let target = await Deno.readLink(src);
      if (absoluteLinksUnder !== undefined && !target.startsWith("/")) {
        // Rewrite as the absolute path a real board would show (relative to `/`).
        const abs = new URL(target, `file://${src.slice(absoluteLinksUnder.length) || "/"}`).pathname;
        target = abs;
      }
      await Deno.symlink(target, dst);
    } else if (entry.isDirectory) {
      await copyTree(src, dst, absoluteLinksUnder);
    } else {
      await Deno.copyFile(src, dst);
    }
  }
}

/**
 * A writable copy of fixture `name` in a new temporary folder; removed when
 * the returned handle is disposed.
 * @param options.absoluteLinks rewrite every relative symlink as an absolute
 *   board path (`/sys/devices/...`), as some captured trees have them
 */
export async function tempFixture(
  name: string,
  options: { absoluteLinks?: boolean } = {},
): Promise<{ root: string } & AsyncDisposable> {
  const root = await Deno.makeTempDir({ prefix: `qeil-hal-${name}-` });
  const source = fixture(name);
  if (options.absoluteLinks) {
    await copyTree(source, root, source);
  } else {
    // One `cp -a` is several times faster than copying ~250 small files one await at a time.
    const { success, stderr } = await new Deno.Command("cp", { args: ["-a", `${source}/.`, root], stderr: "piped" })
      .output();
    if (!success) throw new Error(`cp -a ${source} failed: ${new TextDecoder().decode(stderr)}`);
  }
  return {
    root,
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** A fresh empty temporary folder, removed on dispose. */
export async function tempDir(): Promise<{ root: string } & AsyncDisposable> {
  const root = await Deno.makeTempDir({ prefix: "qeil-hal-" });
  return {
    root,
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** True when the tests run as root, for whom chmod 000 does not stop reads. */
export function runningAsRoot(): boolean {
  return Deno.uid() === 0;
}

/** Creates a named pipe (a FIFO lets a test play the kernel behind a sysfs attribute). */
export async function mkfifo(path: string): Promise<void> {
  const { success, stderr } = await new Deno.Command("mkfifo", { args: [path], stderr: "piped" }).output();
  if (!success) throw new Error(`mkfifo ${path} failed: ${new TextDecoder().decode(stderr)}`);
}
