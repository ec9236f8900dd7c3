/**
 * `deno task compile`: single qeil binaries for x86_64 and aarch64 Linux,
 * with the service's permissions baked in (the flags of the `qeil` task).
 *
 * `deno compile` copies a `denort` runtime of its own version and appends the
 * application. It takes denort from `DENORT_BIN` (used as is, whatever the
 * target) or from its cache, `$DENO_DIR/dl/release/v<version>/denort-<triple>.zip`,
 * and downloads it from dl.deno.land otherwise, which is unreachable here. So
 * this script looks for one per target first and says clearly what is missing:
 *
 *   DENORT_BIN_X86_64, DENORT_BIN_AARCH64   a denort binary for that target
 *   DENORT_BIN                              a denort for the target its ELF header names
 *   the DENO_DIR cache above                (DENO_DIR, else $XDG_CACHE_HOME/deno, else ~/.cache/deno)
 *
 * onnxruntime-node loads libonnxruntime.so from beside its .node addon, which
 * the in-memory file system of a compiled binary cannot provide, so binaries
 * are `--self-extracting` (unpacked on first start beside the binary, else in
 * ~/.local/share/<name>/), and other platforms' ORT binaries are excluded.
 *
 * Usage: deno task compile [--target x86_64|aarch64] [--out DIR]
 * Exit:  0 built; 3 a denort is missing (nothing built); 1 other failures.
 */
import { parseArgs } from "node:util";
import {
  appVersion,
  elfMachine,
  hostTarget,
  parseTarget,
  pinnedDenoVersion,
  REPO_ROOT,
  run,
  servicePermissionFlags,
  type Target,
  TARGETS,
} from "./ship_lib.ts";

/** Where a denort came from. */
export type DenortSource =
  | { ok: true; via: "env"; variable: string; path: string }
  | { ok: true; via: "cache"; denoDir: string; path: string }
  | { ok: false; reason: string };

/** The Deno cache folder, as Deno picks it on Linux. */
export function denoDir(env: Record<string, string | undefined>): string | undefined {
  if (env.DENO_DIR) return env.DENO_DIR;
  if (env.XDG_CACHE_HOME) return `${env.XDG_CACHE_HOME}/deno`;
  return env.HOME ? `${env.HOME}/.cache/deno` : undefined;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Finds a denort of `denoVersion` for `target`, or says where it looked. */
export async function findDenort(
  target: Target,
  denoVersion: string,
  env: Record<string, string | undefined>,
): Promise<DenortSource> {
  const looked: string[] = [];
  const perTarget = `DENORT_BIN_${target.name.toUpperCase()}`;
  for (const variable of [perTarget, "DENORT_BIN"]) {
    const path = env[variable];
    if (!path) {
      looked.push(`$${variable} is not set`);
      continue;
    }
    if (!(await isFile(path))) {
      looked.push(`$${variable}=${path} is not a file`);
      continue;
    }
    const machine = await elfMachine(path);
    if (machine === target.elfMachine) return { ok: true, via: "env", variable, path };
    looked.push(
      `$${variable}=${path} is ${machine === undefined ? "not an ELF binary" : `an ELF binary for machine ${machine}`}`,
    );
  }
  const dir = denoDir(env);
  if (dir) {
    const zip = `${dir}/dl/release/v${denoVersion}/denort-${target.triple}.zip`;
    if (await isFile(zip)) return { ok: true, via: "cache", denoDir: dir, path: zip };
    looked.push(`${zip} does not exist`);
  } else looked.push("no DENO_DIR, XDG_CACHE_HOME or HOME to find Deno's cache");
  return {
    ok: false,
    reason: `no denort ${denoVersion} for ${target.triple} (it cannot be downloaded here): ${looked.join("; ")}. ` +
      `Set ${perTarget} to a denort binary, or put denort-${target.triple}.zip of Deno ${denoVersion} ` +
      `(from https://dl.deno.land/release/v${denoVersion}/) into that cache folder.`,
  };
}

/** Options of `compileTargets`. */
export interface CompileOptions {
  targets?: readonly Target[];
  /** @default out/compile */
  outDir?: string;
  env?: Record<string, string | undefined>;
  root?: string;
  log?: (line: string) => void;
}

/** A missing denort: nothing was built. */
export class DenortMissingError extends Error {
  constructor(readonly reasons: string[]) {
    super(`deno compile needs a denort runtime:\n  ${reasons.join("\n  ")}`);
    this.name = "DenortMissingError";
  }
}

/** Builds one binary per target; checks that the host's binary reports the app version. */
export async function compileTargets(options: CompileOptions = {}): Promise<{ target: string; path: string }[]> {
  const root = options.root ?? REPO_ROOT;
  const env = options.env ?? Deno.env.toObject();
  const log = options.log ?? ((line: string) => console.error(line));
  const targets = options.targets ?? Object.values(TARGETS);
  const outDir = options.outDir ?? `${root}/out/compile`;
  const denoVersion = await pinnedDenoVersion(root);
  const version = await appVersion(root);
  const flags = await servicePermissionFlags(root);

  const sources = await Promise.all(targets.map((t) => findDenort(t, denoVersion, env)));
  const missing = sources.flatMap((s) => (s.ok ? [] : [s.reason]));
  if (missing.length > 0) throw new DenortMissingError(missing);

  const ortBin = `${await Deno.realPath(`${root}/node_modules/onnxruntime-node`)}/bin`;
  const napi = [];
  for await (const e of Deno.readDir(ortBin)) if (e.isDirectory) napi.push(`${ortBin}/${e.name}`);
  await Deno.mkdir(outDir, { recursive: true });
  const built: { target: string; path: string }[] = [];
  for (const [i, target] of targets.entries()) {
    const source = sources[i] as Extract<DenortSource, { ok: true }>;
    const output = `${outDir}/qeil-${version}-${target.name}`;
    const keep = napi.map((d) => `${d}/linux/${target.ortArch}`);
    const drop: string[] = [];
    for (const dir of napi) {
      for await (const os of Deno.readDir(dir)) {
        if (os.name !== "linux") drop.push(`${dir}/${os.name}`);
        else {
          for await (const arch of Deno.readDir(`${dir}/linux`)) {
            if (arch.name !== target.ortArch) drop.push(`${dir}/linux/${arch.name}`);
          }
        }
      }
    }
    // deno compile reads DENORT_BIN for every target, so it is set to this target's or removed.
    // Type declarations are never loaded at run time.
    for await (const e of Deno.readDir(`${root}/node_modules/.deno`)) {
      if (e.isDirectory && e.name.startsWith("@types+")) drop.push(`${root}/node_modules/.deno/${e.name}`);
    }
    const childEnv: Record<string, string> = { DENO_NO_UPDATE_CHECK: "1" };
    for (const [k, v] of Object.entries(env)) if (v !== undefined && k !== "DENORT_BIN") childEnv[k] = v;
    if (source.via === "env") childEnv.DENORT_BIN = source.path;
    else childEnv.DENO_DIR = source.denoDir;
    log(`compile ${target.name}: denort from ${source.via === "env" ? `$${source.variable}` : source.path}`);
    const start = performance.now();
    await run(Deno.execPath(), [
      "compile",
      "--target",
      target.triple,
      "--output",
      output,
      "--self-extracting",
      ...flags,
      ...keep.flatMap((p) => ["--include", p]),
      ...drop.flatMap((p) => ["--exclude", p]),
      "main.ts",
    ], { cwd: root, env: childEnv, clearEnv: true });
    const machine = await elfMachine(output);
    if (machine !== target.elfMachine) {
      throw new Error(`${output}: ELF machine ${machine}, expected ${target.elfMachine}`);
    }
    log(`compile ${target.name}: ${output} in ${Math.round(performance.now() - start)} ms`);
    if (target.name === hostTarget().name) {
      const home = await Deno.makeTempDir({ prefix: "qeil-compiled-" });
      try {
        const out = await run(output, ["--version"], { clearEnv: true, env: { HOME: home, PATH: "/usr/bin:/bin" } });
        if (out.trim() !== `qeil ${version}`) throw new Error(`${output} --version printed "${out.trim()}"`);
      } finally {
        await Deno.remove(home, { recursive: true });
      }
    }
    built.push({ target: target.name, path: output });
  }
  return built;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { target: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) {
    console.log("Usage: deno task compile [--target x86_64|aarch64] [--out DIR]   (see scripts/compile.ts)");
    Deno.exit(0);
  }
  try {
    const built = await compileTargets({
      ...(values.target ? { targets: [parseTarget(values.target)] } : {}),
      ...(values.out ? { outDir: values.out } : {}),
    });
    for (const b of built) console.log(`${b.target}: ${b.path}`);
  } catch (error) {
    console.error(`compile: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(error instanceof DenortMissingError ? 3 : 1);
  }
}
