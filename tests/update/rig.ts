/**
 * A device for the updater tests: temporary state, slot and factory folders,
 * a fleet key, a recording publisher and a manual clock, the boot count every
 * start begins with, and an update to 1.1.0 applied over the factory 1.0.0.
 */
import assert from "node:assert/strict";
import { fail as failed, ManualClock, ok } from "../../src/core/mod.ts";
import {
  type BootOutcome,
  countBootAttempt,
  createUpdater,
  type HealthCheck,
  type SignedManifest,
  type UpdaterOptions,
} from "../../src/update/mod.ts";
import { makeKeys, RecordingPublisher, signFor, type TestKeys } from "./helpers.ts";

export interface Rig extends AsyncDisposable {
  dir: string;
  slotsDir: string;
  stateDir: string;
  factoryDir: string;
  keys: TestKeys;
  publisher: RecordingPublisher;
  clock: ManualClock;
  options(currentVersion: string, extra?: Partial<UpdaterOptions>): UpdaterOptions;
  /** What a start of `version` does first (as `qeil serve` does): count itself. */
  boot(version: string): Promise<BootOutcome>;
}

export async function rig(): Promise<Rig> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-update-" });
  const factoryDir = `${dir}/factory`;
  await Deno.mkdir(`${factoryDir}/bin`, { recursive: true });
  const keys = await makeKeys();
  const publisher = new RecordingPublisher();
  const clock = new ManualClock(Date.parse("2026-03-01T12:00:00Z"));
  const slotsDir = `${dir}/slots`;
  const stateDir = `${dir}/state`;
  return {
    dir,
    slotsDir,
    stateDir,
    factoryDir,
    keys,
    publisher,
    clock,
    options: (currentVersion, extra = {}) => ({
      stateDir,
      slotsDir,
      factoryDir,
      currentVersion,
      publicKeys: [keys.publicKey],
      publisher,
      clock,
      healthGate: { timeoutMs: 30_000, intervalMs: 5_000, maxBootAttempts: 3 },
      ...extra,
    }),
    boot: (version) =>
      countBootAttempt({ stateDir, slotsDir, factoryDir, currentVersion: version, clock, maxBootAttempts: 3 }),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

export const healthy: HealthCheck = { name: "broker", check: () => Promise.resolve(ok(true)) };
export const unhealthy: HealthCheck = { name: "broker", check: () => Promise.resolve(failed("not connected")) };

/** Applies v1.1.0 over factory 1.0.0 and returns what was served. */
export async function installV110(
  r: Rig,
  server: { url(p: string): string },
  bytes: Uint8Array,
): Promise<SignedManifest> {
  const manifest = await signFor(r.keys, "1.1.0", server.url("/qeil-1.1.0.tar.gz"), bytes);
  const outcome = await createUpdater(r.options("1.0.0")).apply(JSON.stringify(manifest));
  assert.equal(outcome.kind, "restart-required");
  return manifest;
}
