/**
 * What the pre-flight knows about the target server, read once over one connection to its maintenance database:
 * who the user is and may do, the server's version, the target names in use, the extensions the server offers
 * (and, on Azure Database for PostgreSQL, which of them its `azure.extensions` parameter allows) and the roles
 * the archives name. Reads only catalogs and settings; creates nothing.
 */
import type pg from "pg";
import type { ConnectionParams } from "../../postgres/connection";
import { connectMaintenance } from "../restoreAccess";

export interface AvailableExtension {
  name: string;
  /** Creating its default version needs a superuser (false for trusted extensions, PostgreSQL 13 and later). */
  needsSuperuser: boolean;
}

export interface TargetFacts {
  /** The server the sign-in is bound to (the secret's own, when the request left host or port out). */
  server: { host: string; port: number };
  user: string;
  superuser: boolean;
  createdb: boolean;
  createrole: boolean;
  serverVersion: string;
  serverVersionNum: number;
  /** Of the target names, those that exist, whether the user owns each and may create schemas in it. */
  existing: { name: string; owned: boolean; mayCreate: boolean }[];
  available: AvailableExtension[];
  /**
   * The `azure.extensions` allow-list, present only on Azure Database for PostgreSQL (the server has the parameter):
   * "Allow extensions" (https://learn.microsoft.com/azure/postgresql/extensions/how-to-allow-extensions).
   */
  azureExtensions?: string[];
  /** Member of `azure_pg_admin` (Azure's administrators; false where there is no such role). */
  azurePgAdmin: boolean;
  /** The roles named (as owners), whether each exists and whether the user is a member of it (may give it objects). */
  roles: { name: string; exists: boolean; member: boolean }[];
}

/** Statements are catalog reads; a server that takes longer than this is not answering (a dry run runs in a request). */
const statementTimeoutMs = 15_000;

export async function readTargetFacts(params: ConnectionParams, databases: readonly string[], roleNames: readonly string[]): Promise<TargetFacts> {
  const client = await connectMaintenance(params);
  try {
    await client.query("SELECT set_config('statement_timeout', $1, false)", [String(statementTimeoutMs)]);
    const { rows } = await client.query<{ superuser: boolean; createdb: boolean; createrole: boolean; version: string; num: string; azure: string | null; admin: boolean }>(
      `SELECT rolsuper AS superuser, rolcreatedb AS createdb, rolcreaterole AS createrole,
              current_setting('server_version') AS version, current_setting('server_version_num') AS num,
              current_setting('azure.extensions', true) AS azure,
              COALESCE((SELECT pg_has_role(current_user, a.oid, 'MEMBER') FROM pg_roles a WHERE a.rolname = 'azure_pg_admin'), false) AS admin
       FROM pg_roles WHERE rolname = current_user`,
    );
    const me = rows[0]!;
    const existing = await client.query<{ name: string; owned: boolean; mayCreate: boolean }>(
      `SELECT datname AS name, datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS owned,
              has_database_privilege(current_user, oid, 'CREATE') AS "mayCreate"
       FROM pg_database WHERE datname = ANY($1) ORDER BY datname`,
      [databases],
    );
    const roles = await client.query<{ name: string; exists: boolean; member: boolean }>(
      `SELECT o.name, r.oid IS NOT NULL AS exists, COALESCE(pg_has_role(current_user, r.oid, 'MEMBER'), false) AS member
       FROM unnest($1::text[]) AS o(name) LEFT JOIN pg_roles r ON r.rolname = o.name ORDER BY o.name`,
      [roleNames],
    );
    return {
      server: { host: params.host, port: params.port },
      user: params.user,
      superuser: me.superuser,
      createdb: me.createdb,
      createrole: me.createrole,
      serverVersion: me.version.split(" ")[0]!,
      serverVersionNum: Number(me.num),
      existing: existing.rows,
      available: await availableExtensions(client, Number(me.num)),
      ...(me.azure !== null ? { azureExtensions: allowList(me.azure) } : {}),
      azurePgAdmin: me.admin,
      roles: roles.rows,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `azure.extensions` is a comma-separated list (the portal and `az` write it so); blanks are not names. */
export function allowList(value: string): string[] {
  return value.split(",").map((name) => name.trim().toLowerCase()).filter((name) => name !== "");
}

/** Each offered extension and whether creating its default version needs a superuser. */
const extensionsQuery =
  `SELECT e.name, (v.superuser AND NOT v.trusted) AS needs
   FROM pg_available_extensions e
   LEFT JOIN pg_available_extension_versions v ON v.name = e.name AND v.version = e.default_version
   ORDER BY e.name`;
/** Before PostgreSQL 13 there is no `trusted`: an extension needing a superuser is just `superuser`. */
const extensionsQueryBefore13 =
  `SELECT e.name, v.superuser AS needs
   FROM pg_available_extensions e
   LEFT JOIN pg_available_extension_versions v ON v.name = e.name AND v.version = e.default_version
   ORDER BY e.name`;

async function availableExtensions(client: pg.Client, versionNum: number): Promise<AvailableExtension[]> {
  type Row = { name: string; needs: boolean | null };
  const { rows } = versionNum >= 130000 ? await client.query<Row>(extensionsQuery) : await client.query<Row>(extensionsQueryBefore13);
  return rows.map((row) => ({ name: row.name, needsSuperuser: row.needs ?? false }));
}
