/**
 * Signed update manifests: strict parsing, canonical JSON, Ed25519 signing and
 * verification. The signature covers the canonical JSON of every field except
 * `signature` (keys sorted, no whitespace), so a manifest can be pretty-printed
 * or re-serialised in transit without breaking it.
 */
import { type FleetPrivateKey, type FleetPublicKey, fromBase64, toBase64, toHex } from "./keys.ts";
import { updateFailure } from "./failure.ts";
import { isSemver } from "./semver.ts";

/** What a fleet operator signs. */
export interface UpdateManifest {
  /** Semantic version of the artifact. */
  version: string;
  /** http(s) URL of the artifact (the release bundle tarball). */
  artifactUrl: string;
  /** Exact size of the artifact in bytes. */
  sizeBytes: number;
  /** Lower-case hex SHA-256 of the artifact. */
  sha256: string;
  /** ISO 8601 time of signing; lets devices refuse stale manifests. */
  issuedAt?: string;
  /** Id of the signing key (see `fleetKeyId`); without it every fleet key is tried. */
  keyId?: string;
}

/** A manifest with its signature: what travels on `cmd/update`. */
export interface SignedManifest extends UpdateManifest {
  /** Base64 of the 64-byte Ed25519 signature over `canonicalManifestBytes`. */
  signature: string;
}

const FIELDS: Record<keyof SignedManifest, "required" | "optional"> = {
  version: "required",
  artifactUrl: "required",
  sizeBytes: "required",
  sha256: "required",
  issuedAt: "optional",
  keyId: "optional",
  signature: "required",
};

const SIGNATURE_BYTES = 64;
const encoder = new TextEncoder();

/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, `undefined`
 * members dropped. Rejects values JSON cannot represent exactly.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${value} is not a finite number`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  throw new TypeError(`canonical JSON: cannot encode a ${typeof value}`);
}

/** The bytes that are signed: the canonical JSON of the manifest without `signature`. */
export function canonicalManifestBytes(manifest: UpdateManifest | SignedManifest): Uint8Array {
  const { signature: _signature, ...unsigned } = manifest as SignedManifest;
  return encoder.encode(canonicalJson(unsigned));
}

/** Hex SHA-256 of the canonical signed bytes: the identity used for replay protection. */
export async function manifestId(manifest: UpdateManifest | SignedManifest): Promise<string> {
  const bytes = canonicalManifestBytes(manifest) as Uint8Array<ArrayBuffer>;
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

function bad(field: string, message: string): never {
  throw updateFailure("BadManifest", `invalid update manifest: ${field} ${message}`, { details: { field } });
}

/**
 * Parses and validates a signed manifest from a JSON string, bytes or an
 * already parsed object. Unknown fields are refused (they would be signed but
 * ignored). @throws UpdateError with reason "BadManifest" and `details.field`
 */
export function parseSignedManifest(input: unknown): SignedManifest {
  let value = input;
  if (input instanceof Uint8Array) value = new TextDecoder().decode(input);
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch (error) {
      throw updateFailure("BadManifest", "invalid update manifest: not valid JSON", { cause: error });
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) bad("(root)", "must be a JSON object");
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!(key in FIELDS)) bad(key, "is not a manifest field");
  }
  for (const [key, presence] of Object.entries(FIELDS)) {
    if (presence === "required" && obj[key] === undefined) bad(key, "is missing");
  }
  const { version, artifactUrl, sizeBytes, sha256, issuedAt, keyId, signature } = obj;
  if (typeof version !== "string" || !isSemver(version)) {
    bad("version", `must be a semantic version, got ${q(version)}`);
  }
  if (typeof artifactUrl !== "string") bad("artifactUrl", "must be a string");
  let url: URL;
  try {
    url = new URL(artifactUrl);
  } catch {
    bad("artifactUrl", `must be an absolute URL, got ${q(artifactUrl)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    bad("artifactUrl", `must be an http or https URL, got ${q(artifactUrl)}`);
  }
  if (typeof sizeBytes !== "number" || !Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
    bad("sizeBytes", `must be a positive integer, got ${q(sizeBytes)}`);
  }
  if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) {
    bad("sha256", `must be 64 lower-case hex digits, got ${q(sha256)}`);
  }
  if (issuedAt !== undefined) {
    if (typeof issuedAt !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(issuedAt)) {
      bad("issuedAt", `must be an ISO 8601 date-time with zone, got ${q(issuedAt)}`);
    }
    if (!Number.isFinite(Date.parse(issuedAt))) bad("issuedAt", `is not a valid date, got ${q(issuedAt)}`);
  }
  if (keyId !== undefined && (typeof keyId !== "string" || !/^[0-9a-f]{16}$/.test(keyId))) {
    bad("keyId", `must be 16 lower-case hex digits, got ${q(keyId)}`);
  }
  if (typeof signature !== "string") bad("signature", "must be a base64 string");
  let signatureBytes: Uint8Array;
  try {
    signatureBytes = fromBase64(signature);
  } catch {
    bad("signature", "is not valid base64");
  }
  if (signatureBytes.length !== SIGNATURE_BYTES) {
    bad("signature", `must decode to ${SIGNATURE_BYTES} bytes, got ${signatureBytes.length}`);
  }
  return {
    version,
    artifactUrl,
    sizeBytes,
    sha256,
    ...(issuedAt === undefined ? {} : { issuedAt: issuedAt as string }),
    ...(keyId === undefined ? {} : { keyId: keyId as string }),
    signature,
  };
}

function q(value: unknown): string {
  return value === undefined ? "nothing" : JSON.stringify(value) ?? String(value);
}

/** Options of `signManifest`. */
export interface SignOptions {
  /**
   * Put the signing key's id in the manifest, so devices check only that key.
   * Without it devices try every fleet key. @default true
   */
  includeKeyId?: boolean;
}

/** Signs `manifest`; its `keyId` is set to the signing key's id unless told otherwise. */
export async function signManifest(
  manifest: UpdateManifest,
  key: FleetPrivateKey,
  options: SignOptions = {},
): Promise<SignedManifest> {
  const { keyId: _given, ...rest } = manifest;
  const unsigned: UpdateManifest = options.includeKeyId === false ? rest : { ...rest, keyId: key.keyId };
  const bytes = canonicalManifestBytes(unsigned) as Uint8Array<ArrayBuffer>;
  const signature = new Uint8Array(await crypto.subtle.sign("Ed25519", key.privateKey, bytes));
  // Round-trip through the parser so a signer can never emit what devices refuse.
  return parseSignedManifest({ ...unsigned, signature: toBase64(signature) });
}

/**
 * Verifies the signature of a parsed manifest against the fleet keys and
 * returns the key that verified it.
 * @throws UpdateError "UnknownKey" (its keyId is not configured) or "BadSignature"
 */
export async function verifyManifestSignature(
  manifest: SignedManifest,
  keys: readonly FleetPublicKey[],
): Promise<FleetPublicKey> {
  const candidates = manifest.keyId === undefined ? keys : keys.filter((k) => k.keyId === manifest.keyId);
  if (candidates.length === 0) {
    throw updateFailure(
      "UnknownKey",
      manifest.keyId === undefined
        ? "verify update manifest: no fleet public keys are configured"
        : `verify update manifest: key id ${manifest.keyId} is not among the configured fleet keys (${
          keys.map((k) => k.keyId).join(", ") || "none"
        })`,
      { details: { keyId: manifest.keyId } },
    );
  }
  const bytes = canonicalManifestBytes(manifest) as Uint8Array<ArrayBuffer>;
  const signature = fromBase64(manifest.signature) as Uint8Array<ArrayBuffer>;
  for (const key of candidates) {
    if (await crypto.subtle.verify("Ed25519", key.publicKey, signature, bytes)) return key;
  }
  throw updateFailure(
    "BadSignature",
    `verify update manifest: the signature of version ${manifest.version} does not verify with ${
      candidates.length === 1 ? `key ${candidates[0].keyId}` : `any of ${candidates.length} fleet keys`
    }`,
    { details: { keyId: manifest.keyId } },
  );
}
