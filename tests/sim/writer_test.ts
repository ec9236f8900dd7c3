import assert from "node:assert/strict";
import {
  GARBAGE_TEXT,
  KNOB_MTIME_MS,
  normalizeRel,
  POOL_DIR,
  QUIET_ORPHAN_MS,
  relativeTarget,
  REUSE_AFTER_MS,
  TreeWriter,
} from "../../src/sim/writer.ts";
import { tempRoot } from "./helpers.ts";

/** A knob read without its modification time. */
function knob(w: TreeWriter, rel: string): { text: string; foreign: boolean } | undefined {
  const read = w.readKnob(rel);
  return read && { text: read.text, foreign: read.foreign };
}

/** Everything a handle's file holds. */
function readThrough(file: Deno.FsFile): string {
  file.seekSync(0, Deno.SeekMode.Start);
  const buffer = new Uint8Array(256);
  return new TextDecoder().decode(buffer.subarray(0, file.readSync(buffer) ?? 0));
}

function mtimeMs(path: string): number | undefined {
  return Deno.statSync(path).mtime?.getTime();
}

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
    assert.deepEqual(knob(w, "k/scaling_governor"), { text: "ondemand\n", foreign: false });
    Deno.writeTextFileSync(`${root}/k/scaling_governor`, "performance");
    assert.deepEqual(knob(w, "k/scaling_governor"), { text: "performance", foreign: true });
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
    assert.deepEqual(knob(w, "k/scaling_governor"), { text: "ondemand\n", foreign: false });
    Deno.writeTextFileSync(`${root}/k/scaling_governor`, "performance\n");
    assert.deepEqual(knob(w, "k/scaling_governor"), { text: "performance\n", foreign: true });
    Deno.writeTextFileSync(`${root}/k/scaling_governor`, "powersave\n");
    assert.deepEqual(knob(w, "k/scaling_governor"), { text: "powersave\n", foreign: true });
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

Deno.test("TreeWriter atomic rewrites a file through inodes out of sight for REUSE_AFTER_MS; a reader of an older one keeps its value", async () => {
  const root = await tempRoot();
  let nowMs = 0;
  const w = new TreeWriter(root, { nowMs: () => nowMs });
  const path = `${root}/sys/a/temp`;
  try {
    w.write("sys/a/temp", "1");
    w.write("sys/a/temp", "2");
    // A reader that opened the file just before the next value.
    const reader = Deno.openSync(path);
    w.write("sys/a/temp", "3");
    w.write("sys/a/temp", "4");
    assert.equal(Deno.readTextFileSync(path), "4\n");
    assert.equal(readThrough(reader), "2\n", "no inode out of sight for long enough: the reader's is left alone");
    assert.equal(w.pooledInodes, 3);
    nowMs = REUSE_AFTER_MS;
    w.write("sys/a/temp", "5");
    assert.equal(Deno.readTextFileSync(path), "5\n");
    assert.equal(readThrough(reader), "5\n", "the oldest retired inode is reused once out of sight long enough");
    assert.equal(w.pooledInodes, 3);
    reader.close();
    // Permission bits follow each value: an unreadable empty sensor, then a value again.
    w.write("sys/a/temp", "", { raw: true, mode: 0o000 });
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o000);
    nowMs += REUSE_AFTER_MS;
    w.write("sys/a/temp", "6");
    assert.equal(Deno.statSync(path).mode! & 0o777, Deno.statSync(`${root}/sys/a`).mode! & 0o666);
    assert.equal(Deno.readTextFileSync(path), "6\n");
    assert.deepEqual([...Deno.readDirSync(`${root}/sys/a`)].map((e) => e.name), ["temp"], "no temp name left behind");
    // A fault lets the file's pooled inodes go; its next values start over.
    w.removeFault("sys/a/temp");
    assert.equal(w.pooledInodes, 0);
    w.clearFault("sys/a/temp");
    w.write("sys/a/temp", "7");
    assert.equal(Deno.readTextFileSync(path), "7\n");
  } finally {
    w.close();
  }
  assert.throws(() => Deno.statSync(`${root}/${POOL_DIR}`), Deno.errors.NotFound, "close() removes the pool");
  await Deno.remove(root, { recursive: true });
});

Deno.test("TreeWriter.replaceKnob() shows a value in a stamped inode, and a write of the same text by someone else is still foreign", async () => {
  const root = await tempRoot();
  const w = new TreeWriter(root);
  const path = `${root}/k/scaling_max_freq`;
  try {
    assert.deepEqual(w.replaceKnob("k/scaling_max_freq", "2400000"), []);
    assert.equal(Deno.readTextFileSync(path), "2400000\n");
    assert.equal(mtimeMs(path), KNOB_MTIME_MS);
    assert.deepEqual(knob(w, "k/scaling_max_freq"), { text: "2400000\n", foreign: false });
    const inode = Deno.statSync(path).ino;
    assert.deepEqual(w.replaceKnob("k/scaling_max_freq", "1800000"), []);
    assert.notEqual(Deno.statSync(path).ino, inode, "a new inode takes the name");
    assert.ok(w.shows("k/scaling_max_freq", "1800000"));
    Deno.writeTextFileSync(path, "1800000\n");
    const read = w.readKnob("k/scaling_max_freq")!;
    assert.deepEqual([read.text, read.foreign], ["1800000\n", true], "same text, but someone wrote it");
    w.adopt("k/scaling_max_freq", read.text, read.mtimeMs);
    assert.equal(w.readKnob("k/scaling_max_freq")!.foreign, false);
  } finally {
    w.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("TreeWriter.replaceKnob() hands back a write it has not read instead of replacing it", async () => {
  const root = await tempRoot();
  const w = new TreeWriter(root, { mode: "in-place" });
  const path = `${root}/k/scaling_max_freq`;
  try {
    w.replaceKnob("k/scaling_max_freq", "2400000");
    Deno.writeTextFileSync(path, "1800000\n");
    const inode = Deno.statSync(path).ino;
    assert.deepEqual(w.replaceKnob("k/scaling_max_freq", "1200000"), ["1800000\n"]);
    assert.equal(Deno.readTextFileSync(path), "1800000\n");
    assert.equal(Deno.statSync(path).ino, inode, "left alone");
    assert.ok(w.shows("k/scaling_max_freq", "1800000"), "known now");
    assert.deepEqual(w.replaceKnob("k/scaling_max_freq", "1200000"), []);
    assert.equal(Deno.readTextFileSync(path), "1200000\n");
    // A writer whose open truncated the file, its write still to come: the empty file is handed back, not replaced.
    const writer = Deno.openSync(path, { write: true, truncate: true });
    assert.deepEqual(w.replaceKnob("k/scaling_max_freq", "816000"), [""]);
    writer.writeSync(new TextEncoder().encode("600000\n"));
    writer.close();
    assert.deepEqual(knob(w, "k/scaling_max_freq"), { text: "600000\n", foreign: true });
  } finally {
    w.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("TreeWriter.lateKnobWrites() returns what a writer that opened the file before a replacement wrote into the replaced inode", async () => {
  const root = await tempRoot();
  let nowMs = 0;
  const w = new TreeWriter(root, { nowMs: () => nowMs });
  const path = `${root}/k/scaling_max_freq`;
  try {
    w.replaceKnob("k/scaling_max_freq", "2400000");
    // Opened before the replacement, written after it.
    const early = Deno.openSync(path, { write: true });
    const quiet = Deno.openSync(path, { write: true });
    assert.deepEqual(w.replaceKnob("k/scaling_max_freq", "1800000"), []);
    assert.equal(w.watchedKnobInodes, 1);
    early.truncateSync(0);
    early.writeSync(new TextEncoder().encode("2016000\n"));
    early.close();
    assert.equal(Deno.readTextFileSync(path), "1800000\n", "the file itself shows the replacement");
    assert.deepEqual(w.lateKnobWrites("k/scaling_max_freq"), ["2016000\n"]);
    assert.deepEqual(w.lateKnobWrites("k/scaling_max_freq"), [], "handed back once");
    // replaceKnob() hands late writes back before anything else.
    quiet.truncateSync(0);
    quiet.writeSync(new TextEncoder().encode("1416000\n"));
    quiet.close();
    assert.deepEqual(w.replaceKnob("k/scaling_max_freq", "1200000"), ["1416000\n"]);
    assert.equal(Deno.readTextFileSync(path), "1800000\n");
    // Nobody writes the replaced inode: the watch ends.
    nowMs = QUIET_ORPHAN_MS + 1;
    assert.deepEqual(w.lateKnobWrites("k/scaling_max_freq"), []);
    assert.equal(w.watchedKnobInodes, 0);
  } finally {
    w.close();
    await Deno.remove(root, { recursive: true });
  }
});
