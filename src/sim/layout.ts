/**
 * What each simulated board's sysfs tree looks like: zone `type` names and
 * trips, cooling devices and their bindings, cpufreq policies, devfreq
 * devices, power sensors, load files and device-tree identity, transcribed
 * from boards.md (the real layouts). Frequencies and physics come from the
 * board profile's priors, not from here, so the two cannot disagree.
 */

/** Ids of the boards the simulator can imitate. */
export type SimBoardId = "rk3588" | "jetson-orin-nano" | "raspberry-pi-5" | "imx8mp";

/** The boards the simulator can imitate, in help order. */
export const SIM_BOARD_IDS: readonly SimBoardId[] = ["rk3588", "jetson-orin-nano", "raspberry-pi-5", "imx8mp"];

/** True for an id of a simulated board. */
export function isSimBoardId(value: unknown): value is SimBoardId {
  return typeof value === "string" && (SIM_BOARD_IDS as readonly string[]).includes(value);
}

/** One trip point of a thermal zone, as the device tree declares it. */
export interface TripSpec {
  tempC: number;
  type: "passive" | "active" | "hot" | "critical";
  hystC: number;
}

/**
 * A cooling device bound to a trip (`cdevM` in the zone directory). `lower` /
 * `upper` are the DT cooling-map limits on the device's state (default: the
 * whole range).
 */
export interface BindingSpec {
  trip: number;
  /** `type` of the cooling device. */
  cdev: string;
  weight: number;
  lower?: number;
  upper?: number;
}

/** One thermal zone directory. */
export interface ZoneSpec {
  /** Sysfs `type`; the profile's `zones` map resolves it to a logical zone with RC priors. */
  type: string;
  trips: readonly TripSpec[];
  bindings: readonly BindingSpec[];
  /**
   * `node`: the sensor reads the RC node of its logical zone; `max`: the zone
   * reports the hottest readable sensor of the others (Jetson `tj-thermal`).
   * @default "node"
   */
  source?: "node" | "max";
  /**
   * False for sensors that exist but cannot be read (Jetson Orin Nano cv*
   * zones, which fail with EAGAIN on real boards: the simulator writes an empty
   * file with mode 000, the closest a plain file system gets).
   * @default true
   */
  readable?: boolean;
  /** Name of the hwmon chip that mirrors this zone (CONFIG_THERMAL_HWMON: type with `-` -> `_`). */
  hwmon?: string;
  /** The zone's hwmon also shows the critical trip as `temp1_crit` (Raspberry Pi 5). @default false */
  hwmonCrit?: boolean;
  /** Thermal governor of the zone (`policy`). The simulator implements step_wise only. */
  policy: "step_wise";
  /** Sensor resolution, m°C (TMU on i.MX 8M Plus reports whole degrees). @default 1 */
  quantumMC?: number;
  /** Sensor noise standard deviation, °C. */
  noiseC: number;
  /**
   * RC node for a sensor whose logical zone has no priors in the profile: the
   * mean resistance of the listed logical zones times `rthScale`, their mean
   * tau. (Jetson soc0-2 sit between the CPU and GPU clusters.)
   */
  fallback?: { from: readonly string[]; rthScale: number };
}

/** A cooling device directory. */
export type CoolingSpec =
  /** A cpufreq or devfreq cooling device: state k caps the domain at its k-th frequency from the top. */
  | { type: string; kind: "freq"; domain: string }
  /** A fan (`pwm-fan`): each state is a PWM duty from `levels` (0..255), which lowers thermal resistance. */
  | { type: string; kind: "fan"; levels: readonly number[] }
  /** Present in the tree but bound to nothing the simulator models (e.g. `devfreq-dmc`). */
  | { type: string; kind: "inert"; maxState: number };

/** A cpufreq policy directory. */
export interface CpufreqSpec {
  kind: "cpufreq";
  /** `policyN`, N = first CPU of the cluster. */
  name: string;
  unitId: string;
  cpus: readonly number[];
  governor: string;
  governors: readonly string[];
  driver: string;
  transitionLatencyNs: number;
}

/** A devfreq device. */
export interface DevfreqSpec {
  kind: "devfreq";
  /** Directory name under /sys/class/devfreq (the parent device name). */
  name: string;
  /** Parent device directory below `sys/devices`, e.g. `platform/fb000000.gpu`. */
  devicePath: string;
  /** Compute unit it clocks; absent for devices the simulator only shows (DRAM controller). */
  unitId?: string;
  /** Frequency table for a device without a unit (a unit's table comes from its OPPs). */
  freqsHz?: readonly number[];
  governor: string;
  governors: readonly string[];
  pollingIntervalMs: number;
  /**
   * Rockchip vendor `load` file: `busy` = `<percent>@<freq>Hz` from busy time;
   * `always-100` = the NPU quirk (rknpu_ondemand fills no busy sample).
   */
  loadFile?: "busy" | "always-100";
  /** Extra constant files in the devfreq directory (e.g. dmc `upthreshold`). */
  extraFiles?: Readonly<Record<string, string>>;
}

/** A frequency domain of a unit. */
export type DomainSpec = CpufreqSpec | DevfreqSpec;

/** Power sensors the board exposes. */
export type PowerSpec =
  /**
   * The board has no rail sensor; the simulator adds the profile's simulated-only
   * hwmon rails (one `powerK_input` µW per unit, `powerK_label` = unit id) and a
   * last channel labelled `total` (units + the rest of the board), each with a
   * cumulative `energyK_input` µJ counter in a 32-bit register (sensors.ts).
   */
  | { kind: "sim-hwmon" }
  /**
   * A TI INA3221 on I2C (Jetson): `inK_input` mV and `currK_input` mA, no power
   * file; each channel measures the listed units plus a share of the board's
   * base power, at a bus voltage near `busMv`.
   */
  | {
    kind: "ina3221";
    /** Parent device directory below `sys/devices`. */
    devicePath: string;
    /** `sys/bus/i2c/devices` name, e.g. `1-0040`. */
    i2cName: string;
    shuntMicroOhm: number;
    channels: readonly {
      label: string;
      units: readonly string[];
      baseShare: number;
      busMv: number;
      critMa: number;
    }[];
  };

/** Utilisation and accelerator files beyond devfreq. */
export type ExtraSpec =
  /** Rockchip rknpu debugfs (`NPU load:  Core0: xx%, ...`), `freq`, `volt`, `power`. */
  | { kind: "rknpu"; unitId: string; cores: number; version: string }
  /** A per-mille busy file in the unit's platform device directory (Jetson GPU), plus aliases. */
  | { kind: "permille-load"; unitId: string; deviceDir: string; aliases: readonly string[] }
  /** Vivante galcore debugfs `load` / `idle`; `cores` maps each block to a unit (or nothing). */
  | { kind: "galcore"; cores: readonly { core: number; unitId?: string }[] }
  /** Raspberry Pi V3D `gpu_stats` (the GPU is not a compute unit here: its queues stay idle). */
  | { kind: "v3d-stats"; path: string }
  /**
   * Raspberry Pi hwmon chips that carry no modelled physics (RP1 ADC, fan
   * tachometer, under-voltage); the RP1 die temperature follows `socZone`.
   */
  | { kind: "rpi-hwmon"; socZone: string }
  /** Constant files and symlinks, relative to the root. */
  | {
    kind: "static";
    files: Readonly<Record<string, string>>;
    symlinks?: Readonly<Record<string, string>>;
  };

/** Hidden behaviour of firmware that Linux does not see (Raspberry Pi). */
export interface FirmwareSpec {
  /** The firmware never clocks the unit below this, whatever cpufreq says, Hz. */
  floorHz: number;
  /** Above this temperature the firmware lowers the clock progressively, °C. */
  softThrottleC: number;
  /** At this temperature the clock is down at `floorHz`, °C. */
  hardThrottleC: number;
  unitId: string;
}

/** A cap a vendor driver applies to a devfreq device above a temperature. */
export interface HighTempCapSpec {
  domain: string;
  /** Zone `type` whose sensor the driver watches. */
  zoneType: string;
  tempC: number;
  hystC: number;
  maxFreqHz: number;
}

/**
 * A shutdown the hardware makes on its own, independent of Linux: a sensor
 * block that cuts the board's power (or resets it) when one of its channels
 * reaches a temperature. It watches every readable sensor of the board.
 */
export interface HardwareShutdownSpec {
  /** Temperature at which it acts, °C. */
  tempC: number;
  /** What acts, for messages (`TSADC`). */
  by: string;
}

/** The whole sysfs layout of one board. */
export interface BoardLayout {
  id: SimBoardId;
  /** Device-tree `compatible` strings, most specific first. */
  compatible: readonly string[];
  model: string;
  zones: readonly ZoneSpec[];
  cooling: readonly CoolingSpec[];
  domains: readonly DomainSpec[];
  power: PowerSpec;
  extras: readonly ExtraSpec[];
  firmware?: FirmwareSpec;
  highTempCaps?: readonly HighTempCapSpec[];
  /** Where boards.md gives one: the hardware's own thermal shutdown (beside the kernel's critical trips). */
  hardwareShutdown?: HardwareShutdownSpec;
  /** Memory the kernel and firmware reserve (MemTotal = physical - reserved), bytes. */
  reservedBytes: number;
  /** Memory in use by the OS at idle (MemAvailable = MemTotal - this), bytes. */
  baselineUsedBytes: number;
  /** Where the layout departs from, or guesses about, the real board. */
  notes: readonly string[];
}

const RK_DEVFREQ_GOVERNORS = [
  "rknpu_ondemand",
  "dmc_ondemand",
  "userspace",
  "powersave",
  "performance",
  "simple_ondemand",
] as const;
const CPUFREQ_GOVERNORS = ["conservative", "ondemand", "userspace", "powersave", "performance", "schedutil"] as const;
const MIB = 1024 * 1024;

const rkThermalNoTrips = (type: string, hwmon: string): ZoneSpec => ({
  type,
  trips: [],
  bindings: [],
  hwmon,
  policy: "step_wise",
  noiseC: 0.3,
});

/**
 * Radxa ROCK 5B on the Rockchip vendor BSP (6.1): boards.md section 1.1-1.4.
 * Only soc-thermal has trips; its cooling maps bind the three CPU policies
 * and the GPU to the 85 °C "target" trip. The vendor tree selects the
 * power_allocator governor there; the simulator implements step_wise and
 * says so in `policy`.
 */
const rk3588: BoardLayout = {
  id: "rk3588",
  compatible: ["radxa,rock-5b", "rockchip,rk3588"],
  model: "Radxa ROCK 5B",
  zones: [
    {
      type: "soc-thermal",
      trips: [
        { tempC: 75, type: "passive", hystC: 2 },
        { tempC: 85, type: "passive", hystC: 2 },
        { tempC: 115, type: "critical", hystC: 2 },
      ],
      bindings: [
        { trip: 1, cdev: "cpufreq-cpu0", weight: 1024 },
        { trip: 1, cdev: "cpufreq-cpu4", weight: 1024 },
        { trip: 1, cdev: "cpufreq-cpu6", weight: 1024 },
        { trip: 1, cdev: "devfreq-fb000000.gpu", weight: 1024 },
      ],
      hwmon: "soc_thermal",
      policy: "step_wise",
      noiseC: 0.3,
    },
    rkThermalNoTrips("bigcore0-thermal", "bigcore0_thermal"),
    rkThermalNoTrips("bigcore1-thermal", "bigcore1_thermal"),
    rkThermalNoTrips("littlecore-thermal", "littlecore_thermal"),
    rkThermalNoTrips("center-thermal", "center_thermal"),
    rkThermalNoTrips("gpu-thermal", "gpu_thermal"),
    rkThermalNoTrips("npu-thermal", "npu_thermal"),
  ],
  cooling: [
    { type: "cpufreq-cpu0", kind: "freq", domain: "policy0" },
    { type: "cpufreq-cpu4", kind: "freq", domain: "policy4" },
    { type: "cpufreq-cpu6", kind: "freq", domain: "policy6" },
    { type: "devfreq-fb000000.gpu", kind: "freq", domain: "fb000000.gpu" },
    { type: "devfreq-dmc", kind: "inert", maxState: 3 },
  ],
  domains: [
    {
      kind: "cpufreq",
      name: "policy0",
      unitId: "cpu_little",
      cpus: [0, 1, 2, 3],
      governor: "ondemand",
      governors: CPUFREQ_GOVERNORS,
      driver: "cpufreq-dt",
      transitionLatencyNs: 40000,
    },
    {
      kind: "cpufreq",
      name: "policy4",
      unitId: "cpu_big",
      cpus: [4, 5],
      governor: "ondemand",
      governors: CPUFREQ_GOVERNORS,
      driver: "cpufreq-dt",
      transitionLatencyNs: 40000,
    },
    {
      kind: "cpufreq",
      name: "policy6",
      unitId: "cpu_big",
      cpus: [6, 7],
      governor: "ondemand",
      governors: CPUFREQ_GOVERNORS,
      driver: "cpufreq-dt",
      transitionLatencyNs: 40000,
    },
    {
      kind: "devfreq",
      name: "fb000000.gpu",
      devicePath: "platform/fb000000.gpu",
      unitId: "gpu",
      governor: "simple_ondemand",
      governors: RK_DEVFREQ_GOVERNORS,
      pollingIntervalMs: 50,
      loadFile: "busy",
    },
    {
      kind: "devfreq",
      name: "fdab0000.npu",
      devicePath: "platform/fdab0000.npu",
      unitId: "npu",
      governor: "rknpu_ondemand",
      governors: RK_DEVFREQ_GOVERNORS,
      pollingIntervalMs: 50,
      loadFile: "always-100",
    },
    {
      kind: "devfreq",
      name: "dmc",
      devicePath: "platform/dmc",
      freqsHz: [528e6, 1068e6, 1560e6, 2112e6],
      governor: "dmc_ondemand",
      governors: RK_DEVFREQ_GOVERNORS,
      pollingIntervalMs: 50,
      loadFile: "busy",
      extraFiles: { upthreshold: "25", downdifferential: "20" },
    },
  ],
  power: { kind: "sim-hwmon" },
  extras: [
    { kind: "rknpu", unitId: "npu", cores: 3, version: "v0.9.8" },
    {
      kind: "static",
      files: {
        "sys/module/rknpu/version": "0.9.8",
        "sys/devices/platform/fb000000.gpu/misc/mali0/gpuinfo": "Mali-G610 4 cores r0p0 0x0A080607",
      },
      symlinks: {
        "sys/class/misc/mali0": "../../devices/platform/fb000000.gpu/misc/mali0",
        "sys/devices/platform/fb000000.gpu/misc/mali0/device": "../../../fb000000.gpu",
      },
    },
  ],
  highTempCaps: [{ domain: "fb000000.gpu", zoneType: "soc-thermal", tempC: 85, hystC: 2, maxFreqHz: 800e6 }],
  // `rockchip,hw-tshut-temp = <120000>` (boards.md 1.2): the TSADC cuts the power on any of its channels at 120 °C.
  hardwareShutdown: { tempC: 120, by: "TSADC" },
  reservedBytes: 230 * MIB,
  baselineUsedBytes: 420 * MIB,
  notes: [
    "vendor BSP 6.1 names (boards.md 1.1); soc-thermal policy is power_allocator on the vendor tree, step_wise here",
    "qeil-only hwmon power rails: real RK3588 boards have no rail sensor (boards.md 1.6)",
    "TSADC hardware shutdown at 120 °C on every channel (boards.md 1.2), beside the kernel's 115 °C critical trip on soc-thermal",
  ],
};

const jetsonBpmpZone = (name: string, bindings: BindingSpec[] = [], readable = true): ZoneSpec => ({
  type: `${name}-thermal`,
  // Upstream tegra234 DT: `*-sw-throttle` 99 °C passive (hyst 0), `*-sw-shutdown` 104.5 °C critical.
  trips: [
    { tempC: 99, type: "passive", hystC: 0 },
    { tempC: 104.5, type: "critical", hystC: 0 },
  ],
  bindings,
  readable,
  policy: "step_wise",
  noiseC: 0.15,
});

/**
 * Jetson Orin Nano 8GB developer kit (Super) on JetPack 6: boards.md 2.1-2.4.
 * Nine BPMP zones in BPMP id order; cv0-2 cannot be read on Orin Nano (no
 * DLA/PVA); tj reports the hottest sensor. The CPU and GPU cooling devices
 * bound to the sw-throttle trips are an assumption (boards.md lists no
 * Jetson cooling devices).
 */
const jetsonOrinNano: BoardLayout = {
  id: "jetson-orin-nano",
  compatible: ["nvidia,p3768-0000+p3767-0005", "nvidia,p3767-0005", "nvidia,tegra234"],
  model: "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super",
  zones: [
    jetsonBpmpZone("cpu", [
      { trip: 0, cdev: "cpufreq-cpu0", weight: 100 },
      { trip: 0, cdev: "cpufreq-cpu4", weight: 100 },
    ]),
    jetsonBpmpZone("gpu", [{ trip: 0, cdev: "devfreq-17000000.gpu", weight: 100 }]),
    jetsonBpmpZone("cv0", [], false),
    jetsonBpmpZone("cv1", [], false),
    jetsonBpmpZone("cv2", [], false),
    { ...jetsonBpmpZone("soc0"), fallback: { from: ["cpu", "gpu"], rthScale: 0.75 } },
    { ...jetsonBpmpZone("soc1"), fallback: { from: ["cpu", "gpu"], rthScale: 0.7 } },
    { ...jetsonBpmpZone("soc2"), fallback: { from: ["cpu", "gpu"], rthScale: 0.65 } },
    {
      type: "tj-thermal",
      trips: [{ tempC: 104.5, type: "critical", hystC: 0 }],
      bindings: [],
      source: "max",
      policy: "step_wise",
      noiseC: 0,
    },
  ],
  cooling: [
    { type: "cpufreq-cpu0", kind: "freq", domain: "policy0" },
    { type: "cpufreq-cpu4", kind: "freq", domain: "policy4" },
    { type: "devfreq-17000000.gpu", kind: "freq", domain: "17000000.gpu" },
  ],
  domains: [
    {
      kind: "cpufreq",
      name: "policy0",
      unitId: "cpu",
      cpus: [0, 1, 2, 3],
      governor: "schedutil",
      governors: CPUFREQ_GOVERNORS,
      driver: "tegra194",
      transitionLatencyNs: 300000,
    },
    {
      kind: "cpufreq",
      name: "policy4",
      unitId: "cpu",
      cpus: [4, 5],
      governor: "schedutil",
      governors: CPUFREQ_GOVERNORS,
      driver: "tegra194",
      transitionLatencyNs: 300000,
    },
    {
      kind: "devfreq",
      name: "17000000.gpu",
      devicePath: "platform/bus@0/17000000.gpu",
      unitId: "gpu",
      governor: "nvhost_podgov",
      governors: ["wmark_simple", "nvhost_podgov", "userspace", "performance", "simple_ondemand"],
      pollingIntervalMs: 25,
    },
  ],
  power: {
    kind: "ina3221",
    devicePath: "platform/bus@0/c240000.i2c/i2c-1/1-0040",
    i2cName: "1-0040",
    shuntMicroOhm: 5000,
    // Upstream tegra234-p3767.dtsi labels; VDD_IN is the module input, so it
    // carries everything. How the rest of the module splits between VDD_SOC
    // and rails no channel sees is an assumption of the simulator.
    channels: [
      { label: "VDD_IN", units: ["cpu", "gpu"], baseShare: 1, busMv: 5064, critMa: 7784 },
      { label: "VDD_CPU_GPU_CV", units: ["cpu", "gpu"], baseShare: 0, busMv: 5056, critMa: 7784 },
      { label: "VDD_SOC", units: [], baseShare: 0.45, busMv: 5064, critMa: 7784 },
    ],
  },
  extras: [
    {
      kind: "permille-load",
      unitId: "gpu",
      deviceDir: "sys/devices/platform/bus@0/17000000.gpu",
      aliases: ["sys/devices/platform/gpu.0"],
    },
    {
      kind: "static",
      files: {
        "sys/devices/platform/bus@0/17000000.gpu/railgate_enable": "1",
        "sys/devices/platform/bus@0/17000000.gpu/tpc_pg_mask": "0",
        "sys/devices/platform/bus@0/17000000.gpu/enable_3d_scaling": "1",
        "sys/devices/platform/bus@0/17000000.gpu/power/control": "auto",
        "sys/firmware/devicetree/base/bus@0/gpu@17000000/name": "gpu\0",
        "var/lib/nvpmodel/status": "pmode:0002",
      },
      symlinks: {
        "sys/devices/platform/bus@0/17000000.gpu/of_node": "../../../../firmware/devicetree/base/bus@0/gpu@17000000",
      },
    },
  ],
  reservedBytes: 660 * MIB,
  baselineUsedBytes: 900 * MIB,
  notes: [
    "JetPack 6 names (boards.md 2.1); cv0-2 zones unreadable; tj = hottest sensor",
    "INA3221 at 1-0040 with the three upstream p3767 labels; the Orin Nano has no NC channel (that quirk is the AGX Orin's second INA3221)",
    "soc0-2 have no priors in the profile: their RC nodes are derived from the cpu and gpu zones",
    "cpufreq/devfreq cooling devices on the sw-throttle trips are an assumption (not in boards.md)",
    "no hardware thermtrip: boards.md gives no BPMP thermtrip temperature (UNSURE); the kernel's sw-shutdown trips act",
  ],
};

/**
 * Raspberry Pi 5 (bcm2712-rpi-5-b.dts): boards.md section 3. One zone with a
 * critical trip and four active fan trips driving `pwm-fan`; the firmware
 * floors the ARM clock at 1.5 GHz and throttles on its own from 80 °C, which
 * cpufreq does not show.
 */
const raspberryPi5: BoardLayout = {
  id: "raspberry-pi-5",
  compatible: ["raspberrypi,5-model-b", "brcm,bcm2712"],
  model: "Raspberry Pi 5 Model B Rev 1.0",
  zones: [
    {
      type: "cpu-thermal",
      trips: [
        { tempC: 110, type: "critical", hystC: 0 },
        { tempC: 50, type: "active", hystC: 5 },
        { tempC: 60, type: "active", hystC: 5 },
        { tempC: 67.5, type: "active", hystC: 5 },
        { tempC: 75, type: "active", hystC: 5 },
      ],
      bindings: [
        { trip: 1, cdev: "pwm-fan", weight: 0, lower: 0, upper: 1 },
        { trip: 2, cdev: "pwm-fan", weight: 0, lower: 1, upper: 2 },
        { trip: 3, cdev: "pwm-fan", weight: 0, lower: 2, upper: 3 },
        { trip: 4, cdev: "pwm-fan", weight: 0, lower: 3, upper: 4 },
      ],
      hwmon: "cpu_thermal",
      hwmonCrit: true,
      policy: "step_wise",
      noiseC: 0.3,
    },
  ],
  cooling: [{ type: "pwm-fan", kind: "fan", levels: [0, 75, 125, 175, 250] }],
  domains: [
    {
      kind: "cpufreq",
      name: "policy0",
      unitId: "cpu",
      cpus: [0, 1, 2, 3],
      governor: "ondemand",
      governors: CPUFREQ_GOVERNORS,
      driver: "cpufreq-dt",
      transitionLatencyNs: 355000,
    },
  ],
  power: { kind: "sim-hwmon" },
  extras: [
    { kind: "v3d-stats", path: "sys/devices/platform/axi/1002000000.v3d/gpu_stats" },
    { kind: "rpi-hwmon", socZone: "cpu-thermal" },
  ],
  firmware: { unitId: "cpu", floorHz: 1.5e9, softThrottleC: 80, hardThrottleC: 85 },
  reservedBytes: 100 * MIB,
  baselineUsedBytes: 380 * MIB,
  notes: [
    "bcm2712-rpi-5-b.dts trips and fan levels (boards.md 3.1); firmware floor 1.5 GHz and 80/85 °C throttle are hidden",
    "qeil-only hwmon power rails: the PMIC is read through vcgencmd, not sysfs (boards.md 3.3)",
  ],
};

/**
 * NXP i.MX 8M Plus EVK (mainline imx8mp.dtsi): boards.md section 4. Two TMU
 * zones with 85 °C passive / 95 °C critical trips, both cooled by the A53
 * cpufreq device; the NPU has no DVFS knob and reports its load through the
 * galcore debugfs block of its core.
 */
const imx8mp: BoardLayout = {
  id: "imx8mp",
  compatible: ["fsl,imx8mp-evk", "fsl,imx8mp"],
  model: "NXP i.MX8MPlus EVK board",
  zones: ["cpu", "soc"].map((name): ZoneSpec => ({
    type: `${name}-thermal`,
    trips: [
      { tempC: 85, type: "passive", hystC: 2 },
      { tempC: 95, type: "critical", hystC: 2 },
    ],
    bindings: [{ trip: 0, cdev: "cpufreq-cpu0", weight: 0 }],
    hwmon: `${name}_thermal`,
    policy: "step_wise",
    quantumMC: 1000,
    noiseC: 0.3,
  })),
  cooling: [{ type: "cpufreq-cpu0", kind: "freq", domain: "policy0" }],
  domains: [
    {
      kind: "cpufreq",
      name: "policy0",
      unitId: "cpu",
      cpus: [0, 1, 2, 3],
      governor: "schedutil",
      governors: CPUFREQ_GOVERNORS,
      driver: "imx-cpufreq-dt",
      transitionLatencyNs: 150000,
    },
  ],
  power: { kind: "sim-hwmon" },
  // galcore prints one block per core; the 3D GPU (idle here) is core 0 and the NPU core 1 (as the profile binds it).
  extras: [{ kind: "galcore", cores: [{ core: 0 }, { core: 1, unitId: "npu" }] }],
  reservedBytes: 250 * MIB,
  baselineUsedBytes: 350 * MIB,
  notes: [
    "mainline imx8mp.dtsi zones and trips (boards.md 4.1); galcore debugfs formats (boards.md 4.2)",
    "qeil-only hwmon power rails: no public per-unit power sensor (boards.md 4.3)",
  ],
};

const LAYOUTS: Readonly<Record<SimBoardId, BoardLayout>> = {
  "rk3588": rk3588,
  "jetson-orin-nano": jetsonOrinNano,
  "raspberry-pi-5": raspberryPi5,
  "imx8mp": imx8mp,
};

/** The sysfs layout of a simulated board. @throws RangeError for an unknown id */
export function getLayout(id: string): BoardLayout {
  if (!isSimBoardId(id)) {
    throw new RangeError(`no simulated board "${id}" (simulated boards: ${SIM_BOARD_IDS.join(", ")})`);
  }
  return LAYOUTS[id];
}
