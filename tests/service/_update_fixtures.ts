/**
 * Fixtures of the service's fleet-update tests: a fleet key pair in the forms
 * the config and `qeil release sign` use, a real release-bundle tarball of a
 * newer version served by a real HTTP server on 127.0.0.1, and the folders a
 * device keeps (state, slots, factory install).
 */
import {
  generateFleetKeyPair,
  importFleetPrivateKey,
  type SignedManifest,
  signManifest,
} from "../../src/update/mod.ts";
import { buildBundleTarball, sha256Hex, startServer, type TestServer } from "../update/helpers.ts";

/** A fleet key pair: the base64 public key for `update.publicKeys`, and a signer. */
export interface FleetKeys {
  publicKeyBase64: string;
  sign(manifest: { version: string; artifactUrl: string; sizeBytes: number; sha256: string }): Promise<SignedManifest>;
}

export async function fleetKeys(): Promise<FleetKeys> {
  const pair = await generateFleetKeyPair();
  const privateKey = await importFleetPrivateKey(pair.privateKeyPem);
  return {
    publicKeyBase64: pair.publicKeyBase64,
    sign: (manifest) => signManifest({ ...manifest, issuedAt: new Date().toISOString() }, privateKey),
  };
}

/** A device's folders and an artifact server. */
export interface UpdateRig extends AsyncDisposable {
  dir: string;
  stateDir: string;
  slotsDir: string;
  factoryDir: string;
  keys: FleetKeys;
  server: TestServer;
  /** Path of the artifact on the server. */
  artifactPath: string;
  /** A manifest for the served artifact, signed by the fleet key. */
  signed(): Promise<SignedManifest>;
}

/** Serves a real release bundle of `version` (for this machine's architecture) and makes a fleet key. */
export async function updateRig(version: string): Promise<UpdateRig> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-service-update-" });
  const stateDir = `${dir}/state`;
  const factoryDir = `${dir}/factory`;
  await Deno.mkdir(`${factoryDir}/bin`, { recursive: true });
  const bytes = await buildBundleTarball(dir, version);
  const artifactPath = `/releases/qeil-${version}.tar.gz`;
  const server = startServer({ [artifactPath]: () => new Response(bytes) });
  const keys = await fleetKeys();
  return {
    dir,
    stateDir,
    slotsDir: `${stateDir}/slots`,
    factoryDir,
    keys,
    server,
    artifactPath,
    signed: () =>
      keys.sign({ version, artifactUrl: server.url(artifactPath), sizeBytes: bytes.length, sha256: sha256Hex(bytes) }),
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
