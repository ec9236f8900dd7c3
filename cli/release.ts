/**
 * `qeil release`: fleet signing keys and signed update manifests.
 *
 *   qeil release keygen --out DIR
 *   qeil release sign --key KEY --artifact FILE --version V --url URL [--out FILE]
 *   qeil release verify --manifest FILE --public-key FILE... [--artifact FILE]
 */
import { type Command, type CommandContext, type ParsedArgs, UsageError } from "./command.ts";
import { describeError, systemClock } from "../src/core/mod.ts";
import {
  failureReason,
  generateFleetKeyPair,
  hashFile,
  importFleetPrivateKey,
  importFleetPublicKeys,
  isSemver,
  parseSignedManifest,
  signManifest,
  verifyManifestSignature,
} from "../src/update/mod.ts";

/** File names `keygen` writes into `--out`. */
export const PRIVATE_KEY_FILE = "fleet-signing.key";
export const PUBLIC_KEY_FILE = "fleet-signing.pub";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function keygen(args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const out = args.requireString("out");
  const privatePath = `${out}/${PRIVATE_KEY_FILE}`;
  const publicPath = `${out}/${PUBLIC_KEY_FILE}`;
  if (!args.flag("force")) {
    for (const path of [privatePath, publicPath]) {
      if (await exists(path)) throw new UsageError(`${path} exists; pass --force to replace the key pair`);
    }
  }
  const pair = await generateFleetKeyPair();
  await Deno.mkdir(out, { recursive: true, mode: 0o700 });
  // Write the private key with mode 0600 from the start (no window where it is world-readable).
  await Deno.writeTextFile(privatePath, pair.privateKeyPem, { mode: 0o600 });
  await Deno.chmod(privatePath, 0o600);
  await Deno.writeTextFile(publicPath, pair.publicKeyPem, { mode: 0o644 });
  if (args.flag("json")) {
    ctx.stdout(
      JSON.stringify(
        { keyId: pair.keyId, privateKey: privatePath, publicKey: publicPath, publicKeyBase64: pair.publicKeyBase64 },
        null,
        2,
      ) + "\n",
    );
  } else {
    ctx.stdout(
      [
        `key id:      ${pair.keyId}`,
        `private key: ${privatePath} (mode 0600; keep it off devices)`,
        `public key:  ${publicPath}`,
        `for the device config (update.publicKeys): ${pair.publicKeyBase64}`,
        "",
      ].join("\n"),
    );
  }
  return 0;
}

async function sign(args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const keyPath = args.requireString("key");
  const artifact = args.requireString("artifact");
  const version = args.requireString("version");
  const url = args.requireString("url");
  if (!isSemver(version)) throw new UsageError(`--version must be a semantic version (1.2.3), got "${version}"`);
  let keyText: string;
  try {
    keyText = await Deno.readTextFile(keyPath);
  } catch (error) {
    throw new UsageError(`--key ${keyPath}: cannot read: ${describeError(error)}`);
  }
  const mode = (await Deno.stat(keyPath)).mode;
  if (mode !== null && (mode & 0o077) !== 0) {
    ctx.stderr(`qeil release sign: warning: ${keyPath} is readable by others (mode ${(mode & 0o777).toString(8)})\n`);
  }
  let key;
  try {
    key = await importFleetPrivateKey(keyText);
  } catch (error) {
    throw new UsageError(`--key ${keyPath}: ${describeError(error)}`);
  }
  let hashed;
  try {
    hashed = await hashFile(artifact, ctx.signal);
  } catch (error) {
    throw new UsageError(`--artifact ${artifact}: cannot read: ${describeError(error)}`);
  }
  let manifest;
  try {
    manifest = await signManifest({
      version,
      artifactUrl: url,
      sizeBytes: hashed.bytes,
      sha256: hashed.sha256,
      issuedAt: new Date(systemClock.nowMs()).toISOString(),
    }, key);
  } catch (error) {
    if (failureReason(error) === "BadManifest") throw new UsageError(describeError(error));
    throw error;
  }
  const text = JSON.stringify(manifest, null, 2) + "\n";
  const out = args.string("out");
  if (out === undefined) ctx.stdout(text);
  else {
    await Deno.writeTextFile(out, text);
    ctx.stderr(`wrote ${out}: version ${version}, ${hashed.bytes} bytes, sha256 ${hashed.sha256}, key ${key.keyId}\n`);
  }
  return 0;
}

async function verify(args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const manifestPath = args.requireString("manifest");
  const keyPaths = args.strings("public-key");
  if (keyPaths.length === 0) throw new UsageError("--public-key is required (repeat it for several fleet keys)");
  const keys = await importFleetPublicKeys(await Promise.all(keyPaths.map((p) => Deno.readTextFile(p)))).catch(
    (error) => {
      throw new UsageError(`--public-key: ${describeError(error)}`);
    },
  );
  const manifest = parseSignedManifest(await Deno.readTextFile(manifestPath));
  const problems: string[] = [];
  let signer: string | undefined;
  try {
    signer = (await verifyManifestSignature(manifest, keys)).keyId;
  } catch (error) {
    problems.push(describeError(error));
  }
  const artifact = args.string("artifact");
  if (artifact !== undefined) {
    const { bytes, sha256 } = await hashFile(artifact, ctx.signal);
    if (bytes !== manifest.sizeBytes) {
      problems.push(`${artifact} has ${bytes} bytes, the manifest ${manifest.sizeBytes}`);
    }
    if (sha256 !== manifest.sha256) {
      problems.push(`${artifact} hashes to ${sha256}, the manifest says ${manifest.sha256}`);
    }
  }
  if (problems.length > 0) {
    ctx.stderr(`qeil release verify: ${manifestPath} is NOT valid:\n  ${problems.join("\n  ")}\n`);
    return 1;
  }
  ctx.stdout(
    `${manifestPath}: version ${manifest.version} signed by key ${signer}${
      artifact === undefined ? "" : `; ${artifact} matches its size and sha256`
    }\n`,
  );
  return 0;
}

export const releaseCommand: Command = {
  name: "release",
  summary: "Make fleet signing keys and sign or check update manifests",
  usage: "keygen --out DIR | sign --key KEY --artifact FILE --version V --url URL [--out FILE] | " +
    "verify --manifest FILE --public-key FILE [--artifact FILE]",
  positionals: "SUBCOMMAND",
  description: `
keygen   writes an Ed25519 key pair: ${PRIVATE_KEY_FILE} (PKCS#8 PEM, mode 0600) and
         ${PUBLIC_KEY_FILE} (SPKI PEM), and prints the key id and the base64 public key
         for the devices' update.publicKeys.
sign     hashes the artifact (the release bundle tarball of \`deno task release --archive\`)
         and writes the signed manifest that MQTT cmd/update carries: version,
         artifactUrl, sizeBytes, sha256, issuedAt, keyId and signature.
verify   checks a manifest's signature against public keys, and optionally an artifact.`,
  options: {
    out: {
      type: "string",
      description: "keygen: folder for the key pair; sign: manifest file (default: stdout).",
      valueName: "PATH",
    },
    force: { type: "boolean", description: "keygen: replace an existing key pair." },
    key: { type: "string", description: "sign: private key file (PKCS#8 PEM or Ed25519 JWK).", valueName: "FILE" },
    artifact: { type: "string", description: "sign, verify: the artifact file.", valueName: "FILE" },
    version: { type: "string", description: "sign: semantic version of the artifact.", valueName: "V" },
    url: { type: "string", description: "sign: URL the devices download the artifact from.", valueName: "URL" },
    manifest: { type: "string", description: "verify: signed manifest file.", valueName: "FILE" },
    "public-key": {
      type: "string",
      multiple: true,
      description: "verify: public key file (SPKI PEM, JWK or base64); may repeat.",
      valueName: "FILE",
    },
    json: { type: "boolean", description: "keygen: print the result as JSON." },
  },
  async run(args, ctx) {
    const [sub, ...extra] = args.positionals;
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    switch (sub) {
      case "keygen":
        return await keygen(args, ctx);
      case "sign":
        return await sign(args, ctx);
      case "verify":
        return await verify(args, ctx);
      case undefined:
        throw new UsageError("a subcommand is required: keygen, sign or verify");
      default:
        throw new UsageError(`unknown subcommand "${sub}"; use keygen, sign or verify`);
    }
  },
};
