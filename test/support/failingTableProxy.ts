/**
 * An HTTP proxy in front of Azurite's table service that forwards every request as it came (Shared Key signatures
 * do not cover the host, so they stay valid) until told otherwise:
 * - to fail the writes of one table: then inserts, updates, upserts and deletes of that table's entities are
 *   answered 503 `ServerBusy` with `Retry-After: 0` (so the client's own retries are immediate) and not forwarded,
 *   while reads go through. That is the catalog failing a write the way the real code path sees it, without
 *   touching the app.
 * - to hold the next request that matches until the test has done something else (`holdNext`): an interleaving of
 *   two writers forced at the catalog, deterministically, instead of hoped for with sleeps.
 */
import type http from "node:http";
import { afterAll, beforeAll, inject } from "vitest";
import { endpointOf, startForwardingProxy, withEndpoint } from "./forwardingProxy";

/** A table request as the proxy sees it: `path` decoded, e.g. `/devstoreaccount1/recoveryPoints(PartitionKey='a',RowKey='b')`. */
export interface TableRequest {
  method: string;
  path: string;
}

export interface FailingTableProxy {
  /** `TableEndpoint` for a connection string: `http://127.0.0.1:<port>/devstoreaccount1`. */
  tableEndpoint: string;
  /** Table whose entity writes fail from now on; `undefined` forwards everything again. */
  failWritesOf: string | undefined;
  /** Writes refused so far, as `<method> <path>`. */
  refused: string[];
  /**
   * The next request for which `matches` is true waits until `meanwhile` has settled, then goes on. Resolves (or
   * rejects) with `meanwhile` once that happened; requests made by `meanwhile` itself are not held.
   */
  holdNext<T>(matches: (request: TableRequest) => boolean, meanwhile: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const writeMethods = new Set(["POST", "PUT", "MERGE", "PATCH", "DELETE"]);

function refuse(request: http.IncomingMessage, response: http.ServerResponse): void {
  request.resume();
  const body = JSON.stringify({ "odata.error": { code: "ServerBusy", message: { lang: "en-US", value: "The server is busy." } } });
  response.writeHead(503, { "content-type": "application/json", "retry-after": "0", "x-ms-error-code": "ServerBusy", "x-ms-request-id": "failing-table-proxy" });
  response.end(body);
}

export async function startFailingTableProxy(azuriteTableEndpoint: string): Promise<FailingTableProxy> {
  let held: { matches: (request: TableRequest) => boolean; release: () => Promise<void> } | undefined;
  const proxy: FailingTableProxy = {
    tableEndpoint: "",
    failWritesOf: undefined,
    refused: [],
    holdNext: (matches, meanwhile) =>
      new Promise((resolve, reject) => {
        held = { matches, release: () => meanwhile().then(resolve, reject) };
      }),
    close: () => forwarding.close(),
  };

  const forwarding = await startForwardingProxy(azuriteTableEndpoint, async (request, response, { pathname }) => {
    const seen: TableRequest = { method: request.method ?? "", path: decodeURIComponent(pathname) };
    // `/<account>/<table>` (insert) or `/<account>/<table>(PartitionKey='..',RowKey='..')` (update, upsert, delete).
    const table = /^\/[^/]+\/([A-Za-z0-9]+)(?:\(|$)/.exec(pathname)?.[1];
    if (proxy.failWritesOf && table === proxy.failWritesOf && writeMethods.has(seen.method)) {
      proxy.refused.push(`${seen.method} ${pathname}`);
      refuse(request, response);
      return true;
    }
    const hold = held;
    if (hold?.matches(seen)) {
      held = undefined;
      await hold.release();
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

/**
 * For one test file: the catalog reached through a proxy in front of the shared Azurite's table service, set in
 * `beforeAll`, before any app module reads its configuration. The returned function gives the proxy from then on.
 */
export function proxiedSharedCatalog(): () => FailingTableProxy {
  let proxy: FailingTableProxy | undefined;
  beforeAll(async () => {
    const vault = inject("vaultConnectionString");
    proxy = await startFailingTableProxy(tableEndpointOf(vault));
    process.env.VaultStorage = withTableEndpoint(vault, proxy.tableEndpoint);
  });
  afterAll(() => proxy?.close());
  return () => {
    if (!proxy) throw new Error("the catalog proxy starts in beforeAll");
    return proxy;
  };
}
