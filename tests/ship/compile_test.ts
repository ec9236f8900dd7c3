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

/** The permission flags and script of the `compile` task in deno.json. */
async function compileTask(): Promise<{ flags: string[]; script: string }> {
  const task: string = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks.compile;
  const words = task.split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "run"], task);
  const script = words.find((w) => w.endsWith(".ts"));
  assert.ok(script, `no script in the compile task: ${task}`);
  return { flags: words.slice(2, words.indexOf(script)), script };
}

Deno.test("deno task compile names each missing denort, where it looked, and exits 3", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "qeil-compile-" });
  try {
    const notElf = `${tmp}/not-denort`;
    await Deno.writeTextFile(notElf, "#!/bin/sh\n");
    // The task's own permissions and script. --no-config: the script imports no npm package, and the
    // empty DENO_DIR (where compile.ts must look for denort) would otherwise make Deno fetch them all.
    const { flags, script } = await compileTask();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", ...flags, script, "--out", `${tmp}/out`],
      cwd: ROOT,
      clearEnv: true,
      env: {
        PATH: env.PATH ?? "/usr/bin:/bin",
        HOME: tmp,
        DENO_DIR: `${tmp}/deno-dir`,
        DENO_NO_UPDATE_CHECK: "1",
        DENORT_BIN_AARCH64: notElf,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 3, stderr);
    const lines = stderr.split("\n");
    const reason = (triple: string) => {
      const line = lines.find((l) => l.startsWith(`  no denort ${DENO_VERSION} for ${triple} `));
      assert.ok(line, `no line for ${triple} in:\n${stderr}`);
      return line;
    };
    const zip = (triple: string) => `${tmp}/deno-dir/dl/release/v${DENO_VERSION}/denort-${triple}.zip does not exist`;
    assert.ok(lines.some((l) => l === "compile: deno compile needs a denort runtime:"), stderr);
    const x64 = reason("x86_64-unknown-linux-gnu");
    assert.ok(x64.includes("$DENORT_BIN_X86_64 is not set; $DENORT_BIN is not set; "), x64);
    assert.ok(x64.includes(zip("x86_64-unknown-linux-gnu")), x64);
    assert.ok(x64.includes("Set DENORT_BIN_X86_64 to a denort binary"), x64);
    const arm = reason("aarch64-unknown-linux-gnu");
    assert.ok(arm.includes(`$DENORT_BIN_AARCH64=${notElf} is not an ELF binary`), arm);
    assert.ok(arm.includes(zip("aarch64-unknown-linux-gnu")), arm);
    await assert.rejects(Deno.stat(`${tmp}/out`), Deno.errors.NotFound, "nothing may be built");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** A file holding only an ELF header for `machine` (enough for the e_machine check). */
async function fakeElf(path: string, machine: number, byteOrder: "little" | "big"): Promise<string> {
  const head = new Uint8Array(64);
  head.set([0x7f, 0x45, 0x4c, 0x46, 2, /* ELFCLASS64 */ byteOrder === "little" ? 1 : 2, 1 /* EV_CURRENT */]);
  new DataView(head.buffer).setUint16(18, machine, byteOrder === "little");
  await Deno.writeFile(path, head);
  return path;
}

Deno.test("findDenort() takes DENORT_BIN only for the architecture its ELF header names", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "qeil-denort-" });
  try {
    // This Deno is an ELF binary of the host; the other target gets a header written here.
    const host = hostTarget();
    const other = Object.values(TARGETS).find((t) => t.name !== host.name)!;
    const hostDeno = Deno.execPath();
    assert.equal(await elfMachine(hostDeno), host.elfMachine);
    const otherElf = await fakeElf(`${tmp}/denort-${other.name}`, other.elfMachine, "little");
    const otherBigEndian = await fakeElf(`${tmp}/denort-${other.name}-be`, other.elfMachine, "big");

    for (const [target, path, wrong] of [[host, hostDeno, other], [other, otherElf, host]] as const) {
      const found = await findDenort(target, DENO_VERSION, { DENORT_BIN: path });
      assert.deepEqual(found, { ok: true, via: "env", variable: "DENORT_BIN", path });
      const wrongArch = await findDenort(wrong, DENO_VERSION, { DENORT_BIN: path });
      assert.equal(wrongArch.ok, false);
      assert.ok(
        !wrongArch.ok &&
          wrongArch.reason.includes(`$DENORT_BIN=${path} is an ELF binary for machine ${target.elfMachine}`),
        !wrongArch.ok ? wrongArch.reason : "",
      );
    }
    assert.equal(await elfMachine(otherBigEndian), other.elfMachine);

    // The per-target variable wins over DENORT_BIN; a wrong one is reported and DENORT_BIN still used.
    const perTarget = (t: typeof host) => `DENORT_BIN_${t.name.toUpperCase()}`;
    const both = await findDenort(other, DENO_VERSION, { [perTarget(other)]: otherElf, DENORT_BIN: hostDeno });
    assert.deepEqual(both, { ok: true, via: "env", variable: perTarget(other), path: otherElf });
    const fallback = await findDenort(host, DENO_VERSION, { [perTarget(host)]: otherElf, DENORT_BIN: hostDeno });
    assert.deepEqual(fallback, { ok: true, via: "env", variable: "DENORT_BIN", path: hostDeno });

    // Deno's cache: DENO_DIR, else XDG_CACHE_HOME/deno, else HOME/.cache/deno.
    const zip = `${tmp}/xdg/deno/dl/release/v${DENO_VERSION}/denort-${other.triple}.zip`;
    await Deno.mkdir(zip.slice(0, zip.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(zip, new Uint8Array([0x50, 0x4b, 3, 4]));
    const cached = await findDenort(other, DENO_VERSION, { XDG_CACHE_HOME: `${tmp}/xdg`, HOME: `${tmp}/home` });
    assert.deepEqual(cached, { ok: true, via: "cache", denoDir: `${tmp}/xdg/deno`, path: zip });
    const nowhere = await findDenort(other, DENO_VERSION, {});
    assert.ok(!nowhere.ok && nowhere.reason.includes("no DENO_DIR, XDG_CACHE_HOME or HOME"));

    assert.ok(new DenortMissingError(["a", "b"]).message.includes("\n  a\n  b"));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
