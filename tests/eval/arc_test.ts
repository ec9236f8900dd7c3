import assert from "node:assert/strict";
import { DatasetError } from "../../src/core/mod.ts";
import {
  arcContext,
  arcContinuations,
  arcGenerativePrompt,
  choiceLength,
  loadArc,
  scoreMultipleChoice,
} from "../../src/eval/mod.ts";

const ARC = new URL("../../../shared/data/arc/ARC-Challenge-Test.jsonl", import.meta.url).pathname;

function record(overrides: Record<string, unknown> = {}, choices?: unknown): string {
  return JSON.stringify({
    id: "q1",
    question: {
      stem: "Which is a gas?",
      choices: choices ?? [
        { text: "ice", label: "A" },
        { text: "steam", label: "B" },
        { text: "rock", label: "C" },
        { text: "wood", label: "D" },
      ],
    },
    answerKey: "B",
    ...overrides,
  });
}

async function tempJsonl(content: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "qeil-arc-" });
  await Deno.writeTextFile(`${dir}/arc.jsonl`, content);
  return `${dir}/arc.jsonl`;
}

Deno.test("loadArc() reads the real test set: numeric labels as letters, 3 to 5 choices", async () => {
  const items = await loadArc(ARC);
  assert.equal(items.length, 1172);
  assert.equal(items[0].id, "Mercury_7175875");
  assert.equal(items[0].answerLetter, "C");
  assert.equal(items[0].goldIndex, 2);
  const counts = new Map<number, number>();
  for (const item of items) counts.set(item.choices.length, (counts.get(item.choices.length) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(counts), { 3: 4, 4: 1165, 5: 3 });
  const numeric = items.filter((i) => i.choices.some((c) => /^[1-5]$/.test(c.label)));
  assert.equal(numeric.length, 22);
  for (const item of numeric) {
    assert.deepEqual(item.choices.map((c) => c.letter), ["A", "B", "C", "D", "E"].slice(0, item.choices.length));
    assert.equal(item.answerLetter, item.choices[item.goldIndex].letter);
  }
  assert.ok(items.every((i) => i.choices[i.goldIndex].letter === i.answerLetter));
});

Deno.test("loadArc() names the file, line and problem of a bad record", async () => {
  const cases: [string, number, RegExp][] = [
    [
      `${record()}\n${record({ id: "q2", answerKey: "E" })}\n`,
      2,
      /"answerKey" "E" is not one of the labels A, B, C, D/,
    ],
    [
      `${record({}, [{ text: "a", label: "A" }, { text: "b", label: "F" }, { text: "c", label: "C" }])}\n`,
      1,
      /"question.choices\[1\].label" must be A-E or 1-5, got "F"/,
    ],
    [`${record({}, [{ text: "a", label: "A" }, { text: "b", label: "B" }])}\n`, 1, /must hold 3 to 5 choices, got 2/],
    [
      `${record({}, [{ text: "a", label: "A" }, { text: "b", label: "1" }, { text: "c", label: "C" }])}\n`,
      1,
      /two choices have the label A/,
    ],
    [`${record({ question: { choices: [] } })}\n`, 1, /field "question.stem" is missing/],
    [`${record({ question: "Which?" })}\n`, 1, /field "question" must be an object, got a string/],
    [`${record({}, "A B C")}\n`, 1, /field "question.choices" must be an array, got a string/],
    [`${record({}, [{ text: 4, label: "A" }])}\n`, 1, /must hold 3 to 5 choices/],
    [
      `${record({}, [{ text: 4, label: "A" }, { text: "b", label: "B" }, { text: "c", label: "C" }])}\n`,
      1,
      /"question.choices\[0\].text" must be a string, got a number/,
    ],
    [`${record()}\n${record()}\n`, 2, /id "q1" repeats the one on line 1/],
  ];
  for (const [content, line, problem] of cases) {
    const path = await tempJsonl(content);
    await assert.rejects(loadArc(path), (e: unknown) => {
      assert.ok(e instanceof DatasetError, String(e));
      assert.equal(e.details.path, path);
      assert.equal(e.details.line, line);
      assert.match(e.message, new RegExp(`^read ARC file .*line ${line}: `));
      assert.match(e.message, problem);
      return true;
    });
  }
});

Deno.test("loadArc() maps an answer key written as a digit to its letter", async () => {
  const path = await tempJsonl(
    `${
      record({ answerKey: "3" }, [{ text: "a", label: "1" }, { text: "b", label: "2" }, { text: "c", label: "3" }])
    }\n`,
  );
  const [item] = await loadArc(path);
  assert.equal(item.goldIndex, 2);
  assert.equal(item.answerLetter, "C");
});

Deno.test("ARC prompts follow lm-eval's arc_challenge context and continuations", async () => {
  const [item] = await loadArc(await tempJsonl(`${record()}\n`));
  assert.equal(arcContext(item), "Question: Which is a gas?\nAnswer:");
  assert.deepEqual(arcContinuations(item), [" ice", " steam", " rock", " wood"]);
  assert.equal(arcGenerativePrompt(item), "Question: Which is a gas?\nA. ice\nB. steam\nC. rock\nD. wood\nAnswer:");
});

Deno.test("scoreMultipleChoice() computes acc and acc_norm (per character) by hand", () => {
  // Choices of 3, 10 and 5 characters.
  const texts = ["abc", "abcdefghij", "abcde"];
  // Raw: -2 is largest (choice 0). Per char: -2/3 = -0.667, -4/10 = -0.4, -2.5/5 = -0.5, so choice 1.
  const s = scoreMultipleChoice([-2, -4, -2.5], texts, 1);
  assert.deepEqual(s, { pred: 0, predNorm: 1, acc: false, accNorm: true });
  // Ties go to the first index, as numpy's argmax.
  assert.equal(scoreMultipleChoice([-1, -1, -3], texts, 0).pred, 0);
  assert.throws(() => scoreMultipleChoice([-1, -2], texts, 0), /2 log-likelihoods for 3 choices/);
  assert.throws(() => scoreMultipleChoice([-1, Number.NaN, -2], texts, 0), /finite/);
});

Deno.test("choiceLength() counts code points as Python's len()", () => {
  assert.equal(choiceLength("abc"), 3);
  assert.equal(choiceLength("25 \u00b0C"), 5);
  assert.equal(choiceLength("\u{1F600}x"), 2);
});
