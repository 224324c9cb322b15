/**
 * Per-table content digests (docs/architecture.md, "Per-table digests"): the SHA-256 of each table's data as pg_dump
 * wrote it into the archive (its COPY text rows, without the `\.` end line), taken while the dump streams through
 * the app, and the same SHA-256 over `COPY ... TO STDOUT` of the restored table in a drill. The digest depends on
 * row order; the order is the same on both sides (the architecture section says why), and the drill reads back
 * under the same output settings as pg_dump's session (`DigestSettings`).
 */
import { createHash } from "node:crypto";
import { readArchive } from "../archive/archiveReader";
import type { ArchiveEvent, TocEntry } from "../archive/archiveTypes";
import { PgVaultError } from "../errors";

export interface TableDigest {
  schema: string;
  name: string;
  /** The columns of pg_dump's `COPY` (generated columns are not dumped), in its order: the drill reads these. */
  columns: string[];
  /** Hex SHA-256 of the table's COPY text rows. */
  sha256: string;
  /** Bytes of COPY text. */
  bytes: number;
  /** Rows: newlines in the COPY text (a newline inside a value is written `\n`). */
  rows: number;
}

/**
 * The settings that shape COPY text besides the ones pg_dump sets itself (DateStyle ISO, IntervalStyle postgres,
 * extra_float_digits 3): taken from the session defaults of the backup's user and database, and the archive's
 * client encoding. A drill reads back under exactly these.
 */
export interface DigestSettings {
  timeZone: string;
  byteaOutput: string;
  lcMonetary: string;
  clientEncoding: string;
}

/** The settings pg_dump's own session sets (pg_dump.c, setup_connection), set again by a drill that reads back. */
export const dumpSessionSettings: Readonly<Record<string, string>> = {
  DateStyle: "ISO",
  IntervalStyle: "postgres",
  extra_float_digits: "3",
  // One sequential scan from the first page, as pg_dump reads (it turns synchronized scans off for the same reason).
  synchronize_seqscans: "off",
};

/** SHA-256, bytes and rows of a stream of COPY text, fed in chunks. */
export class CopyTextDigest {
  private readonly hash = createHash("sha256");
  private bytes = 0;
  private rows = 0;

  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) this.rows++;
  }

  private sha256: string | undefined;

  /** The digest of everything fed so far; nothing may be fed after. */
  result(): { sha256: string; bytes: number; rows: number } {
    this.sha256 ??= this.hash.digest("hex");
    return { sha256: this.sha256, bytes: this.bytes, rows: this.rows };
  }
}

/** An identifier as pg_dump writes one (fmtId): bare, or double-quoted with `""` for a quote. */
function readIdentifier(text: string, at: number): { name: string; next: number } | undefined {
  if (text[at] !== '"') {
    const bare = /^[^\s.,()"]+/.exec(text.slice(at))?.[0];
    return bare ? { name: bare, next: at + bare.length } : undefined;
  }
  let name = "";
  for (let from = at + 1; ; ) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return undefined;
    name += text.slice(from, quote);
    if (text[quote + 1] !== '"') return { name, next: quote + 1 };
    name += '"';
    from = quote + 2;
  }
}

/**
 * The column list of a TABLE DATA entry's `COPY <schema>.<table> (<columns>) FROM stdin;` (pg_dump.c dumpTableData:
 * no list at all for a table without dumped columns). Undefined when the statement is not of that shape.
 */
export function copyColumns(copyStmt: string): string[] | undefined {
  if (!copyStmt.startsWith("COPY ")) return undefined;
  let at = 5;
  // The qualified table name: identifiers joined by dots.
  for (;;) {
    const part = readIdentifier(copyStmt, at);
    if (!part) return undefined;
    at = part.next;
    if (copyStmt[at] !== ".") break;
    at++;
  }
  const columns: string[] = [];
  if (copyStmt.startsWith(" (", at)) {
    at += 2;
    for (;;) {
      const column = readIdentifier(copyStmt, at);
      if (!column) return undefined;
      columns.push(column.name);
      at = column.next;
      if (copyStmt.startsWith(", ", at)) at += 2;
      else if (copyStmt[at] === ")") {
        at++;
        break;
      } else return undefined;
    }
  }
  return /^ +FROM stdin;\s*$/.test(copyStmt.slice(at)) ? columns : undefined;
}

/** The archive's client encoding, from its ENCODING entry (`SET client_encoding = '<name>';`, pg_dump.c dumpEncoding). */
export function archiveClientEncoding(entries: readonly TocEntry[]): string | undefined {
  const entry = entries.find((candidate) => candidate.desc === "ENCODING");
  return entry && /client_encoding = '([^']+)'/.exec(entry.defn)?.[1];
}

const tableKey = (entry: TocEntry) => `${entry.namespace}\u0000${entry.tag}`;

export interface ArchiveDigests {
  digests: TableDigest[];
  /** Undefined when the archive has no ENCODING entry (pg_dump writes one in every archive). */
  clientEncoding: string | undefined;
}

/**
 * Digests every table's data block of an archive, given the reader's events (archiveReader.ts). Keeps nothing but
 * the running digest of the current table; the reader's own errors (a damaged archive) pass through.
 */
export async function digestArchiveTables(events: AsyncIterable<ArchiveEvent>): Promise<ArchiveDigests> {
  const digests: TableDigest[] = [];
  let clientEncoding: string | undefined;
  let current: { entry: TocEntry; columns: string[]; digest: CopyTextDigest } | undefined;
  let ownTables = new Set<string>();
  for await (const event of events) {
    switch (event.type) {
      case "toc":
        clientEncoding = archiveClientEncoding(event.entries);
        ownTables = new Set(event.entries.filter((entry) => entry.desc === "TABLE").map(tableKey));
        break;
      case "dataStart": {
        // An extension's configuration table has data but no TABLE entry (its extension creates it, with rows of
        // its own, before pg_restore adds the dumped ones): what is read back would never be what was dumped.
        if (event.kind !== "table" || event.entry.desc !== "TABLE DATA" || !ownTables.has(tableKey(event.entry))) break;
        const columns = copyColumns(event.entry.copyStmt);
        if (!columns) {
          throw new PgVaultError("SystemErrorUnexpected", `The archive's data of table '${event.entry.tag}' is fed by a statement pgvault does not recognise.`);
        }
        current = { entry: event.entry, columns, digest: new CopyTextDigest() };
        break;
      }
      case "data":
        if (current?.entry.dumpId === event.entry.dumpId) current.digest.update(event.bytes);
        break;
      case "dataEnd":
        if (current?.entry.dumpId === event.entry.dumpId) {
          digests.push({ schema: current.entry.namespace, name: current.entry.tag, columns: current.columns, ...current.digest.result() });
          current = undefined;
        }
        break;
      default:
        break;
    }
  }
  return { digests, clientEncoding };
}

const hex64 = /^[0-9a-f]{64}$/;

/** Whether a stored record's `digests` has the shape this version writes. */
export function isTableDigest(value: unknown): value is TableDigest {
  const digest = value as Partial<TableDigest> | null;
  return (
    typeof digest?.schema === "string" &&
    typeof digest.name === "string" &&
    Array.isArray(digest.columns) &&
    digest.columns.every((column) => typeof column === "string") &&
    typeof digest.sha256 === "string" &&
    hex64.test(digest.sha256) &&
    Number.isSafeInteger(digest.bytes) &&
    Number.isSafeInteger(digest.rows)
  );
}

export function isDigestSettings(value: unknown): value is DigestSettings {
  const candidate = value as Partial<DigestSettings> | null;
  // lc_monetary may be empty (the server's environment decides), the others never are.
  return (
    (["timeZone", "byteaOutput", "lcMonetary", "clientEncoding"] as const).every((key) => typeof candidate?.[key] === "string") &&
    candidate?.timeZone !== "" &&
    candidate?.byteaOutput !== "" &&
    candidate?.clientEncoding !== ""
  );
}

/** What a contents record holds of the digests. */
export interface TableDigests {
  digests: TableDigest[];
  digestSettings: DigestSettings;
}

/**
 * Digests pg_dump's archive as it streams (`archive`: the uncompressed bytes pg_dump writes), for the record of a
 * dump of `database`; `outputSettings` are pg_dump's session defaults. An archive the reader cannot read fails
 * the backup: pg_dump wrote something pgvault could not restore-check either.
 */
export async function digestArchive(archive: AsyncIterable<Buffer>, database: string, outputSettings: Omit<DigestSettings, "clientEncoding">): Promise<TableDigests> {
  let read: ArchiveDigests;
  // The input's own failure (pg_dump stopped) is what the reader's complaint about a cut archive would be about.
  let inputFailure: unknown;
  async function* watched(): AsyncGenerator<Buffer> {
    try {
      yield* archive;
    } catch (err) {
      inputFailure = err;
      throw err;
    }
  }
  try {
    read = await digestArchiveTables(readArchive(watched(), `pg_dump's archive of database '${database}'`));
  } catch (err) {
    if (inputFailure !== undefined) throw inputFailure;
    if (err instanceof PgVaultError && err.code === "UserErrorRecoveryPointCorrupted") {
      throw new PgVaultError("SystemErrorUnexpected", `The table digests could not be taken: ${err.message}. Nothing was stored.`);
    }
    throw err;
  }
  if (!read.clientEncoding) {
    throw new PgVaultError("SystemErrorUnexpected", `pg_dump's archive of database '${database}' names no client encoding; the table digests could not be taken.`);
  }
  return { digests: read.digests, digestSettings: { ...outputSettings, clientEncoding: read.clientEncoding } };
}
