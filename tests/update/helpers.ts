/**
 * Shared fixtures of the update tests: a real HTTP server on 127.0.0.1, real
 * release-bundle tarballs built with `tar`, a recording publisher, and a
 * snapshot of the slot directory to prove that a refused update changed nothing.
 */
import {
  generateFleetKeyPair,
  importFleetPrivateKey,
  importFleetPublicKey,
  type SignedManifest,
  signManifest,
  type UpdateFaultEvent,
  type UpdatePublisher,
  type UpdateStatusEvent,
  type UpdateStep,
  writeBundleManifest,
} from "../../src/update/mod.ts";
import type { FleetPrivateKey, FleetPublicKey } from "../../src/update/mod.ts";
import { createHash } from "node:crypto";

/** A handler per path; `hits` counts requests per path. */
export interface TestServer extends AsyncDisposable {
  url(path: string): string;
  hits: Map<string, number>;
  /** Resolves when the next request for `path` arrives. */
  nextRequest(path: string): Promise<void>;
}

export function startServer(routes: Record<string, (req: Request) => Response | Promise<Response>>): TestServer {
  const hits = new Map<string, number>();
  const waiters = new Map<string, (() => void)[]>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    for (const resolve of waiters.get(path) ?? []) resolve();
    waiters.delete(path);
    const route = routes[path];
    return route ? route(req) : new Response("not found", { status: 404 });
  });
  const port = (server.addr as Deno.NetAddr).port;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    hits,
    nextRequest: (path) =>
      new Promise((resolve) => {
        waiters.set(path, [...(waiters.get(path) ?? []), resolve]);
      }),
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/**
 * A raw HTTP/1.1 server that announces `announcedBytes` in Content-Length,
 * sends `body` and closes the connection: a transfer cut short on the wire.
 */
export function startCuttingServer(body: Uint8Array, announcedBytes: number): { url: string } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    for await (const conn of listener) {
      const buffer = new Uint8Array(16 * 1024);
      await conn.read(buffer); // the request; its content does not matter
      const head = `HTTP/1.1 200 OK\r\ncontent-length: ${announcedBytes}\r\nconnection: close\r\n\r\n`;
      for (const part of [new TextEncoder().encode(head), body]) {
        let written = 0;
        while (written < part.length) written += await conn.write(part.subarray(written));
      }
      conn.close();
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: `http://127.0.0.1:${port}/cut.tar.gz`,
    async [Symbol.asyncDispose]() {
      listener.close();
      await served.catch((error) => {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      });
    },
  };
}

/** A URL on 127.0.0.1 where nothing listens (a server was bound there and shut down). */
export async function closedPortUrl(path: string): Promise<string> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await Promise.resolve();
  return `http://127.0.0.1:${port}${path}`;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Builds a real release-bundle tarball for `version` (a launcher script and
 * MANIFEST.json, laid out like scripts/release.ts does) and returns its bytes.
 * `binScript` replaces the launcher (default: it prints `qeil <version>`);
 * `files` adds files at paths relative to the bundle root (`app/main.js`).
 */
export async function buildBundleTarball(
  workDir: string,
  version: string,
  options: { target?: string; tamper?: boolean; binScript?: string; files?: Record<string, string> } = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const name = `qeil-${version}-${options.target ?? Deno.build.arch}`;
  const root = `${workDir}/${name}`;
  await Deno.mkdir(`${root}/bin`, { recursive: true });
  const script = options.binScript ?? `#!/bin/sh\necho "qeil ${version}"\n`;
  await Deno.writeTextFile(`${root}/bin/qeil`, script, { mode: 0o755 });
  await Deno.chmod(`${root}/bin/qeil`, 0o755);
  await Deno.writeTextFile(`${root}/README`, `qeil ${version} test bundle\n`);
  for (const [path, text] of Object.entries(options.files ?? {})) {
    await Deno.mkdir(`${root}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, text);
  }
  await writeBundleManifest(root, {
    name: "qeil",
    version,
    target: options.target ?? Deno.build.arch,
    denoVersion: "2.9.5",
  });
  if (options.tamper) await Deno.writeTextFile(`${root}/README`, "changed after the manifest was written\n");
  const tarball = `${workDir}/${name}.tar.gz`;
  const out = await new Deno.Command("tar", { args: ["-czf", tarball, "-C", workDir, name], stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`tar failed: ${new TextDecoder().decode(out.stderr)}`);
  await Deno.remove(root, { recursive: true });
  return await Deno.readFile(tarball);
}

/** A fleet key pair ready for signing and verifying. */
export interface TestKeys {
  privateKey: FleetPrivateKey;
  publicKey: FleetPublicKey;
}

export async function makeKeys(): Promise<TestKeys> {
  const pair = await generateFleetKeyPair();
  return {
    privateKey: await importFleetPrivateKey(pair.privateKeyPem),
    publicKey: await importFleetPublicKey(pair.publicKeyPem),
  };
}

/** Signs a manifest for `bytes` served at `url`. */
export function signFor(
  keys: TestKeys,
  version: string,
  url: string,
  bytes: Uint8Array,
  extra: { issuedAt?: string; sizeBytes?: number; sha256?: string } = {},
): Promise<SignedManifest> {
  return signManifest({
    version,
    artifactUrl: url,
    sizeBytes: extra.sizeBytes ?? bytes.length,
    sha256: extra.sha256 ?? sha256Hex(bytes),
    ...(extra.issuedAt ? { issuedAt: extra.issuedAt } : {}),
  }, keys.privateKey);
}

/** Records every event; lets a test await a step. */
export class RecordingPublisher implements UpdatePublisher {
  readonly statuses: UpdateStatusEvent[] = [];
  readonly faults: UpdateFaultEvent[] = [];
  #consumed = new Map<UpdateStep, number>();
  #waiters: { step: UpdateStep; nth: number; resolve: (e: UpdateStatusEvent) => void }[] = [];

  status(event: UpdateStatusEvent): void {
    this.statuses.push(event);
    const count = this.statuses.filter((e) => e.step === event.step).length;
    const ready = this.#waiters.filter((w) => w.step === event.step && w.nth === count);
    this.#waiters = this.#waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve(event);
  }

  fault(event: UpdateFaultEvent): void {
    this.faults.push(event);
  }

  /**
   * Resolves with the next not yet awaited event of `step`, whether it was
   * already published or comes later (so a fast producer cannot be missed).
   */
  next(step: UpdateStep): Promise<UpdateStatusEvent> {
    const nth = (this.#consumed.get(step) ?? 0) + 1;
    this.#consumed.set(step, nth);
    const seen = this.statuses.filter((e) => e.step === step);
    if (seen.length >= nth) return Promise.resolve(seen[nth - 1]);
    return new Promise((resolve) => this.#waiters.push({ step, nth, resolve }));
  }

  steps(): UpdateStep[] {
    return this.statuses.map((e) => e.step);
  }
}

/** Everything under the slot directory: names, link targets and slot.json contents. */
export async function snapshotDir(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string, rel: string): Promise<void> {
    const entries: Deno.DirEntry[] = [];
    try {
      for await (const e of Deno.readDir(dir)) entries.push(e);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const path = `${rel}${e.name}`;
      if (e.isSymlink) out.push(`${path} -> ${await Deno.readLink(`${dir}/${e.name}`)}`);
      else if (e.isDirectory) {
        out.push(`${path}/`);
        await walk(`${dir}/${e.name}`, `${path}/`);
      } else out.push(`${path} ${sha256Hex(await Deno.readFile(`${dir}/${e.name}`)).slice(0, 12)}`);
    }
  }
  await walk(root, "");
  return out;
}
