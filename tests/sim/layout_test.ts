import assert from "node:assert/strict";
import { detectProfile, getProfile } from "../../src/hal/mod.ts";
import { getLayout, isSimBoardId, SIM_BOARD_IDS } from "../../src/sim/mod.ts";
import { simBoard } from "./helpers.ts";

Deno.test("getLayout() knows the four simulated boards and names them when asked for another", () => {
  assert.deepEqual([...SIM_BOARD_IDS], ["rk3588", "jetson-orin-nano", "raspberry-pi-5", "imx8mp"]);
  assert.equal(isSimBoardId("imx8mp"), true);
  assert.equal(isSimBoardId("generic"), false);
  assert.throws(() => getLayout("generic"), /no simulated board "generic" \(simulated boards: rk3588, /);
});

for (const id of SIM_BOARD_IDS) {
  Deno.test(`${id}: the layout agrees with the HAL profile (detection, zones, units, load and power bindings)`, async () => {
    const layout = getLayout(id);
    const profile = getProfile(id);
    assert.equal(detectProfile(layout.compatible, layout.model).id, id, "device tree selects the profile");
    const profileTypes = new Set(Object.values(profile.zones).flat());
    for (const zone of layout.zones) assert.ok(profileTypes.has(zone.type), `zone ${zone.type} is in the profile`);

    await using sim = await simBoard({ profileId: id, seed: 1 });
    const root = sim.root;
    for (const unit of profile.units) {
      const freq = unit.freq;
      if (freq.kind === "cpufreq") {
        const cpus = sim.paths.cpufreq.filter((p) => p.unitId === unit.id).flatMap((p) =>
          Deno.readTextFileSync(`${root}/${p.path}/affected_cpus`).trim().split(" ").map(Number)
        );
        assert.deepEqual(cpus.sort(), [...freq.cpus].sort(), `${unit.id} cpufreq policies`);
      } else if (freq.kind === "devfreq") {
        assert.ok(
          freq.devices.some((d) => Deno.statSync(`${root}/sys/class/devfreq/${d}`).isDirectory),
          `${unit.id} devfreq`,
        );
      } else {
        assert.equal(sim.paths.devfreq.some((d) => d.unitId === unit.id), false, `${unit.id} has no knob`);
      }
      for (const load of unit.load) {
        if (load.kind === "rknpu" || load.kind === "galcore" || load.kind === "permille") {
          assert.ok(
            load.paths.some((p) => {
              try {
                return Deno.statSync(`${root}/${p}`).isFile;
              } catch (error) {
                if (error instanceof Deno.errors.NotFound) return false;
                throw error;
              }
            }),
            `${unit.id} ${load.kind} load file`,
          );
        }
        if (load.kind === "galcore") {
          const text = Deno.readTextFileSync(`${root}/${load.paths[0]}`);
          assert.match(text, new RegExp(`core +: ${load.core}\\n`), "the profile's galcore core block exists");
        }
        if (load.kind === "devfreq-load") {
          const dev = (unit.freq as { devices: readonly string[] }).devices[0];
          assert.match(Deno.readTextFileSync(`${root}/sys/class/devfreq/${dev}/load`), /^\d+@\d+Hz\n$/);
        }
      }
    }
    // Every rail the profile can find on this board exists with its label, and only those.
    const chips = new Map<string, string[]>();
    for (const e of Deno.readDirSync(`${root}/sys/class/hwmon`)) {
      const dir = `${root}/sys/class/hwmon/${e.name}`;
      const name = Deno.readTextFileSync(`${dir}/name`).trim();
      const labels = [...Deno.readDirSync(dir)].filter((f) => f.name.endsWith("_label"))
        .map((f) => Deno.readTextFileSync(`${dir}/${f.name}`).trim());
      chips.set(name, labels);
    }
    const present = profile.rails.filter((r) => r.chips.some((c) => chips.has(c)));
    assert.ok(present.length > 0, "at least one rail is readable");
    for (const rail of present) {
      if (rail.label !== undefined) {
        const labels = rail.chips.flatMap((c) => chips.get(c) ?? []);
        assert.ok(labels.includes(rail.label), `rail ${rail.name} label ${rail.label}`);
      }
    }
    assert.ok(present.some((r) => r.role === "input"), "an input rail gives the board total");
  });
}
