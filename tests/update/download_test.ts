import assert from "node:assert/strict";
import { ManualClock } from "../../src/core/mod.ts";
import { downloadArtifact, type DownloadOptions, failureReason } from "../../src/update/mod.ts";
import { closedPortUrl, sha256Hex, startCuttingServer, startServer } from "./helpers.ts";

const payload = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251);

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-download-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function opts(url: string, dir: string, extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return {
    url,
    destPath: `${dir}/artifact`,
    expectedBytes: payload.length,
    maxBytes: 1 << 20,
    timeoutMs: 10_000,
    ...extra,
  };
}

async function assertFails(promise: Promise<unknown>, reason: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (e: Error) => {
    assert.equal(failureReason(e), reason, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

async function assertNoFile(path: string): Promise<void> {
  await assert.rejects(Deno.stat(path), Deno.errors.NotFound, `${path} must not be left behind`);
}

Deno.test("downloadArtifact() streams the body to a private file and returns its size and sha256", async () => {
  await withDir(async (dir) => {
    await using server = startServer({ "/a": () => new Response(payload) });
    const progress: number[] = [];
    const result = await downloadArtifact(opts(server.url("/a"), dir, { onProgress: (n) => progress.push(n) }));
    assert.deepEqual(result, { bytes: payload.length, sha256: sha256Hex(payload) });
    assert.deepEqual(await Deno.readFile(`${dir}/artifact`), payload);
    assert.equal((await Deno.stat(`${dir}/artifact`)).mode! & 0o777, 0o600);
    assert.equal(progress.at(-1), payload.length);
  });
});

Deno.test("downloadArtifact() reports a connection cut before the announced length as truncated", async () => {
  await withDir(async (dir) => {
    await using server = startCuttingServer(payload.subarray(0, 50_000), payload.length);
    await assertFails(downloadArtifact(opts(server.url, dir)), "Truncated", /broke after \d+ of 200000 bytes/);
    await assertNoFile(`${dir}/artifact`);
  });
});

Deno.test("downloadArtifact() refuses a server that announces fewer or more bytes than the manifest", async () => {
  await withDir(async (dir) => {
    await using server = startServer({
      "/short": () => new Response(payload.subarray(0, 1000)),
      "/long": () => new Response(new Uint8Array(payload.length + 1)),
    });
    await assertFails(downloadArtifact(opts(server.url("/short"), dir)), "Truncated", /announces 1000 bytes/);
    await assertFails(downloadArtifact(opts(server.url("/long"), dir)), "Oversize", /announces 200001 bytes/);
    await assertNoFile(`${dir}/artifact`);
  });
});

Deno.test("downloadArtifact() cuts a body without a length as soon as it exceeds the declared size", async () => {
  await withDir(async (dir) => {
    let chunksPulled = 0;
    await using server = startServer({
      "/endless": () =>
        new Response(
          new ReadableStream({
            pull(controller) {
              chunksPulled++;
              controller.enqueue(payload.subarray(0, 64 * 1024));
            },
          }),
        ),
    });
    await assertFails(downloadArtifact(opts(server.url("/endless"), dir)), "Oversize");
    await assertNoFile(`${dir}/artifact`);
    assert.ok(chunksPulled < 100, `the server was drained for ${chunksPulled} chunks`);
  });
});

Deno.test("downloadArtifact() refuses a declared size above the limit without connecting", async () => {
  await withDir(async (dir) => {
    await using server = startServer({ "/a": () => new Response(payload) });
    await assertFails(
      downloadArtifact(opts(server.url("/a"), dir, { maxBytes: 1000 })),
      "TooLarge",
      /declares 200000 bytes, above the limit of 1000 bytes/,
    );
    assert.equal(server.hits.size, 0);
  });
});

Deno.test("downloadArtifact() reports HTTP errors and unreachable hosts", async () => {
  await withDir(async (dir) => {
    await using server = startServer({});
    await assertFails(downloadArtifact(opts(server.url("/missing"), dir)), "HttpStatus", /HTTP 404/);
    await assertFails(downloadArtifact(opts(await closedPortUrl("/a"), dir)), "Unreachable", /cannot connect/);
    await assertNoFile(`${dir}/artifact`);
  });
});

Deno.test("downloadArtifact() gives up at its deadline on the injected clock", async () => {
  await withDir(async (dir) => {
    await using server = startServer({
      "/slow": () =>
        new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(payload.subarray(0, 1000));
            },
            // Never more data: the transfer stalls until the client gives up.
          }),
        ),
    });
    const clock = new ManualClock();
    const download = downloadArtifact(opts(server.url("/slow"), dir, { clock, timeoutMs: 30_000 }));
    await server.nextRequest("/slow");
    await clock.advance(30_000);
    await assertFails(download, "Timeout", /within 30000 ms/);
    await assertNoFile(`${dir}/artifact`);
  });
});

Deno.test("downloadArtifact() stops when its signal aborts", async () => {
  await withDir(async (dir) => {
    await using server = startServer({
      "/slow": () =>
        new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(payload.subarray(0, 1000));
            },
          }),
        ),
    });
    const controller = new AbortController();
    const download = downloadArtifact(opts(server.url("/slow"), dir, { signal: controller.signal }));
    await server.nextRequest("/slow");
    controller.abort(new Error("service stopping"));
    await assertFails(download, "Aborted");
    await assertNoFile(`${dir}/artifact`);
  });
});
