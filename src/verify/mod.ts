/**
 * Pure; imports core only. The verification cascade: answer extraction per
 * task, EAC / CSVET early stopping and ARDE election over a stream of samples,
 * baselines (fixed-k majority, ESC), replay evaluation and the synthetic study.
 * No I/O, no clock, no Math.random: callers pass text, samples and a seeded Rng.
 * @module
 */
export type { ArcChoice, Extraction, ExtractionMethod, VerifyTask } from "./types.ts";
export { VERIFY_TASKS } from "./types.ts";
export { extractAnswer, type ExtractOptions, normalizeGold } from "./extract.ts";
export { canonicalNumber, type Gsm8kMode } from "./gsm8k.ts";
export { arcLabelToLetter } from "./arc.ts";
export { normalizeFreeText } from "./text.ts";
export { leaderKeepProbability, leaderPosterior, logBeta, logGamma, regularizedIncompleteBeta } from "./beta.ts";
export {
  ardeRanking,
  type Cascade,
  type CascadeOptions,
  type CascadeSample,
  type CascadeStep,
  countRanking,
  createCascade,
  type Decision,
  DEFAULT_CASCADE_OPTIONS,
  reliabilityWeights,
  resolveCascadeOptions,
  runCascade,
  type StopEvidence,
  type StopHorizon,
  type StopReason,
  tallyVotes,
  type Vote,
} from "./cascade.ts";
export { type BaselineResult, type EscOptions, escStopping, fixedKMajority, majorityVote } from "./baselines.ts";
export {
  calibrateReliability,
  type CalibrationOptions,
  type CalibrationQuestion,
  type ReliabilityCalibration,
} from "./calibration.ts";
export {
  correctness,
  type MethodOutcome,
  type MethodSummary,
  type PairedDelta,
  pairedDelta,
  summarizeOutcomes,
} from "./stats.ts";
export {
  type ComparedSummary,
  evaluateReplay,
  parseReplay,
  type ParseReplayOptions,
  type ReplayEvaluationOptions,
  type ReplayQuestion,
  type ReplayReport,
} from "./replay.ts";
export {
  generateSyntheticItems,
  type Range,
  resolveSyntheticOptions,
  type SyntheticItem,
  type SyntheticOptions,
} from "./synthetic.ts";
