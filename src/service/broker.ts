/**
 * The embedded MQTT broker: aedes (MQTT 3.1.1 only) served over node:net,
 * for appliances that have no broker of their own. Bound to loopback by
 * default, so nothing outside the board can reach it unless configured.
 */
import { Aedes } from "aedes";
import net from "node:net";
import type { Logger } from "../core/mod.ts";

/** Options of `startEmbeddedBroker`. */
export interface EmbeddedBrokerOptions {
  /** Address to bind. @default "127.0.0.1" */
  host?: string;
  /** Port; 0 picks a free one. @default 1883 */
  port?: number;
  /** @default no logging */
  logger?: Logger;
}

/** A running embedded broker. */
export interface EmbeddedBroker extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** `mqtt://host:port`, for clients. */
  readonly url: string;
  /** Clients connected now. */
  connectedClients(): number;
  /** Disconnects every client and stops listening. */
  close(): Promise<void>;
}

/** Starts the embedded broker and resolves once it listens. */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? "127.0.0.1";
  const logger = options.logger;
  const aedes = await Aedes.createBroker();
  aedes.on(
    "clientError",
    (client, error) => logger?.debug("embedded broker: client error", { client: client.id, error }),
  );
  aedes.on("connectionError", (_client, error) => logger?.debug("embedded broker: connection error", { error }));
  const server = net.createServer(aedes.handle);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 1883, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    throw new Error(`start the embedded MQTT broker on ${host}:${options.port ?? 1883}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const port = (server.address() as net.AddressInfo).port;
  logger?.info("embedded MQTT broker listening", { host, port });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // aedes closes its client connections; only then can the server finish closing.
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    })();
    return closing;
  };
  return {
    host,
    port,
    url: `mqtt://${host.includes(":") ? `[${host}]` : host}:${port}`,
    connectedClients: () => aedes.connectedClients,
    close,
    [Symbol.asyncDispose]: close,
  };
}
