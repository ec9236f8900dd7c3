import assert from "node:assert/strict";
import { type CommandContext, parseCommandArgs, UsageError } from "../../cli/command.ts";
import { PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, releaseCommand } from "../../cli/release.ts";
import { importFleetPublicKey, parseSignedManifest, verifyManifestSignature } from "../../src/update/mod.ts";
import { createHash } from "node:crypto";

function context(): CommandContext & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    isTerminal: false,
    env: {},
    signal: new AbortController().signal,
  };
}

function release(argv: string[], ctx = context()): Promise<number> {
  return releaseCommand.run(parseCommandArgs(releaseCommand, argv), ctx);
}

Deno.test("qeil release keygen writes a 0600 private key and a public key, and refuses to overwrite them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-release-" });
  try {
    const ctx = context();
    assert.equal(await release(["keygen", "--out", `${dir}/keys`, "--json"], ctx), 0);
    const printed = JSON.parse(ctx.out.join(""));
    assert.equal((await Deno.stat(`${dir}/keys/${PRIVATE_KEY_FILE}`)).mode! & 0o777, 0o600);
    const pub = await importFleetPublicKey(await Deno.readTextFile(`${dir}/keys/${PUBLIC_KEY_FILE}`));
    assert.equal(pub.keyId, printed.keyId);
    assert.equal((await importFleetPublicKey(printed.publicKeyBase64)).keyId, printed.keyId);
    await assert.rejects(release(["keygen", "--out", `${dir}/keys`]), UsageError);
    assert.equal(await release(["keygen", "--out", `${dir}/keys`, "--force"]), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("qeil release sign writes a manifest the devices accept; verify checks it against the artifact", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-release-" });
  try {
    await release(["keygen", "--out", dir]);
    const artifact = `${dir}/qeil-1.4.0-aarch64.tar.gz`;
    const bytes = crypto.getRandomValues(new Uint8Array(50_000));
    await Deno.writeFile(artifact, bytes);
    const ctx = context();
    const url = "https://updates.example.com/qeil-1.4.0-aarch64.tar.gz";
    const code = await release(
      ["sign", "--key", `${dir}/${PRIVATE_KEY_FILE}`, "--artifact", artifact, "--version", "1.4.0", "--url", url],
      ctx,
    );
    assert.equal(code, 0);
    const manifest = parseSignedManifest(ctx.out.join(""));
    assert.equal(manifest.version, "1.4.0");
    assert.equal(manifest.artifactUrl, url);
    assert.equal(manifest.sizeBytes, bytes.length);
    assert.equal(manifest.sha256, createHash("sha256").update(bytes).digest("hex"));
    assert.ok(Number.isFinite(Date.parse(manifest.issuedAt!)));
    const pub = await importFleetPublicKey(await Deno.readTextFile(`${dir}/${PUBLIC_KEY_FILE}`));
    assert.equal((await verifyManifestSignature(manifest, [pub])).keyId, manifest.keyId);

    await Deno.writeTextFile(`${dir}/m.json`, ctx.out.join(""));
    const good = context();
    const args = ["verify", "--manifest", `${dir}/m.json`, "--public-key", `${dir}/${PUBLIC_KEY_FILE}`];
    assert.equal(await release([...args, "--artifact", artifact], good), 0);
    assert.match(good.out.join(""), /version 1\.4\.0 signed by key [0-9a-f]{16}; .* matches its size and sha256/);
    bytes[0] ^= 1;
    await Deno.writeFile(artifact, bytes);
    const bad = context();
    assert.equal(await release([...args, "--artifact", artifact], bad), 1);
    assert.match(bad.err.join(""), /hashes to [0-9a-f]{64}, the manifest says/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("qeil release sign names a bad version, URL or key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-release-" });
  try {
    await release(["keygen", "--out", dir]);
    await Deno.writeTextFile(`${dir}/a`, "artifact");
    const base = ["sign", "--key", `${dir}/${PRIVATE_KEY_FILE}`, "--artifact", `${dir}/a`];
    await assert.rejects(
      release([...base, "--version", "1.4", "--url", "https://x/a"]),
      /--version must be a semantic/,
    );
    await assert.rejects(release([...base, "--version", "1.4.0", "--url", "ftp://x/a"]), /artifactUrl must be an http/);
    await assert.rejects(
      release([
        "sign",
        "--key",
        `${dir}/${PUBLIC_KEY_FILE}`,
        "--artifact",
        `${dir}/a`,
        "--version",
        "1.0.0",
        "--url",
        "https://x/a",
      ]),
      /--key .*expected PKCS#8 PEM or an Ed25519 JWK/,
    );
    await assert.rejects(release(["frobnicate"]), /unknown subcommand "frobnicate"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
