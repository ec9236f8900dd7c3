/**
 * The files in systemd/: the unit passes `systemd-analyze verify` in a
 * throw-away root (with the distribution's units and a stub /usr/bin/qeil),
 * keeps its hardening, and the sysusers and tmpfiles files do what they say
 * when applied to a temp root.
 */
import assert from "node:assert/strict";
import { CONFIG_FIELDS, envNameOf, parseConfig } from "../../src/service/mod.ts";

const SYSTEMD_DIR = new URL("../../systemd/", import.meta.url).pathname;
const UNIT = `${SYSTEMD_DIR}qeil.service`;
const decoder = new TextDecoder();

async function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    throw new Error(`${cmd} is not available (apt-get install -y systemd): ${(error as Error).message}`);
  }
  return { code: out.code, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

/** A root with the host's units, `unitText` as /etc/systemd/system/qeil.service and a stub /usr/bin/qeil. */
async function unitRoot(unitText: string): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "qeil-unit-root-" });
  for (const dir of ["usr/lib/systemd", "usr/bin", "etc/systemd/system"]) {
    await Deno.mkdir(`${root}/${dir}`, { recursive: true });
  }
  // The unit's dependencies (network-online.target, ...) must resolve inside the root; cp -a keeps the aliases.
  const copy = await run("cp", ["-a", "/usr/lib/systemd/system", `${root}/usr/lib/systemd/`]);
  assert.equal(copy.code, 0, copy.output);
  await Deno.writeTextFile(`${root}/usr/bin/qeil`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  await Deno.writeTextFile(`${root}/etc/systemd/system/qeil.service`, unitText);
  return root;
}

/** `systemd-analyze verify` output for a unit text; it exits 0 even on parse errors, so output is what counts. */
async function verify(unitText: string): Promise<{ code: number; output: string }> {
  const root = await unitRoot(unitText);
  try {
    return await run("systemd-analyze", ["verify", `--root=${root}`, "--man=no", "qeil.service"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Directives of a unit file: key -> values in order (comments and sections dropped). */
function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = line.match(/^([A-Za-z]+)=(.*)$/);
    if (m) out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
  }
  return out;
}

Deno.test("systemd-analyze verify prints nothing for qeil.service", async () => {
  const result = await verify(await Deno.readTextFile(UNIT));
  assert.equal(result.output, "");
  assert.equal(result.code, 0);
});

Deno.test("systemd-analyze verify does report a broken unit (the check above can fail)", async () => {
  const broken = (await Deno.readTextFile(UNIT)).replace("Type=notify", "Typ=notify").replace(
    "ExecStart=/usr/bin/qeil",
    "ExecStart=/usr/bin/qeil-missing",
  );
  const result = await verify(broken);
  assert.match(result.output, /Unknown key 'Typ'/);
  assert.match(result.output, /qeil-missing is not executable/);
});

Deno.test("qeil.service is a hardened notify service with a watchdog and a dedicated user", async () => {
  const text = await Deno.readTextFile(UNIT);
  const d = directives(text);
  const expect: Record<string, string> = {
    Type: "notify",
    Restart: "on-failure",
    User: "qeil",
    DynamicUser: "no",
    StateDirectory: "qeil",
    ProtectSystem: "strict",
    ProtectHome: "yes",
    PrivateTmp: "yes",
    NoNewPrivileges: "yes",
    ProtectKernelTunables: "yes",
    RestrictAddressFamilies: "AF_UNIX AF_INET AF_INET6",
    ExecStart: "/usr/bin/qeil serve --config /etc/qeil/config.json",
    EnvironmentFile: "-/etc/default/qeil",
  };
  for (const [key, value] of Object.entries(expect)) assert.deepEqual(d.get(key), [value], key);
  assert.match(d.get("WatchdogSec")![0], /^\d+s$/);
  assert.equal(d.has("MemoryDenyWriteExecute"), false, "V8's JIT needs W+X memory");
  assert.deepEqual(d.get("ReadWritePaths"), ["/sys/devices/system/cpu/cpufreq", "-/sys/devices/platform"]);
  // Every relaxation is explained on the lines just above it.
  const lines = text.split("\n");
  for (const key of ["ReadWritePaths", "RestrictAddressFamilies"]) {
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].startsWith(`${key}=`)) assert.match(lines[i - 1], /^# /, `${lines[i]} has a comment above it`);
    }
  }
  assert.match(text, /# Relaxation: no MemoryDenyWriteExecute=, because the V8 JIT/);
});

Deno.test("qeil.service keeps an offline security exposure of at most 2.0", async () => {
  const root = await unitRoot(await Deno.readTextFile(UNIT));
  try {
    const result = await run("systemd-analyze", [
      "security",
      "--offline=true",
      `--root=${root}`,
      "--threshold=20",
      "qeil.service",
    ]);
    assert.equal(result.code, 0, result.output.split("\n").slice(-3).join("\n"));
    assert.match(result.output, /Overall exposure level for qeil.service: [0-2]\.\d OK/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "sysusers and tmpfiles create the qeil user and make only the DVFS knobs group-writable",
  // Handing files to another group needs root (CI runs as root).
  ignore: Deno.uid() !== 0,
}, async () => {
  const root = await Deno.makeTempDir({ prefix: "qeil-tmpfiles-root-" });
  try {
    await Deno.mkdir(`${root}/etc`);
    const users = await run("systemd-sysusers", [`--root=${root}`, `${SYSTEMD_DIR}qeil.sysusers.conf`]);
    assert.equal(users.code, 0, users.output);
    const passwd = await Deno.readTextFile(`${root}/etc/passwd`);
    const entry = passwd.split("\n").find((l) => l.startsWith("qeil:"))!;
    const [, , uid, gid, , home, shell] = entry.split(":");
    assert.equal(home, "/var/lib/qeil");
    assert.equal(shell, "/usr/sbin/nologin");

    // A board's knobs as the kernel leaves them: root-owned, 0644.
    const policy = `${root}/sys/devices/system/cpu/cpufreq/policy4`;
    const gpu = `${root}/sys/class/devfreq/fb000000.gpu`;
    await Deno.mkdir(policy, { recursive: true });
    await Deno.mkdir(`${gpu}/userspace`, { recursive: true });
    const knobs = [
      ...["scaling_governor", "scaling_min_freq", "scaling_max_freq", "scaling_setspeed"].map((f) => `${policy}/${f}`),
      ...["governor", "min_freq", "max_freq", "userspace/set_freq"].map((f) => `${gpu}/${f}`),
    ];
    const readOnly = [`${policy}/scaling_cur_freq`, `${policy}/cpuinfo_max_freq`, `${gpu}/cur_freq`];
    for (const f of [...knobs, ...readOnly]) await Deno.writeTextFile(f, "0\n", { mode: 0o644 });
    await Deno.mkdir(`${root}/var/lib`, { recursive: true });

    const tmpfiles = await run("systemd-tmpfiles", ["--create", `--root=${root}`, `${SYSTEMD_DIR}qeil.tmpfiles.conf`]);
    assert.equal(tmpfiles.code, 0, tmpfiles.output);
    for (const f of knobs) {
      const st = await Deno.stat(f);
      assert.equal(st.mode! & 0o777, 0o664, f);
      assert.equal(st.gid, Number(gid), `${f} belongs to group qeil`);
    }
    for (const f of readOnly) assert.equal((await Deno.stat(f)).mode! & 0o777, 0o644, `${f} is untouched`);
    const state = await Deno.stat(`${root}/var/lib/qeil`);
    assert.deepEqual([state.mode! & 0o777, state.uid, state.gid], [0o750, Number(uid), Number(gid)]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("qeil.default names only real QEIL_* variables and the example config parses", async () => {
  const known = new Set(CONFIG_FIELDS.map((f) => envNameOf(f.key)));
  const text = await Deno.readTextFile(`${SYSTEMD_DIR}qeil.default`);
  const names = [...text.matchAll(/^#?(QEIL_[A-Z0-9_]+)=/gm)].map((m) => m[1]);
  assert.ok(names.length >= 5);
  for (const name of names) assert.ok(known.has(name), `${name} is a configuration variable`);
  const config = parseConfig(JSON.parse(await Deno.readTextFile(`${SYSTEMD_DIR}qeil.config.json`)), {
    STATE_DIRECTORY: "/var/lib/qeil",
  });
  assert.deepEqual(config.board, { kind: "real", profileId: "auto" });
  assert.equal(config.stateDir, "/var/lib/qeil");
});
