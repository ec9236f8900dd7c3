import assert from "node:assert/strict";
import {
  createFileInstaller,
  createTarballInstaller,
  failureReason,
  verifyBundle,
  writeBundleManifest,
} from "../../src/update/mod.ts";
import { buildBundleTarball } from "./helpers.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-install-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeArtifact(dir: string, bytes: Uint8Array): Promise<string> {
  await Deno.writeFile(`${dir}/artifact.tar.gz`, bytes);
  return `${dir}/artifact.tar.gz`;
}

Deno.test("the tarball installer unpacks a bundle's top directory into the slot and checks its manifest", async () => {
  await withDir(async (dir) => {
    const artifact = await writeArtifact(dir, await buildBundleTarball(dir, "1.1.0"));
    await createTarballInstaller().install(artifact, `${dir}/slot`, { version: "1.1.0", manifestId: "m" });
    assert.equal(await Deno.readTextFile(`${dir}/slot/bin/qeil`), '#!/bin/sh\necho "qeil 1.1.0"\n');
    assert.equal((await Deno.stat(`${dir}/slot/bin/qeil`)).mode! & 0o100, 0o100);
    assert.equal((await verifyBundle(`${dir}/slot`)).ok, true);
  });
});

Deno.test("the tarball installer refuses a bundle whose files differ from its manifest", async () => {
  await withDir(async (dir) => {
    const artifact = await writeArtifact(dir, await buildBundleTarball(dir, "1.1.0", { tamper: true }));
    await assert.rejects(
      createTarballInstaller().install(artifact, `${dir}/slot`, { version: "1.1.0", manifestId: "m" }),
      (e: Error) => failureReason(e) === "InstallFailed" && /README: .*bytes, expected|README: sha256/.test(e.message),
    );
  });
});

Deno.test("the tarball installer refuses a bundle of another version or architecture", async () => {
  await withDir(async (dir) => {
    const artifact = await writeArtifact(dir, await buildBundleTarball(dir, "1.1.0"));
    await assert.rejects(
      createTarballInstaller().install(artifact, `${dir}/s1`, { version: "1.2.0", manifestId: "m" }),
      /the bundle is version 1\.1\.0, the signed manifest announces 1\.2\.0/,
    );
    const other = Deno.build.arch === "x86_64" ? "aarch64" : "x86_64";
    const foreign = await writeArtifact(dir, await buildBundleTarball(dir, "1.1.0", { target: other }));
    await assert.rejects(
      createTarballInstaller().install(foreign, `${dir}/s2`, { version: "1.1.0", manifestId: "m" }),
      new RegExp(`built for ${other}, this device needs ${Deno.build.arch}`),
    );
  });
});

Deno.test("the tarball installer reports a file that is not a tarball", async () => {
  await withDir(async (dir) => {
    const artifact = await writeArtifact(dir, new TextEncoder().encode("this is not gzip"));
    await assert.rejects(
      createTarballInstaller().install(artifact, `${dir}/slot`, { version: "1.1.0", manifestId: "m" }),
      (e: Error) => failureReason(e) === "InstallFailed" && /tar -xzf failed \(exit \d+\)/.test(e.message),
    );
    await assert.rejects(Deno.stat(`${dir}/slot.unpack`), Deno.errors.NotFound);
  });
});

Deno.test("verifyBundle() lists missing and unlisted files", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/b/lib`, { recursive: true });
    await Deno.writeTextFile(`${dir}/b/lib/one`, "1");
    await Deno.writeTextFile(`${dir}/b/two`, "2");
    await writeBundleManifest(`${dir}/b`, { name: "qeil", version: "1.0.0", target: "x86_64", denoVersion: "2.9.5" });
    await Deno.remove(`${dir}/b/two`);
    await Deno.writeTextFile(`${dir}/b/three`, "3");
    const check = await verifyBundle(`${dir}/b`);
    assert.equal(check.ok, false);
    assert.deepEqual(!check.ok && check.problems, ["two: missing", "three: not listed in MANIFEST.json"]);
  });
});

Deno.test("the file installer puts a single binary into the slot with the given mode", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/qeil-bin`, "ELF...");
    await createFileInstaller({ fileName: "qeil" }).install(`${dir}/qeil-bin`, `${dir}/slot`, {
      version: "1.0.0",
      manifestId: "m",
    });
    assert.equal(await Deno.readTextFile(`${dir}/slot/qeil`), "ELF...");
    assert.equal((await Deno.stat(`${dir}/slot/qeil`)).mode! & 0o777, 0o755);
    assert.throws(() => createFileInstaller({ fileName: "../x" }), TypeError);
  });
});
