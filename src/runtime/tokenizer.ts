/**
 * Tokenizers: Hugging Face `tokenizer.json` (through @huggingface/tokenizers)
 * and llama2.c `tok512.bin` / `tokenizer.bin` (encoded exactly as llama2.c's
 * run.c does, with an O(n log n) merge loop so long texts stay fast).
 */
import { Tokenizer as HfTokenizerImpl } from "@huggingface/tokenizers";
import { ModelError } from "../core/mod.ts";

/** Text <-> token ids for one model. */
export interface Tokenizer {
  /** Which format the tokenizer was read from. */
  readonly kind: "huggingface" | "llama2c";
  /** Number of ids the tokenizer can produce. */
  readonly vocabSize: number;
  /** Beginning-of-sequence id, when the model has one. */
  readonly bosId: number | undefined;
  /** End-of-sequence id, when the model has one. */
  readonly eosId: number | undefined;
  /** Whether `encode` prepends BOS when `options.bos` is not given. */
  readonly addBos: boolean;
  /** Token ids of `text`. @param options.bos prepend BOS; @default addBos */
  encode(text: string, options?: { bos?: boolean }): number[];
  /** Text of `ids`, special tokens skipped. */
  decode(ids: readonly number[]): string;
}

/** Special ids the model's own config declares; they win over the tokenizer's files. */
export interface SpecialIds {
  bosId?: number;
  eosId?: number;
}

// ---------------------------------------------------------------- llama2.c

/** llama2.c tokenizer (`tok512.bin` format: int32 max_token_length, then per token float32 score, int32 len, bytes). */
export class Llama2cTokenizer implements Tokenizer {
  readonly kind = "llama2c" as const;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly addBos = true;
  readonly maxTokenLength: number;
  /** Pieces as binary strings (one char per byte), so byte sequences compare exactly. */
  readonly #pieces: string[];
  readonly #scores: Float32Array;
  readonly #lookup: Map<string, number>;
  readonly #byteOf: Int16Array;

  private constructor(maxTokenLength: number, pieces: string[], scores: Float32Array, special: SpecialIds) {
    this.maxTokenLength = maxTokenLength;
    this.#pieces = pieces;
    this.#scores = scores;
    this.vocabSize = pieces.length;
    // llama2.c ids: 0 <unk>, 1 BOS, 2 EOS.
    this.bosId = special.bosId ?? 1;
    this.eosId = special.eosId ?? 2;
    this.#lookup = new Map();
    // First occurrence wins, as llama2.c's bsearch over a sorted copy would find any; pieces are unique in practice.
    pieces.forEach((p, i) => {
      if (!this.#lookup.has(p)) this.#lookup.set(p, i);
    });
    this.#byteOf = new Int16Array(pieces.length).fill(-1);
    pieces.forEach((p, i) => {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(p);
      if (m) this.#byteOf[i] = parseInt(m[1], 16);
    });
  }

  /**
   * Parses a llama2.c tokenizer file.
   * @param expectedVocabSize from the model config; the file must hold exactly this many tokens when given
   * @throws ModelError naming `label` when the file is truncated or inconsistent
   */
  static parse(
    bytes: Uint8Array,
    label: string,
    expectedVocabSize?: number,
    special: SpecialIds = {},
  ): Llama2cTokenizer {
    const fail = (what: string) => new ModelError(`load ${label}: ${what}`, { details: { path: label } });
    if (bytes.byteLength < 4) throw fail("file is shorter than its 4-byte header");
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const maxTokenLength = view.getInt32(0, true);
    if (maxTokenLength <= 0 || maxTokenLength > 1024) throw fail(`max_token_length ${maxTokenLength} is not plausible`);
    const pieces: string[] = [];
    const scores: number[] = [];
    let offset = 4;
    while (offset < bytes.byteLength && (expectedVocabSize === undefined || pieces.length < expectedVocabSize)) {
      if (offset + 8 > bytes.byteLength) throw fail(`truncated in the header of token ${pieces.length}`);
      const score = view.getFloat32(offset, true);
      const len = view.getInt32(offset + 4, true);
      offset += 8;
      if (len < 0 || len > maxTokenLength || offset + len > bytes.byteLength) {
        throw fail(
          `token ${pieces.length} has length ${len} (max_token_length ${maxTokenLength}, ${
            bytes.byteLength - offset
          } bytes left)`,
        );
      }
      let piece = "";
      for (let i = 0; i < len; i++) piece += String.fromCharCode(bytes[offset + i]);
      offset += len;
      pieces.push(piece);
      scores.push(score);
    }
    if (expectedVocabSize !== undefined && pieces.length !== expectedVocabSize) {
      throw fail(`holds ${pieces.length} tokens but the model config says vocab_size ${expectedVocabSize}`);
    }
    if (expectedVocabSize !== undefined && offset !== bytes.byteLength) {
      throw fail(`has ${bytes.byteLength - offset} trailing bytes after ${expectedVocabSize} tokens`);
    }
    if (pieces.length < 3) throw fail(`holds only ${pieces.length} tokens`);
    return new Llama2cTokenizer(maxTokenLength, pieces, Float32Array.from(scores), special);
  }

  encode(text: string, options: { bos?: boolean } = {}): number[] {
    const tokens: number[] = [];
    if ((options.bos ?? this.addBos) && this.bosId !== undefined) tokens.push(this.bosId);
    const bytes = new TextEncoder().encode(text);
    if (bytes.length === 0) return tokens;
    // llama2.c adds a dummy-prefix " " piece in front of any non-empty text (sentencepiece's add_dummy_prefix).
    const dummy = this.#lookup.get(" ");
    if (dummy !== undefined) tokens.push(dummy);
    for (let i = 0; i < bytes.length;) {
      let end = i + 1;
      while (end < bytes.length && end - i < 4 && (bytes[end] & 0xc0) === 0x80) end++;
      let key = "";
      for (let j = i; j < end; j++) key += String.fromCharCode(bytes[j]);
      const id = this.#lookup.get(key);
      if (id !== undefined) tokens.push(id);
      else for (let j = i; j < end; j++) tokens.push(bytes[j] + 3); // byte fallback: <0x00> is id 3
      i = end;
    }
    // run.c merges over the whole sequence, BOS included (BOS never merges: no piece extends it).
    return this.#merge(tokens);
  }

  /**
   * llama2.c merges the adjacent pair with the highest score anywhere in the
   * sequence, leftmost on ties, until none is in the vocabulary. A heap of
   * candidate pairs over a linked list gives the same order in O(n log n).
   */
  #merge(input: number[]): number[] {
    const n = input.length;
    if (n < 2) return input;
    const id = Int32Array.from(input);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // Heap entries: [score, left position, merged id, left id, right id] (stale entries are skipped).
    const heap: [number, number, number, number, number][] = [];
    const better = (a: [number, number, number, number, number], b: [number, number, number, number, number]) =>
      a[0] > b[0] || (a[0] === b[0] && a[1] < b[1]);
    const push = (e: [number, number, number, number, number]) => {
      heap.push(e);
      let i = heap.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!better(heap[i], heap[p])) break;
        [heap[i], heap[p]] = [heap[p], heap[i]];
        i = p;
      }
    };
    const pop = () => {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1, r = l + 1;
          let m = i;
          if (l < heap.length && better(heap[l], heap[m])) m = l;
          if (r < heap.length && better(heap[r], heap[m])) m = r;
          if (m === i) break;
          [heap[i], heap[m]] = [heap[m], heap[i]];
          i = m;
        }
      }
      return top;
    };
    const consider = (left: number) => {
      const right = next[left];
      if (left < 0 || right < 0) return;
      const merged = this.#lookup.get(this.#pieces[id[left]] + this.#pieces[id[right]]);
      if (merged !== undefined) push([this.#scores[merged], left, merged, id[left], id[right]]);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    while (heap.length > 0) {
      const [, left, merged, leftId, rightId] = pop();
      const right = next[left];
      if (!alive[left] || right < 0 || id[left] !== leftId || id[right] !== rightId) continue;
      id[left] = merged;
      alive[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      if (prev[left] >= 0) consider(prev[left]);
      consider(left);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(id[i]);
    return out;
  }

  decode(ids: readonly number[]): string {
    const bytes: number[] = [];
    let prev = -1;
    for (const t of ids) {
      if (!Number.isInteger(t) || t < 0 || t >= this.vocabSize) {
        throw new RangeError(`decode: token id ${t} is outside the vocabulary [0, ${this.vocabSize})`);
      }
      if (t === this.bosId || t === this.eosId || t === 0) {
        prev = t;
        continue;
      }
      const byte = this.#byteOf[t];
      if (byte >= 0) bytes.push(byte);
      else {
        let piece = this.#pieces[t];
        // run.c: "following BOS token, sentencepiece decoder strips any leading whitespace"
        if (prev === this.bosId && piece.charCodeAt(0) === 0x20) piece = piece.slice(1);
        for (let i = 0; i < piece.length; i++) bytes.push(piece.charCodeAt(i));
      }
      prev = t;
    }
    return new TextDecoder().decode(Uint8Array.from(bytes));
  }
}

// ---------------------------------------------------------------- Hugging Face

/** A Hugging Face `tokenizer.json` tokenizer. */
export class HfTokenizer implements Tokenizer {
  readonly kind = "huggingface" as const;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly addBos: boolean;
  readonly #impl: HfTokenizerImpl;

  private constructor(impl: HfTokenizerImpl, vocabSize: number, bosId?: number, eosId?: number, addBos = false) {
    this.#impl = impl;
    this.vocabSize = vocabSize;
    this.bosId = bosId;
    this.eosId = eosId;
    this.addBos = addBos && bosId !== undefined;
  }

  /**
   * Builds the tokenizer from parsed `tokenizer.json` and `tokenizer_config.json`.
   * @throws ModelError naming `label` when the tokenizer cannot be built
   */
  static fromJson(
    tokenizerJson: unknown,
    tokenizerConfig: unknown,
    label: string,
    special: SpecialIds = {},
  ): HfTokenizer {
    const config = (typeof tokenizerConfig === "object" && tokenizerConfig !== null ? tokenizerConfig : {}) as Record<
      string,
      unknown
    >;
    let impl: HfTokenizerImpl;
    try {
      impl = new HfTokenizerImpl(tokenizerJson as object, config);
    } catch (error) {
      throw new ModelError(`load ${label}: cannot build the tokenizer (${(error as Error).message})`, {
        cause: error,
        details: { path: label },
      });
    }
    const tokenId = (key: string): number | undefined => {
      const v = config[key];
      const content = typeof v === "string" ? v : (v as { content?: unknown } | undefined)?.content;
      return typeof content === "string" ? impl.token_to_id(content) : undefined;
    };
    const bosId = special.bosId ?? tokenId("bos_token");
    const eosId = special.eosId ?? tokenId("eos_token");
    // add_bos_token when the config says so; otherwise whether the post-processor puts a token in front.
    let addBos: boolean;
    if (typeof config.add_bos_token === "boolean") addBos = config.add_bos_token;
    else {
      const plain = impl.encode("a", { add_special_tokens: false }).ids;
      const full = impl.encode("a").ids;
      addBos = full.length > plain.length && full[0] !== plain[0];
    }
    return new HfTokenizer(impl, impl.get_vocab(true).size, bosId, eosId, addBos);
  }

  encode(text: string, options: { bos?: boolean } = {}): number[] {
    const ids = text.length === 0 ? [] : this.#impl.encode(text, { add_special_tokens: false }).ids;
    return (options.bos ?? this.addBos) && this.bosId !== undefined ? [this.bosId, ...ids] : ids;
  }

  decode(ids: readonly number[]): string {
    // tokenizers.js rejects an empty id list.
    return ids.length === 0 ? "" : this.#impl.decode([...ids], { skip_special_tokens: true });
  }
}

// ---------------------------------------------------------------- loading

async function readIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new ModelError(`read ${path}: ${(error as Error).message}`, { cause: error, details: { path } });
  }
}

function parseJson(bytes: Uint8Array, path: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new ModelError(`load ${path}: invalid JSON (${(error as Error).message})`, {
      cause: error,
      details: { path },
    });
  }
}

/** Names of the tokenizer files `loadTokenizer` looks for, in order. */
export const TOKENIZER_FILES: readonly string[] = ["tokenizer.json", "tok512.bin", "tokenizer.bin"];

/**
 * Loads the tokenizer of a model folder: `tokenizer.json` (with
 * `tokenizer_config.json` when present), else a llama2.c `tok512.bin` or `tokenizer.bin`.
 * @throws ModelError naming the folder when no tokenizer file exists, or the file when it is invalid
 */
export async function loadTokenizer(
  dir: string,
  options: SpecialIds & { vocabSize?: number } = {},
): Promise<Tokenizer> {
  const special: SpecialIds = {
    ...(options.bosId !== undefined ? { bosId: options.bosId } : {}),
    ...(options.eosId !== undefined ? { eosId: options.eosId } : {}),
  };
  const jsonPath = `${dir}/tokenizer.json`;
  const json = await readIfExists(jsonPath);
  if (json) {
    const configPath = `${dir}/tokenizer_config.json`;
    const configBytes = await readIfExists(configPath);
    return HfTokenizer.fromJson(
      parseJson(json, jsonPath),
      configBytes ? parseJson(configBytes, configPath) : {},
      jsonPath,
      special,
    );
  }
  for (const name of ["tok512.bin", "tokenizer.bin"]) {
    const path = `${dir}/${name}`;
    const bytes = await readIfExists(path);
    if (bytes) return Llama2cTokenizer.parse(bytes, path, options.vocabSize, special);
  }
  throw new ModelError(`load tokenizer: ${dir} has none of ${TOKENIZER_FILES.join(", ")}`, { details: { path: dir } });
}
