/**
 * What each file of a Flexible Server point is. Microsoft's restore guide (MicrosoftDocs/azure-docs,
 * `articles/backup/restore-azure-database-postgresql-flex.md`) names a `Database.sql` file per database (a pg_dump
 * archive, loaded with `pg_restore`), a `Roles.sql` file, a `Tablespace.sql` file and a `Schema.sql` file; it gives
 * no exact names or case (docs/platform-facts.md, "Flexible Server long-term retention"). So files are told apart
 * by those words, case-insensitively, and a database's name is what precedes `_database.sql`.
 */
import type { LtrRecoveryPoint } from "../domain";

export type LtrFileKind = "database" | "roles" | "tablespace" | "schema" | "other";

export interface LtrFile {
  /** Container-qualified, as the point lists it. */
  blobPath: string;
  kind: LtrFileKind;
  /** For `database` files: the database it holds. */
  database?: string;
}

const databaseSuffix = /_database\.sql$/i;
const instanceFiles: Record<string, LtrFileKind> = { "roles.sql": "roles", "tablespace.sql": "tablespace", "schema.sql": "schema" };

export function ltrFileOf(blobPath: string): LtrFile {
  const name = blobPath.slice(blobPath.lastIndexOf("/") + 1);
  if (databaseSuffix.test(name) && name.length > "_database.sql".length) {
    return { blobPath, kind: "database", database: name.replace(databaseSuffix, "") };
  }
  return { blobPath, kind: instanceFiles[name.toLowerCase()] ?? "other" };
}

/** The point's database archives, by database name, in name order. */
export function ltrDatabaseFiles(rp: Pick<LtrRecoveryPoint, "blobs">): (LtrFile & { database: string })[] {
  return rp.blobs
    .map(ltrFileOf)
    .filter((file): file is LtrFile & { database: string } => file.kind === "database")
    .sort((a, b) => (a.database < b.database ? -1 : a.database > b.database ? 1 : 0));
}

/** The names of the databases the point holds, each once, in name order. */
export function ltrDatabaseNames(rp: Pick<LtrRecoveryPoint, "blobs">): string[] {
  return [...new Set(ltrDatabaseFiles(rp).map((file) => file.database))];
}

/** The point's roles file (`pg_dumpall --roles-only` as the server wrote it), if it has one. */
export function ltrRolesFile(rp: Pick<LtrRecoveryPoint, "blobs">): LtrFile | undefined {
  return rp.blobs.map(ltrFileOf).find((file) => file.kind === "roles");
}
