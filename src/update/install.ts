/**
 * Installers turn a verified artifact into the contents of a slot. The release
 * artifact is a tarball of the release bundle (see scripts/release.ts); a
 * single-file installer exists for `deno compile` binaries.
 */
import { describeError } from "../core/mod.ts";
import { verifyBundle } from "./bundle.ts";
import { updateFailure } from "./failure.ts";

/** What an installer knows about the update it installs. */
export interface InstallContext {
  /** Version the signed manifest announces. */
  version: string;
  manifestId: string;
  signal?: AbortSignal;
}

/** Unpacks a verified artifact into a new directory. */
export interface Installer {
  /**
   * Creates `targetDir` (it does not exist yet) holding the installed release.
   * @throws UpdateError "InstallFailed" naming what was wrong
   */
  install(artifactPath: string, targetDir: string, context: InstallContext): Promise<void>;
}

/** Options of `createTarballInstaller`. */
export interface TarballInstallerOptions {
  /** The `tar` executable (GNU tar or BusyBox). @default "tar" */
  tar?: string;
  /**
   * Bundle target the device accepts (`x86_64`, `aarch64`).
   * @default Deno.build.arch
   */
  target?: string;
}

/**
 * Installs a `.tar.gz` release bundle: unpacks it, takes its single top-level
 * directory as the slot, and checks every file against the bundle's
 * MANIFEST.json, its version against the signed manifest and its target
 * against this machine.
 */
export function createTarballInstaller(options: TarballInstallerOptions = {}): Installer {
  const tar = options.tar ?? "tar";
  const target = options.target ?? Deno.build.arch;
  return {
    async install(artifactPath, targetDir, context) {
      const unpackDir = `${targetDir}.unpack`;
      await Deno.remove(unpackDir, { recursive: true }).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
      await Deno.mkdir(unpackDir, { recursive: true });
      try {
        let output: Deno.CommandOutput;
        try {
          output = await new Deno.Command(tar, {
            args: ["-xzf", artifactPath, "-C", unpackDir],
            stdout: "piped",
            stderr: "piped",
            ...(context.signal ? { signal: context.signal } : {}),
          }).output();
        } catch (error) {
          throw updateFailure("InstallFailed", `install: cannot run ${tar}: ${describeError(error)}`, { cause: error });
        }
        if (!output.success) {
          const stderr = new TextDecoder().decode(output.stderr).trim();
          throw updateFailure("InstallFailed", `install: ${tar} -xzf failed (exit ${output.code}): ${stderr}`);
        }
        const entries: Deno.DirEntry[] = [];
        for await (const entry of Deno.readDir(unpackDir)) entries.push(entry);
        if (entries.length !== 1 || !entries[0].isDirectory) {
          throw updateFailure(
            "InstallFailed",
            `install: the artifact must hold one top-level directory, found ${
              entries.map((e) => e.name).join(", ") || "nothing"
            }`,
          );
        }
        await Deno.rename(`${unpackDir}/${entries[0].name}`, targetDir);
      } finally {
        await Deno.remove(unpackDir, { recursive: true }).catch((e) => {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        });
      }
      const check = await verifyBundle(targetDir, context.signal);
      if (!check.ok) {
        throw updateFailure(
          "InstallFailed",
          `install: the unpacked bundle does not match its manifest: ${check.problems.slice(0, 5).join("; ")}${
            check.problems.length > 5 ? ` (and ${check.problems.length - 5} more)` : ""
          }`,
          { details: { problems: check.problems } },
        );
      }
      if (check.manifest.version !== context.version) {
        throw updateFailure(
          "InstallFailed",
          `install: the bundle is version ${check.manifest.version}, the signed manifest announces ${context.version}`,
        );
      }
      if (check.manifest.target !== target) {
        throw updateFailure(
          "InstallFailed",
          `install: the bundle is built for ${check.manifest.target}, this device needs ${target}`,
        );
      }
    },
  };
}

/** Options of `createFileInstaller`. */
export interface FileInstallerOptions {
  /** Name of the file inside the slot, e.g. `qeil` for a compiled binary. */
  fileName: string;
  /** Permission bits of the installed file. @default 0o755 */
  mode?: number;
}

/** Installs the artifact as one file in the slot (a `deno compile` binary). */
export function createFileInstaller(options: FileInstallerOptions): Installer {
  if (options.fileName.includes("/") || options.fileName === "" || options.fileName.startsWith(".")) {
    throw new TypeError(`createFileInstaller: fileName must be a plain file name, got "${options.fileName}"`);
  }
  const mode = options.mode ?? 0o755;
  return {
    async install(artifactPath, targetDir) {
      try {
        await Deno.mkdir(targetDir);
        await Deno.copyFile(artifactPath, `${targetDir}/${options.fileName}`);
        await Deno.chmod(`${targetDir}/${options.fileName}`, mode);
      } catch (error) {
        throw updateFailure("InstallFailed", `install: cannot copy the artifact into ${targetDir}`, { cause: error });
      }
    },
  };
}
