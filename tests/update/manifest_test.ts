import assert from "node:assert/strict";
import {
  canonicalJson,
  canonicalManifestBytes,
  failureReason,
  fromBase64,
  generateFleetKeyPair,
  importFleetPrivateKey,
  importFleetPublicKey,
  importFleetPublicKeys,
  manifestId,
  parseSignedManifest,
  signManifest,
  type UpdateManifest,
  verifyManifestSignature,
} from "../../src/update/mod.ts";

const base: UpdateManifest = {
  version: "1.2.0",
  artifactUrl: "https://updates.example.com/qeil-1.2.0-aarch64.tar.gz",
  sizeBytes: 123_456,
  sha256: "a".repeat(64),
  issuedAt: "2026-03-01T12:00:00Z",
};

Deno.test("canonicalJson() sorts keys at every depth and drops whitespace and undefined members", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [1, "x", null], c: true }, u: undefined }),
    '{"a":{"c":true,"d":[1,"x",null]},"b":1}',
  );
  assert.throws(() => canonicalJson({ x: Number.NaN }), TypeError);
});

Deno.test("canonicalManifestBytes() excludes the signature and ignores key order", () => {
  const reordered = Object.fromEntries([...Object.entries(base).reverse(), ["signature", "ignored"]]);
  assert.notEqual(JSON.stringify(reordered).slice(0, 12), JSON.stringify(base).slice(0, 12));
  assert.deepEqual(canonicalManifestBytes(reordered as UpdateManifest), canonicalManifestBytes(base));
  assert.equal(
    new TextDecoder().decode(canonicalManifestBytes(base)),
    `{"artifactUrl":"${base.artifactUrl}","issuedAt":"2026-03-01T12:00:00Z","sha256":"${base.sha256}",` +
      `"sizeBytes":123456,"version":"1.2.0"}`,
  );
});

Deno.test("signManifest() output verifies, also after a pretty-printed round trip", async () => {
  const pair = await generateFleetKeyPair();
  const signed = await signManifest(base, await importFleetPrivateKey(pair.privateKeyPem));
  assert.equal(signed.keyId, pair.keyId);
  assert.equal(fromBase64(signed.signature).length, 64);
  const travelled = parseSignedManifest(JSON.stringify(signed, null, 4));
  const key = await verifyManifestSignature(travelled, [await importFleetPublicKey(pair.publicKeyPem)]);
  assert.equal(key.keyId, pair.keyId);
  assert.equal(await manifestId(travelled), await manifestId(signed));
});

Deno.test("verifyManifestSignature() refuses any altered field", async () => {
  const pair = await generateFleetKeyPair();
  const keys = [await importFleetPublicKey(pair.publicKeyBase64)];
  const signed = await signManifest(base, await importFleetPrivateKey(pair.privateKeyPem));
  const changes = { version: "1.2.1", sizeBytes: 123_457, sha256: "b".repeat(64), issuedAt: "2026-03-02T12:00:00Z" };
  for (const [field, value] of Object.entries(changes)) {
    await assert.rejects(
      verifyManifestSignature({ ...signed, [field]: value }, keys),
      (e) => failureReason(e) === "BadSignature",
      field,
    );
  }
});

Deno.test("verifyManifestSignature() accepts either of two fleet keys during a rotation", async () => {
  const oldPair = await generateFleetKeyPair();
  const newPair = await generateFleetKeyPair();
  const keys = await importFleetPublicKeys([oldPair.publicKeyPem, newPair.publicKeyBase64]);
  for (const pair of [oldPair, newPair]) {
    const privateKey = await importFleetPrivateKey(pair.privateKeyPem);
    const signed = await signManifest(base, privateKey);
    assert.equal((await verifyManifestSignature(signed, keys)).keyId, pair.keyId);
    // Without a key id every configured key is tried.
    const anonymous = await signManifest(base, privateKey, { includeKeyId: false });
    assert.equal(anonymous.keyId, undefined);
    assert.equal((await verifyManifestSignature(anonymous, keys)).keyId, pair.keyId);
  }
  const retired = [keys[1]];
  const byOld = await signManifest(base, await importFleetPrivateKey(oldPair.privateKeyPem));
  await assert.rejects(verifyManifestSignature(byOld, retired), (e) => failureReason(e) === "UnknownKey");
});

Deno.test("importFleetPublicKey() reads PEM, JWK and raw base64 to the same key id", async () => {
  const pair = await generateFleetKeyPair();
  const priv = await importFleetPrivateKey(pair.privateKeyPem);
  const jwk = await crypto.subtle.exportKey("jwk", priv.privateKey);
  const fromJwk = await importFleetPublicKey(JSON.stringify(jwk));
  const fromPem = await importFleetPublicKey(pair.publicKeyPem);
  const fromRaw = await importFleetPublicKey(pair.publicKeyBase64);
  assert.deepEqual([fromJwk.keyId, fromPem.keyId, fromRaw.keyId, priv.keyId], Array(4).fill(pair.keyId));
  assert.equal((await importFleetPrivateKey(JSON.stringify(jwk))).keyId, pair.keyId);
});

Deno.test("importFleetPublicKeys() names the index and the expected forms of a bad key", async () => {
  const pair = await generateFleetKeyPair();
  await assert.rejects(
    importFleetPublicKeys([pair.publicKeyPem, "c2hvcnQ="]),
    (e: Error) => e instanceof SyntaxError && /public key 1: .*32 bytes, this base64 decodes to 5/.test(e.message),
  );
  await assert.rejects(
    importFleetPublicKey('{"kty":"EC","crv":"P-256"}'),
    (e: Error) => e instanceof SyntaxError && e.message.includes('kty "OKP"'),
  );
});

Deno.test("parseSignedManifest() names the offending field", () => {
  const signature = btoa(String.fromCharCode(...new Uint8Array(64)));
  const good = { ...base, signature };
  const cases: [Record<string, unknown>, string][] = [
    [{ ...good, version: "1.2" }, "version"],
    [{ ...good, artifactUrl: "ftp://x/y" }, "artifactUrl"],
    [{ ...good, artifactUrl: "not a url" }, "artifactUrl"],
    [{ ...good, sizeBytes: -1 }, "sizeBytes"],
    [{ ...good, sizeBytes: 1.5 }, "sizeBytes"],
    [{ ...good, sha256: "A".repeat(64) }, "sha256"],
    [{ ...good, issuedAt: "yesterday" }, "issuedAt"],
    [{ ...good, keyId: "xyz" }, "keyId"],
    [{ ...good, signature: "AAAA" }, "signature"],
    [{ ...good, extra: 1 }, "extra"],
    [(({ signature: _s, ...rest }) => rest)(good), "signature"],
  ];
  for (const [input, field] of cases) {
    assert.throws(
      () => parseSignedManifest(input),
      (e: Error & { details?: { field?: string } }) => failureReason(e) === "BadManifest" && e.details?.field === field,
      field,
    );
  }
  assert.deepEqual(parseSignedManifest(new TextEncoder().encode(JSON.stringify(good))), good);
});
