/**
 * Simulated boards; imports core and hal (board profiles) only. A simulated
 * board writes the sysfs tree of a real board (rk3588, jetson-orin-nano,
 * raspberry-pi-5, imx8mp) under a root directory and keeps it live from a
 * hidden, seeded truth: RC thermal zones, temperature-dependent leakage, DVFS
 * that obeys the tree's own knobs, a step_wise thermal governor, power rails
 * (with exact energy counters where the real board has no rail sensor) and
 * loads. Work submitted to its units advances virtual or real time; a virtual
 * board writes its files only when someone can look.
 *
 * Like a real board it never overheats without end: at a critical trip (or
 * the SoC's own shutdown temperature, RK3588 TSADC 120 °C) it powers off. Its
 * `sys` and `proc` trees disappear, `execute()` rejects with a BackendError
 * naming the zone and the temperature, it draws 0 W and cools toward the
 * ambient; `power` says why. It stays off until `powerOn()` (a harness or a
 * test pressing the power button), which boots it again once every sensor
 * reads below its shutdown temperature.
 */
export { createSimBoard, SIM_AMBIENT_MAX_C } from "./board.ts";
export type {
  SimBoard,
  SimBoardOptions,
  SimExecuteOptions,
  SimExecution,
  SimFault,
  SimPowerState,
  SimReadings,
  SimShutdown,
  SimTimeMode,
  SimTruthForTests,
  SimUnitInfo,
  SimWorkItem,
} from "./api.ts";
export { type LoadOptions, runLoad } from "./load.ts";
export { type BoardLayout, getLayout, isSimBoardId, SIM_BOARD_IDS, type SimBoardId } from "./layout.ts";
export type { PowerChannelPath, SimTreePaths } from "./tree.ts";
export { GARBAGE_TEXT } from "./writer.ts";
