/**
 * A private Azurite whose Table service is reached through a proxy that records each request, for tests of what a
 * read costs (issue 26, "bounded reads"). Points `VaultStorage` at it: call before any app module reads its
 * configuration.
 */
import { startAzurite } from "../../local-host/embedded/azurite";
import { endpointOf, startForwardingProxy, withEndpoint } from "./forwardingProxy";

export interface TableRequestRecorder {
  /** Table requests as `<method> <path>?<$filter>`, decoded, since the last `clear()`. */
  readonly seen: string[];
  clear(): void;
  /** The queries of `table` seen (point reads of single rows, such as the job index's state, are not queries). */
  queriesOf(table: string): string[];
  /** Every query seen, of any table. */
  queries(): string[];
  stop(): Promise<void>;
}

export async function recordTableRequests(): Promise<TableRequestRecorder> {
  const azurite = await startAzurite();
  const seen: string[] = [];
  const proxy = await startForwardingProxy(endpointOf(azurite.connectionString, "Table"), (request, _response, url) => {
    seen.push(`${request.method} ${decodeURIComponent(url.pathname)}?${url.searchParams.get("$filter") ?? ""}`);
    return false;
  });
  process.env.VaultStorage = withEndpoint(azurite.connectionString, "Table", proxy.endpoint);
  const queries = () => seen.filter((line) => line.startsWith("GET ") && !line.includes("(PartitionKey="));
  return {
    seen,
    clear: () => void seen.splice(0),
    queries,
    queriesOf: (table) => queries().filter((line) => line.startsWith(`GET /devstoreaccount1/${table}()?`) || line.startsWith(`GET /devstoreaccount1/${table}?`)),
    stop: async () => {
      await proxy.close();
      await azurite.stop();
    },
  };
}
