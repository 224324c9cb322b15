/**
 * The backup access check (SPEC section 5): the user can connect and holds CONNECT on the database, USAGE on
 * every schema and SELECT on every table and sequence pg_dump reads. Objects that belong to extensions are
 * skipped, as pg_dump skips their data. A failure lists every missing grant, so one fix suffices.
 */
import type pg from "pg";
import { PgVaultError, someOf } from "../errors";
import { withConnection, type ConnectionParams } from "./connection";

export interface ServerFacts {
  /** `server_version`, e.g. "15.18 (Debian 15.18-0+deb12u1)" trimmed to "15.18". */
  serverVersion: string;
  serverVersionNum: number;
  databaseSizeBytes: number;
}

const userSchemas = `n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'`;

const missingSchemaUsage = `
  SELECT format('USAGE on schema %I', n.nspname) AS missing, 'schema' AS kind, n.nspname AS schema, NULL AS name
  FROM pg_namespace n
  WHERE ${userSchemas} AND NOT has_schema_privilege(n.oid, 'USAGE')
  ORDER BY n.nspname`;

const missingRelationSelect = `
  SELECT format('SELECT on %s %I.%I', CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END, n.nspname, c.relname) AS missing,
         CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END AS kind, n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'S') AND ${userSchemas}
    AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    AND NOT has_table_privilege(c.oid, 'SELECT')
  ORDER BY n.nspname, c.relname`;

const listedAtMost = 50;

export async function readServerFacts(client: pg.Client): Promise<ServerFacts> {
  const { rows } = await client.query<{ version: string; num: string; size: string }>(
    `SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num,
            pg_database_size(current_database())::text AS size`,
  );
  const row = rows[0]!;
  return {
    serverVersion: row.version.split(" ")[0]!,
    serverVersionNum: Number(row.num),
    databaseSizeBytes: Number(row.size),
  };
}

/** One grant the check found missing: its words in the failure message, and the object it is on (for a grant script). */
export type MissingGrant =
  | { kind: "connect"; text: string }
  | { kind: "schema"; text: string; schema: string }
  | { kind: "table" | "sequence"; text: string; schema: string; name: string };

export const missingConnect: MissingGrant = { kind: "connect", text: "CONNECT on the database" };

/** Every grant the connected user lacks on the connected database (none: the check passes). */
export async function listMissingGrants(client: pg.Client): Promise<MissingGrant[]> {
  const connect = await client.query<{ ok: boolean }>(`SELECT has_database_privilege(current_database(), 'CONNECT') AS ok`);
  const missing: MissingGrant[] = connect.rows[0]?.ok ? [] : [missingConnect];
  for (const sql of [missingSchemaUsage, missingRelationSelect]) {
    const { rows } = await client.query<{ missing: string; kind: "schema" | "table" | "sequence"; schema: string; name: string | null }>(sql);
    for (const row of rows) {
      missing.push(row.kind === "schema" ? { kind: "schema", text: row.missing, schema: row.schema } : { kind: row.kind, text: row.missing, schema: row.schema, name: row.name ?? "" });
    }
  }
  return missing;
}

export function missingGrantsMessage(user: string, database: string, missing: string[]): string {
  return `User '${user}' lacks on database '${database}': ${someOf(missing, listedAtMost)}.`;
}

/** Connects, verifies every grant a full pg_dump needs, and returns what the backup records about the server. */
export async function checkBackupAccess(params: ConnectionParams): Promise<ServerFacts> {
  return withConnection(params, async (client) => {
    const missing = await listMissingGrants(client);
    if (missing.length > 0) {
      throw new PgVaultError("UserErrorMissingDBPermissions", missingGrantsMessage(params.user, params.database, missing.map((grant) => grant.text)));
    }
    return readServerFacts(client);
  });
}
