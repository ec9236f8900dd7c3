import assert from "node:assert/strict";
import { type CommandContext, helpText, parseCommandArgs, UsageError } from "../../cli/command.ts";
import { simCommand } from "../../cli/sim.ts";
import { readText, tempRoot } from "./helpers.ts";

function context(signal = new AbortController().signal): CommandContext & { out: string[] } {
  const out: string[] = [];
  return { out, stdout: (t) => out.push(t), stderr: (t) => out.push(t), isTerminal: false, env: {}, signal };
}

async function run(argv: string[], ctx = context()): Promise<number> {
  return await simCommand.run(parseCommandArgs(simCommand, argv), ctx);
}

Deno.test("qeil sim writes the tree, runs the loads and prints a status line per second until the duration ends", async () => {
  const root = await tempRoot();
  try {
    const ctx = context();
    const code = await run(
      [
        "--board",
        "rk3588",
        "--root",
        root,
        "--seed",
        "4",
        "--load",
        "npu=1",
        "--duration-s",
        "0.35",
        "--step-ms",
        "50",
      ],
      ctx,
    );
    assert.equal(code, 0);
    assert.match(ctx.out[0], /^qeil sim: rk3588 \(seed 4\) under /);
    const status = ctx.out.filter((l) => l.startsWith("t="));
    assert.ok(status.length >= 2, ctx.out.join(""));
    assert.match(status.at(-1)!, /°C soc [\d.]+ .*\| MHz .*npu\/fdab0000\.npu \d+ .*\| W .*total [\d.]+/);
    assert.equal(readText(root, "sys/class/thermal/thermal_zone0/type"), "soc-thermal");
    assert.match(readText(root, "sys/kernel/debug/rknpu/load"), /Core0: +\d+%/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("qeil sim stops on the abort signal (Ctrl-C) when no duration is given", async () => {
  const root = await tempRoot();
  try {
    const controller = new AbortController();
    const ctx = context(controller.signal);
    // Ctrl-C as soon as the first status line is out.
    const stdout = ctx.stdout;
    ctx.stdout = (text) => {
      stdout(text);
      if (text.startsWith("t=")) controller.abort();
    };
    const running = run(["--board", "imx8mp", "--root", root, "--step-ms", "20"], ctx);
    assert.equal(await running, 0);
    assert.ok(ctx.out.some((l) => l.startsWith("t=")));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("qeil sim rejects bad arguments with a usage error naming the flag", async () => {
  const root = await tempRoot();
  try {
    await assert.rejects(
      run(["--root", root]),
      (e) => e instanceof UsageError && /--board is required/.test(e.message),
    );
    await assert.rejects(run(["--board", "rk3399", "--root", root]), /--board must be one of rk3588, jetson-orin-nano/);
    await assert.rejects(run(["--board", "rk3588"]), /--root is required/);
    await assert.rejects(run(["--board", "rk3588", "--root", root, "--load", "npu"]), /UNIT=FRACTION/);
    await assert.rejects(run(["--board", "rk3588", "--root", root, "--load", "npu=2"]), /FRACTION must be in \[0, 1\]/);
    await assert.rejects(
      run(["--board", "rk3588", "--root", root, "--load", "tpu=0.5", "--duration-s", "0"]),
      /has no unit "tpu" \(units: cpu_big, cpu_little, gpu, npu\)/,
    );
    await assert.rejects(run(["--board", "rk3588", "--root", root, "--seed", "x"]), /--seed must be an integer/);
    const help = helpText(simCommand);
    assert.match(help, /--board BOARD/);
    assert.match(help, /--load UNIT=FRACTION/);
    assert.match(help, /qeil_sim|simulated-only hwmon/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
