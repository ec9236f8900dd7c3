import assert from "node:assert/strict";
import { coolingState, NO_TARGET, stepWiseTarget, trendOf, tripCrossed } from "../../src/sim/thermal.ts";

const fresh = { target: NO_TARGET, initialized: false, lower: 0, upper: 13 };

Deno.test("tripCrossed() sets at the trip and clears only below trip - hysteresis", () => {
  assert.equal(tripCrossed(false, 84.9, 85, 2), false);
  assert.equal(tripCrossed(false, 85, 85, 2), true);
  assert.equal(tripCrossed(true, 83.5, 85, 2), true);
  assert.equal(tripCrossed(true, 82.9, 85, 2), false);
});

Deno.test("trendOf() compares two consecutive readings", () => {
  assert.equal(trendOf(50, 51), "raising");
  assert.equal(trendOf(50, 49), "dropping");
  assert.equal(trendOf(50, 50), "stable");
});

Deno.test("stepWiseTarget() raises the state one step per poll while crossed and heating", () => {
  let inst = { ...fresh };
  let state = 0;
  const poll = (throttle: boolean, trend: "raising" | "dropping" | "stable") => {
    inst = { ...inst, target: stepWiseTarget(inst, state, throttle, trend), initialized: true };
    state = coolingState([inst.target], 13);
  };
  assert.equal(stepWiseTarget(fresh, 0, false, "raising"), NO_TARGET);
  poll(true, "raising");
  assert.equal(state, 1);
  poll(true, "raising");
  poll(true, "raising");
  assert.equal(state, 3);
  poll(true, "stable");
  assert.equal(state, 3);
  // Cooling while still crossed lowers by one but keeps at least lower + 1.
  poll(true, "dropping");
  poll(true, "dropping");
  poll(true, "dropping");
  assert.equal(state, 1);
  // Below the trip, a falling temperature releases to the lower limit, then to no target.
  poll(false, "dropping");
  assert.equal(inst.target, 0);
  poll(false, "dropping");
  assert.equal(inst.target, NO_TARGET);
  assert.equal(state, 0);
});

Deno.test("stepWiseTarget() stays within the binding's lower and upper limits", () => {
  const fan = { target: 1, initialized: true, lower: 1, upper: 2 };
  assert.equal(stepWiseTarget(fan, 2, true, "raising"), 2);
  assert.equal(stepWiseTarget(fan, 0, true, "raising"), 1);
  assert.equal(stepWiseTarget({ ...fan, target: 2 }, 2, true, "dropping"), 2);
});

Deno.test("coolingState() is the highest target, ignoring instances without one", () => {
  assert.equal(coolingState([NO_TARGET, 2, 1], 4), 2);
  assert.equal(coolingState([NO_TARGET], 4), 0);
  assert.equal(coolingState([9], 4), 4);
});
