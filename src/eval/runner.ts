/**
 * The evaluation's QueryRunner over the service's orchestrator: every query of
 * every mode goes through ONE orchestrator on ONE board, as requests to the
 * deployed service would, so modes differ only in how the orchestrator places
 * and stops the work.
 *
 * - wikitext: lm-eval's rolling log-likelihood of the article, its ORT runs
 *   charged to the board through `runCharged` (the mode picks the unit and clock).
 * - gsm8k: a `runJob` of k samples: standard and greedy decode all k and take
 *   the majority vote, qeil streams them through the EAC/CSVET/ARDE cascade and
 *   cancels the rest at its decision.
 * - arc_challenge: the choices' log-likelihoods through `runCharged` (lm-eval
 *   `acc`, `acc_norm`), then the generative variant (lettered choices) as a
 *   `runJob`, whose selected letter is the mode's answer.
 *
 * Every mode draws the same samples for a query (one sampling seed per query
 * id), so their answers differ only by how the mode stopped and voted.
 */
import { hashString } from "../core/mod.ts";
import { type DecoderModel, promptTokens, rollingLogLikelihood, scoreContinuations } from "../runtime/mod.ts";
import type { ChargedResult, JobResult, Orchestrator } from "../service/mod.ts";
import type { Plan } from "../pgsam/mod.ts";
import type { QueryRunner } from "./harness.ts";
import type { QueryExecution, QueryOutcome } from "./records.ts";
import type { ArcQuery, EvalQuery, Gsm8kQuery, ModeName, TaskName, WikitextQuery } from "./types.ts";

/** lm-eval's `max_gen_toks` for gsm8k. */
export const GSM8K_MAX_TOKENS = 256;
/** New tokens of the ARC generative variant: a letter, maybe with the choice's text. */
export const ARC_GENERATIVE_MAX_TOKENS = 32;
/** Sampling temperature of the k samples. */
export const DEFAULT_TEMPERATURE = 0.7;
/** The sample budget k. */
export const DEFAULT_SAMPLES = 5;

/** A qeil plan seen during the run (for the Pareto plot). */
export interface SeenPlan {
  task: TaskName;
  queryId: string;
  plan: Plan;
}

/** Options of {@linkcode createOrchestratorRunner}. */
export interface OrchestratorRunnerOptions {
  /** The one orchestrator of the run (started). */
  orchestrator: Orchestrator;
  /** The model that produces the tokens (the orchestrator's). */
  model: DecoderModel;
  /** Sample budget k of the generative tasks. @default 5 */
  samples?: number;
  /** Sampling temperature. @default 0.7 */
  temperature?: number;
  /** Most new tokens per sample (each query's are also capped by the model's context). @default gsm8k 256, arc_challenge 32 */
  maxTokens?: { gsm8k?: number; arc_challenge?: number };
  /** Seed of the per-query sampling seeds (the same for every mode). */
  seed: number;
  /** Receives each plan qeil computed, with the query it was for. @default none */
  onPlan?: (seen: SeenPlan) => void;
}

/** What one orchestrator call contributed to a query's execution. */
interface Part {
  units: string[];
  freqHz: Record<string, number>;
  deviceMs: number;
  unitFaults: number;
  thermalReplans: number;
}

class OrchestratorRunner implements QueryRunner {
  readonly #o: OrchestratorRunnerOptions;
  readonly #k: number;
  readonly #temperature: number;
  readonly #maxTokens: { gsm8k: number; arc_challenge: number };
  #lastPlan: Plan | undefined;

  constructor(options: OrchestratorRunnerOptions) {
    this.#o = options;
    this.#k = options.samples ?? DEFAULT_SAMPLES;
    this.#temperature = options.temperature ?? DEFAULT_TEMPERATURE;
    this.#maxTokens = {
      gsm8k: options.maxTokens?.gsm8k ?? GSM8K_MAX_TOKENS,
      arc_challenge: options.maxTokens?.arc_challenge ?? ARC_GENERATIVE_MAX_TOKENS,
    };
    if (!Number.isInteger(this.#k) || this.#k < 1) {
      throw new RangeError(`samples must be an integer >= 1, got ${this.#k}`);
    }
    if (!(this.#temperature >= 0)) throw new RangeError(`temperature must be >= 0, got ${this.#temperature}`);
    for (const [task, n] of Object.entries(this.#maxTokens)) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`maxTokens.${task} must be an integer >= 1, got ${n}`);
    }
  }

  async run(query: EvalQuery, mode: ModeName, signal: AbortSignal): Promise<QueryOutcome> {
    switch (query.task) {
      case "wikitext":
        return await this.#wikitext(query, mode, signal);
      case "gsm8k":
        return await this.#gsm8k(query, mode, signal);
      case "arc_challenge":
        return await this.#arc(query, mode, signal);
    }
  }

  async #wikitext(query: WikitextQuery, mode: ModeName, signal: AbortSignal): Promise<QueryOutcome> {
    const { orchestrator, model } = this.#o;
    const scored = await orchestrator.runCharged(
      // Planned as the prefill of one full window: the articles span many windows of the model's context.
      { id: `${query.id} ${mode}`, promptTokens: model.shape.maxSeqLen },
      (charger, s) => rollingLogLikelihood(model, query.article.text, { charger, signal: s ?? signal }),
      { mode, signal },
    );
    return {
      samplesUsed: 1,
      k: 1,
      logLikelihood: scored.value.logLikelihood,
      execution: execution([this.#chargedPart(scored)]),
    };
  }

  async #gsm8k(query: Gsm8kQuery, mode: ModeName, signal: AbortSignal): Promise<QueryOutcome> {
    const job = await this.#job(query, "gsm8k", query.prompt, query.stop, undefined, mode, signal);
    return this.#generative(job, [this.#jobPart(job)]);
  }

  async #arc(query: ArcQuery, mode: ModeName, signal: AbortSignal): Promise<QueryOutcome> {
    const { orchestrator, model } = this.#o;
    const requests = query.continuations.map((continuation) => ({ context: query.context, continuation }));
    const longest = Math.max(...requests.map((r) => promptTokens(model, r.context + r.continuation).length));
    const scored = await orchestrator.runCharged(
      { id: `${query.id} ${mode} choices`, promptTokens: Math.min(model.shape.maxSeqLen, longest) },
      (charger, s) => scoreContinuations(model, requests, { charger, signal: s ?? signal }),
      { mode, signal },
    );
    const choices = query.item.choices.map((c) => c.text);
    const job = await this.#job(query, "arc_challenge", query.generativePrompt, query.stop, choices, mode, signal);
    return {
      ...this.#generative(job, [this.#chargedPart(scored), this.#jobPart(job)]),
      choiceLogLikelihoods: scored.value.map((s) => s.logLikelihood),
    };
  }

  async #job(
    query: Gsm8kQuery | ArcQuery,
    task: "gsm8k" | "arc_challenge",
    prompt: string,
    stop: readonly string[],
    choices: readonly string[] | undefined,
    mode: ModeName,
    signal: AbortSignal,
  ): Promise<JobResult> {
    const { orchestrator, model } = this.#o;
    const room = model.shape.maxSeqLen - promptTokens(model, prompt).length;
    const result = await orchestrator.runJob({
      id: `${query.id} ${mode}`,
      task,
      prompt,
      ...(choices ? { choices } : {}),
      samples: this.#k,
      maxTokens: Math.max(1, Math.min(this.#maxTokens[task], room)),
      temperature: this.#temperature,
      stop,
      // One seed per query for every mode: the modes draw the same samples.
      seed: hashString(`${this.#o.seed}/${query.id}`) >>> 1,
    }, { mode, signal });
    const plan = orchestrator.currentChoice()?.plan;
    if (mode === "qeil" && plan !== undefined && plan !== this.#lastPlan) {
      this.#lastPlan = plan;
      this.#o.onPlan?.({ task: query.task, queryId: query.id, plan });
    }
    return result;
  }

  #generative(job: JobResult, parts: Part[]): QueryOutcome {
    return {
      samplesUsed: job.samplesUsed,
      k: job.k,
      answer: job.answer,
      samples: job.samples.map((s) => ({ index: s.index, text: s.text })),
      execution: { ...execution(parts), stopReason: job.stopReason, samplesStarted: job.samplesStarted },
    };
  }

  #clocks(placement: JobResult["placement"]): Record<string, number> {
    const model = this.#o.orchestrator.calibrator.model;
    const out: Record<string, number> = {};
    for (const unit of unitsOf(placement)) {
      const opps = model.units[unit]?.opps ?? [];
      const opp = opps[placement.freqLevel[unit] ?? opps.length - 1];
      if (opp) out[unit] = opp.freqHz;
    }
    return out;
  }

  #jobPart(job: JobResult): Part {
    return {
      units: unitsOf(job.placement),
      freqHz: this.#clocks(job.placement),
      deviceMs: job.latencyMs,
      unitFaults: job.faultsRecovered,
      thermalReplans: job.thermalReplans,
    };
  }

  #chargedPart(r: ChargedResult<unknown>): Part {
    return {
      units: unitsOf(r.placement),
      freqHz: this.#clocks(r.placement),
      deviceMs: r.latencyMs,
      unitFaults: r.faultsRecovered,
      thermalReplans: 0,
    };
  }
}

/** Units of a placement: the prefill unit, then the lanes' units, each once. */
function unitsOf(p: JobResult["placement"]): string[] {
  return [...new Set([p.prefillUnit, ...p.lanes.flatMap((l) => l.segments.map((s) => s.unitId))])];
}

function execution(parts: Part[]): QueryExecution {
  return {
    units: [...new Set(parts.flatMap((p) => p.units))],
    freqHz: Object.assign({}, ...parts.map((p) => p.freqHz)),
    deviceMs: parts.reduce((a, p) => a + p.deviceMs, 0),
    thermalReplans: parts.reduce((a, p) => a + p.thermalReplans, 0),
    unitFaults: parts.reduce((a, p) => a + p.unitFaults, 0),
  };
}

/**
 * The QueryRunner of the evaluation over one orchestrator.
 * @throws RangeError for a sample budget, temperature or token limit out of range
 */
export function createOrchestratorRunner(options: OrchestratorRunnerOptions): QueryRunner {
  return new OrchestratorRunner(options);
}
