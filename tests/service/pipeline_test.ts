/**
 * The infrastructure end to end, in real processes: a service process
 * (journal + intake + MQTT bridge, echo runner) accepts 50 requests over a
 * real Mosquitto, is killed with -9 before finishing any, and is started
 * again: every request gets exactly one result.
 */
import assert from "node:assert/strict";
import { startMosquitto } from "./_mosquitto.ts";
import { connectClient } from "./_mqtt_client.ts";

/** A child service process whose stdout lines can be awaited. */
function spawnService(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./_pipeline_child.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).spawn();
  const lines: string[] = [];
  let stderr = "";
  const waiters: { match: (l: string[]) => boolean; resolve(): void }[] = [];
  const reading = (async () => {
    let buffered = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      lines.push(...parts);
      for (const w of [...waiters]) {
        if (!w.match(lines)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  })();
  const readingErr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  return {
    lines,
    until: (
      match: (l: string[]) => boolean,
    ) => (match(lines) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ match, resolve }))),
    kill: async () => {
      child.kill("SIGKILL");
      await child.status;
      await reading;
      await readingErr;
    },
  };
}

Deno.test("[mosquitto] 50 accepted jobs, kill -9, restart: every request gets exactly one result", async () => {
  await using broker = await startMosquitto();
  const stateDir = await Deno.makeTempDir();
  const prefix = "qeil/v1/crash/";
  await using client = await connectClient(broker.url);
  await client.subscribe(["clients/crash/replies", `${prefix}status`]);

  const first = spawnService([broker.url, stateDir, prefix, "hold"]);
  try {
    await first.until((l) => l.includes("ready"));
    for (let i = 0; i < 50; i++) {
      await client.publish(`${prefix}infer/request`, {
        id: `crash-${i}`,
        prompt: `job ${i}`,
        replyTo: "clients/crash/replies",
      });
    }
    await first.until((l) => l.filter((x) => x.startsWith("accepted ")).length === 50);
  } finally {
    await first.kill();
  }
  assert.equal(
    client.received.filter((m) => m.topic === "clients/crash/replies").length,
    0,
    "nothing finished before the kill",
  );
  await client.waitFor(`${prefix}status`, (m) => m.json?.state === "offline" && m.json?.bootSequence === 1);

  const second = spawnService([broker.url, stateDir, prefix, "run"]);
  try {
    await second.until((l) => l.includes("ready"));
    assert.ok(second.lines.includes("recovered 50 0"), second.lines.join("\n"));
    await client.waitFor(`${prefix}status`, (m) => m.json?.state === "online" && m.json?.bootSequence === 2);
    // A last request: its reply is published after every replayed result, on the same connection and topic,
    // so once it is here every earlier reply (and any duplicate) has arrived too.
    await client.publish(`${prefix}infer/request`, {
      id: "sentinel",
      prompt: "last",
      replyTo: "clients/crash/replies",
    });
    await client.waitFor("clients/crash/replies", (m) => m.json?.id === "sentinel");
  } finally {
    await second.kill();
  }
  const replies = client.received.filter((m) => m.topic === "clients/crash/replies" && m.json?.id !== "sentinel");
  const counts = new Map<string, number>();
  for (const r of replies) counts.set(r.json.id, (counts.get(r.json.id) ?? 0) + 1);
  assert.equal(counts.size, 50, "every accepted request got a result");
  assert.deepEqual([...counts.values()].filter((n) => n !== 1), [], "no request got two results");
  for (const r of replies) assert.equal(r.json.answer, `JOB ${r.json.id.slice(6)}`);
});
