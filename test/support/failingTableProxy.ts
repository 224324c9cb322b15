/**
 * An HTTP proxy in front of Azurite's table service that forwards every request as it came (Shared Key signatures
 * do not cover the host, so they stay valid) until told to fail the writes of one table: then inserts, updates and
 * upserts of that table's entities are answered 503 `ServerBusy` with `Retry-After: 0` (so the client's own retries
 * are immediate) and not forwarded, while reads go through. That is the catalog failing a write the way the real
 * code path sees it, without touching the app.
 */
import { endpointOf, startForwardingProxy, withEndpoint } from "./forwardingProxy";

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
  const proxy: FailingTableProxy = {
    tableEndpoint: "",
    failWritesOf: undefined,
    refused: [],
    close: () => forwarding.close(),
  };

  const forwarding = await startForwardingProxy(azuriteTableEndpoint, (request, response, { pathname }) => {
    // `/<account>/<table>` (insert) or `/<account>/<table>(PartitionKey='..',RowKey='..')` (update, upsert).
    const table = /^\/[^/]+\/([A-Za-z0-9]+)(?:\(|$)/.exec(pathname)?.[1];
    if (proxy.failWritesOf && table === proxy.failWritesOf && writeMethods.has(request.method ?? "")) {
      request.resume();
      proxy.refused.push(`${request.method} ${pathname}`);
      const body = JSON.stringify({ "odata.error": { code: "ServerBusy", message: { lang: "en-US", value: "The server is busy." } } });
      response.writeHead(503, { "content-type": "application/json", "retry-after": "0", "x-ms-error-code": "ServerBusy", "x-ms-request-id": "failing-table-proxy" });
      response.end(body);
      return true;
    }
    return false;
  });
  proxy.tableEndpoint = forwarding.endpoint;
  return proxy;
}

/** The connection string with its `TableEndpoint` replaced. */
export const withTableEndpoint = (connectionString: string, tableEndpoint: string): string => withEndpoint(connectionString, "Table", tableEndpoint);

/** The `TableEndpoint` of a connection string. */
export const tableEndpointOf = (connectionString: string): string => endpointOf(connectionString, "Table");
