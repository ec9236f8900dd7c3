/**
 * Fleet signing keys (Ed25519 through WebCrypto): generation, import from the
 * usual text forms, and stable key ids. The fleet may configure several public
 * keys at once so keys can be rotated without a flag day.
 */

/** A configured fleet public key. */
export interface FleetPublicKey {
  /** First 16 hex digits of the SHA-256 of the raw 32-byte public key. */
  keyId: string;
  publicKey: CryptoKey;
}

/** A fleet private key, for signing manifests. */
export interface FleetPrivateKey {
  keyId: string;
  privateKey: CryptoKey;
}

/** A freshly generated key pair, in the text forms `keygen` writes. */
export interface GeneratedFleetKeyPair {
  keyId: string;
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  privateKeyPem: string;
  /** SPKI PEM (`-----BEGIN PUBLIC KEY-----`). */
  publicKeyPem: string;
  /** The raw 32-byte public key in base64: the short form for config files. */
  publicKeyBase64: string;
}

const ED25519 = { name: "Ed25519" } as const;
const RAW_PUBLIC_KEY_BYTES = 32;

/** Standard base64 of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Decodes standard or URL-safe base64 (padding optional). @throws SyntaxError */
export function fromBase64(text: string): Uint8Array {
  const normalized = text.trim().replace(/-/g, "+").replace(/_/g, "/");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(normalized)) throw new SyntaxError("decode base64: invalid characters");
  const padded = normalized.padEnd(Math.ceil(normalized.length / 4) * 4, "=");
  let binary: string;
  try {
    binary = atob(padded);
  } catch (error) {
    throw new SyntaxError("decode base64: malformed input", { cause: error });
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function pemBody(text: string, label: string): Uint8Array | undefined {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`);
  const m = re.exec(text);
  return m ? fromBase64(m[1].replace(/\s+/g, "")) : undefined;
}

function toPem(bytes: Uint8Array, label: string): string {
  const lines = toBase64(bytes).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The key id of a raw 32-byte Ed25519 public key. */
export async function fleetKeyId(rawPublicKey: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", rawPublicKey as Uint8Array<ArrayBuffer>));
  return toHex(digest.subarray(0, 8));
}

async function rawOf(publicKey: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey("raw", publicKey));
}

/** Generates a new Ed25519 fleet key pair. */
export async function generateFleetKeyPair(): Promise<GeneratedFleetKeyPair> {
  const pair = await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const raw = await rawOf(pair.publicKey);
  return {
    keyId: await fleetKeyId(raw),
    privateKeyPem: toPem(pkcs8, "PRIVATE KEY"),
    publicKeyPem: toPem(spki, "PUBLIC KEY"),
    publicKeyBase64: toBase64(raw),
  };
}

function parseJwk(text: string): JsonWebKey | undefined {
  if (!text.trim().startsWith("{")) return undefined;
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError("import key: text starts with { but is not valid JSON", { cause: error });
  }
  if (typeof jwk !== "object" || jwk === null) throw new SyntaxError("import key: JWK is not an object");
  const { kty, crv } = jwk as JsonWebKey;
  if (kty !== "OKP" || crv !== "Ed25519") {
    throw new SyntaxError(`import key: JWK must have kty "OKP" and crv "Ed25519", got kty "${kty}" crv "${crv}"`);
  }
  return jwk as JsonWebKey;
}

/**
 * Imports a fleet public key from SPKI PEM, an Ed25519 JWK (JSON), or the
 * base64 of the raw 32 bytes. @throws SyntaxError saying which form was expected
 */
export async function importFleetPublicKey(text: string): Promise<FleetPublicKey> {
  let publicKey: CryptoKey;
  try {
    const spki = pemBody(text, "PUBLIC KEY");
    const jwk = spki ? undefined : parseJwk(text);
    if (spki) {
      publicKey = await crypto.subtle.importKey("spki", spki as Uint8Array<ArrayBuffer>, ED25519, true, ["verify"]);
    } else if (jwk) {
      const { d: _private, key_ops: _ops, ...pub } = jwk;
      publicKey = await crypto.subtle.importKey("jwk", pub, ED25519, true, ["verify"]);
    } else {
      const raw = fromBase64(text);
      if (raw.length !== RAW_PUBLIC_KEY_BYTES) {
        throw new SyntaxError(`a raw Ed25519 public key has 32 bytes, this base64 decodes to ${raw.length}`);
      }
      publicKey = await crypto.subtle.importKey("raw", raw as Uint8Array<ArrayBuffer>, ED25519, true, ["verify"]);
    }
  } catch (error) {
    if (error instanceof SyntaxError && error.message.startsWith("import key")) throw error;
    throw new SyntaxError(
      "import public key: expected SPKI PEM, an Ed25519 JWK or base64 of 32 raw bytes: " +
        (error instanceof Error ? error.message : String(error)),
      { cause: error },
    );
  }
  return { keyId: await fleetKeyId(await rawOf(publicKey)), publicKey };
}

/** Imports several public keys; a bad one throws a SyntaxError naming its index. */
export async function importFleetPublicKeys(texts: readonly string[]): Promise<FleetPublicKey[]> {
  const keys: FleetPublicKey[] = [];
  for (const [i, text] of texts.entries()) {
    try {
      keys.push(await importFleetPublicKey(text));
    } catch (error) {
      throw new SyntaxError(`public key ${i}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
  }
  return keys;
}

/**
 * Imports a fleet private key from PKCS#8 PEM or an Ed25519 JWK with `d`.
 * @throws SyntaxError saying which form was expected
 */
export async function importFleetPrivateKey(text: string): Promise<FleetPrivateKey> {
  let privateKey: CryptoKey;
  try {
    const pkcs8 = pemBody(text, "PRIVATE KEY");
    if (pkcs8) {
      privateKey = await crypto.subtle.importKey("pkcs8", pkcs8 as Uint8Array<ArrayBuffer>, ED25519, true, ["sign"]);
    } else {
      const jwk = parseJwk(text);
      if (!jwk || typeof jwk.d !== "string") throw new SyntaxError("no PKCS#8 PEM block and no JWK with a private d");
      privateKey = await crypto.subtle.importKey("jwk", jwk, ED25519, true, ["sign"]);
    }
  } catch (error) {
    if (error instanceof SyntaxError && error.message.startsWith("import key")) throw error;
    throw new SyntaxError(
      "import private key: expected PKCS#8 PEM or an Ed25519 JWK: " +
        (error instanceof Error ? error.message : String(error)),
      { cause: error },
    );
  }
  // The JWK export of a private key carries its public half in `x`.
  const { x } = await crypto.subtle.exportKey("jwk", privateKey);
  if (typeof x !== "string") throw new SyntaxError("import private key: cannot derive its public key");
  return { keyId: await fleetKeyId(fromBase64(x)), privateKey };
}
