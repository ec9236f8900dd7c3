/**
 * A real Mosquitto broker for tests: its own config in a temp folder, a free
 * loopback port, readiness awaited from its own log line (then confirmed by
 * a TCP connection), stopped by pid. CI installs mosquitto; without it these
 * tests fail with a message saying how to install it.
 */

/** Options of `startMosquitto`. */
export interface MosquittoOptions {
  /** `user:password` pairs; when given, anonymous clients are refused. */
  users?: Record<string, string>;
  /** PEM files for a TLS listener (then the listener speaks only TLS). */
  tls?: { caFile: string; certFile: string; keyFile: string };
}

/** A running Mosquitto process. */
export interface Mosquitto extends AsyncDisposable {
  readonly port: number;
  readonly pid: number;
  /** `mqtt://127.0.0.1:<port>` (or `mqtts://` with TLS). */
  readonly url: string;
  /** Its log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

function findMosquitto(): string {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    try {
      const path = `${dir}/mosquitto`;
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not in this folder
    }
  }
  throw new Error("mosquitto is not installed: apt-get install -y mosquitto mosquitto-clients");
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function writePasswordFile(path: string, users: Record<string, string>): Promise<void> {
  let first = true;
  for (const [user, password] of Object.entries(users)) {
    const out = await new Deno.Command("mosquitto_passwd", {
      args: first ? ["-b", "-c", path, user, password] : ["-b", path, user, password],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`mosquitto_passwd failed: ${new TextDecoder().decode(out.stderr)}`);
    first = false;
  }
}

async function startOnce(binary: string, dir: string, port: number, options: MosquittoOptions): Promise<Mosquitto> {
  const lines = [
    `listener ${port} 127.0.0.1`,
    "persistence false",
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
    "log_type information",
  ];
  // Started as root, mosquitto would switch to its own user and could not read our 0700 temp folder.
  if (Deno.uid() === 0) lines.push("user root");
  if (options.users) {
    await writePasswordFile(`${dir}/passwords`, options.users);
    lines.push("allow_anonymous false", `password_file ${dir}/passwords`);
  } else {
    lines.push("allow_anonymous true");
  }
  if (options.tls) {
    lines.push(`cafile ${options.tls.caFile}`, `certfile ${options.tls.certFile}`, `keyfile ${options.tls.keyFile}`);
  }
  await Deno.writeTextFile(`${dir}/mosquitto.conf`, lines.join("\n") + "\n");
  const child = new Deno.Command(binary, {
    args: ["-c", `${dir}/mosquitto.conf`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  let announceRunning!: () => void;
  const running = new Promise<void>((resolve) => announceRunning = resolve);
  // Drain stderr for the whole life of the process, so a full pipe never blocks the broker.
  const drained = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      log += chunk;
      if (/mosquitto version \S+ running/.test(log)) announceRunning();
    }
  })();
  const exited = child.status.then((status) => {
    throw new Error(`mosquitto exited with code ${status.code} before it was ready:\n${log}`);
  });
  exited.catch(() => {});
  try {
    await Promise.race([running, exited]);
    const probe = await Deno.connect({ hostname: "127.0.0.1", port });
    probe.close();
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await drained;
    throw error;
  }
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
      await drained;
    })();
    return stopped;
  };
  return {
    port,
    pid: child.pid,
    url: `${options.tls ? "mqtts" : "mqtt"}://127.0.0.1:${port}`,
    log: () => log,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Starts Mosquitto on a free loopback port and resolves once it accepts connections. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const binary = findMosquitto();
  const dir = await Deno.makeTempDir({ prefix: "qeil-mosquitto-" });
  let lastError: unknown;
  // The free port may be taken between probing and binding; try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await startOnce(binary, dir, freePort(), options);
    } catch (error) {
      lastError = error;
      if (!/Address already in use/.test(String(error))) break;
    }
  }
  throw lastError;
}

/** A CA and a server certificate for 127.0.0.1, made with openssl in `dir`. */
export async function makeTlsFiles(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const run = async (args: string[]) => {
    const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" }).output();
    if (!out.success) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  };
  await run([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=qeil test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  ]);
  await run([
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
  ]);
  await Deno.writeTextFile(`${dir}/san.ext`, "subjectAltName=IP:127.0.0.1\n");
  await run([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "san.ext",
    "-out",
    "server.pem",
  ]);
  return { caFile: `${dir}/ca.pem`, certFile: `${dir}/server.pem`, keyFile: `${dir}/server.key` };
}
