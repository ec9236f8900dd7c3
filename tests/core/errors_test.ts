import assert from "node:assert/strict";
import {
  ActuatorError,
  ConfigError,
  describeError,
  fail,
  isQeilError,
  mapReading,
  ok,
  QeilError,
  valueOf,
} from "../../src/core/mod.ts";

Deno.test("domain errors carry their code, details and cause", () => {
  const cause = new Error("EACCES");
  const e = new ActuatorError("write /sys/x: read back 1 after writing 2", { cause, details: { path: "/sys/x" } });
  assert.ok(e instanceof QeilError);
  assert.equal(e.code, "Actuator");
  assert.equal(e.name, "ActuatorError");
  assert.equal(e.details.path, "/sys/x");
  assert.equal(e.cause, cause);
  assert.ok(isQeilError(e, "Actuator"));
  assert.ok(!isQeilError(e, "Config"));
  assert.ok(!isQeilError(new Error("x")));
});

Deno.test("describeError() follows the cause chain", () => {
  const e = new ConfigError("load config", { cause: new SyntaxError("Unexpected token") });
  assert.equal(describeError(e), "load config: Unexpected token");
  assert.equal(describeError("plain"), "plain");
});

Deno.test("Reading helpers keep failures as values", () => {
  const r = ok(3);
  assert.deepEqual(mapReading(r, (x) => x * 2), { ok: true, value: 6 });
  const f = fail<number>("temp: empty file");
  assert.deepEqual(mapReading(f, (x) => x * 2), { ok: false, reason: "temp: empty file" });
  assert.equal(valueOf(f), undefined);
  assert.equal(valueOf(r), 3);
});
