/**
 * `qeil serve` as a child process (`deno run main.ts serve ...`): its log
 * lines can be awaited, its service.json read, and it can be stopped with
 * SIGTERM or killed with -9. Waits are bounded and wait on events, not time.
 */

/** What service.json says. */
export interface ServedInfo {
  pid: number;
  nodeId: string;
  bootSequence: number;
  httpUrl: string;
  brokerUrl: string;
  topicPrefix: string;
  stateDir: string;
}

/** A running `qeil serve`. */
export interface ServeProcess extends AsyncDisposable {
  readonly pid: number;
  /** Log lines so far (stderr). */
  readonly lines: string[];
  /** Resolves with the first log line matching `match` (logged already or when it is); rejects if serve exits first. */
  waitForLine(match: RegExp): Promise<string>;
  /** Waits for "service ready" and returns service.json. */
  ready(): Promise<ServedInfo>;
  /** Sends SIGTERM and waits for the exit code. */
  terminate(): Promise<number>;
  /** SIGKILL, waits for the exit. */
  kill(): Promise<void>;
  /** The exit status, once exited. */
  readonly status: Promise<Deno.CommandStatus>;
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Spawns `qeil serve` with `args` and extra environment. */
export function spawnServe(args: string[], env: Record<string, string> = {}): ServeProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-net", MAIN, "serve", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: {
      DENO_NO_UPDATE_CHECK: "1",
      ORT_DISABLE_TELEMETRY: "1",
      NO_COLOR: "1",
      ...env,
    },
  }).spawn();
  const lines: string[] = [];
  const waiters: { match: RegExp; resolve(line: string): void }[] = [];
  const consume = async (stream: ReadableStream<Uint8Array>) => {
    let buffered = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        for (const w of [...waiters]) {
          if (!w.match.test(line)) continue;
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  };
  const reading = Promise.all([consume(child.stdout), consume(child.stderr)]);
  const status = child.status;
  const tail = () => lines.slice(-15).join("\n");
  const waitForLine = (match: RegExp) => {
    const seen = lines.find((l) => match.test(l));
    if (seen) return Promise.resolve(seen);
    const exited = status.then((s) => {
      throw new Error(`qeil serve exited with code ${s.code} before logging ${match}:\n${tail()}`);
    });
    exited.catch(() => {});
    return Promise.race([new Promise<string>((resolve) => waiters.push({ match, resolve })), exited]);
  };
  let stateDir: string | undefined;
  const i = args.indexOf("--state-dir");
  if (i >= 0) stateDir = args[i + 1];
  return {
    pid: child.pid,
    lines,
    status,
    waitForLine,
    ready: async () => {
      await waitForLine(/service ready/);
      if (!stateDir) throw new Error("ready() needs --state-dir among the args");
      return JSON.parse(await Deno.readTextFile(`${stateDir}/service.json`)) as ServedInfo;
    },
    terminate: async () => {
      child.kill("SIGTERM");
      const s = await status;
      await reading;
      return s.code;
    },
    kill: async () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await status;
      await reading;
    },
    [Symbol.asyncDispose]: async () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await status;
      await reading;
    },
  };
}
