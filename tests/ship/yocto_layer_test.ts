/**
 * bitbake is not available here, so the layer is checked by parsing it: the
 * variables a layer and this recipe need, the `:` override syntax, every
 * `file://` resolving to a file of the repository (the unit to systemd/'s, no
 * second copy), the udev rule syntax, and the launcher's slot dispatch, run
 * for real against a slot directory made by the updater's SlotStore.
 */
import assert from "node:assert/strict";
import { appVersion } from "../../scripts/ship_lib.ts";
import { SlotStore } from "../../src/update/mod.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const LAYER = `${ROOT}/yocto-layer/meta-qeil`;
const RECIPE_DIR = `${LAYER}/recipes-qeil/qeil`;

interface Assignment {
  name: string;
  op: string;
  value: string;
  line: number;
}

interface BitbakeFile {
  assignments: Assignment[];
  /** Shell and python function bodies by name (`do_install`, `python ()`). */
  functions: Map<string, string>;
  inherits: string[];
  /** Logical lines that are neither assignments, functions, inherits nor comments. */
  unknown: string[];
}

/** A small parser for the subset of the bitbake language a recipe like ours uses. */
function parseBitbake(text: string): BitbakeFile {
  const assignments: Assignment[] = [];
  const functions = new Map<string, string>();
  const inherits: string[] = [];
  const unknown: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i];
    if (/^\s*(#.*)?$/.test(line)) continue;
    const fn = /^(python\s*\(\)|[\w:${}-]+\s*\(\))\s*\{\s*$/.exec(line);
    if (fn) {
      const body: string[] = [];
      while (++i < lines.length && lines[i] !== "}") body.push(lines[i]);
      assert.ok(i < lines.length, `function ${fn[1]} at line ${start + 1} is not closed by a "}" line`);
      functions.set(fn[1].replace(/\s+/g, ""), body.join("\n"));
      continue;
    }
    while (line.endsWith("\\")) line = line.slice(0, -1) + " " + (lines[++i] ?? "");
    const inherit = /^inherit\s+(.+)$/.exec(line);
    if (inherit) {
      inherits.push(...inherit[1].trim().split(/\s+/));
      continue;
    }
    const m = /^([A-Za-z0-9_${}:.\-[\]]+?)(\s*)(\?\?=|\?=|:=|\+=|=\+|\.=|=\.|=)(\s*)"(.*)"\s*$/.exec(line);
    if (m) {
      assert.ok(
        m[2] === " " && m[4] === " ",
        `line ${start + 1}: one space on each side of "${m[3]}" (whinlatter warns)`,
      );
      assignments.push({ name: m[1], op: m[3], value: m[5].replace(/\s+/g, " ").trim(), line: start + 1 });
      continue;
    }
    unknown.push(`${start + 1}: ${line}`);
  }
  return { assignments, functions, inherits, unknown };
}

function value(file: BitbakeFile, name: string): string {
  const found = file.assignments.filter((a) => a.name === name);
  assert.ok(found.length > 0, `${name} is not set`);
  return found.at(-1)!.value;
}

const OLD_OVERRIDE = /_(append|prepend|remove|\$\{PN\}|pn-|class-|task-|aarch64|x86-64|arm|qemu)/;

async function layerConf(): Promise<BitbakeFile> {
  return parseBitbake(await Deno.readTextFile(`${LAYER}/conf/layer.conf`));
}

async function recipe(): Promise<{ path: string; pv: string; file: BitbakeFile }> {
  const recipes: string[] = [];
  for await (const e of Deno.readDir(RECIPE_DIR)) if (e.name.endsWith(".bb")) recipes.push(e.name);
  assert.equal(recipes.length, 1, `one qeil recipe expected, found ${recipes.join(", ")}`);
  const m = /^qeil_(.+)\.bb$/.exec(recipes[0]);
  assert.ok(m, `${recipes[0]} is not named qeil_<version>.bb`);
  const path = `${RECIPE_DIR}/${recipes[0]}`;
  return { path, pv: m[1], file: parseBitbake(await Deno.readTextFile(path)) };
}

/** Expands ${VAR} from `vars`, leaving unknown references as they are. */
function expand(text: string, vars: Record<string, string>): string {
  let out = text;
  for (let i = 0; i < 5; i++) out = out.replace(/\$\{([A-Za-z0-9_]+)\}/g, (all, v) => vars[v] ?? all);
  return out;
}

Deno.test("layer.conf declares the collection, its priority and compatibility with current Yocto releases", async () => {
  const conf = await layerConf();
  assert.deepEqual(conf.unknown, []);
  assert.equal(value(conf, "BBFILE_COLLECTIONS"), "qeil");
  assert.equal(value(conf, "BBFILE_PATTERN_qeil"), "^${LAYERDIR}/");
  assert.match(value(conf, "BBFILE_PRIORITY_qeil"), /^\d+$/);
  assert.equal(value(conf, "LAYERDEPENDS_qeil"), "core");
  assert.match(value(conf, "BBFILES"), /\$\{LAYERDIR\}\/recipes-\*\/\*\/\*\.bb/);
  const series = value(conf, "LAYERSERIES_COMPAT_qeil").split(" ");
  for (const release of ["scarthgap", "styhead", "walnascar", "whinlatter", "wrynose"]) {
    assert.ok(series.includes(release), `LAYERSERIES_COMPAT_qeil lacks ${release}`);
  }
  const layerdir = conf.assignments.find((a) => a.name === "QEIL_LAYERDIR");
  assert.equal(layerdir?.op, ":=", "QEIL_LAYERDIR must capture LAYERDIR immediately");
});

Deno.test("the recipe matches the app version and sets what a systemd service package needs", async () => {
  const { pv, file } = await recipe();
  assert.deepEqual(file.unknown, []);
  assert.equal(pv, await appVersion(ROOT), "rename qeil_<version>.bb when VERSION in main.ts changes");
  for (const name of ["SUMMARY", "LICENSE", "SRC_URI", "S", "COMPATIBLE_HOST", "FILES:${PN}", "CONFFILES:${PN}"]) {
    value(file, name);
  }
  assert.deepEqual(file.inherits.sort(), ["systemd", "useradd"]);
  assert.equal(value(file, "SYSTEMD_SERVICE:${PN}"), "qeil.service");
  assert.equal(value(file, "USERADD_PACKAGES"), "${PN}");
  assert.match(value(file, "GROUPADD_PARAM:${PN}"), /--system qeil$/);
  const user = value(file, "USERADD_PARAM:${PN}");
  assert.match(user, /--system/);
  assert.match(user, /--gid qeil/);
  assert.match(user, / qeil$/);
  assert.match(value(file, "RDEPENDS:${PN}"), /\btar\b/);
  assert.match(value(file, "RRECOMMENDS:${PN}"), /\bmosquitto\b/);
  assert.ok(!/mosquitto/.test(value(file, "RDEPENDS:${PN}")), "mosquitto is optional: RRECOMMENDS only");
  assert.equal(value(file, "QEIL_ARCH:aarch64"), "aarch64");
  assert.equal(value(file, "QEIL_ARCH:x86-64"), "x86_64");
  assert.equal(value(file, "COMPATIBLE_HOST"), "(aarch64|x86_64).*-linux");
  assert.ok(file.functions.has("do_install()"));
  assert.match(file.functions.get("python()") ?? "", /TCLIBC/);
});

Deno.test("the layer uses the ':' override syntax, never the old '_' form", async () => {
  for (const path of [`${LAYER}/conf/layer.conf`, (await recipe()).path]) {
    const file = parseBitbake(await Deno.readTextFile(path));
    for (const a of file.assignments) {
      assert.ok(!OLD_OVERRIDE.test(a.name), `${path}:${a.line}: ${a.name} uses the old _ override syntax`);
    }
    for (const name of file.functions.keys()) {
      assert.ok(!/_(append|prepend)/.test(name), `${path}: function ${name} uses the old _ override syntax`);
    }
  }
});

Deno.test("every file:// of SRC_URI resolves to a file of the repository, the unit to systemd/'s", async () => {
  const conf = await layerConf();
  const { file, pv } = await recipe();
  // What bitbake would expand: the layer variables, and the release dir the release script writes to.
  const vars: Record<string, string> = {
    QEIL_LAYERDIR: LAYER,
    QEIL_REPO_DIR: expand(value(conf, "QEIL_REPO_DIR"), { QEIL_LAYERDIR: LAYER }),
    PV: pv,
  };
  vars.QEIL_RELEASE_DIR = expand(value(conf, "QEIL_RELEASE_DIR"), vars);
  assert.equal(await Deno.realPath(vars.QEIL_REPO_DIR), ROOT);
  assert.equal(vars.QEIL_RELEASE_DIR, `${vars.QEIL_REPO_DIR}/out/release`, "the release script's default out dir");

  const extra = expand(value(file, "FILESEXTRAPATHS:prepend"), vars).split(":").filter((p) => p !== "");
  const searchPath = [...extra, `${RECIPE_DIR}/files`];
  const uris = value(file, "SRC_URI").split(" ").filter((u) => u.startsWith("file://"));
  assert.ok(uris.length >= 7);
  const resolved = new Map<string, string>();
  for (const uri of uris) {
    const name = uri.slice("file://".length).split(";")[0];
    if (name.startsWith("qeil-${PV}-${QEIL_ARCH}")) {
      // Built by `deno task release --archive`, not kept in git: check the naming instead.
      assert.equal(name, "qeil-${PV}-${QEIL_ARCH}.tar.gz");
      continue;
    }
    let found: string | undefined;
    for (const dir of searchPath) {
      try {
        if ((await Deno.stat(`${dir}/${name}`)).isFile) {
          found = await Deno.realPath(`${dir}/${name}`);
          break;
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    assert.ok(found, `${uri} is not found in ${searchPath.join(", ")}`);
    resolved.set(name, found);
  }
  assert.equal(resolved.get("qeil.service"), `${ROOT}/systemd/qeil.service`);
  for (const name of ["qeil.default", "qeil.tmpfiles.conf", "qeil.config.json"]) {
    assert.equal(resolved.get(name), `${ROOT}/systemd/${name}`);
  }
  // No second copy of the unit in the layer.
  for await (const path of walk(LAYER)) assert.ok(!path.endsWith(".service"), `${path}: a unit copy in the layer`);
  // And the unit that is installed is that file.
  const install = file.functions.get("do_install()")!;
  assert.match(
    install,
    /install -m 0644 \$\{UNPACKDIR\}\/qeil\.service \$\{D\}\$\{systemd_system_unitdir\}\/qeil\.service/,
  );
  assert.equal(
    value(file, "S"),
    "${UNPACKDIR}/qeil-${PV}-${QEIL_ARCH}",
    "the tarball's top folder, as release.ts names it",
  );
});

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) yield* walk(`${dir}/${e.name}`);
    else yield `${dir}/${e.name}`;
  }
}

const UDEV_MATCH_KEYS = new Set([
  "ACTION",
  "SUBSYSTEM",
  "KERNEL",
  "DEVPATH",
  "DRIVER",
  "ATTR",
  "SUBSYSTEMS",
  "KERNELS",
]);
const UDEV_ASSIGN_KEYS = new Set(["RUN", "OWNER", "GROUP", "MODE", "ENV", "TAG"]);

Deno.test("the udev rule is well formed and runs the installed helper on the knobs tmpfiles covers", async () => {
  const text = await Deno.readTextFile(`${RECIPE_DIR}/files/99-qeil-dvfs.rules`);
  const rules = text.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
  assert.equal(rules.length, 2);
  const subsystems: string[] = [];
  for (const rule of rules) {
    const pairs = rule.split(/,\s*(?=[A-Z]+(?:\{[^}]*\})?\s*(?:==|!=|\+=|:=|=))/);
    let runs = 0;
    for (const pair of pairs) {
      const m = /^([A-Z]+)(\{[^}]*\})?(==|!=|\+=|:=|=)"([^"]*)"$/.exec(pair.trim());
      assert.ok(m, `not a udev KEY=="value" pair: ${pair}`);
      const [, key, , op, val] = m;
      if (op === "==" || op === "!=") assert.ok(UDEV_MATCH_KEYS.has(key), `${key} is not a match key`);
      else {
        assert.ok(UDEV_ASSIGN_KEYS.has(key), `${key} cannot be assigned`);
        if (key === "RUN") {
          runs++;
          assert.match(val, /^@LIBEXECDIR@\/qeil\/dvfs-access (cpufreq|devfreq) %S%p(\/cpufreq)?$/);
        }
      }
      if (key === "SUBSYSTEM") subsystems.push(val);
    }
    assert.ok(runs === 1 && pairs.some((p) => p.startsWith("ACTION==")), `rule needs ACTION and one RUN: ${rule}`);
  }
  assert.deepEqual(subsystems.sort(), ["cpu", "devfreq"]);
  const { file } = await recipe();
  const install = file.functions.get("do_install()")!;
  assert.match(install, /\$\{UNPACKDIR\}\/qeil-dvfs-access\.sh \$\{D\}\$\{libexecdir\}\/qeil\/dvfs-access/);
  assert.match(install, /s,@LIBEXECDIR@,\$\{libexecdir\},g/);

  // The helper writes exactly the knobs systemd/qeil.tmpfiles.conf opens at boot.
  const helper = await Deno.readTextFile(`${RECIPE_DIR}/files/qeil-dvfs-access.sh`);
  const tmpfiles = await Deno.readTextFile(`${ROOT}/systemd/qeil.tmpfiles.conf`);
  for (
    const [kind, glob] of [["cpufreq", "/sys/devices/system/cpu/cpufreq/policy*/"], [
      "devfreq",
      "/sys/class/devfreq/*/",
    ]]
  ) {
    const listed = new RegExp(`${kind}\\) files="([^"]+)"`).exec(helper)?.[1].split(" ").sort();
    const opened = tmpfiles.split("\n").filter((l) => l.startsWith(`z ${glob}`)).map((l) =>
      l.split(/\s+/)[1].slice(glob.length)
    )
      .sort();
    assert.deepEqual(listed, opened, kind);
  }
});

async function shell(script: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command("sh", { args: [script, ...args], env, stdout: "piped", stderr: "piped" }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout), stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("the layer's shell scripts parse, and the DVFS helper opens the knobs to the group it names", async () => {
  for (const script of ["qeil-launcher.sh", "qeil-dvfs-access.sh"]) {
    const out = await new Deno.Command("sh", { args: ["-n", `${RECIPE_DIR}/files/${script}`], stderr: "piped" })
      .output();
    assert.ok(out.success, `${script}: ${new TextDecoder().decode(out.stderr)}`);
  }
  const helper = `${RECIPE_DIR}/files/qeil-dvfs-access.sh`;
  const usage = await shell(helper, ["gpu", "/x"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /usage: .* cpufreq\|devfreq SYSFS_DIR/);

  // A devfreq folder as sysfs lays it out (without set_freq: the governor is not userspace).
  const tmp = await Deno.makeTempDir({ prefix: "qeil-dvfs-" });
  try {
    const gid = Deno.gid()!;
    const group = (await Deno.readTextFile("/etc/group")).split("\n").find((l) => l.split(":")[2] === String(gid))!
      .split(":")[0];
    for (const f of ["governor", "min_freq", "max_freq", "cur_freq"]) {
      await Deno.writeTextFile(`${tmp}/${f}`, "0\n", { mode: 0o644 });
      await Deno.chmod(`${tmp}/${f}`, 0o644);
    }
    const run = await shell(helper, ["devfreq", tmp], { QEIL_GROUP: group });
    assert.equal(run.code, 0, run.stderr);
    for (const f of ["governor", "min_freq", "max_freq"]) {
      const stat = await Deno.stat(`${tmp}/${f}`);
      assert.equal(stat.mode! & 0o777, 0o664, f);
      assert.equal(stat.gid, gid, f);
    }
    assert.equal((await Deno.stat(`${tmp}/cur_freq`)).mode! & 0o777, 0o644, "read-only attributes stay as they are");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("/usr/bin/qeil runs the slot current points at, and the factory install without one", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "qeil-launcher-" });
  try {
    const factory = `${tmp}/usr/lib/qeil`;
    const slotsDir = `${tmp}/var/lib/qeil/slots`;
    const fakeRelease = async (dir: string, name: string) => {
      await Deno.mkdir(`${dir}/bin`, { recursive: true });
      await Deno.writeTextFile(`${dir}/bin/qeil`, `#!/bin/sh\necho "${name} $*"\n`, { mode: 0o755 });
      await Deno.chmod(`${dir}/bin/qeil`, 0o755);
    };
    await fakeRelease(factory, "factory");
    const launcher = `${tmp}/qeil`;
    const source = await Deno.readTextFile(`${RECIPE_DIR}/files/qeil-launcher.sh`);
    await Deno.writeTextFile(
      launcher,
      source.replaceAll("@SLOTS_DIR@", slotsDir).replaceAll("@FACTORY_DIR@", factory),
      { mode: 0o755 },
    );
    const slots = new SlotStore({ root: slotsDir, factoryDir: factory });
    await slots.init();
    assert.equal((await shell(launcher, ["--version"])).stdout, "factory --version\n");

    const staging = await slots.resetStaging();
    await fakeRelease(`${staging}/tree`, "slot-a");
    await slots.replaceSlot("a", `${staging}/tree`, { version: "1.1.0", manifestId: "m", installedAtMs: 0 });
    await slots.switchTo("a");
    assert.equal((await shell(launcher, ["serve", "--config", "x"])).stdout, "slot-a serve --config x\n");
    await slots.switchTo("factory");
    assert.equal((await shell(launcher, [])).stdout, "factory \n");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
