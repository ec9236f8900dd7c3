/** Paths of the real conformance models (read-only) and helpers shared by the runtime tests. */
import { buildTinyModel } from "../../src/runtime/mod.ts";

export const DATA = new URL("../../../shared/data/", import.meta.url).pathname;
export const STORIES = `${DATA}models/stories260k`;
export const LLAMA_FP16 = `${DATA}models/tiny-random-llama-fp16`;
export const GPT2 = `${DATA}models/tiny-random-gpt2-fp32`;

/** golden.json of stories260k. */
export interface Golden {
  text: string;
  token_ids_with_bos: number[];
  mean_nll_nats_teacher_forced: number;
  greedy_from_bos_ids: number[];
  greedy_from_bos_text: string;
  greedy_256_steps_text: string;
}

export function golden(): Golden {
  return JSON.parse(Deno.readTextFileSync(`${STORIES}/golden.json`));
}

/** Copies a model folder into a fresh temp dir (to break it on purpose). */
export async function copyModel(src: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-model-" });
  for await (const entry of Deno.readDir(src)) {
    if (entry.isFile) await Deno.copyFile(`${src}/${entry.name}`, `${dir}/${entry.name}`);
  }
  return dir;
}

/** Builds the tiny model (seed 0) into a fresh temp dir. */
export async function tinyModelDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-tiny-" });
  await buildTinyModel(dir, { seed: 0 });
  return dir;
}

/** Largest absolute difference of two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
