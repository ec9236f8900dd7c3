/**
 * WikiText raw as lm-evaluation-harness's `wikitext` task reads it: the file
 * split into articles at top-level ` = Title = ` lines exactly as the
 * `EleutherAI/wikitext_document_level` builder does; each article scored on
 * its detokenized text (lm-eval's `wikitext_detokenizer`) while words and
 * bytes are counted on the original article, as lm-eval's `process_results`
 * does: `len(re.split(r"\s+", page))` words and UTF-8 bytes.
 */
import { datasetError, readTextLines } from "./dataset_file.ts";

/** One article. */
export interface WikitextArticle {
  /** Position in the file, from 0. */
  index: number;
  /** Line of its title in the file, from 1. */
  line: number;
  /** The title, from its ` = Title = ` line. */
  title: string;
  /** The original article text (lm-eval's `doc["page"]`). */
  page: string;
  /** The text the model scores (lm-eval's `doc_to_target`). */
  text: string;
  /** lm-eval's word count: pieces of `re.split(r"\s+", page)`, empty edge pieces included. */
  words: number;
  /** Non-empty whitespace-separated words (`page.split()`). */
  whitespaceWords: number;
  /** UTF-8 bytes of `page`. */
  bytes: number;
}

/**
 * Python's `\s` for str patterns (Unicode whitespace): unlike JavaScript's
 * `\s` it includes U+001C-U+001F and U+0085 and excludes U+FEFF.
 */
const PY_WHITESPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_SPLIT_RE = new RegExp(`[${PY_WHITESPACE}]+`, "u");
const PY_WORD_RE = new RegExp(`[^${PY_WHITESPACE}]+`, "gu");

/** `len(re.split(r"\s+", text))` of Python: a leading or trailing run of whitespace adds an empty piece. */
export function lmEvalWordCount(text: string): number {
  return text.split(PY_SPLIT_RE).length;
}

/** `len(text.split())` of Python: non-empty runs of non-whitespace. */
export function whitespaceWordCount(text: string): number {
  return text.match(PY_WORD_RE)?.length ?? 0;
}

/** lm-eval's bracket and quote rules: the spaces just inside each pair removed (Python `\s`). */
const WS = `[${PY_WHITESPACE}]*`;
const BRACKET_RES: readonly [RegExp, string][] = [
  [new RegExp(`\\(${WS}([^)]*?)${WS}\\)`, "gu"), "($1)"],
  [new RegExp(`\\[${WS}([^\\]]*?)${WS}\\]`, "gu"), "[$1]"],
  [new RegExp(`\\{${WS}([^}]*?)${WS}\\}`, "gu"), "{$1}"],
  [new RegExp(`"${WS}([^"]*?)${WS}"`, "gu"), '"$1"'],
  [new RegExp(`'${WS}([^']*?)${WS}'`, "gu"), "'$1'"],
];

/** True for a top-level heading line (` = Title = `, not ` = = Section = = `). */
export function isTitleLine(line: string): boolean {
  const r = line.replaceAll("= = =", "===").replaceAll("= =", "==").trim();
  return r.startsWith("= ") && r.endsWith(" =");
}

/** The title of a heading line. */
function titleOf(line: string): string {
  return line.trim().replace(/^=\s*/, "").replace(/\s*=$/, "").trim();
}

/**
 * Splits WikiText raw lines into articles as the document-level builder
 * does: a heading line starts a new page; text before the first heading is a
 * page only when it is not blank; the last page is always kept.
 */
export function splitWikitextArticles(lines: readonly string[]): { page: string; line: number; title: string }[] {
  const pages: { page: string; line: number; title: string }[] = [];
  let current: string[] = [];
  let startLine = 1;
  const flush = (always: boolean) => {
    const page = current.join("\n");
    if (always || page.trim() !== "") {
      const heading = current.find((l) => l.trim() !== "") ?? "";
      pages.push({ page, line: startLine, title: isTitleLine(heading) ? titleOf(heading) : "" });
    }
  };
  lines.forEach((line, i) => {
    if (isTitleLine(line)) {
      flush(false);
      current = [];
      startLine = i + 1;
    }
    current.push(line);
  });
  flush(true);
  return pages;
}

/** lm-eval's `wikitext_detokenizer` (undoes WikiText's spaced-out tokenisation). */
export function wikitextDetokenize(page: string): string {
  let s = page;
  s = s.replaceAll("s '", "s'");
  // lm-eval's pattern `/' [0-9]/` matches a literal slash-quote-space-digit-slash; kept as written.
  s = s.replaceAll(/\/' [0-9]\//g, "/'[0-9]/");
  s = s.replaceAll(" @-@ ", "-").replaceAll(" @,@ ", ",").replaceAll(" @.@ ", ".");
  s = s.replaceAll(" : ", ": ").replaceAll(" ; ", "; ").replaceAll(" . ", ". ");
  s = s.replaceAll(" ! ", "! ").replaceAll(" ? ", "? ").replaceAll(" , ", ", ");
  for (const [re, replacement] of BRACKET_RES) s = s.replace(re, replacement);
  s = s.replaceAll("= = = =", "====").replaceAll("= = =", "===").replaceAll("= =", "==");
  s = s.replaceAll(" \u00b0 ", "\u00b0");
  s = s.replaceAll(" \n", "\n").replaceAll("\n ", "\n");
  s = s.replaceAll(" N ", " 1 ").replaceAll(" 's", "'s");
  return s;
}

/**
 * Reads a WikiText raw file (`wiki.test.raw`) as articles.
 * @throws DatasetError when the file is missing, empty, not UTF-8, ends
 *   without a newline (WikiText raw files end with one: a truncated copy), or
 *   has no ` = Title = ` heading
 */
export async function loadWikitext(path: string): Promise<WikitextArticle[]> {
  const what = "WikiText file";
  const { lines, endsWithNewline } = await readTextLines(what, path);
  if (!endsWithNewline) {
    throw datasetError(what, path, "the last line has no newline after it (truncated file?)", {
      line: lines.length,
    });
  }
  const firstHeading = lines.findIndex(isTitleLine);
  if (firstHeading < 0) {
    throw datasetError(what, path, 'no top-level " = Title = " heading: not a WikiText raw file?');
  }
  const encoder = new TextEncoder();
  return splitWikitextArticles(lines).map(({ page, line, title }, index) => ({
    index,
    line,
    title,
    page,
    text: wikitextDetokenize(page),
    words: lmEvalWordCount(page),
    whitespaceWords: whitespaceWordCount(page),
    bytes: encoder.encode(page).length,
  }));
}
