/**
 * A counting HTTP proxy on a free loopback port in front of one Azurite service: forwards every request unchanged
 * (the storage signatures cover the path, not the host or port) and counts the round trips, per kind of request
 * (`GET backupInstances()`, `POST $batch`, ...).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface CountingProxy {
  port: number;
  /** Requests forwarded so far, by `<method> <resource>`. */
  counts: Map<string, number>;
  total(): number;
  close(): Promise<void>;
}

/** `GET /devstoreaccount1/backupInstances()?$filter=...` -> `GET backupInstances()`. */
function requestKind(req: http.IncomingMessage): string {
  const resource = (req.url ?? "").split("?")[0]?.split("/")[2] ?? "";
  return `${req.method} ${resource.replace(/\(.*\)$/, "()")}`;
}

export async function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  const counts = new Map<string, number>();
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const kind = requestKind(req);
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    const upstream = http.request(
      { host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.once("error", (err) => res.destroy(err));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    counts,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
