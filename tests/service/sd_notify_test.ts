import assert from "node:assert/strict";
import { createNotifier, systemdEnv } from "../../src/service/mod.ts";
import { captureLogger, events } from "./_helpers.ts";

const decoder = new TextDecoder();

/** A datagram socket standing in for systemd's notification socket. */
function fakeSystemd(path: string) {
  const socket = Deno.listenDatagram({ transport: "unixpacket", path });
  return {
    socket,
    next: async () => decoder.decode((await socket.receive())[0]),
  };
}

Deno.test("systemdEnv() reads the socket and half of WATCHDOG_USEC for this pid only", () => {
  assert.deepEqual(systemdEnv({ NOTIFY_SOCKET: "/run/systemd/notify", WATCHDOG_USEC: "20000000" }, 42), {
    notifySocket: "/run/systemd/notify",
    watchdogIntervalMs: 10_000,
  });
  assert.equal(systemdEnv({ NOTIFY_SOCKET: "@abstract/name" }, 1).notifySocket, "\0abstract/name");
  assert.equal(systemdEnv({ WATCHDOG_USEC: "20000000", WATCHDOG_PID: "41" }, 42).watchdogIntervalMs, undefined);
  assert.equal(systemdEnv({ WATCHDOG_USEC: "20000000", WATCHDOG_PID: "42" }, 42).watchdogIntervalMs, 10_000);
  assert.equal(systemdEnv({ WATCHDOG_USEC: "soon" }, 42).watchdogIntervalMs, undefined);
  assert.equal(systemdEnv({ WATCHDOG_USEC: "0" }, 42).watchdogIntervalMs, undefined);
  assert.deepEqual(systemdEnv({}, 42), { notifySocket: undefined, watchdogIntervalMs: undefined });
});

Deno.test("the notifier sends READY, WATCHDOG, STATUS and STOPPING datagrams to a path socket", async () => {
  const dir = await Deno.makeTempDir();
  const systemd = fakeSystemd(`${dir}/notify`);
  await using notifier = await createNotifier({ socketPath: `${dir}/notify` });
  assert.equal(notifier.enabled, true);
  assert.equal(await notifier.ready("serving on 127.0.0.1:8780"), true);
  assert.equal(await systemd.next(), "READY=1\nSTATUS=serving on 127.0.0.1:8780\n");
  await notifier.watchdog();
  assert.equal(await systemd.next(), "WATCHDOG=1\n");
  await notifier.status("two\nlines");
  assert.equal(await systemd.next(), "STATUS=two lines\n", "a newline cannot smuggle in a field");
  await notifier.stopping();
  assert.equal(await systemd.next(), "STOPPING=1\n");
  systemd.socket.close();
});

Deno.test("the notifier reaches an abstract-namespace socket (NOTIFY_SOCKET=@name)", async () => {
  const name = `qeil-test-notify-${Deno.pid}-${crypto.randomUUID()}`;
  const systemd = fakeSystemd(`\0${name}`);
  const { notifySocket } = systemdEnv({ NOTIFY_SOCKET: `@${name}` }, Deno.pid);
  await using notifier = await createNotifier({ socketPath: notifySocket });
  await notifier.ready();
  assert.equal(await systemd.next(), "READY=1\n");
  systemd.socket.close();
});

Deno.test("without NOTIFY_SOCKET every notification is a no-op returning false", async () => {
  await using notifier = await createNotifier({ socketPath: undefined });
  assert.equal(notifier.enabled, false);
  assert.equal(await notifier.ready(), false);
  assert.equal(await notifier.watchdog(), false);
});

Deno.test("a notification to a vanished socket is logged and reported, never thrown", async () => {
  const dir = await Deno.makeTempDir();
  const { logger, lines } = captureLogger();
  await using notifier = await createNotifier({ socketPath: `${dir}/gone`, logger });
  assert.equal(await notifier.watchdog(), false);
  const warn = events(lines).find((e) => e.level === "warn");
  assert.equal(warn?.msg, "sd_notify failed");
});
