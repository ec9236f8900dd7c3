import assert from "node:assert/strict";
import { buildRelease } from "../../scripts/release.ts";
import { appVersion, elfMachine, hostTarget, TARGETS } from "../../scripts/ship_lib.ts";
import { createTarballInstaller, verifyBundle } from "../../src/update/mod.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const STORIES = `${ROOT}../shared/data/models/stories260k`;

async function* walk(dir: string, rel = ""): AsyncGenerator<string> {
  for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) yield* walk(dir, path);
    else yield path;
  }
}

/** Runs the bundle's launcher with nothing of this machine's caches: empty HOME and DENO_DIR, a bare PATH. */
async function runBundle(bundleDir: string, home: string, args: string[]) {
  const out = await new Deno.Command(`${bundleDir}/bin/qeil`, {
    args,
    cwd: home,
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin", HOME: home, DENO_DIR: `${home}/deno-dir` },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("deno task release builds an offline bundle that runs qeil from its own runtime and packages", async () => {
  const target = hostTarget();
  const tmp = await Deno.makeTempDir({ prefix: "qeil-release-" });
  try {
    const result = await buildRelease({
      target,
      outDir: `${tmp}/out`,
      cacheDir: `${tmp}/cache`,
      archive: true,
      log: () => {},
    });
    const dir = result.bundleDir;
    const version = await appVersion(ROOT);
    assert.equal(dir, `${tmp}/out/qeil-${version}-${target.name}`);

    // Every file is in the manifest with its real hash (checked here with sha256sum, not our own code).
    const listed = new Map(result.manifest.files.map((f) => [f.path, f]));
    const onDisk: string[] = [];
    for await (const path of walk(dir)) if (path !== "MANIFEST.json") onDisk.push(path);
    assert.deepEqual(onDisk.sort(), [...listed.keys()].sort());
    const sums = await new Deno.Command("sha256sum", {
      args: ["lib/deno", "bin/qeil", "app/main.js"],
      cwd: dir,
      stdout: "piped",
    })
      .output();
    for (const line of new TextDecoder().decode(sums.stdout).trim().split("\n")) {
      const [sha256, path] = line.split(/\s+/);
      assert.equal(listed.get(path)?.sha256, sha256, path);
    }
    assert.equal((await verifyBundle(dir)).ok, true);
    assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/MANIFEST.json`)).denoVersion, "2.9.5");

    // onnxruntime-node: this target's binaries only; every native file is an ELF of this machine.
    const ortBin = `${dir}/app/node_modules/onnxruntime-node/bin/napi-v6`;
    const platforms: string[] = [];
    for await (const path of walk(ortBin)) platforms.push(path.split("/").slice(0, 2).join("/"));
    assert.deepEqual([...new Set(platforms)], [`linux/${target.ortArch}`]);
    const other = Object.values(TARGETS).find((t) => t.name !== target.name)!;
    for (const path of onDisk) {
      assert.ok(!/\.(dll|dylib)$/.test(path), `${path} is a binary of another OS`);
      if (/\.(node|so(\.\d+)*)$/.test(path) || path === "lib/deno") {
        assert.equal(await elfMachine(`${dir}/${path}`), target.elfMachine, path);
      }
      assert.ok(!path.includes(`/linux/${other.ortArch}/`), `${path} belongs to ${other.name}`);
    }
    for (const unit of ["qeil.service", "qeil.default"]) {
      assert.equal(
        await Deno.readTextFile(`${dir}/systemd/${unit}`),
        await Deno.readTextFile(`${ROOT}systemd/${unit}`),
      );
    }

    // Run it from the bundle only.
    const home = `${tmp}/home`;
    await Deno.mkdir(home);
    const versionRun = await runBundle(dir, home, ["--version"]);
    assert.equal(versionRun.code, 0, versionRun.stderr);
    assert.equal(versionRun.stdout, `qeil ${version}\n`);
    const help = await runBundle(dir, home, ["--help"]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: qeil <command> \[options\]/);
    assert.match(help.stdout, /\n {2}release {2,}/);
    // The runtime's caches went to the empty DENO_DIR given, so nothing came from this machine's.
    assert.ok((await Array.fromAsync(Deno.readDir(`${home}/deno-dir`))).length > 0);

    // onnxruntime-node loads from the bundle and stories260k decodes its golden greedy text.
    const golden = JSON.parse(await Deno.readTextFile(`${STORIES}/golden.json`));
    const gen = await runBundle(dir, home, [
      "run",
      "--model",
      STORIES,
      "--prompt",
      "",
      "--temperature",
      "0",
      "--max-tokens",
      "40",
    ]);
    assert.equal(gen.code, 0, gen.stderr + gen.stdout);
    assert.ok(gen.stdout.includes(golden.greedy_from_bos_text), `greedy text differs:\n${gen.stdout}`);

    // The archive is what devices install: the updater's installer accepts it as is.
    const archive = result.archive!;
    assert.equal(archive.path, `${dir}.tar.gz`);
    assert.equal(archive.bytes, (await Deno.stat(archive.path)).size);
    await createTarballInstaller().install(archive.path, `${tmp}/slot`, { version, manifestId: "test" });
    const installed = await runBundle(`${tmp}/slot`, home, ["--version"]);
    assert.equal(installed.stdout, `qeil ${version}\n`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
