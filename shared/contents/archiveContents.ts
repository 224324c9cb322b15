/**
 * What a database archive holds, read from the archive itself (shared/archive): schemas, tables with the size of
 * their data in the archive, and the other objects by kind, as its table of contents names them. Works for any
 * point, including those taken before contents records existed and a Flexible Server point's database archives.
 * The table of contents is at the archive's head; data sizes need the whole archive read, so they are read only
 * when no record of the point already has them.
 */
import { readArchive } from "../archive/archiveReader";
import type { ArchiveHeader, TocEntry } from "../archive/archiveTypes";

/** Per kind, the names listed in full up to this many; the count is always complete. */
export const maxNamesPerKind = 1000;

export interface ArchiveTable {
  schema: string;
  name: string;
  /** Bytes of the table's data in the archive (COPY text, uncompressed); absent when not read. */
  dataBytes?: number;
  /** Rows, from the point's contents record (counted at backup time); absent without one. */
  rows?: number;
}

export interface ArchiveObjectKind {
  /** pg_dump's name of the kind (`VIEW`, `INDEX`, `FUNCTION`, `FK CONSTRAINT`, ...). */
  kind: string;
  count: number;
  /** `schema.name` (or the name, outside a schema), in archive order; the first `maxNamesPerKind`. */
  names: string[];
}

export interface DatabaseArchiveContents {
  database: string;
  archive: Pick<ArchiveHeader, "version" | "compression" | "serverVersion" | "dumpVersion" | "createdAt">;
  schemas: string[];
  tables: ArchiveTable[];
  /** Every other kind of object, tables and schemas excepted. */
  objects: ArchiveObjectKind[];
  largeObjects: { count: number; dataBytes?: number };
}

/**
 * Entries that describe no object of their own: settings, data, and what hangs on another object (grants,
 * comments, sequence values, column defaults, ownership of a sequence). Large objects are counted apart.
 */
const notObjects = new Set([
  "ENCODING", "STDSTRINGS", "SEARCHPATH", "DATABASE", "DATABASE PROPERTIES", "TABLE DATA", "SEQUENCE SET",
  "SEQUENCE OWNED BY", "MATERIALIZED VIEW DATA", "ACL", "COMMENT", "SECURITY LABEL", "DEFAULT", "DEFAULT ACL",
  "BLOBS", "BLOB", "BLOB METADATA", "BLOB COMMENTS", "SCHEMA", "TABLE",
]);

const qualified = (entry: TocEntry) => (entry.namespace ? `${entry.namespace}.${entry.tag}` : entry.tag);
/** A table's key: its schema and name apart (either may contain a dot). */
const tableKey = (schema: string, name: string) => `${schema}\u0000${name}`;

/** Large objects as the archive declares them: one BLOB entry each, or (archive 1.16) BLOB METADATA per group. */
function largeObjectCount(entries: readonly TocEntry[]): number {
  let count = 0;
  for (const entry of entries) {
    if (entry.desc === "BLOB") count += 1;
    // pg_dump 17+: one entry per group of large objects, its tag "<first oid>..<last oid>" and one
    // `SELECT pg_catalog.lo_create('<oid>');` per object in its definition.
    else if (entry.desc === "BLOB METADATA") count += (entry.defn.match(/lo_create\(/g) ?? []).length;
  }
  return count;
}

function fromTableOfContents(header: ArchiveHeader, entries: readonly TocEntry[], rowsOf: (schema: string, name: string) => number | undefined): DatabaseArchiveContents {
  const schemas = new Set<string>();
  const tables: ArchiveTable[] = [];
  const kinds = new Map<string, ArchiveObjectKind>();
  for (const entry of entries) {
    if (entry.namespace) schemas.add(entry.namespace);
    if (entry.desc === "SCHEMA") schemas.add(entry.tag);
    if (entry.desc === "TABLE") {
      const rows = rowsOf(entry.namespace, entry.tag);
      tables.push({ schema: entry.namespace, name: entry.tag, ...(rows !== undefined ? { rows } : {}) });
    }
    if (notObjects.has(entry.desc)) continue;
    let kind = kinds.get(entry.desc);
    if (!kind) kinds.set(entry.desc, (kind = { kind: entry.desc, count: 0, names: [] }));
    kind.count += 1;
    if (kind.names.length < maxNamesPerKind) kind.names.push(qualified(entry));
  }
  const { version, compression, serverVersion, dumpVersion, createdAt } = header;
  return {
    database: header.database,
    archive: { version, compression, serverVersion, dumpVersion, createdAt },
    schemas: [...schemas].sort(),
    tables,
    objects: [...kinds.values()],
    largeObjects: { count: largeObjectCount(entries) },
  };
}

export interface ArchiveContentsOptions {
  /** Read the data blocks too, for each table's data size (the whole archive is read). */
  dataSizes: boolean;
  /** Rows per table from the point's contents record, when it has one. */
  rowsOf?: (schema: string, name: string) => number | undefined;
}

/** The contents of the archive streamed in `archive` (named `label` in errors). */
export async function archiveContents(archive: AsyncIterable<Buffer>, label: string, options: ArchiveContentsOptions): Promise<DatabaseArchiveContents> {
  let contents: DatabaseArchiveContents | undefined;
  let header: ArchiveHeader | undefined;
  const tableBytes = new Map<string, number>();
  let largeObjectBytes = 0;
  for await (const event of readArchive(archive, label)) {
    if (event.type === "header") header = event.header;
    else if (event.type === "toc") {
      contents = fromTableOfContents(header!, event.entries, options.rowsOf ?? (() => undefined));
      if (!options.dataSizes) break;
    } else if (event.type === "dataEnd") {
      if (event.entry.desc === "TABLE DATA") tableBytes.set(tableKey(event.entry.namespace, event.entry.tag), event.bytes);
      else largeObjectBytes += event.bytes;
    }
  }
  if (!contents) throw new Error("the archive reader ended without a table of contents");
  if (!options.dataSizes) return contents;
  return {
    ...contents,
    // A table without a data block (unlogged, or excluded from the dump) has none in the archive.
    tables: contents.tables.map((table) => ({ ...table, dataBytes: tableBytes.get(tableKey(table.schema, table.name)) ?? 0 })),
    largeObjects: { ...contents.largeObjects, dataBytes: largeObjectBytes },
  };
}
