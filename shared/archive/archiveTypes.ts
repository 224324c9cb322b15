/**
 * What a pg_dump custom-format archive holds, as the archive reader (archiveReader.ts) reports it. Field names follow
 * PostgreSQL's own (`TocEntry` in src/bin/pg_dump/pg_backup_archiver.h, archive versions 1.12 to 1.16, written by
 * pg_dump 9.x to 18).
 */

/** How the archive's data blocks are compressed (pg_compress_algorithm, src/include/common/compression.h). */
export type ArchiveCompression = "none" | "gzip" | "lz4" | "zstd";

export interface ArchiveHeader {
  /** The archive format version, `major.minor.revision` (1.14.0 from pg_dump 12-15, 1.15.0 from 16, 1.16.0 from 17 and 18). */
  version: string;
  intSize: number;
  offSize: number;
  compression: ArchiveCompression;
  /** When pg_dump started, in pg_dump's local time as the archive records it (no zone), `YYYY-MM-DDTHH:MM:SS`. */
  createdAt: string;
  database: string;
  /** The dumped server's version, e.g. `15.18 (Debian 15.18-0+deb12u1)`. */
  serverVersion: string;
  /** pg_dump's own version, e.g. `15.18 (Debian 15.18-0+deb12u1)`. */
  dumpVersion: string;
}

export type ArchiveSection = "none" | "pre-data" | "data" | "post-data";

/** One entry of the table of contents. */
export interface TocEntry {
  dumpId: number;
  /** pg_dump dumped data for it: a data block follows the table of contents (TABLE DATA, BLOBS, ...). */
  hasData: boolean;
  tableOid: number;
  oid: number;
  /** The object's name (for TABLE DATA the table's, for ACL/COMMENT the described object, e.g. `TABLE t`). */
  tag: string;
  /** The kind: `TABLE`, `TABLE DATA`, `INDEX`, `SEQUENCE SET`, `BLOBS`, `ACL`, ... */
  desc: string;
  section: ArchiveSection;
  defn: string;
  dropStmt: string;
  /** For TABLE DATA: `COPY <schema>.<table> (<columns>) FROM stdin;`, the statement its data block feeds. */
  copyStmt: string;
  /** The schema; empty for objects outside one. */
  namespace: string;
  tablespace: string;
  tableAccessMethod: string;
  /** pg_class.relkind for relations (archive 1.16 and later), else empty. */
  relkind: string;
  owner: string;
  dependencies: number[];
}

export type ArchiveEvent =
  | { type: "header"; header: ArchiveHeader }
  /** The whole table of contents, in archive order, before any data. */
  | { type: "toc"; entries: readonly TocEntry[] }
  /** A data block starts: table rows (COPY text) or large objects. Blocks come in table-of-contents order. */
  | { type: "dataStart"; entry: TocEntry; kind: "table" | "largeObjects" }
  /** Within a `largeObjects` block: one large object's bytes follow, in `data` events. */
  | { type: "largeObject"; entry: TocEntry; oid: number }
  /**
   * Decompressed data. For a table: COPY text rows, each ending in `\n`, in the order pg_dump read them, without
   * the `\.` end-of-data line pg_dump writes after them (so the bytes equal `COPY ... TO STDOUT` under the dump's
   * session settings). `bytes` is only valid until the next event is asked for.
   */
  | { type: "data"; entry: TocEntry; bytes: Buffer }
  /** The block ended; `storedBytes` is its size in the archive (compressed), `bytes` the data delivered. */
  | { type: "dataEnd"; entry: TocEntry; storedBytes: number; bytes: number };
