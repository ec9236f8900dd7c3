import assert from "node:assert/strict";
import { APT_PACKAGES, arm64HostProblems, runArm64 } from "../../scripts/arm64_smoke.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const FIXTURE = `${ROOT}tests/ship/fixtures/ort_forward.ts`;
const MODEL = `${ROOT}../shared/data/models/stories260k/model.onnx`;

const problems = await arm64HostProblems();
const required = Deno.env.get("REQUIRE_ARM64") === "1";
if (problems.length > 0 && !required) {
  console.warn(
    `arm64 smoke skipped: ${problems.join("; ")} (apt-get install ${
      APT_PACKAGES.join(" ")
    }; REQUIRE_ARM64=1 fails instead)`,
  );
}

interface Forward {
  arch: string;
  vocab: number;
  logits: number[];
}

function parseForward(stdout: Uint8Array, what: string): Forward {
  const text = new TextDecoder().decode(stdout).trim();
  try {
    return JSON.parse(text.split("\n").at(-1)!);
  } catch (error) {
    throw new Error(`${what}: no JSON line in its output: ${text.slice(0, 500)}`, { cause: error });
  }
}

const argmax = (xs: number[]) => xs.reduce((best, x, i) => (x > xs[best] ? i : best), 0);

Deno.test({
  name: "onnxruntime-node's linux/arm64 build gives the host's stories260k logits under qemu-aarch64",
  ignore: problems.length > 0 && !required,
  async fn() {
    assert.deepEqual(problems, [], "REQUIRE_ARM64=1 but this host cannot run arm64 code");
    const host = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", FIXTURE, MODEL],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(host.success, new TextDecoder().decode(host.stderr));
    // The arm64 Deno is fetched with npm into this test's own cache, so nothing comes from out/cache.
    const cache = await Deno.makeTempDir({ prefix: "qeil-arm64-cache-" });
    let arm: Deno.CommandOutput;
    try {
      arm = await runArm64(FIXTURE, [MODEL], {
        stdout: "piped",
        stderr: "piped",
        env: { ...Deno.env.toObject(), QEIL_SHIP_CACHE: cache },
      });
    } finally {
      await Deno.remove(cache, { recursive: true });
    }
    assert.equal(arm.code, 0, new TextDecoder().decode(arm.stderr));

    const x86 = parseForward(host.stdout, "host run");
    const a64 = parseForward(arm.stdout, "arm64 run");
    assert.equal(a64.arch, "aarch64");
    assert.equal(x86.arch, Deno.build.arch);
    assert.equal(a64.vocab, 512);
    assert.equal(a64.logits.length, x86.logits.length);
    // NEON and AVX kernels sum in different orders: float32 rounding differs, the model does not.
    const maxDiff = Math.max(...a64.logits.map((v, i) => Math.abs(v - x86.logits[i])));
    assert.ok(maxDiff < 1e-3, `max |logit difference| ${maxDiff}`);
    assert.equal(argmax(a64.logits), argmax(x86.logits));
  },
});
