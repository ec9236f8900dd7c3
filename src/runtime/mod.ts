/**
 * Runs LLMs: imports src/core only; onnxruntime-node is imported by ort.ts alone; touches files and native code.
 *
 * ONNX decoder folders (Optimum / onnxruntime-genai layouts, fp32/fp16,
 * external data) with their tokenizers, KV-cache generation of k batched
 * samples, log-likelihood scoring, compute backends with a registry, layer
 * segments that chain across units, and the embedded tiny model.
 */
export {
  type Backend,
  type BackendCapabilities,
  type BackendRegistry,
  type CpuClusterSpec,
  discoverBackends,
  type DiscoverBackendsOptions,
  OrtCpuBackend,
  type OrtCpuBackendOptions,
  OrtWebGpuBackend,
  threadAffinities,
  type UnavailableBackend,
} from "./backends.ts";
export {
  type FinishReason,
  generate,
  type GeneratedSample,
  type GenerateOptions,
  type GenerateRequest,
  promptTokens,
} from "./generate.ts";
export { KvCache, type KvSpec } from "./kv_cache.ts";
export {
  type DecoderIo,
  type DecoderModel,
  evenSegments,
  type LastPosition,
  loadModel,
  type LoadModelOptions,
  type Logits,
  type RunStats,
  type SegmentInfo,
  type SegmentSpec,
  type StepCharger,
  type StepContext,
  type StepEvent,
  type StepHead,
  type StepInput,
  type StepOutput,
} from "./model.ts";
export { ORT_VERSION } from "./ort.ts";
export { argmax, logSumExp, type Pick, Sampler, type SamplingParams } from "./sampling.ts";
export {
  type ContinuationScore,
  rollingLogLikelihood,
  type RollingOptions,
  type RollingScore,
  rollingWindows,
  scoreContinuation,
  scoreContinuations,
  type ScoreOptions,
  type ScoreRequest,
  scoreTokens,
  type TokenScoreItem,
} from "./scoring.ts";
export { type SegmentGraph, splitDecoder, type SplitIo, type SplitOptions } from "./segments.ts";
export {
  buildTinyModel,
  defaultCacheDir,
  ensureTinyModel,
  TINY_BOS_ID,
  TINY_EOS_ID,
  TINY_MODEL_VERSION,
  type TinyModelFiles,
  tinyModelFiles,
  tinyModelName,
  type TinyModelOptions,
} from "./tiny_model.ts";
export { HfTokenizer, Llama2cTokenizer, loadTokenizer, type SpecialIds, type Tokenizer } from "./tokenizer.ts";
export { decodeModel } from "./onnx_graph.ts";
