/**
 * `deno task release`: builds an offline release bundle of qeil for one target.
 *
 *   out/release/qeil-<version>-<target>/
 *     bin/qeil             launcher: runs the app with the bundled runtime, offline
 *     lib/deno             Deno runtime for the target (npm @deno/linux-*-glibc)
 *     app/main.js          the application, bundled by `deno bundle`
 *     app/deno.json        node_modules resolution for the packages kept external
 *     app/package.json
 *     app/node_modules/    packages with native code (onnxruntime-node: this target's binaries only)
 *     systemd/             the unit, defaults, sysusers, tmpfiles and config of systemd/
 *     MANIFEST.json        sha256, size and mode of every file (checked by the device's installer)
 *   out/release/qeil-<version>-<target>.tar.gz   with --archive: what `qeil release sign` signs
 *
 * Usage: deno task release [--target x86_64|aarch64] [--out DIR] [--archive] [--cache DIR]
 */
import { parseArgs } from "node:util";
import { BUNDLE_MANIFEST_FILE, type BundleManifest, hashFile, writeBundleManifest } from "../src/update/mod.ts";
import {
  appVersion,
  defaultShipCache,
  denoRuntime,
  elfMachine,
  hostTarget,
  parseTarget,
  pinnedDenoVersion,
  REPO_ROOT,
  run,
  servicePermissionFlags,
  type Target,
} from "./ship_lib.ts";

/** Options of `buildRelease`. */
export interface ReleaseOptions {
  /** @default the host's architecture */
  target?: Target;
  /** Folder that receives the bundle. @default out/release */
  outDir?: string;
  /** Also write `<bundle>.tar.gz`. @default false */
  archive?: boolean;
  /** Folder of downloaded npm tarballs, reused between builds. @default out/cache */
  cacheDir?: string;
  /** Repository to build from. @default the one holding this script */
  root?: string;
  /** Progress lines. @default console.error */
  log?: (line: string) => void;
}

/** What `buildRelease` produced. */
export interface ReleaseResult {
  bundleDir: string;
  manifest: BundleManifest;
  archive?: { path: string; bytes: number; sha256: string };
  /** Wall time of each stage, ms. */
  timingsMs: Record<string, number>;
}

/** npm packages that cannot be bundled into one JS file (native addons), kept in app/node_modules. */
const EXTERNAL_PACKAGES = ["onnxruntime-node"];
/** Files of systemd/ every bundle must carry. */
const REQUIRED_SYSTEMD_FILES = ["qeil.service"];

/** The launcher script at bin/qeil. */
export function launcherScript(flags: readonly string[]): string {
  return `#!/bin/sh
# qeil launcher (written by scripts/release.ts): runs this bundle's application with the Deno
# runtime shipped beside it, offline. The bundle may live anywhere; symlinks to this file work.
set -eu
self=$(readlink -f "$0")
root=$(dirname "$(dirname "$self")")
# Deno keeps its code caches in DENO_DIR; it must be writable (systemd sets HOME for User=).
if [ -z "\${DENO_DIR:-}" ]; then
  DENO_DIR="\${CACHE_DIRECTORY:-\${XDG_CACHE_HOME:-\${HOME:-/tmp}/.cache}/qeil}/deno"
fi
export DENO_DIR
export DENO_NO_UPDATE_CHECK=1 ORT_DISABLE_TELEMETRY=1
exec "$root/lib/deno" run --cached-only --no-prompt --config "$root/app/deno.json" \\
  ${flags.join(" ")} \\
  "$root/app/main.js" "$@"
`;
}

async function copyTree(from: string, to: string, skip: (rel: string) => boolean, rel = ""): Promise<void> {
  await Deno.mkdir(rel ? `${to}/${rel}` : to, { recursive: true });
  for await (const entry of Deno.readDir(rel ? `${from}/${rel}` : from)) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (skip(path)) continue;
    const stat = await Deno.stat(`${from}/${path}`); // follows symlinks: the bundle holds plain files
    if (stat.isDirectory) await copyTree(from, to, skip, path);
    else if (stat.isFile) {
      await Deno.copyFile(`${from}/${path}`, `${to}/${path}`);
      await Deno.chmod(`${to}/${path}`, (stat.mode ?? 0o644) & 0o755);
    }
  }
}

/** The folder holding `name` in Deno's node_modules layout (siblings there are its dependencies). */
async function packageDir(nodeModules: string, name: string): Promise<string> {
  try {
    return await Deno.realPath(`${nodeModules}/${name}`);
  } catch (error) {
    throw new Error(
      `npm package ${name} is not installed in ${nodeModules}; run \`deno install\` in the repository first`,
      { cause: error },
    );
  }
}

function modulesDirOf(pkgDir: string, name: string): string {
  const depth = name.startsWith("@") ? 2 : 1;
  return pkgDir.split("/").slice(0, -depth).join("/");
}

/**
 * Copies `names` and their runtime dependencies into `destModules`, dropping
 * onnxruntime-node binaries of every platform but the target's.
 */
async function vendorPackages(
  names: readonly string[],
  nodeModules: string,
  destModules: string,
  target: Target,
): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  const queue = names.map((name) => ({ name, from: nodeModules, optional: false }));
  while (queue.length > 0) {
    const { name, from, optional } = queue.shift()!;
    if (versions[name]) continue;
    let dir: string;
    try {
      dir = await packageDir(from, name);
    } catch (error) {
      if (optional) continue; // an optional dependency not installed for this platform
      throw error;
    }
    const pkg = JSON.parse(await Deno.readTextFile(`${dir}/package.json`));
    versions[name] = pkg.version;
    await copyTree(dir, `${destModules}/${name}`, (rel) => {
      // bin/napi-v6/<platform>/<arch>/...: keep linux/<target arch> only.
      const m = /^bin\/napi-v\d+\/([^/]+)(?:\/([^/]+))?/.exec(rel);
      if (m) return m[1] !== "linux" || (m[2] !== undefined && m[2] !== target.ortArch);
      return rel === "node_modules";
    });
    for (const dep of Object.keys(pkg.dependencies ?? {})) {
      queue.push({ name: dep, from: modulesDirOf(dir, name), optional: false });
    }
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) {
      queue.push({ name: dep, from: modulesDirOf(dir, name), optional: true });
    }
  }
  return versions;
}

/** Every native file of the bundle must be an ELF file of the target: no other platform's binaries. */
async function checkNativeFiles(dir: string, target: Target): Promise<void> {
  const problems: string[] = [];
  async function walk(rel: string): Promise<void> {
    for await (const entry of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory) await walk(path);
      else if (/\.(node|so(\.\d+)*|dll|dylib|exe)$/.test(entry.name) || path === "lib/deno") {
        const machine = await elfMachine(`${dir}/${path}`);
        if (machine !== target.elfMachine) {
          problems.push(`${path}: ${machine === undefined ? "not an ELF file" : `ELF machine ${machine}`}`);
        }
      }
    }
  }
  await walk("");
  if (problems.length > 0) {
    throw new Error(`the ${target.name} bundle holds binaries of another platform:\n  ${problems.join("\n  ")}`);
  }
}

/** Builds the release bundle (and optionally its tarball). */
export async function buildRelease(options: ReleaseOptions = {}): Promise<ReleaseResult> {
  const root = options.root ?? REPO_ROOT;
  const target = options.target ?? hostTarget();
  const outDir = options.outDir ?? `${root}/out/release`;
  const cacheDir = options.cacheDir ?? defaultShipCache(root);
  const log = options.log ?? ((line: string) => console.error(line));
  const timingsMs: Record<string, number> = {};
  const stage = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      timingsMs[name] = Math.round(performance.now() - start);
    }
  };

  const version = await appVersion(root);
  const denoVersion = await pinnedDenoVersion(root);
  const flags = await servicePermissionFlags(root);
  for (const file of REQUIRED_SYSTEMD_FILES) {
    await Deno.stat(`${root}/systemd/${file}`).catch((error) => {
      throw new Error(`systemd/${file} is missing: every bundle carries the unit`, { cause: error });
    });
  }
  const name = `qeil-${version}-${target.name}`;
  const bundleDir = `${outDir}/${name}`;
  log(`release ${name}: Deno ${denoVersion} for ${target.triple}, into ${bundleDir}`);
  await Deno.remove(bundleDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(`${bundleDir}/bin`, { recursive: true });
  await Deno.mkdir(`${bundleDir}/lib`, { recursive: true });
  await Deno.mkdir(`${bundleDir}/app`, { recursive: true });

  const runtime = await stage("runtime", () => denoRuntime(target, denoVersion, cacheDir));
  await Deno.copyFile(runtime, `${bundleDir}/lib/deno`);
  await Deno.chmod(`${bundleDir}/lib/deno`, 0o755);

  await stage("bundle", async () => {
    const externals = EXTERNAL_PACKAGES.flatMap((p) => ["--external", p, "--external", `npm:${p}@*`]);
    await run(
      Deno.execPath(),
      ["bundle", "--quiet", "--platform", "deno", ...externals, "-o", `${bundleDir}/app/main.js`, "main.ts"],
      { cwd: root },
    );
    const js = await Deno.readTextFile(`${bundleDir}/app/main.js`);
    if (js.includes("onnxruntime_binding.node")) {
      throw new Error("deno bundle inlined onnxruntime-node; it must stay external (native addon)");
    }
  });

  const versions = await stage(
    "vendor",
    () => vendorPackages(EXTERNAL_PACKAGES, `${root}/node_modules`, `${bundleDir}/app/node_modules`, target),
  );
  const direct = Object.fromEntries(EXTERNAL_PACKAGES.map((p) => [p, versions[p]]));
  await Deno.writeTextFile(
    `${bundleDir}/app/package.json`,
    JSON.stringify({ private: true, type: "module", dependencies: direct }, null, 2) + "\n",
  );
  // "manual": resolve from app/node_modules and never install; no lockfile at run time.
  await Deno.writeTextFile(
    `${bundleDir}/app/deno.json`,
    JSON.stringify({ nodeModulesDir: "manual", lock: false }, null, 2) + "\n",
  );
  await Deno.writeTextFile(`${bundleDir}/bin/qeil`, launcherScript(flags));
  await Deno.chmod(`${bundleDir}/bin/qeil`, 0o755);

  await Deno.mkdir(`${bundleDir}/systemd`);
  for await (const entry of Deno.readDir(`${root}/systemd`)) {
    if (!entry.isFile) continue;
    await Deno.copyFile(`${root}/systemd/${entry.name}`, `${bundleDir}/systemd/${entry.name}`);
    await Deno.chmod(`${bundleDir}/systemd/${entry.name}`, 0o644);
  }

  await stage("check", () => checkNativeFiles(bundleDir, target));
  const manifest = await stage(
    "manifest",
    () => writeBundleManifest(bundleDir, { name: "qeil", version, target: target.name, denoVersion }),
  );
  log(`release ${name}: ${manifest.files.length} files, ${manifest.files.reduce((s, f) => s + f.bytes, 0)} bytes`);

  let archive: ReleaseResult["archive"];
  if (options.archive) {
    const path = `${outDir}/${name}.tar.gz`;
    await stage("archive", async () => {
      await run("tar", ["--owner=0", "--group=0", "--numeric-owner", "--sort=name", "-czf", path, "-C", outDir, name]);
      archive = { path, ...await hashFile(path) };
    });
    log(`release ${name}: ${archive!.path} (${archive!.bytes} bytes, sha256 ${archive!.sha256})`);
  }
  return { bundleDir, manifest, ...(archive ? { archive } : {}), timingsMs };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      target: { type: "string" },
      out: { type: "string" },
      archive: { type: "boolean" },
      cache: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      "Usage: deno task release [--target x86_64|aarch64] [--out DIR] [--archive] [--cache DIR]\n" +
        `Builds out/release/qeil-<version>-<target>/ (see scripts/release.ts); --archive also writes its .tar.gz.`,
    );
    Deno.exit(0);
  }
  try {
    const result = await buildRelease({
      ...(values.target ? { target: parseTarget(values.target) } : {}),
      ...(values.out ? { outDir: values.out } : {}),
      ...(values.cache ? { cacheDir: values.cache } : {}),
      archive: values.archive === true,
    });
    console.error(
      `release: ${result.bundleDir}/${BUNDLE_MANIFEST_FILE} written; stages ${JSON.stringify(result.timingsMs)}`,
    );
  } catch (error) {
    console.error(`release: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(1);
  }
}
