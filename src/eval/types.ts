/** Task and mode names of the evaluation, and the queries the harness hands to a runner. */
import type { ArcItem } from "./arc.ts";
import type { Gsm8kItem } from "./gsm8k.ts";
import type { WikitextArticle } from "./wikitext.ts";

/** Tasks, named as lm-evaluation-harness names them. */
export type TaskName = "wikitext" | "gsm8k" | "arc_challenge";

/** Every task, in report order. */
export const TASK_NAMES: readonly TaskName[] = ["wikitext", "gsm8k", "arc_challenge"];

/** How a query is run: what a user gets without qeil, QEIL v1's rule, and qeil. */
export type ModeName = "standard" | "greedy" | "qeil";

/** Every mode, in report order (the baseline first). */
export const MODE_NAMES: readonly ModeName[] = ["standard", "greedy", "qeil"];

/** True for a known task name. */
export function isTaskName(value: unknown): value is TaskName {
  return typeof value === "string" && (TASK_NAMES as readonly string[]).includes(value);
}

/** True for a known mode name. */
export function isModeName(value: unknown): value is ModeName {
  return typeof value === "string" && (MODE_NAMES as readonly string[]).includes(value);
}

/** WikiText: the rolling log-likelihood of one article. */
export interface WikitextQuery {
  task: "wikitext";
  /** Stable id (`wikitext/<index>`). */
  id: string;
  /** Position in the dataset, from 0. */
  index: number;
  article: WikitextArticle;
}

/** GSM8K: k generated answers to one few-shot prompt. */
export interface Gsm8kQuery {
  task: "gsm8k";
  id: string;
  index: number;
  item: Gsm8kItem;
  /** The few-shot prompt (lm-eval `Question: ...\nAnswer:` style), ending in `Answer:`. */
  prompt: string;
  /** Generation stops at these strings (lm-eval gsm8k `until`). */
  stop: readonly string[];
}

/** ARC-Challenge: choice log-likelihoods, and a generative variant through the sampling cascade. */
export interface ArcQuery {
  task: "arc_challenge";
  id: string;
  index: number;
  item: ArcItem;
  /** lm-eval's context: `Question: {stem}\nAnswer:`. */
  context: string;
  /** lm-eval's continuations: ` {choice text}` in choice order. */
  continuations: readonly string[];
  /** Prompt of the generative variant: the stem, lettered choices, then `Answer:`. */
  generativePrompt: string;
  /** Generation stops at these strings in the generative variant. */
  stop: readonly string[];
}

/** One unit of work for a runner. */
export type EvalQuery = WikitextQuery | Gsm8kQuery | ArcQuery;

/** The queries of one task, in dataset order. */
export interface TaskQueries<T extends EvalQuery = EvalQuery> {
  task: T["task"];
  queries: readonly T[];
}
