/**
 * Turning dataset files into the harness's queries: where the files are
 * (any folder with the shared data layout, or one path per file), and the
 * prompts and continuations of each task.
 */
import {
  ARC_GENERATIVE_STOP,
  arcContext,
  arcContinuations,
  arcGenerativePrompt,
  type ArcItem,
  loadArc,
} from "./arc.ts";
import { GSM8K_DEFAULT_SHOTS, GSM8K_STOP, type Gsm8kItem, gsm8kPrompt, loadGsm8k, selectFewShot } from "./gsm8k.ts";
import type { ArcQuery, Gsm8kQuery, TaskName, TaskQueries, WikitextQuery } from "./types.ts";
import { loadWikitext, type WikitextArticle } from "./wikitext.ts";

/** Where each dataset file is. */
export interface DatasetPaths {
  /** GSM8K test split (JSON Lines). */
  gsm8kTest: string;
  /** GSM8K train split, for few-shot exemplars (JSON Lines). */
  gsm8kTrain: string;
  /** ARC-Challenge test split (JSON Lines). */
  arcChallengeTest: string;
  /** WikiText raw test file. */
  wikitextTest: string;
}

/** The files of a folder laid out like `../shared/data` (see its README). */
export function datasetPaths(dataDir: string): DatasetPaths {
  const dir = dataDir.replace(/\/+$/, "");
  return {
    gsm8kTest: `${dir}/gsm8k/test.jsonl`,
    gsm8kTrain: `${dir}/gsm8k/train.jsonl`,
    arcChallengeTest: `${dir}/arc/ARC-Challenge-Test.jsonl`,
    wikitextTest: `${dir}/wikitext/wiki.test.raw`,
  };
}

/** WikiText queries, one per article. */
export function wikitextQueries(articles: readonly WikitextArticle[]): TaskQueries<WikitextQuery> {
  return {
    task: "wikitext",
    queries: articles.map((article) => ({
      task: "wikitext",
      id: `wikitext/${article.index}`,
      index: article.index,
      article,
    })),
  };
}

/** Options of {@linkcode gsm8kQueries}. */
export interface Gsm8kQueryOptions {
  /** Few-shot exemplars from train. @default 8 */
  shots?: number;
  /** Seed of the exemplar draw. */
  seed: number;
}

/** GSM8K queries: every test item after the same seeded few-shot exemplars from train. */
export function gsm8kQueries(
  test: readonly Gsm8kItem[],
  train: readonly Gsm8kItem[],
  options: Gsm8kQueryOptions,
): TaskQueries<Gsm8kQuery> {
  const exemplars = selectFewShot(train, options.shots ?? GSM8K_DEFAULT_SHOTS, options.seed);
  return {
    task: "gsm8k",
    queries: test.map((item) => ({
      task: "gsm8k",
      id: `gsm8k/${item.index}`,
      index: item.index,
      item,
      prompt: gsm8kPrompt(item.question, exemplars),
      stop: GSM8K_STOP,
    })),
  };
}

/** ARC-Challenge queries. */
export function arcQueries(items: readonly ArcItem[]): TaskQueries<ArcQuery> {
  return {
    task: "arc_challenge",
    queries: items.map((item) => ({
      task: "arc_challenge",
      id: `arc_challenge/${item.id}`,
      index: item.index,
      item,
      context: arcContext(item),
      continuations: arcContinuations(item),
      generativePrompt: arcGenerativePrompt(item),
      stop: ARC_GENERATIVE_STOP,
    })),
  };
}

/** Options of {@linkcode loadTaskQueries}. */
export interface LoadTaskQueriesOptions {
  paths: DatasetPaths;
  /** Tasks to load, in run order. */
  tasks: readonly TaskName[];
  /** Seed of the GSM8K exemplar draw. */
  seed: number;
  /** GSM8K few-shot exemplars. @default 8 */
  shots?: number;
}

/**
 * Loads the files of the requested tasks (only those) as queries.
 * @throws DatasetError for a missing or malformed file
 */
export async function loadTaskQueries(options: LoadTaskQueriesOptions): Promise<TaskQueries[]> {
  const { paths } = options;
  const out: TaskQueries[] = [];
  for (const task of options.tasks) {
    switch (task) {
      case "wikitext":
        out.push(wikitextQueries(await loadWikitext(paths.wikitextTest)));
        break;
      case "gsm8k": {
        // One after the other: with both files missing, the error always names the test split.
        const test = await loadGsm8k(paths.gsm8kTest);
        const train = await loadGsm8k(paths.gsm8kTrain);
        out.push(
          gsm8kQueries(test, train, {
            seed: options.seed,
            ...(options.shots !== undefined ? { shots: options.shots } : {}),
          }),
        );
        break;
      }
      case "arc_challenge":
        out.push(arcQueries(await loadArc(paths.arcChallengeTest)));
        break;
    }
  }
  return out;
}
