/**
 * `qeil score`: log-likelihood of a text under a model in rolling windows
 * (lm-evaluation-harness `loglikelihood_rolling`), as tokens, mean NLL and perplexity.
 */
import { type Command, UsageError } from "./command.ts";
import { InputError } from "../src/core/mod.ts";
import { loadModel, rollingLogLikelihood } from "../src/runtime/mod.ts";
import { describeModel, resolveModelDir } from "./run.ts";

export const scoreCommand: Command = {
  name: "score",
  summary: "Score a text: tokens, mean NLL (nats/token) and perplexity",
  usage: "[--model DIR] (--text TEXT | --file F) [--window N] [--json]",
  description: `
Tokenises the text without BOS and predicts every token once, after a BOS prefix, in windows of
at most the model's context (lm-eval's rolling log-likelihood). Without --model, the embedded tiny
model is used.`,
  options: {
    model: { type: "string", valueName: "DIR", description: "Model folder. Default: the embedded tiny model." },
    text: { type: "string", valueName: "TEXT", description: "Text to score." },
    file: { type: "string", valueName: "F", description: "File whose UTF-8 text to score." },
    window: { type: "string", valueName: "N", description: "Tokens per window. Default: the model's context." },
    json: { type: "boolean", description: "Print one JSON object instead of text." },
  },
  async run(args, ctx) {
    const text = args.string("text");
    const file = args.string("file");
    if ((text === undefined) === (file === undefined)) throw new UsageError("give exactly one of --text and --file");
    let body: string;
    if (file !== undefined) {
      try {
        body = await Deno.readTextFile(file);
      } catch (error) {
        throw new InputError(`read --file ${file}: ${(error as Error).message}`, {
          cause: error,
          details: { field: "file" },
        });
      }
    } else body = text!;
    const window = args.int("window", { min: 1 });
    await using model = await loadModel(await resolveModelDir(args, ctx));
    const started = performance.now();
    const score = await rollingLogLikelihood(model, body, {
      ...(window !== undefined ? { window } : {}),
      signal: ctx.signal,
    });
    const durationMs = performance.now() - started;
    const meanNll = score.tokens > 0 ? -score.logLikelihood / score.tokens : 0;
    const perplexity = Math.exp(meanNll);
    if (args.flag("json")) {
      ctx.stdout(
        JSON.stringify({
          model: model.dir,
          tokens: score.tokens,
          windows: score.windows,
          logLikelihood: score.logLikelihood,
          meanNll,
          perplexity,
          durationMs,
        }) + "\n",
      );
    } else {
      ctx.stdout(
        `${describeModel(model)}\n` +
          `tokens: ${score.tokens} (${score.windows} windows)\n` +
          `mean NLL: ${meanNll.toFixed(6)} nats/token\n` +
          `perplexity: ${perplexity.toFixed(4)}\n`,
      );
    }
    return 0;
  },
};
