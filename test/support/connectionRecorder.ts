/**
 * A server an attacker controls, reduced to what a test needs to know about it: a TCP listener on loopback that
 * records every connection (and every byte sent on it) and then closes it. A refusal is proven when it saw
 * nothing: no password, no token, not even a TLS handshake reached it.
 */
import net from "node:net";

export interface ConnectionRecorder {
  host: string;
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Bytes received over all connections. */
  readonly bytes: number;
  close(): Promise<void>;
}

export async function startConnectionRecorder(): Promise<ConnectionRecorder> {
  let connections = 0;
  let bytes = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on("data", (chunk: Buffer) => (bytes += chunk.length));
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
    // Long enough to read what a client sends first (an SSLRequest, a TLS hello, a startup packet), then gone.
    setTimeout(() => socket.destroy(), 200).unref();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    host: "127.0.0.1",
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    get bytes() {
      return bytes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
