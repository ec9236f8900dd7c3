import assert from "node:assert/strict";
import { APT_PACKAGES, arm64HostProblems, openArm64Env } from "../../scripts/arm64_smoke.ts";
import { servicePermissionFlags } from "../../scripts/ship_lib.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const FIXTURE = `${ROOT}tests/ship/fixtures/ort_forward.ts`;
const STORIES = `${ROOT}../shared/data/models/stories260k`;
/** A hang guard for one run under qemu (a normal one takes 5 to 20 s), not a timing assertion. */
const RUN_DEADLINE_MS = 5 * 60_000;

const problems = await arm64HostProblems();
const required = Deno.env.get("REQUIRE_ARM64") === "1";
if (problems.length > 0 && !required) {
  console.warn(
    `arm64 smoke skipped: ${problems.join("; ")} (apt-get install ${
      APT_PACKAGES.join(" ")
    }; REQUIRE_ARM64=1 fails instead)`,
  );
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function decoded(out: Deno.CommandOutput): Run {
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** Runs `entry` on this machine's Deno with the `qeil` task's permissions, as `deno task qeil` does. */
async function runHost(entry: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...await servicePermissionFlags(ROOT), entry, ...args],
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1", ORT_DISABLE_TELEMETRY: "1", NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(RUN_DEADLINE_MS),
  }).output();
  return decoded(out);
}

function lastJsonLine<T>(run: Run, what: string): T {
  assert.equal(run.code, 0, `${what} exited ${run.code}:\n${run.stderr}${run.stdout}`);
  const text = run.stdout.trim();
  try {
    return JSON.parse(text.split("\n").at(-1)!);
  } catch (error) {
    throw new Error(`${what}: no JSON line in its output: ${text.slice(0, 500)}`, { cause: error });
  }
}

/** The fields of `qeil run --json` compared here. */
interface RunJson {
  model: string;
  shape: { vocabSize: number; layers: number };
  samples: { finishReason: string; text: string; tokenIds: number[]; logProbs: number[] }[];
}

/** The one sample of `qeil run`'s text output: its header fields and its text. */
function printedSample(run: Run, what: string) {
  assert.equal(run.code, 0, `${what} exited ${run.code}:\n${run.stderr}${run.stdout}`);
  const m = /^--- sample 0: (\w+), (\d+) tokens, mean log-prob (\S+)\n([\s\S]*)\n--- \d+ tokens in /m.exec(run.stdout);
  assert.ok(m, `${what}: no sample in its output:\n${run.stdout}`);
  return { finishReason: m[1], tokens: Number(m[2]), meanLogProb: Number(m[3]), text: m[4] };
}

async function sha256Hex(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const maxAbsDiff = (a: readonly number[], b: readonly number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
const argmax = (xs: number[]) => xs.reduce((best, x, i) => (x > xs[best] ? i : best), 0);

// NEON and AVX kernels sum in different orders: float32 rounding differs, the model does not.
const LOG_PROB_TOLERANCE = 1e-3;

Deno.test({
  name: "qeil's runtime on arm64 (qemu, npm's arm64 Deno, onnxruntime-node's linux/arm64 binaries) matches x86_64",
  ignore: problems.length > 0 && !required,
  async fn(t) {
    assert.deepEqual(problems, [], "REQUIRE_ARM64=1 but this host cannot run arm64 code");
    const tmp = await Deno.makeTempDir({ prefix: "qeil-arm64-test-" });
    try {
      // The arm64 Deno is fetched with npm into this test's own cache, so nothing comes from out/cache.
      await using arm64 = await openArm64Env({ cacheDir: `${tmp}/npm-cache` });
      const runArm = async (entry: string, args: string[]) =>
        decoded(
          await arm64.run(entry, args, {
            stdout: "piped",
            stderr: "piped",
            signal: AbortSignal.timeout(RUN_DEADLINE_MS),
          }),
        );

      await t.step("`qeil run` without --model builds the tiny model and decodes the host's tokens", async () => {
        // Each side builds the tiny model itself: the arm64 one into its private HOME's cache. Along this
        // greedy path the smallest top-1/top-2 logit gap is 2.6e-3 (measured on x86_64), far above the
        // float32 differences between NEON and AVX kernels, so equal tokens are expected, not lucky.
        const args = ["run", "--prompt", "qeil on arm64", "--temperature", "0", "--max-tokens", "48", "--json"];
        const [arm, host] = await Promise.all([
          runArm("main.ts", args),
          runHost("main.ts", args, { QEIL_CACHE_DIR: `${tmp}/tiny-host` }),
        ]);
        const a = lastJsonLine<RunJson>(arm, "arm64 qeil run");
        const x = lastJsonLine<RunJson>(host, "host qeil run");
        assert.ok(a.model.startsWith(`${arm64.home}/.cache/qeil/`), `arm64 model folder ${a.model}`);
        assert.ok(x.model.startsWith(`${tmp}/tiny-host/`), `host model folder ${x.model}`);
        assert.equal(await sha256Hex(`${a.model}/model.onnx`), await sha256Hex(`${x.model}/model.onnx`));
        assert.equal(a.samples.length, 1);
        assert.equal(a.samples[0].tokenIds.length, 48);
        assert.deepEqual(a.samples[0].tokenIds, x.samples[0].tokenIds);
        assert.equal(a.samples[0].text, x.samples[0].text);
        const diff = maxAbsDiff(a.samples[0].logProbs, x.samples[0].logProbs);
        assert.ok(diff < LOG_PROB_TOLERANCE, `max |log-prob difference| ${diff}`);
      });

      await t.step("stories260k prints its golden 256-token greedy sample", async () => {
        const golden = JSON.parse(await Deno.readTextFile(`${STORIES}/golden.json`));
        assert.equal(typeof golden.greedy_256_steps_text, "string");
        const args = ["run", "--model", STORIES, "--prompt", "", "--max-tokens", "256", "--temperature", "0"];
        const [arm, host] = await Promise.all([runArm("main.ts", args), runHost("main.ts", args)]);
        const a = printedSample(arm, "arm64 qeil run --model stories260k");
        const x = printedSample(host, "host qeil run --model stories260k");
        assert.equal(a.text, golden.greedy_256_steps_text);
        assert.equal(a.tokens, 256);
        assert.equal(a.finishReason, "length");
        // Printed with 4 decimals: one unit of the last digit plus float32 noise.
        assert.ok(
          Math.abs(a.meanLogProb - x.meanLogProb) <= 2e-4,
          `mean log-prob ${a.meanLogProb} vs ${x.meanLogProb}`,
        );
      });

      await t.step("onnxruntime-node gives the host's stories260k logits over the whole vocabulary", async () => {
        interface Forward {
          arch: string;
          vocab: number;
          logits: number[];
        }
        const model = `${STORIES}/model.onnx`;
        const [arm, host] = await Promise.all([runArm(FIXTURE, [model]), runHost(FIXTURE, [model])]);
        const a = lastJsonLine<Forward>(arm, "arm64 forward");
        const x = lastJsonLine<Forward>(host, "host forward");
        assert.equal(a.arch, "aarch64");
        assert.equal(x.arch, Deno.build.arch);
        assert.equal(a.vocab, 512);
        assert.equal(a.logits.length, x.logits.length);
        const diff = maxAbsDiff(a.logits, x.logits);
        assert.ok(diff < 1e-3, `max |logit difference| ${diff}`);
        assert.equal(argmax(a.logits), argmax(x.logits));
      });
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
