/**
 * A small XML well-formedness checker and tree builder for the SVG tests (no
 * XML parser is mapped in deno.json). It enforces what XML 1.0 requires of
 * the documents we write: one root element, properly nested and matching
 * tags, quoted attribute values without `<` and with unique names, only the
 * five predefined entities or character references, no raw `&` or `<` in
 * text, well-formed comments, processing instructions and CDATA sections.
 * No DTDs (our documents have none; one is rejected).
 */

/** An element of the parsed tree. */
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** Text directly inside this element, entities decoded. */
  text: string;
}

const NAME_RE = /^[A-Za-z_:][A-Za-z0-9_:.-]*/;
const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decode(raw: string, where: string): string {
  return raw.replace(/&([^;&<\s]*);?/g, (match, body: string) => {
    if (!match.endsWith(";")) throw new SyntaxError(`${where}: "&" not starting an entity reference`);
    if (body in ENTITIES) return ENTITIES[body];
    const m = /^#(?:x([0-9A-Fa-f]+)|([0-9]+))$/.exec(body);
    if (!m) throw new SyntaxError(`${where}: unknown entity "&${body};"`);
    const code = m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2], 10);
    if (code === 0 || code > 0x10ffff) throw new SyntaxError(`${where}: invalid character reference "&${body};"`);
    return String.fromCodePoint(code);
  });
}

/**
 * Parses `source` and returns its root element.
 * @throws SyntaxError naming the offset and the problem
 */
export function parseXml(source: string): XmlElement {
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const fail = (problem: string): never => {
    throw new SyntaxError(`XML not well-formed at offset ${i}: ${problem}`);
  };
  if (source.startsWith("<?xml")) {
    const end = source.indexOf("?>");
    if (end < 0) fail("unterminated XML declaration");
    i = end + 2;
  }
  while (i < source.length) {
    const lt = source.indexOf("<", i);
    const chunk = source.slice(i, lt < 0 ? source.length : lt);
    if (chunk.length > 0) {
      if (chunk.includes(">") && /]]>/.test(chunk)) fail('"]]>" in text');
      const decoded = decode(chunk, `text at offset ${i}`);
      if (stack.length === 0) {
        if (decoded.trim() !== "") fail("text outside the root element");
      } else stack[stack.length - 1].text += decoded;
    }
    if (lt < 0) break;
    i = lt;
    if (source.startsWith("<!--", i)) {
      const end = source.indexOf("-->", i + 4);
      if (end < 0) fail("unterminated comment");
      if (source.slice(i + 4, end).includes("--")) fail('"--" inside a comment');
      i = end + 3;
    } else if (source.startsWith("<![CDATA[", i)) {
      if (stack.length === 0) fail("CDATA outside the root element");
      const end = source.indexOf("]]>", i);
      if (end < 0) fail("unterminated CDATA section");
      stack[stack.length - 1].text += source.slice(i + 9, end);
      i = end + 3;
    } else if (source.startsWith("<?", i)) {
      const end = source.indexOf("?>", i);
      if (end < 0) fail("unterminated processing instruction");
      i = end + 2;
    } else if (source.startsWith("<!", i)) {
      fail("DTDs and declarations are not supported");
    } else if (source.startsWith("</", i)) {
      const m = NAME_RE.exec(source.slice(i + 2));
      if (!m) fail("end tag without a name");
      const name = m![0];
      let j = i + 2 + name.length;
      while (/\s/.test(source[j] ?? "")) j++;
      if (source[j] !== ">") fail(`malformed end tag </${name}`);
      const open = stack.pop();
      if (!open) fail(`end tag </${name}> without a start tag`);
      if (open!.name !== name) fail(`end tag </${name}> closes <${open!.name}>`);
      i = j + 1;
    } else {
      const m = NAME_RE.exec(source.slice(i + 1));
      if (!m) fail('"<" not starting a tag');
      const element: XmlElement = { name: m![0], attributes: {}, children: [], text: "" };
      let j = i + 1 + element.name.length;
      for (;;) {
        const ws = /^\s*/.exec(source.slice(j))![0].length;
        j += ws;
        if (source.startsWith("/>", j) || source[j] === ">") break;
        if (ws === 0) fail(`attributes of <${element.name}> need whitespace between them`);
        const a = NAME_RE.exec(source.slice(j));
        if (!a) fail(`bad attribute in <${element.name}>`);
        const attr = a![0];
        j += attr.length;
        const eq = /^\s*=\s*/.exec(source.slice(j));
        if (!eq) fail(`attribute ${attr} of <${element.name}> has no value`);
        j += eq![0].length;
        const quote = source[j];
        if (quote !== '"' && quote !== "'") fail(`attribute ${attr} of <${element.name}> is not quoted`);
        const close = source.indexOf(quote, j + 1);
        if (close < 0) fail(`unterminated value of attribute ${attr}`);
        const raw = source.slice(j + 1, close);
        if (raw.includes("<")) fail(`"<" in the value of attribute ${attr}`);
        if (attr in element.attributes) fail(`attribute ${attr} repeats in <${element.name}>`);
        element.attributes[attr] = decode(raw, `attribute ${attr} of <${element.name}>`);
        j = close + 1;
        if (j > source.length) fail("unterminated start tag");
      }
      const selfClosing = source.startsWith("/>", j);
      i = j + (selfClosing ? 2 : 1);
      if (stack.length === 0) {
        if (root) fail(`a second root element <${element.name}>`);
        root = element;
      } else stack[stack.length - 1].children.push(element);
      if (!selfClosing) stack.push(element);
    }
  }
  if (stack.length > 0) fail(`<${stack[stack.length - 1].name}> is never closed`);
  if (!root) fail("no root element");
  return root!;
}

/** Every element below (and including) `root` that satisfies `predicate`, in document order. */
export function findAll(root: XmlElement, predicate: (e: XmlElement) => boolean): XmlElement[] {
  const out: XmlElement[] = [];
  const visit = (e: XmlElement) => {
    if (predicate(e)) out.push(e);
    e.children.forEach(visit);
  };
  visit(root);
  return out;
}

/** All text of `root` and its descendants, in document order. */
export function allText(root: XmlElement): string[] {
  return findAll(root, (e) => e.text.trim() !== "").map((e) => e.text);
}
