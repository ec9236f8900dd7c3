import assert from "node:assert/strict";
import { GARBAGE_TEXT, normalizeRel, relativeTarget, TreeWriter } from "../../src/sim/writer.ts";
import { tempRoot } from "./helpers.ts";

Deno.test("TreeWriter.write() adds the sysfs newline, leaves no temp file and skips identical rewrites", async () => {
  const root = await tempRoot();
  try {
    const w = new TreeWriter(root);
    w.write("sys/a/temp", "42000");
    assert.equal(Deno.readTextFileSync(`${root}/sys/a/temp`), "42000\n");
    assert.deepEqual([...Deno.readDirSync(`${root}/sys/a`)].map((e) => e.name), ["temp"]);
    const inode = Deno.statSync(`${root}/sys/a/temp`).ino;
    w.write("sys/a/temp", "42000");
    assert.equal(Deno.statSync(`${root}/sys/a/temp`).ino, inode, "unchanged value is not rewritten");
    w.write("sys/a/temp", "43000");
    assert.notEqual(Deno.statSync(`${root}/sys/a/temp`).ino, inode, "a new value replaces the file (rename)");
    w.write("sys/a/compatible", "a,b\0c\0", { raw: true });
    assert.equal(Deno.readTextFileSync(`${root}/sys/a/compatible`), "a,b\0c\0");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("TreeWriter.readKnob() tells a foreign write from the writer's own", async () => {
  const root = await tempRoot();
  try {
    const w = new TreeWriter(root);
    w.write("k/scaling_governor", "ondemand");
    assert.deepEqual(w.readKnob("k/scaling_governor"), { text: "ondemand\n", foreign: false });
    Deno.writeTextFileSync(`${root}/k/scaling_governor`, "performance");
    assert.deepEqual(w.readKnob("k/scaling_governor"), { text: "performance", foreign: true });
    assert.equal(w.readKnob("k/missing"), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("TreeWriter.resolve() follows class symlinks and refuses paths outside the root", async () => {
  const root = await tempRoot();
  try {
    const w = new TreeWriter(root);
    w.write("sys/devices/virtual/thermal/thermal_zone0/temp", "1");
    w.symlink("sys/class/thermal/thermal_zone0", "../../devices/virtual/thermal/thermal_zone0");
    assert.equal(w.resolve("sys/class/thermal/thermal_zone0/temp"), "sys/devices/virtual/thermal/thermal_zone0/temp");
    assert.equal(
      w.resolve(`${root}/sys/class/thermal/thermal_zone0/temp`),
      "sys/devices/virtual/thermal/thermal_zone0/temp",
    );
    assert.throws(() => w.resolve("sys/class/thermal/thermal_zone0/nope"), RangeError);
    assert.throws(() => w.resolve("/etc/passwd"), RangeError);
    assert.throws(() => w.resolve("../etc"), RangeError);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("TreeWriter faults keep a file removed or garbled until cleared", async () => {
  const root = await tempRoot();
  try {
    const w = new TreeWriter(root);
    w.write("z/temp", "1");
    w.write("z/trip", "2");
    w.removeFault("z/temp");
    w.write("z/temp", "3");
    assert.equal(Deno.statSync(`${root}/z`).isDirectory, true);
    assert.throws(() => Deno.statSync(`${root}/z/temp`), Deno.errors.NotFound);
    w.garbageFault("z/trip");
    w.write("z/trip", "4");
    assert.equal(Deno.readTextFileSync(`${root}/z/trip`), GARBAGE_TEXT);
    assert.equal(w.clearFault("z/temp"), 1);
    assert.equal(w.clearFault("z/trip"), 1);
    w.write("z/temp", "3");
    w.write("z/trip", "4");
    assert.equal(Deno.readTextFileSync(`${root}/z/temp`), "3\n");
    assert.equal(Deno.readTextFileSync(`${root}/z/trip`), "4\n");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("relativeTarget() and normalizeRel() build link targets inside the root", () => {
  assert.equal(
    relativeTarget("sys/bus/i2c/devices/1-0040", "sys/devices/platform/i2c-1/1-0040"),
    "../../../devices/platform/i2c-1/1-0040",
  );
  assert.equal(relativeTarget("sys/devices/platform/gpu.0", "sys/devices/platform/bus@0/gpu"), "bus@0/gpu");
  assert.equal(normalizeRel("a//b/./c/"), "a/b/c");
  assert.throws(() => normalizeRel("a/../b"), RangeError);
});

Deno.test("TreeWriter in place rewrites a value in the same file, shorter or longer, and skips identical rewrites", async () => {
  const root = await tempRoot();
  const w = new TreeWriter(root, { mode: "in-place" });
  try {
    w.write("sys/a/temp", "42000");
    const inode = Deno.statSync(`${root}/sys/a/temp`).ino;
    for (const value of ["7", "123456789", "42"]) {
      w.write("sys/a/temp", value);
      assert.equal(Deno.readTextFileSync(`${root}/sys/a/temp`), `${value}\n`);
    }
    assert.equal(Deno.statSync(`${root}/sys/a/temp`).ino, inode, "no rename: the same file");
    assert.equal(w.openFiles, 1);
    // A root-only file (cpuinfo_cur_freq) stays writable through the handle opened before the chmod.
    w.write("sys/a/cur", "1000", { mode: 0o400 });
    w.write("sys/a/cur", "2000", { mode: 0o400 });
    assert.equal(Deno.statSync(`${root}/sys/a/cur`).mode! & 0o777, 0o400);
    assert.equal(Deno.readTextFileSync(`${root}/sys/a/cur`), "2000\n");
    assert.deepEqual([...Deno.readDirSync(`${root}/sys/a`)].map((e) => e.name).sort(), ["cur", "temp"]);
  } finally {
    w.close();
    await Deno.remove(root, { recursive: true });
  }
  assert.equal(w.openFiles, 0);
});

Deno.test("TreeWriter in place reads knobs through its handles and sees writes made in place, longer or shorter", async () => {
  const root = await tempRoot();
  const w = new TreeWriter(root, { mode: "in-place", maxOpenFiles: 2 });
  try {
    w.write("k/scaling_governor", "ondemand");
    assert.deepEqual(w.readKnob("k/scaling_governor"), { text: "ondemand\n", foreign: false });
    Deno.writeTextFileSync(`${root}/k/scaling_governor`, "performance\n");
    assert.deepEqual(w.readKnob("k/scaling_governor"), { text: "performance\n", foreign: true });
    Deno.writeTextFileSync(`${root}/k/scaling_governor`, "powersave\n");
    assert.deepEqual(w.readKnob("k/scaling_governor"), { text: "powersave\n", foreign: true });
    // The writer's own shorter value after a longer foreign one leaves no tail behind.
    w.write("k/scaling_governor", "userspace");
    Deno.writeTextFileSync(`${root}/k/scaling_governor`, "conservative\n");
    assert.equal(w.readKnob("k/scaling_governor")?.foreign, true);
    w.invalidate("k/scaling_governor");
    w.write("k/scaling_governor", "userspace");
    assert.equal(Deno.readTextFileSync(`${root}/k/scaling_governor`), "userspace\n");
    assert.equal(w.readKnob("k/missing"), undefined);
    // More files than handles: the oldest handle is closed, the values stay right.
    for (const name of ["a", "b", "c"]) w.write(`k/${name}`, name.repeat(3));
    assert.equal(w.openFiles, 2);
    for (const name of ["a", "b", "c"]) w.write(`k/${name}`, name);
    for (const name of ["a", "b", "c"]) assert.equal(Deno.readTextFileSync(`${root}/k/${name}`), `${name}\n`);
    // A removed directory lets its handles go; the file comes back at the next write.
    w.remove("k");
    w.write("k/a", "back");
    assert.equal(Deno.readTextFileSync(`${root}/k/a`), "back\n");
  } finally {
    w.close();
    await Deno.remove(root, { recursive: true });
  }
  assert.throws(() => new TreeWriter(root, { mode: "sideways" as never }), /mode must be "atomic" or "in-place"/);
});
