/**
 * The verification cascade's study on seeded synthetic questions (issue 5):
 * accuracy and mean samples of fixed-k majority vote, the cascade (DESIGN.md
 * defaults; with the budget horizon; with log-prob-weighted stopping at a
 * temperature fitted blind on other questions; with both) and ESC window
 * stopping, at k = 16 and k = 40, with standard errors. Prints JSON.
 *
 * Targets: at k = 16 the cascade uses at most half the samples of fixed-k
 * majority with accuracy within 0.5 points of it; at k = 40 at most a third.
 *
 * Usage: deno run bench/verify.ts [--items N] [--seed S]
 */
import { parseArgs } from "node:util";
import { createRng } from "../src/core/mod.ts";
import {
  calibrateReliability,
  type CascadeOptions,
  type CascadeSample,
  correctness,
  escStopping,
  fixedKMajority,
  generateSyntheticItems,
  type MethodOutcome,
  pairedDelta,
  resolveSyntheticOptions,
  runCascade,
  type StopReason,
  summarizeOutcomes,
  type SyntheticItem,
  type SyntheticOptions,
} from "../src/verify/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { items: { type: "string", default: "10000" }, seed: { type: "string", default: "1" } },
});
const items = Number(values.items);
const seed = Number(values.seed);
if (!Number.isInteger(items) || items < 100) {
  throw new RangeError(`--items must be an integer >= 100, got ${values.items}`);
}
if (!Number.isInteger(seed)) throw new RangeError(`--seed must be an integer, got ${values.seed}`);

const TARGETS = [{ k: 16, maxSamplesRatio: 1 / 2 }, { k: 40, maxSamplesRatio: 1 / 3 }];
const MAX_ACCURACY_LOSS_POINTS = 0.5;
const ESC_WINDOW = 5;
const CALIBRATION_ITEMS = 1000;

type Method = (samples: readonly CascadeSample[], k: number) => MethodOutcome & { stopReason?: StopReason };

function round(x: number, digits = 4): number {
  return Number(x.toFixed(digits));
}

function evaluate(set: readonly SyntheticItem[], k: number, method: Method, baseline?: readonly boolean[]) {
  const golds = set.map((i) => i.gold);
  const outcomes = set.map((i) => method(i.samples.slice(0, k), k));
  const summary = summarizeOutcomes(golds, outcomes);
  const correct = correctness(golds, outcomes);
  const stopReasons: Record<string, number> = {};
  for (const o of outcomes) if (o.stopReason) stopReasons[o.stopReason] = (stopReasons[o.stopReason] ?? 0) + 1;
  const delta = baseline ? pairedDelta(correct, baseline) : undefined;
  return {
    correct,
    report: {
      accuracyPercent: round(100 * summary.accuracy, 2),
      accuracySePoints: round(100 * summary.accuracySe, 2),
      meanSamples: round(summary.meanSamples, 3),
      meanSamplesSe: round(summary.meanSamplesSe, 3),
      ...(delta
        ? {
          samplesRatio: round(summary.meanSamples / k, 4),
          accuracyVsMajorityPoints: round(delta.deltaPoints, 2),
          accuracyVsMajoritySePoints: round(delta.sePoints, 2),
          rightWhereMajorityWrong: delta.aOnly,
          wrongWhereMajorityRight: delta.bOnly,
        }
        : {}),
      ...(Object.keys(stopReasons).length > 0 ? { stopReasons } : {}),
    },
  };
}

const cascade = (options: CascadeOptions): Method => (samples, k) => runCascade(samples, { ...options, maxSamples: k });
const majority: Method = (samples, k) => fixedKMajority(samples, k);
const esc = (window: number): Method => (samples, k) => escStopping(samples, { window, maxSamples: k });

/** One scenario: calibrate blind on a separate set, then run every method at both budgets. */
function study(name: string, generator: Omit<SyntheticOptions, "items">) {
  const rng = createRng(seed);
  const set = generateSyntheticItems(rng.fork(`${name}/test`), { ...generator, items });
  // The temperature is fitted on other questions, without their golds, as a deployment would.
  const calibrationSet = generateSyntheticItems(rng.fork(`${name}/calibration`), {
    ...generator,
    items: CALIBRATION_ITEMS,
  });
  const fit = calibrateReliability(calibrationSet.map((i) => ({ samples: i.samples.slice(0, 16) })));
  const calibrated: CascadeOptions = fit.ok ? { evidence: "reliability", temperature: fit.value.temperature } : {};

  const budgets = TARGETS.map(({ k, maxSamplesRatio }) => {
    const base = evaluate(set, k, majority);
    const run = (method: Method) => evaluate(set, k, method, base.correct).report;
    const variants = {
      cascade: run(cascade({})),
      cascadeBudgetHorizon: run(cascade({ horizon: "budget" })),
      cascadeCalibrated: run(cascade(calibrated)),
      cascadeCalibratedBudgetHorizon: run(cascade({ ...calibrated, horizon: "budget" })),
    };
    const verdict = Object.fromEntries(
      Object.entries(variants).map(([name, r]) => [name, {
        samplesRatio: r.samplesRatio,
        samplesTargetMet: (r.samplesRatio ?? Infinity) <= maxSamplesRatio,
        accuracyVsMajorityPoints: r.accuracyVsMajorityPoints,
        accuracyTargetMet: (r.accuracyVsMajorityPoints ?? -Infinity) >= -MAX_ACCURACY_LOSS_POINTS,
      }]),
    );
    const calibratedText = fit.ok
      ? `reliability evidence, temperature ${
        round(fit.value.temperature)
      } fitted blind on ${CALIBRATION_ITEMS} other questions`
      : `calibration failed (${fit.reason}), so count evidence`;
    return {
      k,
      targets: { maxSamplesRatio: round(maxSamplesRatio), maxAccuracyLossPoints: MAX_ACCURACY_LOSS_POINTS },
      majority: base.report,
      cascade: {
        options: "DESIGN.md defaults: count evidence, horizon unbounded, tau 0.95, n_min 3",
        ...variants.cascade,
      },
      cascadeBudgetHorizon: {
        options: "defaults with horizon budget (no log-probs)",
        ...variants.cascadeBudgetHorizon,
      },
      cascadeCalibrated: { options: calibratedText, ...variants.cascadeCalibrated },
      cascadeCalibratedBudgetHorizon: {
        options: `${calibratedText}, horizon budget`,
        ...variants.cascadeCalibratedBudgetHorizon,
      },
      esc: { window: ESC_WINDOW, ...run(esc(ESC_WINDOW)) },
      verdict,
      ablations: {
        ardeOnlyNoEarlyStop: run(cascade({ earlyAgreement: false, sequentialTest: false })),
        ardeOnlyCalibratedTemperature: run(
          cascade({ earlyAgreement: false, sequentialTest: false, temperature: calibrated.temperature ?? 1 }),
        ),
        reliabilityEvidenceTemperature1: run(cascade({ evidence: "reliability" })),
        reliabilityTemperatureSweep: Object.fromEntries(
          [0.25, 0.5, 1, 2].map((t) => [`T=${t}`, run(cascade({ evidence: "reliability", temperature: t }))]),
        ),
        tauSweepCountEvidence: Object.fromEntries(
          [0.9, 0.95, 0.99].map((tau) => [`tau=${tau}`, run(cascade({ tau }))]),
        ),
        escWindow8: run(esc(8)),
      },
    };
  });
  return {
    scenario: name,
    generator: resolveSyntheticOptions({ ...generator, items }),
    easyItems: set.filter((i) => i.kind === "easy").length,
    unextractableSamplePercent: round(
      (100 * set.reduce((s, i) => s + i.samples.filter((x) => !x.valid).length, 0)) /
        set.reduce((s, i) => s + i.samples.length, 0),
      2,
    ),
    calibration: fit.ok
      ? {
        temperature: round(fit.value.temperature),
        gapNats: round(fit.value.gapNats),
        noiseNats: round(fit.value.noiseNats),
        contrastQuestions: fit.value.contrastQuestions,
      }
      : { failed: fit.reason },
    budgets,
  };
}

const startedMs = performance.now();
const scenarios = [
  study("main", {}),
  // The same questions with no log-prob signal: the weighted variant must fall back to plain counting.
  study("no-logprob-signal", { logProbGapNats: 0 }),
];
console.log(JSON.stringify(
  {
    bench: "verify",
    command: `deno run bench/verify.ts --items ${items} --seed ${seed}`,
    items,
    seed,
    notes: [
      "accuracy is selected-answer accuracy against the gold; SEs are binomial, vs-majority SEs are paired",
      "ESC: windows of w samples, stop after the first window whose answers are all valid and equal (Li et al. 2024)",
    ],
    scenarios,
    durationMs: Math.round(performance.now() - startedMs),
  },
  null,
  2,
));
