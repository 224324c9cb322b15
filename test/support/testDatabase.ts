/**
 * Databases, roles and comparisons for backup tests against the shared throwaway cluster. Each test names its
 * own database and role, so test files can run in parallel on one server.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { inject } from "vitest";
import type { ClusterInfo } from "../../local-host/embedded/postgres";

const execFileAsync = promisify(execFile);

export function cluster(): ClusterInfo {
  return inject("postgres");
}

export async function withAdmin<T>(database: string, work: (client: pg.Client) => Promise<T>, server: ClusterInfo = cluster()): Promise<T> {
  const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** Databases whose names start with `stem` (every attempt's database of a restore or drill job). */
export async function databasesUnder(stem: string, server: ClusterInfo = cluster()): Promise<string[]> {
  return withAdmin("postgres", async (c) => (await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1`, [stem])).rows.map((r) => r.datname), server);
}

export async function createDatabase(name: string, server: ClusterInfo = cluster()): Promise<void> {
  await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`), server);
}

/** A login role with a password; `grantBackup` gives it exactly what the Azure Backup grant script gives. */
export async function createBackupRole(database: string, role: string, password: string, server: ClusterInfo = cluster()): Promise<void> {
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`), server);
  await withAdmin(database, async (c) => {
    const r = pg.escapeIdentifier(role);
    await c.query(`GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(database)} TO ${r}`);
    const { rows } = await c.query<{ nspname: string }>(
      `SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'`,
    );
    for (const { nspname } of rows) {
      const s = pg.escapeIdentifier(nspname);
      await c.query(`GRANT USAGE ON SCHEMA ${s} TO ${r}`);
      await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO ${r}`);
      await c.query(`GRANT SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${r}`);
    }
    // Large objects are readable by non-owners only with an explicit grant.
    const los = await c.query<{ oid: string }>(`SELECT oid::text FROM pg_largeobject_metadata`);
    for (const { oid } of los.rows) await c.query(`GRANT SELECT ON LARGE OBJECT ${oid} TO ${r}`);
  }, server);
}

/**
 * Several schemas, quoted and non-ASCII identifiers, bytea, json, large objects, a sequence, a view and an
 * extension: the kinds of objects a logical backup most easily gets wrong.
 */
export async function seedRichDatabase(database: string, server: ClusterInfo = cluster()): Promise<void> {
  await withAdmin(database, async (c) => {
    await c.query(`
      CREATE EXTENSION hstore;
      CREATE SCHEMA sales;
      CREATE SCHEMA "Ünïcødé Schéma";
      CREATE TABLE sales.orders (id bigserial PRIMARY KEY, customer text NOT NULL, total numeric(12,2),
                                 placed_at timestamptz DEFAULT now(), attrs hstore, doc jsonb);
      CREATE TABLE "Ünïcødé Schéma"."Größe ""quoted"" table" ("Spalte Ä" text, "payload" bytea, "日本語" int);
      CREATE TABLE public.documents (id int PRIMARY KEY, body oid);
      CREATE VIEW sales.big_orders AS SELECT * FROM sales.orders WHERE total > 100;
      INSERT INTO sales.orders (customer, total, attrs, doc)
        SELECT 'customer ' || g, (g * 7.31)::numeric(12,2), hstore('tier', (g % 3)::text),
               jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g % 5))
        FROM generate_series(1, 2000) g;
      INSERT INTO "Ünïcødé Schéma"."Größe ""quoted"" table"
        SELECT 'zeile ' || g || ' ✓', decode(md5(g::text) || md5((g+1)::text), 'hex'), g FROM generate_series(1, 500) g;
      INSERT INTO public.documents VALUES (1, lo_from_bytea(0, convert_to(repeat('large object ✓ ', 5000), 'UTF8'))),
                                          (2, lo_from_bytea(0, decode(repeat('00ff10', 1000), 'hex')));
    `);
  }, server);
}

/** Per-table row checksums, in a stable order, plus large-object contents. */
export async function contentFingerprint(database: string, server: ClusterInfo = cluster()): Promise<Record<string, string>> {
  return withAdmin(database, async (c) => {
    const tables = await c.query<{ schema: string; name: string }>(`
      SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' ORDER BY 1, 2`);
    const fingerprint: Record<string, string> = {};
    for (const { schema, name } of tables.rows) {
      const table = `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`;
      const { rows } = await c.query<{ n: string; sum: string | null }>(
        `SELECT count(*)::text AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS sum FROM ${table} t`,
      );
      fingerprint[table] = `${rows[0]!.n}:${rows[0]!.sum}`;
    }
    const los = await c.query<{ oid: string; sum: string }>(
      `SELECT oid::text, md5(lo_get(oid)) AS sum FROM pg_largeobject_metadata ORDER BY oid`,
    );
    fingerprint["large objects"] = los.rows.map((r) => r.sum).join(",");
    return fingerprint;
  }, server);
}

/**
 * `pg_dump --schema-only` without owners and grants (restores into other servers do not keep them) and with
 * the lines that name the dump's origin removed, for comparing two databases.
 */
export async function schemaDump(database: string, server: ClusterInfo = cluster(), extraArgs: readonly string[] = []): Promise<string> {
  const { stdout } = await execFileAsync(path.join(server.binDir, "pg_dump"), ["--schema-only", "--no-owner", "--no-privileges", ...extraArgs, database], {
    env: { ...process.env, PGHOST: server.host, PGPORT: String(server.port), PGUSER: server.user, PGPASSWORD: server.password },
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout
    .split("\n")
    // Origin comments, and the per-run random keys of \restrict (PostgreSQL 15.14+), differ between any two dumps.
    .filter((line) => !/^(-- Dumped (from|by)|\\(un)?restrict )/.test(line))
    .join("\n");
}

/** Restores a custom-format dump file into a new database with pg_restore, as an operator would. */
export async function pgRestoreFile(file: string, database: string, server: ClusterInfo = cluster()): Promise<void> {
  await createDatabase(database, server);
  await execFileAsync(path.join(server.binDir, "pg_restore"), ["--exit-on-error", "--no-owner", "-d", database, file], {
    env: { ...process.env, PGHOST: server.host, PGPORT: String(server.port), PGUSER: server.user, PGPASSWORD: server.password },
  });
}

/** Drops what a test made cluster-wide: its databases first (grants in them hold their roles), then its roles. */
export async function dropDatabasesAndRoles(databases: readonly string[], roles: readonly string[], server: ClusterInfo = cluster()): Promise<void> {
  await withAdmin("postgres", async (c) => {
    for (const database of databases) await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
    for (const role of [...roles].reverse()) {
      await c.query(`DROP OWNED BY ${pg.escapeIdentifier(role)}`).catch(() => undefined);
      await c.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
    }
  }, server);
}
