import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import { drawIndex, MomentumTable } from "../../src/pgsam/mod.ts";

Deno.test("MomentumTable raises the velocity of a move that produces archive entries", () => {
  const table = new MomentumTable(3);
  for (let i = 0; i < 20; i++) {
    table.reward(0, undefined, true);
    table.reward(1, undefined, false);
    table.reward(2, undefined, false);
  }
  const p = table.moveProbabilities();
  assert.ok(p[0] > 0.7, `p = ${p}`);
  assert.ok(Math.abs(p.reduce((a, b) => a + b) - 1) < 1e-12);
});

Deno.test("MomentumTable keeps a floor so no move starves", () => {
  const table = new MomentumTable(4, { floor: 0.2 });
  for (let i = 0; i < 500; i++) table.reward(0, undefined, true);
  for (let i = 0; i < 500; i++) for (const m of [1, 2, 3]) table.reward(m, undefined, false);
  for (const p of table.moveProbabilities().slice(1)) assert.ok(p >= 0.2 / 4 - 1e-12, `p = ${p}`);
});

Deno.test("MomentumTable learns the productive direction of a numeric move", () => {
  const table = new MomentumTable(1);
  for (let i = 0; i < 30; i++) {
    table.reward(0, 1, false);
    table.reward(0, -1, true);
  }
  const rng = createRng(5);
  let down = 0;
  for (let i = 0; i < 1000; i++) if (table.drawDirection(rng, 0) === -1) down++;
  assert.ok(down > 800, `down ${down} of 1000`);
});

Deno.test("MomentumTable with momentum off draws uniformly and ignores rewards", () => {
  const table = new MomentumTable(4, { enabled: false });
  for (let i = 0; i < 50; i++) table.reward(0, 1, true);
  assert.deepEqual(table.moveProbabilities(), [0.25, 0.25, 0.25, 0.25]);
  assert.deepEqual(table.snapshot().moves, [0.5, 0.5, 0.5, 0.5]);
});

Deno.test("MomentumTable rejects bad options", () => {
  assert.throws(() => new MomentumTable(0), /at least one move/);
  assert.throws(() => new MomentumTable(2, { decay: 1 }), /decay must be in \[0, 1\)/);
  assert.throws(() => new MomentumTable(2, { floor: 0 }), /floor must be in \(0, 1\]/);
});

Deno.test("drawIndex() follows the given probabilities", () => {
  const rng = createRng(9);
  const counts = [0, 0, 0];
  for (let i = 0; i < 30000; i++) counts[drawIndex(rng, [0.5, 0.3, 0.2])]++;
  assert.ok(Math.abs(counts[0] / 30000 - 0.5) < 0.02 && Math.abs(counts[2] / 30000 - 0.2) < 0.02, `${counts}`);
});
