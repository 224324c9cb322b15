/**
 * The drill's half of the table digests (docs/architecture.md, "Per-table digests"): each digested table of the
 * restored scratch database read back with `COPY <table> (<columns>) TO STDOUT` through pg-copy-streams, hashed as
 * it streams, in a session with the output settings pg_dump's had, and compared with the digest taken from the
 * archive at backup time.
 */
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { CopyTextDigest, dumpSessionSettings, type DigestSettings, type TableDigest } from "../contents/tableDigests";

const ident = (name: string) => pg.escapeIdentifier(name);

/** A table's data as the drill read it back; `unreadable` when the table or one of its columns is not there. */
export type ReadBack = { sha256: string; bytes: number; rows: number } | { unreadable: string };

/** Every setting that shapes COPY text, as pg_dump's session had it. */
function readBackSettings(recorded: DigestSettings): [string, string][] {
  return [
    ...Object.entries(dumpSessionSettings),
    // pg_dump's secure search path (pg_dump.c setup_connection): reg* values come out schema-qualified.
    ["search_path", ""],
    ["TimeZone", recorded.timeZone],
    ["bytea_output", recorded.byteaOutput],
    ["lc_monetary", recorded.lcMonetary],
    ["client_encoding", recorded.clientEncoding],
  ];
}

/** `COPY ... TO STDOUT` of one table, as pg_dump's `COPY ... FROM stdin` names it. */
export function copyOutStatement(table: Pick<TableDigest, "schema" | "name" | "columns">): string {
  const columns = table.columns.length ? ` (${table.columns.map(ident).join(", ")})` : "";
  return `COPY ${ident(table.schema)}.${ident(table.name)}${columns} TO STDOUT`;
}

/** SQLSTATEs of a table or column the restore did not bring back: a difference, reported as such. */
const missingObject = new Set(["42P01", "42703", "3F000"]);

/**
 * Reads back every table of `digests` on `client` (the scratch database, before anything writes to it) and digests
 * what COPY returns. Leaves the session's output settings changed: use a session of its own, or read back last.
 */
export async function readBackTables(client: pg.Client, digests: readonly TableDigest[], settings: DigestSettings): Promise<ReadBack[]> {
  for (const [name, value] of readBackSettings(settings)) await client.query("SELECT pg_catalog.set_config($1, $2, false)", [name, value]);
  const results: ReadBack[] = [];
  for (const table of digests) {
    const digest = new CopyTextDigest();
    try {
      // SQL text: copyOutStatement quotes every name with pg.escapeIdentifier
      for await (const chunk of client.query(copyTo(copyOutStatement(table))) as AsyncIterable<Buffer>) digest.update(chunk);
    } catch (err) {
      const code = (err as { code?: string }).code ?? "";
      if (!missingObject.has(code)) throw err;
      results.push({ unreadable: (err as Error).message });
      continue;
    }
    results.push(digest.result());
  }
  return results;
}

const label = (table: Pick<TableDigest, "schema" | "name">) => `${ident(table.schema)}.${ident(table.name)}`;

/**
 * The tables whose restored data is not what was dumped, one line each; with `nameTables` false (an encrypted
 * backup) one line counting them.
 */
export function compareDigests(recorded: readonly TableDigest[], readBack: readonly ReadBack[], nameTables: boolean): string[] {
  const differing: string[] = [];
  recorded.forEach((table, index) => {
    const found = readBack[index]!;
    if ("unreadable" in found) differing.push(`table ${label(table)} could not be read back (${found.unreadable})`);
    else if (found.sha256 !== table.sha256) {
      differing.push(
        `table ${label(table)}: its data differs from what was dumped (SHA-256 ${table.sha256.slice(0, 16)}..., ${table.rows} rows, ${table.bytes} bytes at backup; ` +
          `${found.sha256.slice(0, 16)}..., ${found.rows} rows, ${found.bytes} bytes restored)`,
      );
    }
  });
  if (nameTables || differing.length === 0) return differing;
  return [`${differing.length} of ${recorded.length} tables restored other data than was dumped (table names are not reported: the backup is encrypted)`];
}
