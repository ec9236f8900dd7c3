/**
 * Power sensors of a simulated board: each rail's true power over the last
 * step turned into what its chip would report, with noise and the chip's
 * quantisation in sysfs units (INA3221: 8 mV bus LSB and 40 µV shunt LSB;
 * simulated-only rails: µW), and the cumulative energy counters of the
 * simulated-only chip.
 */
import type { PowerSpec } from "./layout.ts";
import type { PowerChannelPath, StepView } from "./tree.ts";

/** A zero-mean Gaussian draw with standard deviation `sigma` (0 when noise is off). */
export type Gauss = (sigma: number) => number;

/** INA3221 bus voltage LSB, mV. */
const INA_BUS_LSB_MV = 8;
/** INA3221 shunt voltage LSB, µV. */
const INA_SHUNT_LSB_UV = 40;

/**
 * One reading per power channel of the tree (same order as `channels`).
 * @param unitPowerW true average power of each unit over the step
 * @param basePowerW true power of the rest of the board
 */
export function powerReadings(
  power: PowerSpec,
  channels: readonly PowerChannelPath[],
  unitPowerW: (unitId: string) => number,
  basePowerW: number,
  gauss: Gauss,
): StepView["power"] {
  const trueW = (units: readonly string[], baseShare: number) => {
    let watts = baseShare * basePowerW;
    for (const id of units) watts += unitPowerW(id);
    return watts;
  };
  if (power.kind === "ina3221") {
    const currentLsbMa = INA_SHUNT_LSB_UV * 1000 / power.shuntMicroOhm;
    return power.channels.map((c) => {
      const watts = trueW(c.units, c.baseShare);
      const mV = Math.round((c.busMv + gauss(4)) / INA_BUS_LSB_MV) * INA_BUS_LSB_MV;
      const idealMa = watts / (mV / 1000) * 1000;
      const counts = Math.round((idealMa * (1 + gauss(0.003)) + gauss(4)) / currentLsbMa);
      return { mV, mA: Math.round(Math.max(0, counts) * currentLsbMa) };
    });
  }
  return channels.map((c) => {
    const watts = trueW(c.units, c.baseShare);
    const noisy = watts * (1 + gauss(0.004)) + gauss(0.002);
    return { microW: Math.max(0, Math.round(noisy * 1e6)) };
  });
}

/**
 * The simulated-only chip (hwmon `qeil_sim`) accumulates each channel's true
 * energy in a 32-bit register of 1 µJ, published as `energyK_input` (µJ, the
 * hwmon unit). The register wraps to 0 after 2^32 µJ = 4294.967296 J: about 7
 * minutes of a 10 W board, so a reader must sample more often than that and
 * take deltas modulo the range (the HAL knows this range for `qeil_sim`).
 */
export const SIM_ENERGY_COUNTER_RANGE_MICROJ = 2 ** 32;

/**
 * A counter reading: the whole µJ of `energyJ` accumulated since `originMicroJ`
 * (the register's value at creation), modulo the register's range.
 */
export function energyCounterMicroJ(originMicroJ: number, energyJ: number): number {
  const counted = Math.floor(energyJ * 1e6);
  return (originMicroJ + Math.max(0, counted)) % SIM_ENERGY_COUNTER_RANGE_MICROJ;
}
