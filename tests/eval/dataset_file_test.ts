import assert from "node:assert/strict";
import { DatasetError, isQeilError } from "../../src/core/mod.ts";
import { readJsonLines, readTextLines } from "../../src/eval/mod.ts";

async function tempFile(name: string, content: string | Uint8Array): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-eval-" });
  const path = `${dir}/${name}`;
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  return path;
}

/** Asserts a DatasetError whose message and details name the file, the line and the problem. */
async function assertDatasetError(promise: Promise<unknown>, path: string, line: number | undefined, problem: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DatasetError, `expected a DatasetError, got ${error}`);
    assert.ok(isQeilError(error, "Dataset"));
    assert.equal(error.details.path, path);
    assert.equal(error.details.line, line);
    assert.ok(error.message.includes(path), error.message);
    if (line !== undefined) assert.ok(error.message.includes(`line ${line}`), error.message);
    assert.match(error.message, problem);
    return true;
  });
}

Deno.test("readJsonLines() reads records with their line numbers and skips blank lines", async () => {
  const path = await tempFile("ok.jsonl", '{"a":1}\n\n  \n{"a":2}\r\n[3]');
  assert.deepEqual(await readJsonLines("test file", path), [
    { line: 1, value: { a: 1 } },
    { line: 4, value: { a: 2 } },
    { line: 5, value: [3] },
  ]);
});

Deno.test("readJsonLines() drops a byte-order mark", async () => {
  const path = await tempFile("bom.jsonl", '\uFEFF{"a":1}\n');
  assert.deepEqual(await readJsonLines("test file", path), [{ line: 1, value: { a: 1 } }]);
});

Deno.test("readJsonLines() names the line of invalid JSON", async () => {
  const path = await tempFile("bad.jsonl", '{"a":1}\n{"a":\n{"a":3}\n');
  await assertDatasetError(readJsonLines("test file", path), path, 2, /invalid JSON/);
});

Deno.test("readJsonLines() reports a cut-short last line as truncated", async () => {
  const path = await tempFile("cut.jsonl", '{"a":1}\n{"a":2}\n{"question": "How man');
  await assertDatasetError(readJsonLines("test file", path), path, 3, /cut short \(truncated file\?\)/);
});

Deno.test("readJsonLines() calls a bad last line that ends in a newline invalid, not truncated", async () => {
  const path = await tempFile("badlast.jsonl", '{"a":1}\n{"a":\n');
  await assertDatasetError(readJsonLines("test file", path), path, 2, /invalid JSON/);
});

Deno.test("readJsonLines() rejects an empty file and one of blank lines", async () => {
  const empty = await tempFile("empty.jsonl", "");
  await assertDatasetError(readJsonLines("test file", empty), empty, undefined, /the file is empty/);
  const blank = await tempFile("blank.jsonl", "\n  \n");
  await assertDatasetError(readJsonLines("test file", blank), blank, undefined, /no records/);
});

Deno.test("readTextLines() rejects a missing file and a directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-eval-" });
  await assertDatasetError(readTextLines("test file", `${dir}/nope.raw`), `${dir}/nope.raw`, undefined, /no such file/);
  await assertDatasetError(readTextLines("test file", dir), dir, undefined, /directory|cannot be read/);
});

Deno.test("readTextLines() names the first line that is not UTF-8", async () => {
  const bytes = new Uint8Array([...new TextEncoder().encode("ok\nfine\n"), 0x61, 0xff, 0x62, 0x0a]);
  const path = await tempFile("latin1.raw", bytes);
  await assertDatasetError(readTextLines("test file", path), path, 3, /not valid UTF-8/);
});

Deno.test("readTextLines() says whether the file ends with a newline", async () => {
  assert.deepEqual(await readTextLines("t", await tempFile("a", "x\ny\n")), {
    lines: ["x", "y", ""],
    endsWithNewline: true,
  });
  assert.deepEqual(await readTextLines("t", await tempFile("b", "x\ny")), {
    lines: ["x", "y"],
    endsWithNewline: false,
  });
});
