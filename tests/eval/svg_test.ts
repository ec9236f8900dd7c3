import assert from "node:assert/strict";
import { el, escapeXml, formatTick, marker, MARKERS, niceTicks, num, svgDocument, text } from "../../src/eval/svg.ts";
import { allText, parseXml } from "./xml_check.ts";

Deno.test("escapeXml() escapes the five XML specials", () => {
  assert.equal(escapeXml(`a<b>&"c'`), "a&lt;b&gt;&amp;&quot;c&apos;");
});

Deno.test("el() and text() escape attribute values and text", () => {
  const doc = svgDocument(100, 50, 'Title <&> "q"', "desc & more", [
    el("g", { "data-series": 'a"<b>' }, [text("x < y & z", { x: 1, y: 2 })]),
  ]);
  const root = parseXml(doc);
  assert.equal(root.name, "svg");
  assert.equal(root.attributes.xmlns, "http://www.w3.org/2000/svg");
  assert.deepEqual(allText(root), ['Title <&> "q"', "desc & more", "x < y & z"]);
  assert.equal(root.children[3].attributes["data-series"], 'a"<b>');
});

Deno.test("num() rounds coordinates and refuses non-finite ones", () => {
  assert.equal(num(1.23456), "1.23");
  assert.equal(num(-0.001), "0");
  assert.throws(() => num(Number.NaN), /finite/);
});

Deno.test("niceTicks() covers the range on 1-2-5 steps", () => {
  assert.deepEqual(niceTicks(0, 9.3, 5), { ticks: [0, 2, 4, 6, 8, 10], min: 0, max: 10 });
  assert.deepEqual(niceTicks(41.5, 87.2, 6), { ticks: [40, 50, 60, 70, 80, 90], min: 40, max: 90 });
  assert.deepEqual(niceTicks(0, 0.037, 5), { ticks: [0, 0.01, 0.02, 0.03, 0.04], min: 0, max: 0.04 });
  const flat = niceTicks(5, 5);
  assert.ok(flat.min < 5 && flat.max > 5);
  assert.throws(() => niceTicks(0, Number.POSITIVE_INFINITY), RangeError);
});

Deno.test("formatTick() keeps labels short", () => {
  assert.equal(formatTick(0), "0");
  assert.equal(formatTick(12.345), "12.3");
  assert.equal(formatTick(0.0001234), "1.2e-4");
  assert.equal(formatTick(250000), "2.5e+5");
});

Deno.test("marker() draws every shape as a well-formed element", () => {
  for (const shape of MARKERS) {
    const root = parseXml(el("g", {}, [marker(shape, 10, 10, 4, { fill: "#000000" })]));
    assert.equal(root.children.length, 1, shape);
  }
});
