/**
 * An HTTP proxy in front of Azurite's table service that forwards every request as it came (Shared Key signatures
 * do not cover the host, so they stay valid) until told to fail the writes of one table: then inserts, updates and
 * upserts of that table's entities are answered 503 `ServerBusy` with `Retry-After: 0` (so the client's own retries
 * are immediate) and not forwarded, while reads go through. That is the catalog failing a write the way the real
 * code path sees it, without touching the app.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FailingTableProxy {
  /** `TableEndpoint` for a connection string: `http://127.0.0.1:<port>/devstoreaccount1`. */
  tableEndpoint: string;
  /** Table whose entity writes fail from now on; `undefined` forwards everything again. */
  failWritesOf: string | undefined;
  /** Writes refused so far, as `<method> <path>`. */
  refused: string[];
  close(): Promise<void>;
}

const writeMethods = new Set(["POST", "PUT", "MERGE", "PATCH"]);

export async function startFailingTableProxy(azuriteTableEndpoint: string): Promise<FailingTableProxy> {
  const target = new URL(azuriteTableEndpoint);
  const proxy: FailingTableProxy = {
    tableEndpoint: "",
    failWritesOf: undefined,
    refused: [],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  const server = http.createServer((request, response) => {
    const { pathname } = new URL(request.url ?? "/", "http://proxy");
    // `/<account>/<table>` (insert) or `/<account>/<table>(PartitionKey='..',RowKey='..')` (update, upsert).
    const table = /^\/[^/]+\/([A-Za-z0-9]+)(?:\(|$)/.exec(pathname)?.[1];
    if (proxy.failWritesOf && table === proxy.failWritesOf && writeMethods.has(request.method ?? "")) {
      request.resume();
      proxy.refused.push(`${request.method} ${pathname}`);
      const body = JSON.stringify({ "odata.error": { code: "ServerBusy", message: { lang: "en-US", value: "The server is busy." } } });
      response.writeHead(503, { "content-type": "application/json", "retry-after": "0", "x-ms-error-code": "ServerBusy", "x-ms-request-id": "failing-table-proxy" });
      response.end(body);
      return;
    }
    const forwarded = http.request(
      { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers },
      (upstream) => {
        response.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(response);
      },
    );
    forwarded.on("error", () => response.destroy());
    request.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  proxy.tableEndpoint = `http://127.0.0.1:${port}${target.pathname.replace(/\/$/, "")}`;
  return proxy;
}

/** The connection string with its `TableEndpoint` replaced. */
export function withTableEndpoint(connectionString: string, tableEndpoint: string): string {
  return connectionString.replace(/TableEndpoint=[^;]*/i, `TableEndpoint=${tableEndpoint}`);
}

/** The `TableEndpoint` of a connection string. */
export function tableEndpointOf(connectionString: string): string {
  const match = /TableEndpoint=([^;]+)/i.exec(connectionString);
  if (!match?.[1]) throw new Error("connection string has no TableEndpoint");
  return match[1];
}
