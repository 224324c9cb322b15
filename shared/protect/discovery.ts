/**
 * What is on a PostgreSQL server, for protecting its databases (issue 27, `POST /api/discoverDatabases`): each
 * database that can be connected to (no templates), its size, the instances already protecting it, and the
 * backup access check of the signing-in user on it, with the grant script for one that fails. The secret is
 * resolved and bound to its server as for any connection (connectionParamsFor); its value never leaves here.
 */
import type { ServerEndpoint } from "../domain";
import { listInstances } from "../catalog/catalog";
import { jobErrorFromFailure, PgVaultError } from "../errors";
import { mapLimited } from "../mapLimited";
import { sameHost } from "../network/hostNames";
import { listMissingGrants, missingConnect, missingGrantsMessage, type MissingGrant } from "../postgres/backupAccess";
import { withConnection, type ConnectionParams } from "../postgres/connection";
import { connectionParamsFor } from "../postgres/connectionParams";
import type { DatabaseServer } from "../postgres/serverBinding";
import type { AccessCheck, DiscoveredDatabase, Discovery } from "./answers";
import { grantScript } from "./grantScript";

/** A server with more databases than this is listed in part; each listed one costs a connection. */
export const maxDatabases = 200;
/** Access checks at a time: one connection each, so a big server is not hit with a burst. */
const checksAtOnce = 4;
const listedAtMost = 50;

// SQL text: every database of the server that can be connected to, with its size where the user may read it.
const databaseList = `
  SELECT d.datname AS name, count(*) OVER () AS total,
         CASE WHEN has_database_privilege(d.oid, 'CONNECT') OR pg_has_role('pg_read_all_stats', 'MEMBER')
              THEN pg_database_size(d.oid)::text END AS size
  FROM pg_database d
  WHERE NOT d.datistemplate AND d.datallowconn
  ORDER BY d.datname
  LIMIT $1`;

/** Lists from `postgres`, else from `template1` (as the restore role does) when `postgres` is gone or closed to the user. */
async function listDatabases(params: ConnectionParams): Promise<{ rows: { name: string; size: string | null; total: string }[] }> {
  const list = (database: string) =>
    withConnection({ ...params, database }, (client) => client.query<{ name: string; size: string | null; total: string }>(databaseList, [maxDatabases]));
  try {
    return await list("postgres");
  } catch (err) {
    if (err instanceof PgVaultError && (err.code === "UserErrorDBNotFound" || err.code === "UserErrorMissingDBPermissions")) return list("template1");
    throw err;
  }
}

async function checkAccess(params: ConnectionParams): Promise<AccessCheck> {
  let missing: MissingGrant[];
  try {
    missing = await withConnection(params, listMissingGrants);
  } catch (err) {
    // Refused at connect: CONNECT is missing (SQLSTATE 42501, shared/postgres/connection.ts); anything else is said as it is.
    if (err instanceof PgVaultError && err.code === "UserErrorMissingDBPermissions") missing = [missingConnect];
    else return { ok: false, ...jobErrorFromFailure(err) };
  }
  if (missing.length === 0) return { ok: true };
  const texts = missing.map((grant) => grant.text);
  const failure = new PgVaultError("UserErrorMissingDBPermissions", missingGrantsMessage(params.user, params.database, texts));
  return {
    ok: false,
    ...failure.toJobError(),
    missing: texts.slice(0, listedAtMost),
    missingCount: missing.length,
    grantScript: grantScript(params.database, params.user, missing),
  };
}

/** The instances protecting each database of `server`, by database name. */
async function protectingInstances(server: DatabaseServer): Promise<Map<string, string[]>> {
  const byDatabase = new Map<string, string[]>();
  for (const instance of await listInstances()) {
    const source = instance.datasource;
    if (instance.protectionState !== "ProtectionConfigured" || source.type !== "database") continue;
    if (source.port !== server.port || !sameHost(source.host, server.host)) continue;
    byDatabase.set(source.database, [...(byDatabase.get(source.database) ?? []), instance.name].sort());
  }
  return byDatabase;
}

export async function discoverDatabases(endpoint: ServerEndpoint): Promise<Discovery> {
  // The database here is only where the list is read from; each check connects to its own.
  const params = await connectionParamsFor({ ...endpoint, database: "postgres" });
  const server = { host: params.host, port: params.port };
  const [{ rows }, protecting] = await Promise.all([listDatabases(params), protectingInstances(server)]);
  const value = await mapLimited(rows, checksAtOnce, async (row): Promise<DiscoveredDatabase> => {
    const instanceNames = protecting.get(row.name) ?? [];
    return {
      name: row.name,
      sizeBytes: row.size === null ? null : Number(row.size),
      protected: instanceNames.length > 0,
      instanceNames,
      access: await checkAccess({ ...params, database: row.name }),
    };
  });
  return { server, user: params.user, value, notListed: rows.length > 0 ? Number(rows[0]!.total) - rows.length : 0 };
}
