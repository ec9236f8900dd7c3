/**
 * Semantic versions (semver.org 2.0.0): parsing and precedence. Update
 * manifests carry one; downgrades are refused by comparing them.
 */

/** A parsed semantic version. */
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  /** Dot-separated pre-release identifiers (`1.0.0-rc.1` -> `["rc", 1]`); empty for a release. */
  prerelease: readonly (string | number)[];
  /** Build metadata identifiers; ignored by precedence. */
  build: readonly string[];
}

// The regular expression suggested by semver.org, without the named groups.
const SEMVER_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** Parses `text` as a semantic version. @throws SyntaxError naming the text */
export function parseSemver(text: string): SemVer {
  const m = SEMVER_RE.exec(text);
  if (!m) throw new SyntaxError(`parse version: "${text}" is not a semantic version (MAJOR.MINOR.PATCH[-pre][+build])`);
  const numbers = [m[1], m[2], m[3]].map(Number);
  if (!numbers.every(Number.isSafeInteger)) throw new SyntaxError(`parse version: "${text}" has a part too large`);
  const prerelease = m[4] === undefined ? [] : m[4].split(".").map((id) => (/^\d+$/.test(id) ? Number(id) : id));
  return {
    major: numbers[0],
    minor: numbers[1],
    patch: numbers[2],
    prerelease,
    build: m[5] === undefined ? [] : m[5].split("."),
  };
}

/** True when `text` is a valid semantic version. */
export function isSemver(text: string): boolean {
  return SEMVER_RE.test(text);
}

function compareIdentifiers(a: string | number, b: string | number): number {
  if (typeof a === "number" && typeof b === "number") return Math.sign(a - b);
  // Numeric identifiers have lower precedence than alphanumeric ones.
  if (typeof a === "number") return -1;
  if (typeof b === "number") return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Semver precedence: -1 when `a` < `b`, 0 when equal (build metadata ignored),
 * 1 when `a` > `b`. Accepts parsed versions or strings.
 */
export function compareSemver(a: SemVer | string, b: SemVer | string): -1 | 0 | 1 {
  const x = typeof a === "string" ? parseSemver(a) : a;
  const y = typeof b === "string" ? parseSemver(b) : b;
  for (const key of ["major", "minor", "patch"] as const) {
    if (x[key] !== y[key]) return x[key] < y[key] ? -1 : 1;
  }
  // A release ranks above any of its pre-releases.
  if (x.prerelease.length === 0 || y.prerelease.length === 0) {
    return x.prerelease.length === y.prerelease.length ? 0 : x.prerelease.length === 0 ? 1 : -1;
  }
  const n = Math.min(x.prerelease.length, y.prerelease.length);
  for (let i = 0; i < n; i++) {
    const c = compareIdentifiers(x.prerelease[i], y.prerelease[i]);
    if (c !== 0) return c as -1 | 1;
  }
  return Math.sign(x.prerelease.length - y.prerelease.length) as -1 | 0 | 1;
}
