/**
 * The profile registry: lookup by id and detection from the device tree.
 * Profiles are data (see ../profile.ts); adding a board adds a file here.
 */
import { ConfigError } from "../../core/mod.ts";
import type { BoardProfile } from "../profile.ts";
import { generic } from "./generic.ts";
import { imx8mp } from "./imx8mp.ts";
import { jetsonOrinNano, jetsonOrinNanoRuntimes } from "./jetson_orin_nano.ts";
import { raspberryPi5 } from "./raspberry_pi_5.ts";
import { rk3588, rk3588Runtimes } from "./rk3588.ts";
import type { RuntimeFamilies } from "./runtimes.ts";

export { type GenericPolicy, specialiseGeneric } from "./generic.ts";
export { priorsForRuntimes, type RuntimeEfficiencyPrior, type RuntimeFamilies, type UnitRuntimes } from "./runtimes.ts";

/** Every profile, specific boards first and `generic` last. */
const PROFILES: readonly BoardProfile[] = [rk3588, jetsonOrinNano, raspberryPi5, imx8mp, generic];

/** All board profiles (`generic` last). */
export function listProfiles(): readonly BoardProfile[] {
  return PROFILES;
}

/**
 * The profile with this id.
 * @throws ConfigError naming the known ids when there is none (details.field `board`).
 */
export function getProfile(id: string): BoardProfile {
  const profile = PROFILES.find((p) => p.id === id);
  if (!profile) {
    throw new ConfigError(
      `unknown board profile "${id}"; known profiles: ${PROFILES.map((p) => p.id).join(", ")}`,
      { details: { field: "board" } },
    );
  }
  return profile;
}

/** Runtime families with measured efficiencies, per profile id (boards without measurements have none). */
const RUNTIMES: Readonly<Record<string, RuntimeFamilies>> = {
  [rk3588.id]: rk3588Runtimes,
  [jetsonOrinNano.id]: jetsonOrinNanoRuntimes,
};

/**
 * The runtime families whose achieved efficiencies a profile knows, per unit
 * (see runtimes.ts); empty for a profile without measurements.
 */
export function runtimeFamilies(profileId: string): RuntimeFamilies {
  return RUNTIMES[getProfile(profileId).id] ?? {};
}

/**
 * Picks the profile for a board from its device tree: the first `compatible`
 * entry (most specific first, as the kernel lists them) that a profile claims,
 * else the first profile whose model pattern occurs in `model`, else `generic`.
 */
export function detectProfile(compatible: readonly string[], model: string): BoardProfile {
  for (const entry of compatible) {
    const match = PROFILES.find((p) => p.compatible.includes(entry));
    if (match) return match;
  }
  const lowerModel = model.toLowerCase();
  if (lowerModel !== "") {
    const match = PROFILES.find((p) => p.modelPatterns.some((pattern) => lowerModel.includes(pattern)));
    if (match) return match;
  }
  return generic;
}
