import assert from "node:assert/strict";
import { compileTargets, DenortMissingError, findDenort } from "../../scripts/compile.ts";
import { elfMachine, hostTarget, pinnedDenoVersion, TARGETS } from "../../scripts/ship_lib.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const DENO_VERSION = await pinnedDenoVersion(ROOT);
const env = Deno.env.toObject();
const sources = await Promise.all(Object.values(TARGETS).map((t) => findDenort(t, DENO_VERSION, env)));
const missing = sources.flatMap((s) => (s.ok ? [] : [s.reason]));
const required = env.REQUIRE_DENO_COMPILE === "1";
if (missing.length > 0 && !required) {
  console.warn(`deno compile test skipped: ${missing.join(" | ")} (REQUIRE_DENO_COMPILE=1 fails instead)`);
}

Deno.test({
  name: "deno task compile builds x86_64 and aarch64 binaries with the service's permissions",
  ignore: missing.length > 0 && !required,
  async fn() {
    assert.deepEqual(missing, [], "REQUIRE_DENO_COMPILE=1 but no denort runtime is available");
    const out = await Deno.makeTempDir({ prefix: "qeil-compile-" });
    try {
      const built = await compileTargets({ outDir: out, log: () => {} });
      assert.deepEqual(built.map((b) => b.target), ["x86_64", "aarch64"]);
      for (const b of built) {
        assert.equal(await elfMachine(b.path), TARGETS[b.target as "x86_64" | "aarch64"].elfMachine, b.path);
      }
      // compileTargets() already ran the host binary's --version; run --help here too.
      const host = built.find((b) => b.target === hostTarget().name)!;
      const home = `${out}/home`;
      await Deno.mkdir(home);
      const help = await new Deno.Command(host.path, {
        args: ["--help"],
        clearEnv: true,
        env: { HOME: home, PATH: "/usr/bin:/bin" },
        stdout: "piped",
      }).output();
      assert.ok(help.success);
      assert.match(new TextDecoder().decode(help.stdout), /Usage: qeil <command>/);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test("deno task compile names each missing denort, where it looked, and exits 3", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "qeil-compile-" });
  try {
    const notElf = `${tmp}/not-denort`;
    await Deno.writeTextFile(notElf, "#!/bin/sh\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "compile", "--out", `${tmp}/out`],
      cwd: ROOT,
      clearEnv: true,
      env: { PATH: env.PATH ?? "/usr/bin:/bin", HOME: tmp, DENO_DIR: `${tmp}/deno-dir`, DENORT_BIN_AARCH64: notElf },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 3, stderr);
    const zip = (triple: string) => `${tmp}/deno-dir/dl/release/v${DENO_VERSION}/denort-${triple}.zip does not exist`;
    assert.ok(stderr.includes(`no denort ${DENO_VERSION} for x86_64-unknown-linux-gnu`), stderr);
    assert.ok(stderr.includes("$DENORT_BIN_X86_64 is not set"), stderr);
    assert.ok(stderr.includes(zip("x86_64-unknown-linux-gnu")), stderr);
    assert.ok(stderr.includes(`$DENORT_BIN_AARCH64=${notElf} is not an ELF binary`), stderr);
    assert.ok(stderr.includes(zip("aarch64-unknown-linux-gnu")), stderr);
    await assert.rejects(Deno.stat(`${tmp}/out`), Deno.errors.NotFound, "nothing may be built");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("findDenort() takes DENORT_BIN only for the architecture its ELF header names", async () => {
  const x64Deno = `${ROOT}.tools/node_modules/@deno/linux-x64-glibc/deno`;
  const viaGeneric = await findDenort(TARGETS.x86_64, DENO_VERSION, { DENORT_BIN: x64Deno });
  assert.deepEqual(viaGeneric, { ok: true, via: "env", variable: "DENORT_BIN", path: x64Deno });
  const wrongArch = await findDenort(TARGETS.aarch64, DENO_VERSION, { DENORT_BIN: x64Deno });
  assert.equal(wrongArch.ok, false);
  assert.match(!wrongArch.ok ? wrongArch.reason : "", /is an ELF binary for machine 62/);
  assert.ok(new DenortMissingError(["a", "b"]).message.includes("\n  a\n  b"));
});
