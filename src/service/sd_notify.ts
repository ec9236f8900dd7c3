/**
 * The systemd notification protocol (sd_notify(3)) without libsystemd:
 * datagrams of `KEY=VALUE` lines sent to the AF_UNIX SOCK_DGRAM socket named
 * by $NOTIFY_SOCKET (a path, or `@name` in the abstract namespace). Deno's
 * `unixpacket` datagram transport is a SOCK_DGRAM socket (needs
 * --unstable-net). Without $NOTIFY_SOCKET the notifier is disabled and every
 * call is a no-op that returns false.
 */
import type { Logger } from "../core/mod.ts";

/** What systemd tells the service through its environment. */
export interface SystemdEnv {
  /** Socket to notify, as a path for Deno (`@name` turned into `\0name`). */
  notifySocket: string | undefined;
  /** Interval at which WATCHDOG=1 must be sent (half of WATCHDOG_USEC), ms; absent when no watchdog applies. */
  watchdogIntervalMs: number | undefined;
}

/**
 * Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. The watchdog applies
 * when WATCHDOG_USEC is a positive integer and WATCHDOG_PID is absent or `pid`.
 */
export function systemdEnv(env: Readonly<Record<string, string | undefined>>, pid: number): SystemdEnv {
  const raw = env.NOTIFY_SOCKET;
  let notifySocket: string | undefined;
  if (raw !== undefined && raw !== "") notifySocket = raw.startsWith("@") ? "\0" + raw.slice(1) : raw;
  let watchdogIntervalMs: number | undefined;
  const usec = env.WATCHDOG_USEC === undefined ? NaN : Number(env.WATCHDOG_USEC);
  const forPid = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === "" || Number(env.WATCHDOG_PID) === pid;
  // systemd wants a keep-alive well within the timeout; half of it is what sd_watchdog_enabled(3) suggests.
  if (Number.isSafeInteger(usec) && usec > 0 && forPid) watchdogIntervalMs = usec / 2 / 1000;
  return { notifySocket, watchdogIntervalMs };
}

/** Sends notifications to systemd. */
export interface Notifier extends AsyncDisposable {
  /** False without $NOTIFY_SOCKET: every call then does nothing and returns false. */
  readonly enabled: boolean;
  /** Sends `KEY=VALUE` lines in one datagram; true when sent. */
  notify(fields: Readonly<Record<string, string>>): Promise<boolean>;
  /** READY=1 (with an optional STATUS). */
  ready(status?: string): Promise<boolean>;
  /** WATCHDOG=1: the service is healthy. */
  watchdog(): Promise<boolean>;
  /** STOPPING=1 (with an optional STATUS). */
  stopping(status?: string): Promise<boolean>;
  /** STATUS=..., shown by `systemctl status`. */
  status(text: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Options of `createNotifier`. */
export interface NotifierOptions {
  /** The socket (from `systemdEnv().notifySocket`); absent disables notification. */
  socketPath: string | undefined;
  /** @default no logging */
  logger?: Logger;
}

const encoder = new TextEncoder();

function formatFields(fields: Readonly<Record<string, string>>): string {
  return Object.entries(fields).map(([k, v]) => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new RangeError(`sd_notify field name "${k}" is not valid`);
    // One field per line: a newline inside a value would start a bogus field.
    return `${k}=${v.replace(/\n/g, " ")}`;
  }).join("\n") + "\n";
}

/** Opens a notifier: binds its own datagram socket (abstract namespace) for sending. */
export async function createNotifier(options: NotifierOptions): Promise<Notifier> {
  const target = options.socketPath;
  const log = options.logger;
  let socket: Deno.DatagramConn | undefined;
  let tempDir: string | undefined;
  if (target !== undefined) {
    const name = `qeil-notify-${Deno.pid}-${crypto.randomUUID()}`;
    try {
      // An abstract address leaves no file behind, even after kill -9.
      socket = Deno.listenDatagram({ transport: "unixpacket", path: `\0${name}` });
    } catch {
      tempDir = await Deno.makeTempDir({ prefix: "qeil-notify-" });
      socket = Deno.listenDatagram({ transport: "unixpacket", path: `${tempDir}/sock` });
    }
  }
  const notify = async (fields: Readonly<Record<string, string>>): Promise<boolean> => {
    if (!socket || target === undefined) return false;
    const text = formatFields(fields);
    try {
      await socket.send(encoder.encode(text), { transport: "unixpacket", path: target });
      return true;
    } catch (error) {
      log?.warn("sd_notify failed", { socket: target.replace("\0", "@"), fields: Object.keys(fields), error });
      return false;
    }
  };
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    socket?.close();
    if (tempDir) await Deno.remove(tempDir, { recursive: true });
  };
  return {
    enabled: socket !== undefined,
    notify,
    ready: (status) => notify(status === undefined ? { READY: "1" } : { READY: "1", STATUS: status }),
    watchdog: () => notify({ WATCHDOG: "1" }),
    stopping: (status) => notify(status === undefined ? { STOPPING: "1" } : { STOPPING: "1", STATUS: status }),
    status: (text) => notify({ STATUS: text }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
