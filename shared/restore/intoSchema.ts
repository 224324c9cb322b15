/**
 * A subset restored into a live database, beside what is there (`target.intoSchema`; docs/architecture.md,
 * "Restoring into a live database"):
 * 1. the subset is restored into a temporary database as any restore is (databaseRestore.ts);
 * 2. there, everything it restored is gathered into one schema of the requested name (the tables' schema renamed,
 *    the objects of any other moved into it; two of the same name refuse the restore), marked with the attempt's
 *    mark as the schema's comment, and the temporary database is marked complete;
 * 3. the move: `pg_dump --schema=<it>` of the temporary database piped into `pg_restore --single-transaction` on
 *    the live database. The dump holds that schema and its objects only, so nothing else of the live database is
 *    written; one transaction creates the schema and all in it or, failing, nothing (a schema of that name
 *    created meanwhile fails its CREATE SCHEMA and rolls everything back).
 * A repeated move (activities are at-least-once) finds the schema carrying its mark and only sweeps.
 */
import pg from "pg";
import type { DatabaseRestoreTarget, IntoSchemaReport } from "../domain";
import { PgVaultError, someOf } from "../errors";
import { withConnection, type ConnectionParams } from "../postgres/connection";
import { statementFailure } from "../postgres/statementFailure";
import { sqlName, type QualifiedName } from "./restoreNames";
import { reportListLimit } from "./restoreReport";

const ident = (name: string) => pg.escapeIdentifier(name);

/** The schema's comment (null without one); undefined when there is no such schema. */
export async function schemaMark(client: pg.Client, schema: string): Promise<string | null | undefined> {
  const { rows } = await client.query<{ mark: string | null }>(`SELECT obj_description(oid, 'pg_namespace') AS mark FROM pg_namespace WHERE nspname = $1`, [schema]);
  return rows.length === 0 ? undefined : rows[0]!.mark;
}

export const inUse = (schema: string, database: string, where: string) =>
  new PgVaultError("UserErrorDatabaseNameAlreadyInUse", `Schema '${schema}' already exists in database '${database}' on ${where}; nothing was touched.`, {
    recommendedAction: "Choose another intoSchema (the restore creates it), or drop that schema if it is a restore you no longer need.",
  });

/**
 * Before anything is created: the live database exists, the user may create a schema in it, and the schema does
 * not exist yet. (CREATEDB, for the temporary database, is checked as for any restore.)
 */
export async function checkIntoSchemaTarget(params: ConnectionParams, target: DatabaseRestoreTarget): Promise<void> {
  const schema = target.intoSchema!;
  const where = `${params.host}:${params.port}`;
  await withConnection({ ...params, database: target.database }, async (client) => {
    const { rows } = await client.query<{ create: boolean }>(`SELECT has_database_privilege(current_database(), 'CREATE') AS create`);
    if (!rows[0]!.create) {
      throw new PgVaultError("UserErrorMissingRestorePermissions", `User '${params.user}' may not create schemas in database '${target.database}' on ${where}, which intoSchema needs (GRANT CREATE ON DATABASE).`);
    }
    if ((await schemaMark(client, schema)) !== undefined) throw inUse(schema, target.database, where);
  });
}

/**
 * The objects of `schemas` (in the temporary database) that take a place in a schema, by the name that place is.
 * Not those that move with another: indexes, owned and identity sequences, row types (with their table), array
 * types (with their element type), multiranges (with their range).
 */
const placesSql = `
  SELECT n.nspname AS schema, 'relation' AS kind, c.relname AS name, c.relkind::text AS relkind, c.oid::regclass::text AS object, c.oid AS oid
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY($1) AND (c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
     OR c.relkind = 'S' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
  UNION ALL
  SELECT n.nspname, 'type', t.typname, t.typtype::text, t.oid::regtype::text, t.oid
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE n.nspname = ANY($1) AND t.typtype IN ('e', 'd', 'r', 'b') AND t.typelem = 0
  UNION ALL
  SELECT n.nspname, 'routine', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', NULL, p.oid::regprocedure::text, p.oid
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = ANY($1)`;

/** Members of an extension stay where the extension put them (they cannot be moved on their own). */
const notInExtension = `SELECT * FROM (${placesSql}) AS place WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = place.oid AND d.deptype = 'e')`;

interface Place {
  schema: string;
  kind: "relation" | "type" | "routine";
  name: string;
  /** pg_class.relkind of a relation, pg_type.typtype of a type. */
  relkind: string | null;
  object: string;
}

const alterKind: Record<string, string> = { r: "TABLE", p: "TABLE", v: "VIEW", m: "MATERIALIZED VIEW", f: "FOREIGN TABLE", c: "TYPE", S: "SEQUENCE" };

/**
 * In the temporary database: everything restored into `restored.schemas` ends up in `schema`, which is marked.
 * The schema of the restored tables is renamed (carrying every kind of object with it, and its own grants and
 * comment); the objects of the others (a trigger's function in `public`, say) are moved into it. A schema holding an
 * extension is never renamed: the extension's objects stay where it put them (the live database must have the
 * extension too). Two objects that would take the same name (`a.orders` and `b.orders`) refuse the restore before
 * the live database is touched.
 */
export async function gatherIntoSchema(client: pg.Client, schema: string, restored: { schemas: readonly string[]; tables: readonly QualifiedName[] }, mark: string): Promise<void> {
  const schemas = restored.schemas;
  try {
    // Every name printed schema-qualified, so each statement below names exactly the object it was read for.
    await client.query("SET search_path = ''");
    const { rows: places } = await client.query<Place>(notInExtension, [schemas]);
    refuseClashes(places, schema);
    const { rows: extensions } = await client.query<{ schema: string }>(
      `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE n.nspname = ANY($1)`,
      [schemas],
    );
    const holdsExtension = new Set(extensions.map((row) => row.schema));
    const preferred = [...restored.tables.map((table) => table.schema), ...schemas];
    const renamed = schemas.includes(schema) ? undefined : preferred.find((name) => !holdsExtension.has(name));
    if (renamed !== undefined) await client.query(`ALTER SCHEMA ${ident(renamed)} RENAME TO ${ident(schema)}`);
    else await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    for (const place of places.filter((p) => p.schema !== schema && p.schema !== renamed)) {
      const kind = place.kind === "routine" ? "ROUTINE" : place.kind === "type" ? (place.relkind === "d" ? "DOMAIN" : "TYPE") : alterKind[place.relkind!]!;
      // SQL text: kind is a fixed keyword; object is the server's own regclass/regtype/regprocedure text, quoted by it.
      await client.query(`ALTER ${kind} ${place.object} SET SCHEMA ${ident(schema)}`);
    }
    await client.query(`COMMENT ON SCHEMA ${ident(schema)} IS ${pg.escapeLiteral(mark)}`);
  } catch (err) {
    if (err instanceof PgVaultError) throw err;
    throw statementFailure(err, `gathering the restored objects into schema '${schema}'`);
  }
}

/** Relations and types share one namespace (a table has a row type of its name); routines go by signature. */
function refuseClashes(places: readonly Place[], schema: string): void {
  const key = (p: Place) => `${p.kind === "routine" ? "routine" : "relation-or-type"}:${p.name}`;
  const seen = new Map<string, Place>();
  const clashes: string[] = [];
  for (const place of places) {
    const first = seen.get(key(place));
    if (first && first.schema !== place.schema) clashes.push(`${first.object} and ${place.object}`);
    else seen.set(key(place), place);
  }
  if (clashes.length > 0) {
    throw new PgVaultError("UserErrorDatabaseNameAlreadyInUse", `The restored objects would share names in schema '${schema}': ${someOf(clashes, 10, "; ")}.`, {
      recommendedAction: "Restore the tables of each schema into a schema of its own (one restore each), or leave one of the clashing tables out.",
    });
  }
}

/** What the job shows after a restore intoSchema: where each table is now, and the SQL for the first. */
export function intoSchemaReport(schema: string, tables: readonly QualifiedName[]): IntoSchemaReport {
  const listed = tables.slice(0, reportListLimit).map((t) => ({ source: sqlName(t.schema, t.name), restoredAs: sqlName(schema, t.name) }));
  const first = listed[0] ?? { source: "<schema>.<table>", restoredAs: sqlName(schema, "<table>") };
  return {
    schema,
    tables: listed,
    ...(tables.length > listed.length ? { tablesOmitted: tables.length - listed.length } : {}),
    compareSql: `SELECT * FROM ${first.restoredAs} EXCEPT SELECT * FROM ${first.source};`,
    copyBackSql: `INSERT INTO ${first.source} OVERRIDING SYSTEM VALUE SELECT * FROM ${first.restoredAs} EXCEPT SELECT * FROM ${first.source};`,
  };
}
