import assert from "node:assert/strict";
import { createRng } from "../../src/core/mod.ts";
import { ParetoArchive, type Solution } from "../../src/pgsam/mod.ts";

function sol(key: string, objectives: number[], violation = 0): Solution<string> {
  return { x: key, key, objectives, feasible: violation === 0, violation };
}

const keys = (a: ParetoArchive<string>) => a.members.map((m) => m.key).sort();

Deno.test("ParetoArchive.add() keeps only non-dominated members", () => {
  const a = new ParetoArchive<string>();
  assert.equal(a.add(sol("a", [2, 2, 2])).added, true);
  assert.equal(a.add(sol("b", [1, 3, 2])).added, true);
  const dominated = a.add(sol("c", [3, 3, 3]));
  assert.equal(dominated.added, false);
  assert.deepEqual(dominated.dominators.map((d) => d.key).sort(), ["a", "b"]);
  const better = a.add(sol("d", [1, 1, 1]));
  assert.equal(better.added, true);
  assert.deepEqual(better.removed.map((r) => r.key).sort(), ["a", "b"]);
  assert.deepEqual(keys(a), ["d"]);
});

Deno.test("ParetoArchive.add() refuses a repeated key and a repeated objective vector", () => {
  const a = new ParetoArchive<string>();
  a.add(sol("a", [1, 2]));
  assert.equal(a.add(sol("a", [1, 2])).added, false);
  assert.equal(a.add(sol("twin", [1, 2])).added, false);
  assert.deepEqual(keys(a), ["a"]);
  assert.equal(a.has("a"), true);
  assert.equal(a.has("twin"), false);
});

Deno.test("ParetoArchive keeps the least violating infeasible members until a feasible one arrives", () => {
  const a = new ParetoArchive<string>();
  a.add(sol("bad", [0, 0], 0.5));
  assert.equal(a.add(sol("worse", [0, 0], 0.9)).added, false);
  a.add(sol("less-bad", [5, 5], 0.1));
  assert.deepEqual(keys(a), ["less-bad"]);
  assert.equal(a.feasible, false);
  const ok = a.add(sol("ok", [100, 100]));
  assert.equal(ok.added, true);
  assert.deepEqual(ok.removed.map((r) => r.key), ["less-bad"]);
  assert.equal(a.feasible, true);
  // Once something is feasible, no infeasible candidate gets in, however good its objectives.
  assert.equal(a.add(sol("tempting", [0, 0], 1e-9)).added, false);
});

Deno.test("ParetoArchive prunes the most crowded member past its capacity and keeps the extremes", () => {
  const a = new ParetoArchive<string>({ capacity: 4 });
  // A linear front; "c" sits closest to its neighbours.
  for (const [k, x] of [["a", 0], ["b", 4], ["c", 5], ["d", 6], ["e", 10]] as const) a.add(sol(k, [x, 10 - x]));
  assert.deepEqual(keys(a), ["a", "b", "d", "e"]);
  // A candidate that enters and is pruned at once reports added = false.
  const crowded = a.add(sol("f", [4.5, 5.5]));
  assert.equal(crowded.added, false);
  assert.deepEqual(crowded.removed.map((r) => r.key), ["f"]);
  assert.throws(() => new ParetoArchive({ capacity: 0 }), /capacity must be an integer >= 1/);
  assert.equal(new ParetoArchive({ capacity: Infinity }).capacity, Infinity);
});

Deno.test("ParetoArchive.pickSparse() favours the least crowded members", () => {
  const a = new ParetoArchive<string>();
  for (const [k, x] of [["a", 0], ["b", 4], ["c", 4.5], ["d", 5], ["e", 10]] as const) a.add(sol(k, [x, 10 - x]));
  const rng = createRng(1);
  const counts: Record<string, number> = {};
  for (let i = 0; i < 2000; i++) {
    const k = a.pickSparse(rng).key;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  // Binary tournament: the two extremes (Infinity) win against anything; "c" (most crowded) only against itself.
  assert.ok(counts.a > counts.b && counts.e > counts.d, JSON.stringify(counts));
  assert.ok(counts.c < counts.b && counts.c < counts.d, JSON.stringify(counts));
  assert.throws(() => new ParetoArchive<string>().pickSparse(rng), /archive is empty/);
});

Deno.test("ParetoArchive.pickSparse() scores members exactly as crowdingDistance() does", () => {
  const rng = createRng(21);
  for (let trial = 0; trial < 50; trial++) {
    const a = new ParetoArchive<string>({ capacity: Infinity });
    // Integer objectives on a plane: many ties, which the (value, index) order must break the same way.
    for (let i = 0; i < 30; i++) {
      const x = rng.int(6);
      const y = rng.int(6);
      a.add(sol(`p${trial}-${i}`, [x, y, 10 - x - y]));
    }
    const seed = rng.nextU32();
    const picked = a.pickSparse(createRng(seed), 3).key;
    const crowding = a.crowding();
    const replay = createRng(seed);
    let best = replay.int(a.size);
    for (let t = 1; t < 3; t++) {
      const i = replay.int(a.size);
      if (crowding[i] > crowding[best]) best = i;
    }
    assert.equal(picked, a.members[best].key);
  }
});
