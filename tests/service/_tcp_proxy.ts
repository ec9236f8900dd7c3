/**
 * A TCP proxy between a client and a broker that a test can cut (every open
 * connection is dropped, new ones are closed at once) and restore: a broker
 * outage seen by one client only, while the test's own clients stay connected.
 */

/** A running proxy. */
export interface TcpProxy extends AsyncDisposable {
  readonly port: number;
  /** `mqtt://127.0.0.1:<port>`. */
  readonly url: string;
  /** Drops every connection and refuses new ones until `restore()`. */
  cut(): void;
  restore(): void;
  /** Connections accepted and forwarded so far. */
  readonly forwarded: number;
  close(): Promise<void>;
}

async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      let rest = buffer.subarray(0, n);
      while (rest.length > 0) rest = rest.subarray(await to.write(rest));
    }
  } catch {
    // The other side went away, or the test cut the link.
  }
}

/** Starts a proxy on a free loopback port forwarding to `targetPort`. */
export function startTcpProxy(targetPort: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let down = false;
  let forwarded = 0;
  const closeQuietly = (conn: Deno.Conn) => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  const serve = async (client: Deno.Conn) => {
    if (down) return closeQuietly(client);
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
    } catch {
      return closeQuietly(client);
    }
    forwarded++;
    open.add(client);
    open.add(upstream);
    await Promise.race([pump(client, upstream), pump(upstream, client)]);
    for (const c of [client, upstream]) {
      open.delete(c);
      closeQuietly(c);
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        const task = serve(conn);
        tasks.add(task);
        task.finally(() => tasks.delete(task));
      }
    } catch {
      // listener closed
    }
  })();
  const cut = () => {
    down = true;
    for (const c of open) closeQuietly(c);
    open.clear();
  };
  const close = async () => {
    cut();
    listener.close();
    await accepting;
    await Promise.all(tasks);
  };
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    cut,
    restore: () => down = false,
    get forwarded() {
      return forwarded;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
