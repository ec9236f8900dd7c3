/**
 * `qeil run`: generates samples from an ONNX decoder folder (or the embedded
 * tiny model) and prints each sample as soon as it finishes.
 */
import { type Command, type CommandContext, type ParsedArgs, UsageError } from "./command.ts";
import {
  type DecoderModel,
  defaultCacheDir,
  ensureTinyModel,
  generate,
  type GeneratedSample,
  loadModel,
} from "../src/runtime/mod.ts";

/** The model folder of `--model`, or the embedded tiny model (built into the cache on first use). */
export async function resolveModelDir(args: ParsedArgs, ctx: CommandContext): Promise<string> {
  return args.string("model") ?? await ensureTinyModel(defaultCacheDir(ctx.env));
}

/** One line describing a loaded model. */
export function describeModel(model: DecoderModel): string {
  const s = model.shape;
  const segments = model.segments.map((x) => `[${x.layerStart},${x.layerEnd})`).join(" ");
  return `model: ${model.dir} (${s.family}, ${s.layers} layers, hidden ${s.hiddenSize}, vocab ${s.vocabSize}, ` +
    `${s.weightPrecision}; segments ${segments})`;
}

function sampleJson(s: GeneratedSample) {
  return {
    index: s.index,
    finishReason: s.finishReason,
    text: s.text,
    tokenIds: s.tokenIds,
    tokens: s.tokenIds.length,
    meanLogProb: s.meanLogProb,
    logProbs: s.logProbs,
  };
}

export const runCommand: Command = {
  name: "run",
  summary: "Generate samples from an ONNX decoder model",
  usage: "[--model DIR] --prompt TEXT [--samples K] [--temperature T] [--top-p P] [--top-k K] " +
    "[--max-tokens N] [--seed S] [--segments N] [--stop TEXT]... [--json]",
  description: `
Loads a decoder folder (Hugging Face Optimum or onnxruntime-genai layout: config.json or
genai_config.json, model.onnx [+ external data], tokenizer.json or llama2.c tok512.bin), prefills
the prompt once and decodes all samples as one batch with the KV cache. Each sample is printed as
soon as it finishes. Without --model, the embedded tiny random-weight model is used (gibberish text).`,
  options: {
    model: { type: "string", valueName: "DIR", description: "Model folder. Default: the embedded tiny model." },
    prompt: { type: "string", valueName: "TEXT", description: 'Prompt ("" starts from BOS alone). Required.' },
    samples: { type: "string", valueName: "K", default: "1", description: "Samples, decoded as one batch." },
    temperature: { type: "string", valueName: "T", default: "1", description: "Sampling temperature; 0 is greedy." },
    "top-p": { type: "string", valueName: "P", default: "1", description: "Nucleus probability in (0, 1]; 1 is off." },
    "top-k": { type: "string", valueName: "K", default: "0", description: "Keep the K likeliest tokens; 0 is off." },
    "max-tokens": { type: "string", valueName: "N", default: "128", description: "Most new tokens per sample." },
    seed: { type: "string", valueName: "S", default: "0", description: "Sampling seed (same seed, same tokens)." },
    segments: {
      type: "string",
      valueName: "N",
      default: "1",
      description: "Split the layers into N segments run as a pipeline (same tokens).",
    },
    stop: { type: "string", valueName: "TEXT", multiple: true, description: "Stop string (repeatable)." },
    json: { type: "boolean", description: "Print one JSON object instead of text." },
  },
  async run(args, ctx) {
    const prompt = args.string("prompt");
    if (prompt === undefined) throw new UsageError('--prompt is required (use --prompt "" to start from BOS)');
    const samples = args.int("samples", { min: 1, max: 256 })!;
    const temperature = args.number("temperature", { min: 0 })!;
    const topP = args.number("top-p", { min: 0, max: 1 })!;
    if (!(topP > 0)) throw new UsageError(`--top-p must be > 0, got ${topP}`);
    const topK = args.int("top-k", { min: 0 })!;
    const maxTokens = args.int("max-tokens", { min: 1 })!;
    const seed = args.int("seed")!;
    const segments = args.int("segments", { min: 1 })!;
    const dir = await resolveModelDir(args, ctx);
    await using base = await loadModel(dir);
    if (segments > base.shape.layers) {
      throw new UsageError(`--segments must be <= the model's ${base.shape.layers} layers, got ${segments}`);
    }
    await using segmented = segments > 1 ? await base.withSegments(segments) : undefined;
    const model = segmented ?? base;
    const json = args.flag("json");
    if (!json) ctx.stdout(`${describeModel(model)}\n`);
    const started = performance.now();
    const done: GeneratedSample[] = [];
    for await (
      const sample of generate(model, {
        prompt,
        samples,
        maxTokens,
        temperature,
        topP,
        topK,
        seed,
        stop: args.strings("stop"),
      }, { signal: ctx.signal })
    ) {
      done.push(sample);
      if (!json) {
        ctx.stdout(
          `--- sample ${sample.index}: ${sample.finishReason}, ${sample.tokenIds.length} tokens, ` +
            `mean log-prob ${sample.meanLogProb.toFixed(4)}\n${sample.text}\n`,
        );
      }
    }
    const durationMs = performance.now() - started;
    const generated = done.reduce((a, s) => a + s.tokenIds.length, 0);
    if (json) {
      ctx.stdout(
        JSON.stringify({
          model: model.dir,
          shape: model.shape,
          segments: model.segments.map((s) => ({ layerStart: s.layerStart, layerEnd: s.layerEnd, backend: s.backend })),
          warnings: model.warnings,
          samples: done.sort((a, b) => a.index - b.index).map(sampleJson),
          generatedTokens: generated,
          durationMs,
        }) + "\n",
      );
    } else {
      ctx.stdout(
        `--- ${generated} tokens in ${durationMs.toFixed(0)} ms (${
          (generated / (durationMs / 1000)).toFixed(1)
        } tokens/s)\n`,
      );
    }
    return 0;
  },
};
