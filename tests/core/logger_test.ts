import assert from "node:assert/strict";
import { createLogger } from "../../src/core/mod.ts";

Deno.test("createLogger() writes JSON lines with fields and filters by level", () => {
  const lines: string[] = [];
  const log = createLogger({ format: "json", level: "info", sink: (l) => lines.push(l), nowMs: () => 0 });
  log.debug("hidden");
  log.child({ unit: "npu" }).warn("hot", { tempC: 81.5 });
  assert.equal(lines.length, 1);
  assert.deepEqual(JSON.parse(lines[0]), {
    ts: "1970-01-01T00:00:00.000Z",
    level: "warn",
    msg: "hot",
    unit: "npu",
    tempC: 81.5,
  });
});

Deno.test("createLogger() text format quotes values that need it", () => {
  const lines: string[] = [];
  const log = createLogger({ sink: (l) => lines.push(l) });
  log.error("failed", { path: "/sys/a b", err: new Error("boom") });
  assert.equal(lines[0], 'error failed path="/sys/a b" err="boom"');
});
