import assert from "node:assert/strict";
import { describeFsError, listDir, readValue, resolveUnderRoot } from "../../src/hal/fs.ts";
import { runningAsRoot, tempDir } from "./helpers.ts";

const P = "/sys/class/thermal/thermal_zone2/temp";

function errno(code: string): Error {
  return Object.assign(new Error(`os error (${code})`), { code });
}

Deno.test("describeFsError() names the file and the errno of power-gated and broken sensors", () => {
  assert.equal(
    describeFsError(P, errno("EAGAIN")),
    `${P}: read failed with EAGAIN (sensor temporarily unavailable, e.g. power-gated)`,
  );
  assert.equal(
    describeFsError(P, new Deno.errors.WouldBlock("Resource temporarily unavailable")),
    `${P}: read failed with EAGAIN (sensor temporarily unavailable, e.g. power-gated)`,
  );
  assert.equal(describeFsError(P, errno("ENODATA")), `${P}: read failed with ENODATA (the sensor has no data)`);
  assert.equal(describeFsError(P, errno("EIO")), `${P}: read failed with EIO (I/O error talking to the sensor)`);
  assert.equal(describeFsError(P, new Deno.errors.NotFound("x")), `${P}: missing file`);
  assert.equal(describeFsError(P, new Deno.errors.PermissionDenied("x")), `${P}: permission denied`);
  assert.equal(describeFsError(P, errno("EACCES")), `${P}: permission denied`);
  assert.equal(describeFsError(P, new Deno.errors.IsADirectory("x")), `${P}: is a directory, not a value file`);
  assert.equal(describeFsError(P, errno("ENODEV")), `${P}: read failed with ENODEV (device gone)`);
  assert.equal(describeFsError(P, new Error("weird")), `${P}: read failed: weird`);
});

Deno.test("readValue() trims the kernel's newline and fails on an empty file, a missing file and a directory", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.root}/temp`, "44384\n");
  await Deno.writeTextFile(`${dir.root}/empty`, "");
  await Deno.writeTextFile(`${dir.root}/blank`, " \n");
  await Deno.mkdir(`${dir.root}/folder`);
  assert.deepEqual(await readValue(`${dir.root}/temp`), { ok: true, value: "44384" });
  assert.deepEqual(await readValue(`${dir.root}/empty`), { ok: false, reason: `${dir.root}/empty: file is empty` });
  assert.deepEqual(await readValue(`${dir.root}/blank`), { ok: false, reason: `${dir.root}/blank: file is empty` });
  assert.deepEqual(await readValue(`${dir.root}/nope`), { ok: false, reason: `${dir.root}/nope: missing file` });
  assert.deepEqual(await readValue(`${dir.root}/folder`), {
    ok: false,
    reason: `${dir.root}/folder: is a directory, not a value file`,
  });
});

Deno.test({
  name: `readValue() reports permission denied for a chmod 000 file${
    runningAsRoot() ? " (ignored: running as root, which reads through mode 000)" : ""
  }`,
  ignore: runningAsRoot(),
  async fn() {
    await using dir = await tempDir();
    await Deno.writeTextFile(`${dir.root}/load`, "NPU load: 1%\n");
    await Deno.chmod(`${dir.root}/load`, 0o000);
    assert.deepEqual(await readValue(`${dir.root}/load`), { ok: false, reason: `${dir.root}/load: permission denied` });
  },
});

Deno.test("listDir() orders entries naturally and reports a missing folder as undefined", async () => {
  await using dir = await tempDir();
  for (const name of ["thermal_zone10", "thermal_zone2", "thermal_zone1"]) await Deno.mkdir(`${dir.root}/${name}`);
  assert.deepEqual(await listDir(dir.root), ["thermal_zone1", "thermal_zone2", "thermal_zone10"]);
  assert.equal(await listDir(`${dir.root}/absent`), undefined);
});

Deno.test("resolveUnderRoot() re-roots absolute symlink targets and leaves relative ones to the OS", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.root}/sys/devices/virtual/thermal/thermal_zone0`, { recursive: true });
  await Deno.mkdir(`${dir.root}/sys/class/thermal`, { recursive: true });
  await Deno.symlink("/sys/devices/virtual/thermal/thermal_zone0", `${dir.root}/sys/class/thermal/thermal_zone0`);
  await Deno.symlink("../../devices/virtual/thermal/thermal_zone0", `${dir.root}/sys/class/thermal/thermal_zone1`);
  assert.equal(
    await resolveUnderRoot(dir.root, `${dir.root}/sys/class/thermal/thermal_zone0`),
    `${dir.root}/sys/devices/virtual/thermal/thermal_zone0`,
  );
  assert.equal(
    await resolveUnderRoot(dir.root, `${dir.root}/sys/class/thermal/thermal_zone1`),
    `${dir.root}/sys/class/thermal/thermal_zone1`,
  );
  assert.equal(await resolveUnderRoot("/", "/sys/class/thermal/thermal_zone0"), "/sys/class/thermal/thermal_zone0");
});
