import assert from "node:assert/strict";
import { cpus } from "node:os";
import { isQeilError } from "../../src/core/mod.ts";
import { type Backend, discoverBackends, loadModel, OrtCpuBackend, threadAffinities } from "../../src/runtime/mod.ts";
import { maxAbsDiff, STORIES } from "./_models.ts";

const registry = await discoverBackends({
  cpuClusters: [{ name: "first", cpus: [0] }, { name: "bogus", cpus: [4096] }],
});
const webgpu = registry.get("ort-webgpu");

Deno.test("discoverBackends loads the CPU backends and says why WebGPU, NPU and a bad cluster did not load", () => {
  assert.deepEqual(registry.available.filter((b) => b.kind === "cpu").map((b) => b.name), ["ort-cpu", "ort-cpu:first"]);
  const reasons = new Map(registry.unavailable.map((u) => [u.name, u]));
  assert.match(reasons.get("ort-cpu:bogus")!.reason, /cpu 4096 is not one of the \d+ logical CPUs/);
  assert.equal(reasons.get("npu")!.kind, "npu");
  if (!webgpu) {
    assert.equal(reasons.get("ort-webgpu")!.kind, "gpu");
    assert.match(reasons.get("ort-webgpu")!.reason, /adapter/i);
  }
  const cpu = registry.require("ort-cpu");
  assert.deepEqual(cpu.capabilities.precisions, ["fp32", "fp16", "int8", "int4"]);
  assert.ok(cpu.capabilities.memoryBytes! > 0);
});

Deno.test("registry.require names an unavailable backend and the reason", () => {
  assert.throws(
    () => registry.require("ort-cpu:bogus"),
    (e: unknown) => isQeilError(e, "Backend") && /unavailable \(create CPU backend: cpu 4096/.test(e.message),
  );
  assert.throws(
    () => registry.require("tpu"),
    (e: unknown) => isQeilError(e, "Backend") && /no such backend/.test(e.message),
  );
});

Deno.test("threadAffinities gives ORT one 1-based group per pool thread, leaving the first cpu to the caller", () => {
  assert.equal(threadAffinities([4, 5, 6, 7], 4), "6;7;8");
  assert.equal(threadAffinities([4, 5], 3), "6;5");
  assert.equal(threadAffinities([2], 1), undefined);
  assert.throws(() => threadAffinities([], 2), RangeError);
});

function tasksOn(cpu: string): Set<string> {
  const out = new Set<string>();
  for (const t of Deno.readDirSync("/proc/self/task")) {
    let status: string;
    try {
      status = Deno.readTextFileSync(`/proc/self/task/${t.name}/status`);
    } catch (e) {
      // A thread listed a moment ago may have exited since (other tests' worker threads come and go).
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    if (/Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1] === cpu) out.add(t.name);
  }
  return out;
}

Deno.test({
  name: "OrtCpuBackend pins ORT's pool thread to the cluster's cpu (Linux, >= 2 cpus)",
  ignore: Deno.build.os !== "linux" || cpus().length < 2,
  fn: async () => {
    const last = cpus().length - 1;
    const before = tasksOn(String(last));
    await using model = await loadModel(STORIES, { backend: new OrtCpuBackend({ cpus: [0, last], threads: 2 }) });
    const pinned = [...tasksOn(String(last))].filter((t) => !before.has(t));
    assert.ok(pinned.length >= 1, "a new thread runs only on the last cpu");
    assert.equal(model.segments[0].backend, "ort-cpu");
  },
});

/** Every available backend must give the CPU backend's logits (the contract suite of Backend). */
for (const backend of registry.available) {
  Deno.test(`backend ${backend.name} computes stories260k's logits within 1e-4 of the default CPU backend`, async () => {
    await checkAgainstCpu(backend);
  });
}

Deno.test({
  name: `ORT WebGPU backend matches the CPU backend${webgpu ? "" : " (skipped: no WebGPU adapter on this host)"}`,
  ignore: webgpu === undefined,
  fn: () => checkAgainstCpu(webgpu!),
});

async function checkAgainstCpu(backend: Backend): Promise<void> {
  const ids = [1, 403, 407, 261, 378];
  const input = (m: Awaited<ReturnType<typeof loadModel>>) => ({
    batch: 1,
    seqLen: ids.length,
    inputIds: Int32Array.from(ids),
    attentionMask: new Int32Array(ids.length).fill(1),
    positionIds: Int32Array.from(ids, (_, i) => i),
    kv: m.emptyCache(1),
  });
  await using reference = await loadModel(STORIES);
  await using candidate = await loadModel(STORIES, { backend });
  const a = await reference.step(input(reference), { phase: "prefill", samples: [0] });
  const b = await candidate.step(input(candidate), { phase: "prefill", samples: [0] });
  assert.ok(maxAbsDiff(a.logits!.data, b.logits!.data) < 1e-4);
}

Deno.test("OrtCpuBackend rejects cpu ids the host does not have and negative thread counts", () => {
  assert.throws(() => new OrtCpuBackend({ cpus: [-1] }), (e: unknown) => isQeilError(e, "Backend"));
  assert.throws(
    () => new OrtCpuBackend({ threads: -2 }),
    (e: unknown) => isQeilError(e, "Backend") && e.details.field === "threads",
  );
});
