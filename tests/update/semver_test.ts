import assert from "node:assert/strict";
import { compareSemver, isSemver, parseSemver } from "../../src/update/mod.ts";

Deno.test("parseSemver() reads pre-release and build parts", () => {
  assert.deepEqual(parseSemver("1.2.3-rc.1+build.5"), {
    major: 1,
    minor: 2,
    patch: 3,
    prerelease: ["rc", 1],
    build: ["build", "5"],
  });
});

Deno.test("parseSemver() refuses leading zeros, missing parts and prefixes, naming the text", () => {
  for (const bad of ["1.2", "01.2.3", "v1.2.3", "1.2.3-", "1.2.3-01", ""]) {
    assert.equal(isSemver(bad), false, bad);
    assert.throws(() => parseSemver(bad), (e: Error) => e instanceof SyntaxError && e.message.includes(`"${bad}"`));
  }
});

Deno.test("compareSemver() follows semver.org precedence", () => {
  // The ordering example of semver.org section 11.
  const ordered = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "2.0.0",
    "10.0.0",
  ];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      assert.equal(compareSemver(ordered[i], ordered[j]), Math.sign(i - j), `${ordered[i]} vs ${ordered[j]}`);
    }
  }
  assert.equal(compareSemver("1.0.0+a", "1.0.0+b"), 0, "build metadata does not order");
});
