/**
 * Runs Deno entry files on arm64 under qemu-user: the aarch64 Deno of the
 * pinned version (npm @deno/linux-arm64-glibc, cached in out/cache), the
 * repository's node_modules (onnxruntime-node ships its linux/arm64 binaries
 * there), and the arm64 glibc/libstdc++ of Debian's cross packages.
 *
 * onnxruntime's cpuinfo reads /proc/cpuinfo to identify the cores and crashes
 * on the host's x86 text, so each run happens in a private mount namespace
 * where an arm64 cpuinfo (Cortex-A76 cores, as many as the host has) is
 * bind-mounted over /proc/cpuinfo: `unshare -m` as root, `unshare -rm` (a user
 * namespace) otherwise. Nothing outside the run sees it.
 *
 * The arm64 Deno resolves npm packages from the node_modules the host Deno
 * installed (`--node-modules-dir=manual`) and never fetches anything
 * (`--cached-only`): under qemu a download of every package would take
 * minutes, and the packages are the same files on both architectures.
 *
 * Usage: deno run -A scripts/arm64_smoke.ts ENTRY [ARGS...]
 * Env:   ARM64_DENO   an aarch64 deno binary to use instead of the npm one
 *        QEMU         qemu-user binary (default: qemu-aarch64-static, then qemu-aarch64)
 *        DENO_FLAGS   permission flags for `deno run` (default: the `qeil` task's)
 *        QEIL_SHIP_CACHE  npm tarball cache (default: out/cache)
 * Exit:  the entry's exit code; 2 when the host lacks qemu, the cross libraries or namespaces.
 *
 * Host packages (Debian/Ubuntu): qemu-user-static (or qemu-user), libc6-arm64-cross,
 * libstdc++6-arm64-cross.
 */
import {
  defaultShipCache,
  denoRuntime,
  elfMachine,
  pinnedDenoVersion,
  REPO_ROOT,
  servicePermissionFlags,
  TARGETS,
} from "./ship_lib.ts";

/** Sysroot of Debian's arm64 cross libraries. */
export const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";
export const APT_PACKAGES = ["qemu-user-static", "libc6-arm64-cross", "libstdc++6-arm64-cross"];
/** How the arm64 Deno finds npm packages: the host-installed node_modules, offline. */
export const ARM64_RESOLUTION_FLAGS = ["--node-modules-dir=manual", "--cached-only"];

/** What is missing on this host to run arm64 code, or an empty list. */
export async function arm64HostProblems(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<string[]> {
  const problems: string[] = [];
  if (!(await findQemu(env))) problems.push("no qemu-aarch64-static or qemu-aarch64 on PATH (or $QEMU)");
  for (const lib of ["lib/ld-linux-aarch64.so.1", "lib/libc.so.6", "lib/libstdc++.so.6"]) {
    if (!(await isFile(`${ARM64_SYSROOT}/${lib}`))) problems.push(`${ARM64_SYSROOT}/${lib} is missing`);
  }
  const unshare = await which("unshare", env);
  if (!unshare) problems.push("no unshare (util-linux) on PATH");
  else if (Deno.uid() !== 0) {
    // Without root, the cpuinfo bind mount needs an unprivileged user namespace, which some kernels
    // refuse (Ubuntu 24.04's AppArmor default, user.max_user_namespaces=0).
    const probe = await new Deno.Command(unshare, {
      args: ["--user", "--map-root-user", "--mount", "true"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!probe.success) {
      problems.push(
        `not root and unshare cannot make a user namespace (${new TextDecoder().decode(probe.stderr).trim()}): ` +
          "run as root, or allow them (sysctl kernel.apparmor_restrict_unprivileged_userns=0)",
      );
    }
  }
  return problems;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function which(name: string, env: Record<string, string | undefined>): Promise<string | undefined> {
  for (const dir of (env.PATH ?? "/usr/bin:/bin").split(":")) {
    if (dir && await isFile(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

async function findQemu(env: Record<string, string | undefined>): Promise<string | undefined> {
  if (env.QEMU) return (await isFile(env.QEMU)) ? env.QEMU : await which(env.QEMU, env);
  return (await which("qemu-aarch64-static", env)) ?? await which("qemu-aarch64", env);
}

/** An arm64 /proc/cpuinfo with one Cortex-A76 entry per possible host CPU. */
export async function arm64CpuInfo(): Promise<string> {
  // cpuinfo also reads /sys/devices/system/cpu/possible: the two must agree on the count.
  const possible = (await Deno.readTextFile("/sys/devices/system/cpu/possible")).trim();
  let cpus = 0;
  for (const range of possible.split(",")) {
    const [a, b] = range.split("-").map(Number);
    cpus += (b ?? a) - a + 1;
  }
  const entries: string[] = [];
  for (let i = 0; i < cpus; i++) {
    entries.push(
      [
        `processor\t: ${i}`,
        "BogoMIPS\t: 48.00",
        "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp",
        "CPU implementer\t: 0x41",
        "CPU architecture: 8",
        "CPU variant\t: 0x4",
        "CPU part\t: 0xd0b",
        "CPU revision\t: 1",
        "",
      ].join("\n"),
    );
  }
  return entries.join("\n") + "\n";
}

/** Options of `openArm64Env`. */
export interface Arm64EnvOptions {
  /** Host environment: QEMU, ARM64_DENO, DENO_FLAGS, QEIL_SHIP_CACHE and PATH are read from it. @default Deno.env */
  hostEnv?: Record<string, string | undefined>;
  /** Folder of downloaded npm tarballs. @default env.QEIL_SHIP_CACHE, else out/cache */
  cacheDir?: string;
}

/** Options of one `Arm64Env.run`. */
export interface Arm64RunOptions {
  /** Permission flags of `deno run`. @default the `qeil` task's flags (or env DENO_FLAGS) */
  denoFlags?: readonly string[];
  /** Extra environment of the child (on top of HOME, DENO_DIR and the telemetry switches). */
  env?: Record<string, string>;
  /** Output handling of the child. @default "inherit" */
  stdout?: "inherit" | "piped";
  /** @default "inherit" */
  stderr?: "inherit" | "piped";
  /** Kills the child when it aborts. */
  signal?: AbortSignal;
}

/**
 * A prepared arm64 environment: qemu, the aarch64 Deno, an arm64 cpuinfo and
 * a private HOME and DENO_DIR shared by all its runs (so later runs reuse the
 * V8 code cache of earlier ones). Dispose it to remove its folder.
 */
export interface Arm64Env extends AsyncDisposable {
  /** qemu-user binary. */
  readonly qemu: string;
  /** aarch64 Deno binary. */
  readonly deno: string;
  /** Private folder of the environment (cpuinfo, home/, deno-dir/). */
  readonly dir: string;
  /** HOME of the runs. */
  readonly home: string;
  /** Runs `entry` with `args` (relative paths resolve against the caller's cwd; the child runs in the repository). */
  run(entry: string, args: readonly string[], options?: Arm64RunOptions): Promise<Deno.CommandOutput>;
}

/** Prepares an arm64 environment. @throws Error naming what the host lacks and the packages to install */
export async function openArm64Env(options: Arm64EnvOptions = {}): Promise<Arm64Env> {
  const env = options.hostEnv ?? Deno.env.toObject();
  const problems = await arm64HostProblems(env);
  if (problems.length > 0) {
    throw new Error(
      `cannot run arm64 code here: ${problems.join("; ")}. Install: apt-get install ${APT_PACKAGES.join(" ")}`,
    );
  }
  const qemu = (await findQemu(env))!;
  const cacheDir = options.cacheDir ?? env.QEIL_SHIP_CACHE ?? defaultShipCache();
  const deno = env.ARM64_DENO ?? await denoRuntime(TARGETS.aarch64, await pinnedDenoVersion(), cacheDir);
  const machine = await elfMachine(deno);
  if (machine !== TARGETS.aarch64.elfMachine) {
    throw new Error(`${deno}: ${machine === undefined ? "not an ELF binary" : `ELF machine ${machine}`}, not aarch64`);
  }
  const defaultFlags = env.DENO_FLAGS?.trim() ? env.DENO_FLAGS.trim().split(/\s+/) : await servicePermissionFlags();

  const ortBinding = `${REPO_ROOT}/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node`;
  if (!(await isFile(ortBinding))) {
    // The host Deno installs the npm packages (every platform's ORT binaries come in the one package).
    const out = await new Deno.Command(Deno.execPath(), { args: ["install"], cwd: REPO_ROOT, stderr: "inherit" })
      .output();
    if (!out.success || !(await isFile(ortBinding))) throw new Error(`${ortBinding} is missing after deno install`);
  }

  const dir = await Deno.makeTempDir({ prefix: "qeil-arm64-" });
  const home = `${dir}/home`;
  const cpuinfo = `${dir}/cpuinfo`;
  try {
    await Deno.mkdir(home);
    await Deno.mkdir(`${dir}/deno-dir`);
    await Deno.writeTextFile(cpuinfo, await arm64CpuInfo());
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  const isRoot = Deno.uid() === 0;
  const ns = isRoot ? ["--mount", "--propagation", "private"] : ["--user", "--map-root-user", "--mount"];
  const script = 'mount --bind "$1" /proc/cpuinfo && shift && exec "$@"';

  return {
    qemu,
    deno,
    dir,
    home,
    run(entry, args, runOptions = {}) {
      // The child runs in the repository (its deno.json and node_modules); keep ENTRY where the caller meant.
      const entryPath = entry.startsWith("/") || /^[a-z]+:/.test(entry) ? entry : `${Deno.cwd()}/${entry}`;
      const flags = runOptions.denoFlags ?? defaultFlags;
      return new Deno.Command("unshare", {
        args: [
          ...ns,
          "sh",
          "-c",
          script,
          "sh",
          cpuinfo,
          qemu,
          "-L",
          ARM64_SYSROOT,
          deno,
          "run",
          ...ARM64_RESOLUTION_FLAGS,
          ...flags,
          entryPath,
          ...args,
        ],
        cwd: REPO_ROOT,
        clearEnv: true,
        env: {
          PATH: "/usr/bin:/bin",
          HOME: home,
          DENO_DIR: `${dir}/deno-dir`,
          DENO_NO_UPDATE_CHECK: "1",
          ORT_DISABLE_TELEMETRY: "1",
          NO_COLOR: "1",
          ...runOptions.env,
        },
        stdin: "null",
        stdout: runOptions.stdout ?? "inherit",
        stderr: runOptions.stderr ?? "inherit",
        ...(runOptions.signal ? { signal: runOptions.signal } : {}),
      }).output();
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Runs one entry on arm64 in an environment of its own; resolves with the child's output. */
export async function runArm64(
  entry: string,
  args: readonly string[],
  options: Arm64RunOptions & Arm64EnvOptions = {},
): Promise<Deno.CommandOutput> {
  await using arm64 = await openArm64Env(options);
  return await arm64.run(entry, args, options);
}

if (import.meta.main) {
  const [entry, ...args] = Deno.args;
  if (!entry || entry === "--help" || entry === "-h") {
    console.error("Usage: deno run -A scripts/arm64_smoke.ts ENTRY [ARGS...]   (ENTRY runs on arm64 Deno under qemu)");
    Deno.exit(entry ? 0 : 2);
  }
  const problems = await arm64HostProblems();
  if (problems.length > 0) {
    console.error(`arm64-smoke: ${problems.join("; ")}\nInstall: apt-get install ${APT_PACKAGES.join(" ")}`);
    Deno.exit(2);
  }
  const start = performance.now();
  const out = await runArm64(entry, args);
  console.error(`arm64-smoke: ${entry} exited ${out.code} after ${((performance.now() - start) / 1000).toFixed(1)} s`);
  Deno.exit(out.code);
}
