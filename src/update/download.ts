/**
 * Artifact download with a size limit and a deadline. The body is streamed to
 * a file and hashed on the way, so a device never holds the artifact in
 * memory; the transfer is cut as soon as it exceeds the declared size, and a
 * body that ends early (or breaks) is reported as truncated.
 */
import { type Clock, systemClock } from "../core/mod.ts";
import { createHash } from "node:crypto";
import { failureReason, updateFailure } from "./failure.ts";

/** Options of `downloadArtifact`. */
export interface DownloadOptions {
  url: string;
  /** Where the artifact is written (created with mode 0600, replaced if present). */
  destPath: string;
  /** The size the manifest declares; more is refused, less is truncated. */
  expectedBytes: number;
  /** Hard limit on the artifact size in bytes; checked before connecting. */
  maxBytes: number;
  /** Deadline for the whole transfer (connect, headers and body). */
  timeoutMs: number;
  /** Clock for the deadline. @default systemClock */
  clock?: Clock;
  /** Aborts the transfer (e.g. service shutdown); rejects with reason "Aborted". */
  signal?: AbortSignal;
  /** Called after each chunk with the bytes received so far. */
  onProgress?: (receivedBytes: number) => void;
}

/** A finished download. */
export interface DownloadResult {
  bytes: number;
  /** Lower-case hex SHA-256 of what was written. */
  sha256: string;
}

/**
 * Downloads `url` to `destPath`. On any failure the partial file is removed
 * and an `UpdateError` is thrown whose reason is one of "TooLarge",
 * "Unreachable", "HttpStatus", "Timeout", "Truncated", "Oversize", "Aborted", "Storage".
 */
export async function downloadArtifact(options: DownloadOptions): Promise<DownloadResult> {
  const { url, destPath, expectedBytes, maxBytes, timeoutMs } = options;
  const clock = options.clock ?? systemClock;
  if (expectedBytes > maxBytes) {
    throw updateFailure(
      "TooLarge",
      `download ${url}: the manifest declares ${expectedBytes} bytes, above the limit of ${maxBytes} bytes`,
      { details: { expectedBytes, maxBytes } },
    );
  }
  const controller = new AbortController();
  let timedOut = false;
  const stopTimer = new AbortController();
  clock.sleep(timeoutMs, stopTimer.signal).then(() => {
    timedOut = true;
    controller.abort(updateFailure("Timeout", `download ${url}: no complete artifact within ${timeoutMs} ms`));
  }, () => {/* the timer was cancelled because the download ended first */});
  const onCallerAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onCallerAbort, { once: true });
  if (options.signal?.aborted) onCallerAbort();

  const classify = (error: unknown, fallback: () => Error): Error => {
    if (failureReason(error) !== undefined) return error as Error;
    if (timedOut) return controller.signal.reason as Error;
    if (options.signal?.aborted) {
      return updateFailure("Aborted", `download ${url}: aborted`, { cause: options.signal.reason });
    }
    return fallback();
  };

  let file: Deno.FsFile | undefined;
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal, redirect: "follow" });
    } catch (error) {
      throw classify(error, () => updateFailure("Unreachable", `download ${url}: cannot connect`, { cause: error }));
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw updateFailure("HttpStatus", `download ${url}: HTTP ${response.status} ${response.statusText}`, {
        details: { status: response.status },
      });
    }
    const declared = response.headers.get("content-length");
    if (declared !== null && /^\d+$/.test(declared)) {
      const declaredBytes = Number(declared);
      if (declaredBytes > expectedBytes) {
        await response.body?.cancel();
        throw updateFailure(
          "Oversize",
          `download ${url}: the server announces ${declaredBytes} bytes, the manifest ${expectedBytes}`,
          { details: { declaredBytes, expectedBytes } },
        );
      }
      if (declaredBytes < expectedBytes) {
        await response.body?.cancel();
        throw updateFailure(
          "Truncated",
          `download ${url}: the server announces ${declaredBytes} bytes, the manifest ${expectedBytes}`,
          { details: { declaredBytes, expectedBytes } },
        );
      }
    }
    if (!response.body) throw updateFailure("Truncated", `download ${url}: the response has no body`);

    file = await Deno.open(destPath, { write: true, create: true, truncate: true, mode: 0o600 });
    const hash = createHash("sha256");
    let received = 0;
    const reader = response.body.getReader();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw classify(error, () =>
          updateFailure(
            "Truncated",
            `download ${url}: the connection broke after ${received} of ${expectedBytes} bytes`,
            { cause: error, details: { receivedBytes: received, expectedBytes } },
          ));
      }
      if (chunk.done) break;
      received += chunk.value.length;
      if (received > expectedBytes) {
        await reader.cancel().catch(() => {/* the body is being discarded anyway */});
        throw updateFailure(
          "Oversize",
          `download ${url}: received more than the ${expectedBytes} bytes the manifest declares`,
          { details: { receivedBytes: received, expectedBytes } },
        );
      }
      hash.update(chunk.value);
      let written = 0;
      while (written < chunk.value.length) written += await file.write(chunk.value.subarray(written));
      options.onProgress?.(received);
    }
    if (received < expectedBytes) {
      throw updateFailure(
        "Truncated",
        `download ${url}: the body ended after ${received} of ${expectedBytes} bytes`,
        { details: { receivedBytes: received, expectedBytes } },
      );
    }
    await file.sync();
    return { bytes: received, sha256: hash.digest("hex") };
  } catch (error) {
    file?.close();
    file = undefined;
    await Deno.remove(destPath).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    throw classify(
      error,
      () =>
        updateFailure("Storage", `download ${url}: cannot write ${destPath}`, {
          cause: error,
          details: { path: destPath },
        }),
    );
  } finally {
    file?.close();
    stopTimer.abort();
    options.signal?.removeEventListener("abort", onCallerAbort);
  }
}
