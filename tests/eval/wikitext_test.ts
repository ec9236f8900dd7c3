import assert from "node:assert/strict";
import { DatasetError } from "../../src/core/mod.ts";
import {
  isTitleLine,
  lmEvalWordCount,
  loadWikitext,
  splitWikitextArticles,
  whitespaceWordCount,
  wikitextDetokenize,
} from "../../src/eval/mod.ts";

const WIKI = new URL("../../../shared/data/wikitext/wiki.test.raw", import.meta.url).pathname;

async function tempRaw(content: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-wiki-" });
  await Deno.writeTextFile(`${dir}/wiki.raw`, content);
  return `${dir}/wiki.raw`;
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("loadWikitext() splits wiki.test.raw into its 62 articles with lm-eval's counts", async () => {
  const articles = await loadWikitext(WIKI);
  assert.equal(articles.length, 62);
  assert.equal(articles[0].title, "Robert Boulter");
  assert.equal(articles[0].line, 2);
  assert.equal(articles[1].title, "Du Fu");
  assert.equal(articles.at(-1)!.title, "The Hustler ( film )");
  const total = (key: "words" | "whitespaceWords" | "bytes") => articles.reduce((s, a) => s + a[key], 0);
  // The README's 241,211 whitespace-separated words; lm-eval's re.split adds an empty piece at each
  // article's leading and trailing whitespace (62 x 2 = 124), which is the divisor lm-eval uses.
  assert.equal(total("whitespaceWords"), 241_211);
  assert.equal(total("words"), 241_211 + 2 * 62);
  // 1,290,590 file bytes minus the blank first line (2 bytes) and the 61 newlines between articles.
  assert.equal(total("bytes"), 1_290_527);
  assert.ok(articles[0].page.startsWith(" = Robert Boulter = \n \n Robert Boulter is an English film"));
  assert.ok(articles[0].text.startsWith(" = Robert Boulter =\n\nRobert Boulter is an English film, television"));
});

Deno.test("wikitextDetokenize() reproduces lm-eval's detokenizer on the whole test set", async () => {
  const articles = await loadWikitext(WIKI);
  const joined = articles.map((a) => a.text).join("\u0000");
  // Pinned from lm-eval's Python wikitext_detokenizer run over the same 62 pages (joined with NUL).
  assert.equal(joined.length, 1_238_493);
  assert.equal(await sha256(joined), "b0ae50e166add20959a5406d9b3c99fe1f23819ec0a10149047149434fb85d81");
});

Deno.test("wikitextDetokenize() undoes WikiText's spaced tokens", () => {
  assert.equal(
    wikitextDetokenize(' = = Career = = \n The 2 @,@ 000 @-@ seat hall ( built 1 @.@ 5 km away ) , " big " . \n'),
    ' == Career ==\nThe 2,000-seat hall (built 1.5 km away), "big".\n',
  );
  // lm-eval's quote rule pairs the two apostrophes and squeezes the words between them, quirk included.
  assert.equal(
    wikitextDetokenize("the players ' union 's N members at 20 \u00b0 C"),
    "the players'union's 1 members at 20\u00b0C",
  );
});

Deno.test("lmEvalWordCount() counts like Python's len(re.split(r'\\s+', text))", () => {
  assert.equal(lmEvalWordCount("a b"), 2);
  assert.equal(lmEvalWordCount(" a b "), 4);
  assert.equal(lmEvalWordCount(""), 1);
  assert.equal(lmEvalWordCount("a\u0085b\u001fc"), 3); // Python whitespace that JavaScript's \s lacks
  assert.equal(lmEvalWordCount("a\uFEFFb"), 1); // JavaScript whitespace that Python's \s lacks
  assert.equal(whitespaceWordCount(" a  b\n"), 2);
  assert.equal(whitespaceWordCount("   "), 0);
});

Deno.test("splitWikitextArticles() starts articles at top-level headings only", () => {
  const lines = [" ", " = First = ", " text ", " = = Section = = ", " more ", " = Second = ", " body ", ""];
  assert.deepEqual(splitWikitextArticles(lines), [
    { page: " = First = \n text \n = = Section = = \n more ", line: 2, title: "First" },
    { page: " = Second = \n body \n", line: 6, title: "Second" },
  ]);
  assert.equal(isTitleLine(" = = = Sub = = = "), false);
  assert.equal(isTitleLine(" = A = B = "), true);
  // Text before the first heading is kept as an article when it is not blank, as the builder does.
  assert.equal(splitWikitextArticles(["preface", " = T = ", "x", ""]).length, 2);
});

Deno.test("loadWikitext() rejects missing, empty, truncated and non-WikiText files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qeil-wiki-" });
  const cases: [string, number | undefined, RegExp][] = [
    [`${dir}/missing.raw`, undefined, /no such file/],
    [await tempRaw(""), undefined, /the file is empty/],
    [await tempRaw(" = Title = \n text that stops mid-sent"), 2, /no newline after it \(truncated file\?\)/],
    [await tempRaw("just some text\nwith no heading\n"), undefined, /no top-level " = Title = " heading/],
  ];
  for (const [path, line, problem] of cases) {
    await assert.rejects(loadWikitext(path), (e: unknown) => {
      assert.ok(e instanceof DatasetError, String(e));
      assert.equal(e.details.path, path);
      assert.equal(e.details.line, line);
      assert.match(e.message, /^read WikiText file /);
      assert.match(e.message, problem);
      return true;
    });
  }
});

Deno.test("loadWikitext() reads a user's own copy from any path", async () => {
  const path = await tempRaw(" \n = Alpha = \n \n Alpha is a letter . \n \n = Beta = \n \n Beta @-@ two . \n \n");
  const articles = await loadWikitext(path);
  assert.deepEqual(articles.map((a) => [a.title, a.line, a.whitespaceWords, a.words]), [
    ["Alpha", 2, 8, 10],
    ["Beta", 6, 7, 9],
  ]);
  assert.equal(articles[1].text, " = Beta =\n\nBeta-two.\n\n");
  assert.equal(articles[1].bytes, new TextEncoder().encode(" = Beta = \n \n Beta @-@ two . \n \n").length);
});
