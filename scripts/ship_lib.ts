/**
 * Shared pieces of the shipping scripts (release.ts, compile.ts): the targets,
 * the pinned Deno version, the service's permission flags (read from the
 * `qeil` task of deno.json, so there is one list), ELF architecture checks and
 * npm tarballs fetched with `npm pack` into a cache folder.
 */

/** Where the repository is (this file lives in scripts/). */
export const REPO_ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** A build target. */
export interface Target {
  /** Name in bundles, manifests and Yocto's TARGET_ARCH: `x86_64`, `aarch64`. */
  name: "x86_64" | "aarch64";
  /** Rust triple `deno compile --target` takes. */
  triple: string;
  /** npm package of the Deno runtime for it. */
  denoPackage: string;
  /** Folder name of onnxruntime-node's binaries (`bin/napi-v*\/linux/<ortArch>`). */
  ortArch: "x64" | "arm64";
  /** ELF e_machine of its binaries. */
  elfMachine: number;
}

export const TARGETS: Readonly<Record<Target["name"], Target>> = {
  x86_64: {
    name: "x86_64",
    triple: "x86_64-unknown-linux-gnu",
    denoPackage: "@deno/linux-x64-glibc",
    ortArch: "x64",
    elfMachine: 62, // EM_X86_64
  },
  aarch64: {
    name: "aarch64",
    triple: "aarch64-unknown-linux-gnu",
    denoPackage: "@deno/linux-arm64-glibc",
    ortArch: "arm64",
    elfMachine: 183, // EM_AARCH64
  },
};

/** Parses a target name; accepts the npm/Node spellings too. @throws Error naming the choices */
export function parseTarget(name: string): Target {
  const alias: Record<string, Target["name"]> = { x64: "x86_64", amd64: "x86_64", arm64: "aarch64" };
  const target = TARGETS[(alias[name] ?? name) as Target["name"]];
  if (!target) throw new Error(`unknown target "${name}": choose x86_64 or aarch64`);
  return target;
}

/** The host's target. */
export function hostTarget(): Target {
  return parseTarget(Deno.build.arch);
}

/** The pinned Deno version (`.tools/package.json`, DESIGN.md section 10). */
export async function pinnedDenoVersion(root = REPO_ROOT): Promise<string> {
  const pkg = JSON.parse(await Deno.readTextFile(`${root}/.tools/package.json`));
  const version = pkg?.dependencies?.deno;
  if (typeof version !== "string" || !/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error(`${root}/.tools/package.json: dependencies.deno must pin an exact version, got ${version}`);
  }
  return version;
}

/** The version of this build: `VERSION` in main.ts. */
export async function appVersion(root = REPO_ROOT): Promise<string> {
  const source = await Deno.readTextFile(`${root}/main.ts`);
  const m = /export const VERSION = "([^"]+)"/.exec(source);
  if (!m) throw new Error(`${root}/main.ts: no \`export const VERSION = "..."\` line`);
  return m[1];
}

/**
 * The permission and unstable flags of the `qeil` task in deno.json: the
 * service runs with exactly these wherever it is started from.
 */
export async function servicePermissionFlags(root = REPO_ROOT): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
  const task = config?.tasks?.qeil;
  if (typeof task !== "string") throw new Error(`${root}/deno.json: no "qeil" task`);
  const flags = task.split(/\s+/).filter((t: string) => /^--(allow|deny|unstable)-[a-z-]+(=\S+)?$/.test(t));
  if (!flags.some((f: string) => f.startsWith("--allow-"))) {
    throw new Error(`${root}/deno.json: the "qeil" task grants no permissions: ${task}`);
  }
  return flags;
}

/** ELF e_machine of a file, or `undefined` when it is not an ELF file. */
export async function elfMachine(path: string): Promise<number | undefined> {
  using file = await Deno.open(path, { read: true });
  const head = new Uint8Array(20);
  let got = 0;
  while (got < head.length) {
    const n = await file.read(head.subarray(got));
    if (n === null) break;
    got += n;
  }
  if (got < 20 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) return undefined;
  // e_machine is a 16-bit field at offset 18, in the file's byte order (EI_DATA: 1 little, 2 big).
  return head[5] === 2 ? (head[18] << 8) | head[19] : head[18] | (head[19] << 8);
}

/** Runs a command; throws with its stderr when it fails. */
export async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; clearEnv?: boolean } = {},
): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", ...options }).output();
  } catch (error) {
    throw new Error(`${cmd}: cannot run: ${error instanceof Error ? error.message : String(error)}`);
  }
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}):\n${stderr || stdout}`);
  }
  return stdout;
}

async function sha512Base64(path: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha512");
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(1 << 20);
  for (;;) {
    const n = await file.read(buffer);
    if (n === null) break;
    hash.update(buffer.subarray(0, n));
  }
  return hash.digest("base64");
}

/**
 * The npm tarball of `name@version` in `cacheDir`, fetched with `npm pack`
 * when absent. npm checks the registry's integrity on download; the integrity
 * is stored beside the tarball and checked again on every reuse.
 */
export async function npmTarball(name: string, version: string, cacheDir: string): Promise<string> {
  await Deno.mkdir(cacheDir, { recursive: true });
  const file = `${name.replace(/^@/, "").replace("/", "-")}-${version}.tgz`;
  const tarball = `${cacheDir}/${file}`;
  const integrityFile = `${tarball}.integrity`;
  try {
    const expected = (await Deno.readTextFile(integrityFile)).trim();
    if (expected === `sha512-${await sha512Base64(tarball)}`) return tarball;
    console.error(`${tarball}: integrity mismatch, fetching it again`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const json = await run("npm", ["pack", `${name}@${version}`, "--pack-destination", cacheDir, "--json", "--silent"], {
    cwd: cacheDir,
  });
  const info = JSON.parse(json)?.[0];
  if (typeof info?.integrity !== "string" || info.filename !== file) {
    throw new Error(`npm pack ${name}@${version}: unexpected output ${json.slice(0, 300)}`);
  }
  if (info.integrity !== `sha512-${await sha512Base64(tarball)}`) {
    throw new Error(`npm pack ${name}@${version}: ${tarball} does not match the registry integrity`);
  }
  await Deno.writeTextFile(integrityFile, info.integrity + "\n");
  return tarball;
}

/**
 * The Deno runtime binary for `target`, unpacked from its npm package into
 * `cacheDir`; checked to be an ELF file of the right architecture.
 */
export async function denoRuntime(target: Target, denoVersion: string, cacheDir: string): Promise<string> {
  const tarball = await npmTarball(target.denoPackage, denoVersion, cacheDir);
  const dir = `${cacheDir}/deno-${denoVersion}-${target.name}`;
  const binary = `${dir}/package/deno`;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  await run("tar", ["-xzf", tarball, "-C", dir, "package/deno"]);
  const machine = await elfMachine(binary);
  if (machine !== target.elfMachine) {
    throw new Error(`${binary}: ELF machine ${machine}, expected ${target.elfMachine} for ${target.name}`);
  }
  return binary;
}

/** Default cache of downloaded npm tarballs (under the gitignored out/). */
export function defaultShipCache(root = REPO_ROOT): string {
  return `${root}/out/cache`;
}
