/**
 * What a database holds, counted the same way at backup time (inside pg_dump's own snapshot) and after a restore
 * drill (in the scratch database): objects by kind, and the exact rows of every table. Only what pg_dump dumps and
 * pg_restore recreates is counted, so two counts of the same data agree: system schemas and objects that belong to
 * extensions are left out (the extension's own script creates them), `public` is left out of the schemas (every
 * new database has it), and rows are counted per plain table (`FROM ONLY`: a partitioned or inherited parent's
 * count is its partitions'). Materialized views count as objects only: their rows are whatever the restore's
 * REFRESH computes, which need not be what the source last refreshed.
 */
import pg from "pg";

export const objectKinds = [
  "schemas",
  "tables",
  "views",
  "materializedViews",
  "sequences",
  "foreignTables",
  "indexes",
  "constraints",
  "triggers",
  "functions",
  "types",
  "extensions",
  "largeObjects",
] as const;
export type ObjectKind = (typeof objectKinds)[number];
export type ObjectCounts = Record<ObjectKind, number>;

export interface TableRows {
  schema: string;
  name: string;
  rows: number;
}

export interface DatabaseContents {
  objects: ObjectCounts;
  /** Every plain table (and partition), ordered by schema and name. */
  tables: TableRows[];
}

const ident = (name: string) => pg.escapeIdentifier(name);

/** One statement, so the counts are of one moment also outside a snapshot transaction. */
const objectCountsSql = `
  WITH ext AS (
    SELECT classid, objid FROM pg_catalog.pg_depend WHERE deptype = 'e'
  ), ns AS (
    SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace n
    WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
      AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_namespace'::regclass AND ext.objid = n.oid)
  ), rel AS (
    SELECT c.oid, c.relkind FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace
    WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_class'::regclass AND ext.objid = c.oid)
  )
  SELECT
    (SELECT count(*) FROM ns WHERE ns.nspname <> 'public')::int AS "schemas",
    (SELECT count(*) FROM rel WHERE relkind IN ('r', 'p'))::int AS "tables",
    (SELECT count(*) FROM rel WHERE relkind = 'v')::int AS "views",
    (SELECT count(*) FROM rel WHERE relkind = 'm')::int AS "materializedViews",
    (SELECT count(*) FROM rel WHERE relkind = 'S')::int AS "sequences",
    (SELECT count(*) FROM rel WHERE relkind = 'f')::int AS "foreignTables",
    -- As pg_dump: valid indexes, and partitioned ones (valid or not, they are recreated on their table).
    (SELECT count(*) FROM pg_catalog.pg_index i JOIN rel t ON t.oid = i.indrelid JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
      WHERE (i.indisvalid OR ic.relkind = 'I') AND i.indisready)::int AS "indexes",
    (SELECT count(*) FROM pg_catalog.pg_constraint k
      WHERE k.conrelid IN (SELECT oid FROM rel) OR (k.contypid <> 0 AND k.connamespace IN (SELECT oid FROM ns)))::int AS "constraints",
    (SELECT count(*) FROM pg_catalog.pg_trigger g JOIN rel t ON t.oid = g.tgrelid WHERE NOT g.tgisinternal)::int AS "triggers",
    (SELECT count(*) FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace
      WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_proc'::regclass AND ext.objid = p.oid))::int AS "functions",
    -- Enums, domains, ranges and standalone composite types; not the row types and arrays every table brings.
    (SELECT count(*) FROM pg_catalog.pg_type t JOIN ns ON ns.oid = t.typnamespace
      WHERE (t.typtype IN ('e', 'd', 'r')
             OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c')))
        AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_type'::regclass AND ext.objid = t.oid))::int AS "types",
    (SELECT count(*) FROM pg_catalog.pg_extension)::int AS "extensions",
    (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata)::int AS "largeObjects"`;

const tablesSql = `
  SELECT n.nspname AS schema, c.relname AS name
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`;

/** Thrown when `signal` stopped the counting between two tables. */
export class CountingStopped extends Error {
  override readonly name = "CountingStopped";
}

/**
 * Counts objects and the rows of every table on `client`, one table at a time (so `signal` can stop it between
 * tables). In a REPEATABLE READ transaction every count is of the transaction's snapshot.
 */
export async function countDatabaseContents(client: pg.Client, signal?: AbortSignal): Promise<DatabaseContents> {
  const objects = (await client.query<ObjectCounts>(objectCountsSql)).rows[0]!;
  const listed = await client.query<{ schema: string; name: string }>(tablesSql);
  const tables: TableRows[] = [];
  for (const { schema, name } of listed.rows) {
    if (signal?.aborted) throw new CountingStopped("counting stopped");
    const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${ident(schema)}.${ident(name)}`);
    tables.push({ schema, name, rows: Number(rows[0]!.n) });
  }
  return { objects: Object.fromEntries(objectKinds.map((kind) => [kind, Number(objects[kind])])) as ObjectCounts, tables };
}

export const totalRows = (tables: readonly TableRows[]): number => tables.reduce((sum, table) => sum + table.rows, 0);

const objectLabels: Record<ObjectKind, string> = {
  schemas: "schemas (besides public)",
  tables: "tables",
  views: "views",
  materializedViews: "materialized views",
  sequences: "sequences",
  foreignTables: "foreign tables",
  indexes: "indexes",
  constraints: "constraints",
  triggers: "triggers",
  functions: "functions and procedures",
  types: "types",
  extensions: "extensions",
  largeObjects: "large objects",
};

export interface ContentsComparison {
  /** What differs, one line each; empty when the restore has exactly what was recorded. */
  differences: string[];
}

/**
 * Compares a restore's counts with the record taken at backup time. With `nameTables` false (an encrypted backup,
 * whose table names are kept only inside its encrypted record) the differences count tables instead of naming them.
 */
export function compareContents(recorded: DatabaseContents, restored: DatabaseContents, nameTables: boolean): ContentsComparison {
  const differences: string[] = [];
  for (const kind of objectKinds) {
    const before = recorded.objects[kind];
    const after = restored.objects[kind];
    // A record written by a pgvault that counted fewer kinds has nothing to compare for the others.
    if (typeof before !== "number") continue;
    if (before !== after) differences.push(`${objectLabels[kind]}: ${before} at backup, ${after} restored`);
  }
  const key = (table: TableRows) => `${table.schema}\u0000${table.name}`;
  const label = (table: TableRows) => `${ident(table.schema)}.${ident(table.name)}`;
  const restoredTables = new Map(restored.tables.map((table) => [key(table), table]));
  const recordedKeys = new Set(recorded.tables.map(key));
  const missing: string[] = [];
  const changed: string[] = [];
  for (const table of recorded.tables) {
    const found = restoredTables.get(key(table));
    if (!found) missing.push(`table ${label(table)} is missing after the restore`);
    else if (found.rows !== table.rows) changed.push(`table ${label(table)}: ${table.rows} rows at backup, ${found.rows} restored`);
  }
  const unexpected = restored.tables.filter((table) => !recordedKeys.has(key(table))).map((table) => `table ${label(table)} was restored but not recorded at backup`);
  if (nameTables) {
    differences.push(...missing, ...changed, ...unexpected);
  } else {
    const counted = [
      changed.length && `${changed.length} of ${recorded.tables.length} tables have other row counts than at backup`,
      missing.length && `${missing.length} recorded tables are missing after the restore`,
      unexpected.length && `${unexpected.length} restored tables were not recorded at backup`,
    ].filter((line): line is string => typeof line === "string");
    if (counted.length) differences.push(...counted.map((line) => `${line} (table names are not reported: the backup is encrypted)`));
  }
  return { differences };
}
