/**
 * Watches the orchestrator's online calibration under the evaluation's
 * workload: GSM8K queries in the standard, greedy and qeil modes interleaved
 * (long int4 decodes on the A76 cluster at its top clock between short NPU
 * jobs) on a virtual-time simulated rk3588 charged for Llama-3.2-1B int4,
 * through one orchestrator. After each qeil job it prints the planner's
 * predicted energy of the placement it chose, the energy the HAL measured, and
 * the fitted power coefficients of the units. It reproduced a runaway fit
 * (predicted energy 14600 J against 22.8 J measured by the twelfth query):
 * telemetry points built while a long prefill ran saw full power and no
 * activity, because a unit's work record arrives when the work ends. The
 * calibration feed now holds such points until the record is in
 * (`Calibrator.hold()`); predictions stay within a few percent. Asserts
 * nothing.
 *
 * Usage: deno run -A bench/eval_calibration_drift.ts [--queries 12] [--priors] [--frozen]
 *   --priors  start from the profile's priors instead of the calibration workload's fit
 *   --frozen  keep the starting model (onlineCalibration: false) for comparison
 */
import { parseArgs } from "node:util";
import { createActuators, discoverBoard } from "../src/hal/mod.ts";
import { type BoardModel, createBoardModel } from "../src/physics/mod.ts";
import { loadModel } from "../src/runtime/mod.ts";
import { createOrchestrator } from "../src/service/mod.ts";
import { runCalibrationWorkload, simCalibrationTarget } from "../src/service/calibration_driver.ts";
import { createSimBoard } from "../src/sim/mod.ts";
import {
  createOrchestratorRunner,
  datasetPaths,
  evaluationOrder,
  loadTaskQueries,
  MODE_NAMES,
  readCostShape,
} from "../src/eval/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    queries: { type: "string", default: "12" },
    priors: { type: "boolean", default: false },
    frozen: { type: "boolean", default: false },
  },
});
const DATA = new URL("../../shared/data/", import.meta.url).pathname;
const COST = new URL("../tests/fixtures/cost-shapes/llama-3.2-1b-int4.json", import.meta.url).pathname;

const root = await Deno.makeTempDir({ prefix: "qeil-drift-" });
try {
  await using sim = await createSimBoard({ profileId: "rk3588", root, seed: 0 });
  const board = await discoverBoard(root, { profileId: "rk3588", clock: sim.clock });
  await using model = await loadModel(`${DATA}models/stories260k`);
  const cost = await readCostShape(COST);
  let boardModel: BoardModel = createBoardModel(board.profile.priors);
  if (!values.priors) {
    await using actuators = createActuators(board);
    boardModel = (await runCalibrationWorkload({ ...simCalibrationTarget(sim, board, actuators), model: boardModel }))
      .model;
  }
  await using orchestrator = createOrchestrator({
    board,
    sim,
    model,
    costShape: cost.shape,
    boardModel,
    seed: 0,
    onlineCalibration: !values.frozen,
  });
  await orchestrator.start();
  const runner = createOrchestratorRunner({ orchestrator, model, seed: 0 });
  const tasks = await loadTaskQueries({ paths: datasetPaths(DATA), tasks: ["gsm8k"], seed: 0, shots: 0 });
  const signal = new AbortController().signal;
  console.log(`start: ${values.priors ? "priors" : "calibration workload"}; online calibration ${!values.frozen}`);
  for (const { query, mode } of evaluationOrder(tasks, MODE_NAMES, Number(values.queries))) {
    const before = orchestrator.runtime.meter.begin("probe");
    await orchestrator.runtime.sampleNow();
    await runner.run(query, mode, signal);
    await orchestrator.runtime.sampleNow();
    const measured = before.end();
    if (mode !== "qeil") continue;
    const choice = orchestrator.currentChoice()!;
    const m = orchestrator.calibrator.model;
    const units = Object.values(m.units).map((u) =>
      `${u.id} idle ${u.idlePowerW.toFixed(2)} W leak ${u.leakagePowerW.toFixed(2)} W kappa ${
        u.leakageKappaPerK.toFixed(3)
      }`
    ).join("; ");
    console.log(
      `${query.id}: chose ${
        [choice.placement.prefillUnit, ...choice.placement.lanes.flatMap((l) => l.segments.map((s) => s.unitId))]
          .join(">")
      }, predicted ${choice.prediction.energyJ.toFixed(1)} J, measured ${measured.energyJ.toFixed(1)} J; ` +
        `base ${m.basePowerW.toFixed(2)} W; ${units}`,
    );
  }
} finally {
  await Deno.remove(root, { recursive: true });
}
