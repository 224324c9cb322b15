/**
 * What a Flexible Server long-term-retention backup writes, made from a real PostgreSQL cluster: the ARM stand-in
 * (armServer.ts) writes these files through the SAS URLs it was given.
 *
 * Sources (MicrosoftDocs/azure-docs):
 * - `articles/backup/restore-azure-database-postgresql-flex.md`: restored as files, a backup is "`Database.sql` file
 *   per database", "`Roles.sql` files for entire instance", "`Tablespace.sql` file" and "`Schema.sql` file"; each
 *   database file is loaded with `pg_restore ... --no-owner`, so it is a pg_dump archive (custom format) despite
 *   its `.sql` name; the roles file is cleaned of `azure_superuser`, `azure_pg_admin`, `azuresu`, `replication`
 *   and of `NOSUPERUSER` / `NOBYPASSRLS` before use, so it holds them.
 * - `backup-azure-database-postgresql-flex-support-matrix.md`: the whole server is backed up; databases owned by
 *   `azuresu` or `azure_pg_admin` (including `postgres`) are excluded.
 * Where they are vague (exact file names and case, how files spread over containers), docs/platform-facts.md says
 * what was chosen.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import type { ClusterInfo } from "../../local-host/embedded/postgres";

const execFileAsync = promisify(execFile);

export interface LtrFile {
  name: string;
  content: Buffer;
}

/** The roles a Flexible Server has that a community cluster lacks, as `pg_dumpall --roles-only` prints them there. */
const flexServerRoles = [
  "CREATE ROLE azure_pg_admin;",
  "ALTER ROLE azure_pg_admin WITH NOSUPERUSER INHERIT CREATEROLE CREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;",
  "CREATE ROLE azuresu;",
  "ALTER ROLE azuresu WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;",
  "CREATE ROLE replication;",
  "ALTER ROLE replication WITH NOSUPERUSER NOINHERIT NOCREATEROLE NOCREATEDB LOGIN REPLICATION NOBYPASSRLS;",
];

/** Owners whose databases the service leaves out (support matrix). */
const serviceOwners = new Set(["azuresu", "azure_pg_admin"]);

function env(server: ClusterInfo): NodeJS.ProcessEnv {
  return { ...process.env, PGHOST: server.host, PGPORT: String(server.port), PGUSER: server.user, PGPASSWORD: server.password };
}

async function run(server: ClusterInfo, tool: string, args: string[]): Promise<Buffer> {
  const { stdout } = await execFileAsync(path.join(server.binDir, tool), args, { env: env(server), encoding: "buffer", maxBuffer: 1 << 30 });
  return stdout;
}

/** User databases: not templates, not `postgres`, not owned by the service's roles; only those named, when given. */
async function userDatabases(server: ClusterInfo, only?: readonly string[]): Promise<string[]> {
  const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: "postgres" });
  await client.connect();
  try {
    const rows = (
      await client.query<{ datname: string; owner: string }>(
        "SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY datname",
      )
    ).rows;
    return rows.filter((r) => !serviceOwners.has(r.owner) && (only === undefined || only.includes(r.datname))).map((r) => r.datname);
  } finally {
    await client.end();
  }
}

/**
 * The files of one backup of `server`: `<database>_database.sql` (pg_dump custom format) per user database, and
 * `roles.sql`, `tablespace.sql`, `schema.sql` for the instance. `databases` narrows to those (a shared test
 * cluster holds every test's databases).
 */
export async function logicalBackupFiles(server: ClusterInfo, databases?: readonly string[]): Promise<LtrFile[]> {
  const files: LtrFile[] = [];
  for (const database of await userDatabases(server, databases)) {
    files.push({ name: `${database}_database.sql`, content: await run(server, "pg_dump", ["--format=custom", "--dbname", database]) });
  }
  files.push({ name: "roles.sql", content: Buffer.from(await rolesFileOf(server)) });
  files.push({ name: "tablespace.sql", content: await run(server, "pg_dumpall", ["--tablespaces-only"]) });
  files.push({ name: "schema.sql", content: await run(server, "pg_dumpall", ["--schema-only"]) });
  return files;
}

/**
 * The roles file of a backup of `server`: its `pg_dumpall --roles-only` output and the Flexible Server roles; each
 * of `admins` is made a member of azure_pg_admin, as a Flexible Server's admin login is ("the admin role is a member
 * of the azure_pg_admin role", MicrosoftDocs `articles/postgresql/security/security-access-control.md`), written as
 * pg_dumpall writes memberships.
 */
export async function rolesFileOf(server: ClusterInfo, admins: readonly string[] = []): Promise<string> {
  const roles = (await run(server, "pg_dumpall", ["--roles-only"])).toString("utf8");
  const memberships = admins.map((admin) => `GRANT azure_pg_admin TO ${pg.escapeIdentifier(admin)} GRANTED BY azuresu;`);
  return `${roles.trimEnd()}\n\n${[...flexServerRoles, ...memberships].join("\n")}\n`;
}

/**
 * Placeholder files with the documented names, for tests that only count or copy files: their bytes are random,
 * not archives (a test that restores must give the stand-in a cluster).
 */
export function placeholderFiles(): { name: string; bytes: number }[] {
  return [
    { name: "appdb_database.sql", bytes: 200_000 },
    { name: "roles.sql", bytes: 2_048 },
    { name: "tablespace.sql", bytes: 512 },
    { name: "schema.sql", bytes: 16_384 },
  ];
}
