import assert from "node:assert/strict";
import { allText, findAll, parseXml } from "./xml_check.ts";

Deno.test("parseXml() builds the tree with decoded text and attributes", () => {
  const root = parseXml(
    `<?xml version="1.0" encoding="UTF-8"?>\n<svg a="1 &amp; 2"><!-- c --><g id='x'><text>a &lt;b&gt; &#233;&#x41;</text></g><rect/></svg>\n`,
  );
  assert.equal(root.name, "svg");
  assert.equal(root.attributes.a, "1 & 2");
  assert.deepEqual(root.children.map((c) => c.name), ["g", "rect"]);
  assert.deepEqual(allText(root), ["a <b> éA"]);
  assert.equal(findAll(root, (e) => e.attributes.id === "x").length, 1);
});

Deno.test("parseXml() rejects documents that are not well-formed", () => {
  const bad: [string, RegExp][] = [
    ["<a><b></a></b>", /closes <b>/],
    ["<a>", /never closed/],
    ["<a></a><b/>", /second root/],
    ["<a>x & y</a>", /"&" not starting an entity/],
    ["<a>&nbsp;</a>", /unknown entity/],
    ["<a>1 < 2</a>", /"<" not starting a tag/],
    ['<a b="1" b="2"/>', /repeats/],
    ["<a b=1/>", /not quoted/],
    ['<a b="x<y"/>', /"<" in the value/],
    ['<a b="1"c="2"/>', /need whitespace/],
    ["text<a/>", /outside the root/],
    ["<a><!-- x -- y --></a>", /inside a comment/],
    ["", /no root element/],
    ["</a>", /without a start tag/],
  ];
  for (const [source, message] of bad) {
    assert.throws(() => parseXml(source), message, source);
  }
});
