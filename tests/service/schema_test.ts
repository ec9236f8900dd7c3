import assert from "node:assert/strict";
import { BusyError, InputError, TimeoutError } from "../../src/core/mod.ts";
import {
  badRequestFault,
  errorPayload,
  type InferOutcome,
  maxRequestBytes,
  parseInferRequest,
  type RequestLimits,
  resultPayload,
  salvageReplyFields,
} from "../../src/service/mod.ts";

const LIMITS: RequestLimits = {
  maxPromptBytes: 64,
  defaultSamples: 5,
  maxSamples: 8,
  defaultMaxTokens: 32,
  maxMaxTokens: 128,
  defaultTemperature: 0.7,
  maxSloMs: 60_000,
};

const encoder = new TextEncoder();

function inputError(input: unknown): InputError {
  try {
    parseInferRequest(input, LIMITS, { newId: () => "generated" });
  } catch (error) {
    assert.ok(error instanceof InputError, `expected InputError, got ${error}`);
    return error;
  }
  assert.fail(`expected an InputError for ${JSON.stringify(input)}`);
}

Deno.test("parseInferRequest() applies every default but the prompt", () => {
  const r = parseInferRequest(encoder.encode('{"prompt":"What is 2+2?"}'), LIMITS, { newId: () => "gen-1" });
  assert.deepEqual(r, {
    schemaVersion: 1,
    id: "gen-1",
    task: "text",
    prompt: "What is 2+2?",
    samples: 5,
    maxTokens: 32,
    temperature: 0.7,
  });
});

Deno.test("parseInferRequest() keeps every field of a full request", () => {
  const r = parseInferRequest(
    {
      schemaVersion: 1,
      id: "req-9",
      task: "arc_challenge",
      prompt: "Which is a mammal?",
      choices: ["cat", "trout"],
      samples: 8,
      maxTokens: 128,
      temperature: 0,
      sloMs: 1500,
      replyTo: "clients/7/replies",
    },
    LIMITS,
  );
  assert.equal(r.id, "req-9");
  assert.deepEqual(r.choices, ["cat", "trout"]);
  assert.equal(r.samples, 8);
  assert.equal(r.temperature, 0);
  assert.equal(r.sloMs, 1500);
  assert.equal(r.replyTo, "clients/7/replies");
});

Deno.test("parseInferRequest() names the field of each kind of bad input", () => {
  const cases: [unknown, string, RegExp][] = [
    [encoder.encode("{not json"), "payload", /not valid JSON/],
    [new Uint8Array([0x7b, 0xff, 0x7d]), "payload", /UTF-8/],
    ["[1,2]", "payload", /JSON object/],
    ["null", "payload", /JSON object/],
    [{ task: "text" }, "prompt", /required/],
    [{ prompt: 42 }, "prompt", /must be a string, got 42/],
    [{ prompt: "   " }, "prompt", /empty/],
    [{ prompt: "x".repeat(65) }, "prompt", /65 bytes, more than the limit of 64/],
    [{ prompt: "é".repeat(33) }, "prompt", /66 bytes/],
    [{ prompt: "p", task: "poetry" }, "task", /one of text, gsm8k, arc_challenge, got "poetry"/],
    [{ prompt: "p", samples: 0 }, "samples", /1\.\.8, got 0/],
    [{ prompt: "p", samples: 9 }, "samples", /got 9/],
    [{ prompt: "p", samples: 2.5 }, "samples", /integer/],
    [{ prompt: "p", samples: "3" }, "samples", /got "3"/],
    [{ prompt: "p", maxTokens: 129 }, "maxTokens", /1\.\.128/],
    [{ prompt: "p", temperature: -0.1 }, "temperature", /0\.\.2/],
    [{ prompt: "p", temperature: "hot" }, "temperature", /number/],
    [{ prompt: "p", sloMs: 0 }, "sloMs", /1\.\.60000/],
    [{ prompt: "p", sloMs: 60_001 }, "sloMs", /got 60001/],
    [{ prompt: "p", schemaVersion: 2 }, "schemaVersion", /must be 1, got 2/],
    [{ prompt: "p", id: "" }, "id", /1\.\.128/],
    [{ prompt: "p", id: 7 }, "id", /string/],
    [{ prompt: "p", id: "a\nb" }, "id", /control characters/],
    [{ prompt: "p", replyTo: "replies/#" }, "replyTo", /wildcards/],
    [{ prompt: "p", replyTo: "" }, "replyTo", /topic/],
    [{ prompt: "p", promt: "typo" }, "promt", /not a known request field/],
    [{ prompt: "p", choices: ["a", "b"] }, "choices", /only valid with task arc_challenge/],
    [{ prompt: "p", task: "arc_challenge" }, "choices", /required/],
    [{ prompt: "p", task: "arc_challenge", choices: ["a"] }, "choices", /2\.\.26/],
    [{ prompt: "p", task: "arc_challenge", choices: ["a", ""] }, "choices[1]", /non-empty/],
  ];
  for (const [input, field, message] of cases) {
    const e = inputError(input);
    assert.equal(e.details.field, field, `field for ${JSON.stringify(input)}`);
    assert.match(e.message, message);
    assert.ok(e.message.startsWith(field), `message starts with the field: ${e.message}`);
  }
});

Deno.test("parseInferRequest() refuses an oversize payload before parsing it", () => {
  const huge = encoder.encode(JSON.stringify({ prompt: "x", pad: "y".repeat(maxRequestBytes(LIMITS)) }));
  const e = inputError(huge);
  assert.equal(e.details.field, "payload");
  assert.match(e.message, /more than the limit/);
});

Deno.test("salvageReplyFields() recovers id and replyTo from a request that failed validation", () => {
  assert.deepEqual(salvageReplyFields('{"id":"r1","replyTo":"c/1","samples":-1}'), { id: "r1", replyTo: "c/1" });
  assert.deepEqual(salvageReplyFields('{"id":5,"replyTo":"c/+"}'), { id: null });
  assert.deepEqual(salvageReplyFields("{garbage"), { id: null });
});

const OUTCOME: InferOutcome = {
  answer: "4",
  text: "2+2 = 4",
  confidence: 0.9,
  samplesUsed: 3,
  stopReason: "unanimous",
  energyJ: 1.5,
  latencyMs: 820,
  placement: {
    prefillUnit: "npu",
    lanes: [{ segments: [{ unitId: "npu", layerStart: 0, layerEnd: 4 }], samples: 3 }],
    freqLevel: { npu: 2 },
  },
};

Deno.test("resultPayload() builds the contract's result shape", () => {
  assert.deepEqual(resultPayload("r1", OUTCOME), { schemaVersion: 1, id: "r1", ok: true, ...OUTCOME });
  assert.throws(() => resultPayload("r1", { ...OUTCOME, confidence: 1.2 }), RangeError);
  assert.throws(() => resultPayload("r1", { ...OUTCOME, energyJ: NaN }), RangeError);
  assert.throws(() => resultPayload("r1", { ...OUTCOME, samplesUsed: 0 }), RangeError);
});

Deno.test("errorPayload() keeps code, message and field of domain errors and hides nothing else", () => {
  const input = new InputError("samples must be ...", { details: { field: "samples" } });
  assert.deepEqual(errorPayload("r1", input), {
    schemaVersion: 1,
    id: "r1",
    ok: false,
    error: { code: "Input", message: "samples must be ...", field: "samples" },
  });
  assert.equal(errorPayload(null, new BusyError("full")).error.code, "Busy");
  assert.equal(errorPayload("x", new TimeoutError("late")).error.code, "Timeout");
  const internal = errorPayload("x", new TypeError("undefined is not a function"));
  assert.equal(internal.error.code, "Internal");
  assert.match(internal.error.message, /undefined is not a function/);
  assert.equal(internal.error.field, undefined);
});

Deno.test("badRequestFault() carries the request id, field and code", () => {
  const payload = errorPayload("r2", new InputError("task must be ...", { details: { field: "task" } }));
  assert.deepEqual(badRequestFault(payload, 1234), {
    schemaVersion: 1,
    kind: "bad-request",
    severity: "warning",
    message: "task must be ...",
    timestampMs: 1234,
    requestId: "r2",
    field: "task",
    code: "Input",
  });
});
