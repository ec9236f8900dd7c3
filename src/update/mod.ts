/**
 * Signed fleet updates with A/B slots and rollback; imports core only and
 * touches the filesystem and the network (artifact downloads).
 *
 * `qeil serve` calls `countBootAttempt()` first thing at every start; the
 * service hands `cmd/update` payloads to `Updater.apply()`, calls
 * `Updater.onStart()` once per start and `Updater.announce()` at each start
 * and broker connection; `qeil release` signs manifests with
 * `signManifest()`; scripts/release.ts writes bundle manifests.
 */
export type { SemVer } from "./semver.ts";
export { compareSemver, isSemver, parseSemver } from "./semver.ts";
export type { UpdateFailureReason } from "./failure.ts";
export { failureReason, updateFailure } from "./failure.ts";
export type { FleetPrivateKey, FleetPublicKey, GeneratedFleetKeyPair } from "./keys.ts";
export {
  fleetKeyId,
  fromBase64,
  generateFleetKeyPair,
  importFleetPrivateKey,
  importFleetPublicKey,
  importFleetPublicKeys,
  toBase64,
  toHex,
} from "./keys.ts";
export type { SignedManifest, SignOptions, UpdateManifest } from "./manifest.ts";
export {
  canonicalJson,
  canonicalManifestBytes,
  manifestId,
  parseSignedManifest,
  signManifest,
  verifyManifestSignature,
} from "./manifest.ts";
export type { BundleCheck, BundleFile, BundleManifest } from "./bundle.ts";
export { BUNDLE_MANIFEST_FILE, describeBundleFiles, hashFile, verifyBundle, writeBundleManifest } from "./bundle.ts";
export type { DownloadOptions, DownloadResult } from "./download.ts";
export { downloadArtifact } from "./download.ts";
export type { SlotInfo, SlotName, SlotRef, SlotStoreOptions, SlotTrial } from "./slots.ts";
export { SlotStore } from "./slots.ts";
export type { LastUpdate, PendingUpdate, UpdatePhase, UpdateState } from "./state.ts";
export { UpdateStateFile } from "./state.ts";
export type { FileInstallerOptions, InstallContext, Installer, TarballInstallerOptions } from "./install.ts";
export { createFileInstaller, createTarballInstaller } from "./install.ts";
export type { UpdateFaultEvent, UpdatePublisher, UpdateStatusEvent, UpdateStep } from "./events.ts";
export type { OutboxContents, UpdateAnnouncement } from "./outbox.ts";
export { UpdateOutbox } from "./outbox.ts";
export type { BootCountOptions, BootOutcome } from "./boot.ts";
export { countBootAttempt } from "./boot.ts";
export type {
  AnnounceResult,
  ApplyOutcome,
  HealthCheck,
  HealthGateOptions,
  StartOutcome,
  Updater,
  UpdaterOptions,
} from "./updater.ts";
export { createUpdater } from "./updater.ts";
