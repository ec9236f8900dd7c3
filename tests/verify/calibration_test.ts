import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import { calibrateReliability, type CascadeSample, generateSyntheticItems } from "../../src/verify/mod.ts";

Deno.test("calibrateReliability() recovers sigma^2 / gap when gold answers are given", () => {
  const items = generateSyntheticItems(createRng(21), { items: 1500, logProbGapNats: 0.1, logProbNoiseNats: 0.2 });
  const fit = calibrateReliability(items.map((i) => ({ samples: i.samples, reference: i.gold })));
  assert.ok(fit.ok, !fit.ok ? fit.reason : "");
  assert.ok(Math.abs(fit.value.gapNats - 0.1) < 0.01, `gap ${fit.value.gapNats}`);
  assert.ok(Math.abs(fit.value.noiseNats - 0.2) < 0.01, `noise ${fit.value.noiseNats}`);
  assert.ok(Math.abs(fit.value.temperature - 0.4) < 0.06, `temperature ${fit.value.temperature}`);
});

Deno.test("calibrateReliability() without golds errs towards plain counting (a higher temperature)", () => {
  const items = generateSyntheticItems(createRng(22), { items: 1500 });
  const blind = calibrateReliability(items.map((i) => ({ samples: i.samples })));
  const told = calibrateReliability(items.map((i) => ({ samples: i.samples, reference: i.gold })));
  assert.ok(blind.ok && told.ok);
  assert.ok(blind.value.temperature > told.value.temperature);
  assert.ok(blind.value.temperature < 1, `still sharper than the default: ${blind.value.temperature}`);
});

Deno.test("calibrateReliability() fails as a value when log-probs carry no signal or data is thin", () => {
  const inverted = generateSyntheticItems(createRng(23), { items: 500, logProbGapNats: -0.2 });
  const fit = calibrateReliability(inverted.map((i) => ({ samples: i.samples, reference: i.gold })));
  assert.equal(fit.ok, false);
  assert.match(!fit.ok ? fit.reason : "", /do not have a higher mean log-prob/);

  const unanimous: CascadeSample[] = [0, 1, 2].map((index) => ({ index, valid: true, answer: "x", meanLogProb: -1 }));
  const thin = calibrateReliability(Array(50).fill({ samples: unanimous }));
  assert.deepEqual(thin, { ok: false, reason: "only 0 questions have both agreeing and disagreeing samples, need 20" });
});

Deno.test("calibrateReliability() estimates the gap without golds only from majority pluralities", () => {
  const items = generateSyntheticItems(createRng(24), { items: 1500 });
  const questions = items.map((i) => ({ samples: i.samples }));
  const strict = calibrateReliability(questions);
  const loose = calibrateReliability(questions, { minReferenceShare: 0 });
  assert.ok(strict.ok && loose.ok);
  // Weak pluralities are often wrong: counting them shrinks the gap.
  assert.ok(strict.value.gapNats > loose.value.gapNats, `${strict.value.gapNats} <= ${loose.value.gapNats}`);
  assert.ok(strict.value.contrastQuestions < loose.value.contrastQuestions);
});
