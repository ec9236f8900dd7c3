/**
 * The `qeil probe` report: one sample of a discovered board as the JSON
 * object of issue 2 ("What must be shown"), and the same as a readable table.
 * Failed channels carry `ok: false` and the reason.
 */
import type { Board, Sample } from "./types.ts";

type Fail = { ok: false; reason: string };

/** The JSON object `qeil probe --json` prints (field names are a contract). */
export interface ProbeReport {
  board: { id: string; model: string };
  thermal: ({ name: string; trips: { type: string; tempC: number }[] } & ({ ok: true; tempC: number } | Fail))[];
  devfreq: (
    & { name: string }
    & (
      | {
        ok: true;
        curFreqHz: number;
        minFreqHz: number;
        maxFreqHz: number;
        availableFreqsHz: number[];
        governor: string;
      }
      | Fail
    )
  )[];
  cpufreq: (
    & { policy: string; cpus: number[] }
    & ({ ok: true; curFreqHz: number; minFreqHz: number; maxFreqHz: number; governor: string } | Fail)
  )[];
  power: (
    & { name: string }
    & ({ ok: true; powerW: number; voltageV: number | null; currentA: number | null } | Fail)
  )[];
  load: ({ unit: string } & ({ ok: true; utilization: number } | Fail))[];
  memory: { totalBytes: number; availableBytes: number } | Fail;
}

/** Builds the probe report from a board and one of its samples. */
export function probeReport(board: Pick<Board, "profile" | "model">, sample: Sample): ProbeReport {
  const failed = (reason: string): Fail => ({ ok: false, reason });
  return {
    board: { id: board.profile.id, model: board.model },
    thermal: sample.thermal.map((z) => ({
      name: z.name,
      ...(z.ok ? { ok: true as const, tempC: z.tempC } : failed(z.reason)),
      trips: z.trips.map((t) => ({ type: t.type, tempC: t.tempC })),
    })),
    devfreq: sample.devfreq.map((d) => ({
      name: d.name,
      ...(d.ok
        ? {
          ok: true as const,
          curFreqHz: d.curFreqHz,
          minFreqHz: d.minFreqHz,
          maxFreqHz: d.maxFreqHz,
          availableFreqsHz: [...d.availableFreqsHz],
          governor: d.governor,
        }
        : failed(d.reason)),
    })),
    cpufreq: sample.cpufreq.map((p) => ({
      policy: p.policy,
      cpus: [...p.cpus],
      ...(p.ok
        ? {
          ok: true as const,
          curFreqHz: p.curFreqHz,
          minFreqHz: p.minFreqHz,
          maxFreqHz: p.maxFreqHz,
          governor: p.governor,
        }
        : failed(p.reason)),
    })),
    power: sample.power.map((r) => ({
      name: r.name,
      ...(r.ok
        ? { ok: true as const, powerW: r.powerW, voltageV: r.voltageV ?? null, currentA: r.currentA ?? null }
        : failed(r.reason)),
    })),
    load: sample.load.map((l) => ({
      unit: l.unit,
      ...(l.ok ? { ok: true as const, utilization: l.utilization } : failed(l.reason)),
    })),
    memory: sample.memory.ok
      ? { totalBytes: sample.memory.value.totalBytes, availableBytes: sample.memory.value.availableBytes }
      : failed(sample.memory.reason),
  };
}

function table(title: string, header: string[], rows: string[][]): string {
  if (rows.length === 0) return `${title}: none found\n`;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [`${title}`, `  ${line(header)}`, ...rows.map((r) => `  ${line(r)}`)].join("\n") + "\n";
}

const mhz = (hz: number) => `${(hz / 1e6).toFixed(hz % 1e6 === 0 ? 0 : 2)} MHz`;
const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;

/** The probe report as aligned text tables; failed channels show `FAIL` and the reason. */
export function formatProbeTable(report: ProbeReport): string {
  const out: string[] = [`board: ${report.board.id}${report.board.model ? ` (${report.board.model})` : ""}\n`];
  out.push(table(
    "thermal zones",
    ["zone", "temp", "trips", ""],
    // The reason goes last so that one long path does not widen the other columns.
    report.thermal.map((z) => [
      z.name,
      z.ok ? `${z.tempC.toFixed(1)} °C` : "FAIL",
      z.trips.map((t) => `${t.type} ${t.tempC} °C`).join(", ") || "none",
      z.ok ? "" : z.reason,
    ]),
  ));
  out.push(table(
    "devfreq",
    ["device", "cur", "min", "max", "governor"],
    report.devfreq.map((d) =>
      d.ok
        ? [d.name, mhz(d.curFreqHz), mhz(d.minFreqHz), mhz(d.maxFreqHz), d.governor]
        : [d.name, `FAIL ${d.reason}`, "", "", ""]
    ),
  ));
  out.push(table(
    "cpufreq",
    ["policy", "cpus", "cur", "min", "max", "governor"],
    report.cpufreq.map((p) =>
      p.ok
        ? [p.policy, p.cpus.join(" "), mhz(p.curFreqHz), mhz(p.minFreqHz), mhz(p.maxFreqHz), p.governor]
        : [p.policy, p.cpus.join(" "), `FAIL ${p.reason}`, "", "", ""]
    ),
  ));
  out.push(table(
    "power rails",
    ["rail", "power", "voltage", "current"],
    report.power.map((r) =>
      r.ok
        ? [
          r.name,
          `${r.powerW.toFixed(3)} W`,
          r.voltageV === null ? "-" : `${r.voltageV.toFixed(3)} V`,
          r.currentA === null ? "-" : `${r.currentA.toFixed(3)} A`,
        ]
        : [r.name, `FAIL ${r.reason}`, "", ""]
    ),
  ));
  out.push(table(
    "load",
    ["unit", "utilization"],
    report.load.map((l) => [l.unit, l.ok ? `${(l.utilization * 100).toFixed(1)} %` : `FAIL ${l.reason}`]),
  ));
  const m = report.memory;
  out.push(
    "ok" in m ? `memory: FAIL ${m.reason}\n` : `memory: ${gib(m.availableBytes)} available of ${gib(m.totalBytes)}\n`,
  );
  return out.join("\n");
}
