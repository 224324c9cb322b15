/**
 * The archive reader on archives made by the real pg_dump of the test cluster (uncompressed and gzip), fed in
 * uneven pieces: the table of contents agrees with `pg_restore --list`, every table's data is byte for byte what
 * `COPY ... TO STDOUT` gives under pg_dump's session settings, large objects are their bytes, and damaged archives
 * are refused as corrupted.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { readArchive } from "../../shared/archive/archiveReader";
import type { ArchiveEvent, ArchiveHeader, TocEntry } from "../../shared/archive/archiveTypes";
import { PgVaultError } from "../../shared/errors";
import { copyOutAsDumped } from "../support/archiveFixture";
import { cluster, createDatabase, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const execFileAsync = promisify(execFile);

async function pgTool(tool: string, args: string[]): Promise<Buffer> {
  const server = cluster();
  const env = { ...process.env, PGHOST: server.host, PGPORT: String(server.port), PGUSER: server.user, PGPASSWORD: server.password };
  return (await execFileAsync(path.join(server.binDir, tool), args, { env, encoding: "buffer", maxBuffer: 256 * 1024 * 1024 })).stdout;
}

/** `pg_restore --list` of the archive. */
async function listing(archive: Buffer): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "pgvault-archive-"));
  try {
    await writeFile(path.join(dir, "a.dump"), archive);
    return (await pgTool("pg_restore", ["--list", path.join(dir, "a.dump")])).toString("utf8");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Entries pg_restore acts on but never lists (pg_backup_archiver.c `_tocEntryRequired`: REQ_SPECIAL, DATABASE). */
const unlisted = new Set(["ENCODING", "STDSTRINGS", "SEARCHPATH", "DATABASE", "DATABASE PROPERTIES"]);

/** The bytes in pieces of uneven sizes (1 byte to 64 KiB), as a network stream delivers them. */
async function* inPieces(bytes: Buffer, seed: number): AsyncGenerator<Buffer> {
  let state = seed;
  for (let at = 0; at < bytes.length; ) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const size = 1 + (state % (state % 3 === 0 ? 16 : 65536));
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

interface ReadBack {
  header: ArchiveHeader;
  entries: readonly TocEntry[];
  tables: Map<string, Buffer>;
  largeObjects: Map<number, Buffer>;
}

async function readAll(archive: AsyncIterable<Buffer>): Promise<ReadBack> {
  let header: ArchiveHeader | undefined;
  let entries: readonly TocEntry[] = [];
  const tables = new Map<string, Buffer>();
  const largeObjects = new Map<number, Buffer>();
  // Where the data of the current table or large object goes (copied: event buffers are valid until the next event).
  let parts: Buffer[] = [];
  let store: (data: Buffer) => void = () => undefined;
  for await (const event of readArchive(archive, "test.dump") as AsyncIterable<ArchiveEvent>) {
    if (event.type === "header") header = event.header;
    else if (event.type === "toc") entries = event.entries;
    else if (event.type === "dataStart" && event.kind === "table") {
      const name = `${event.entry.namespace}.${event.entry.tag}`;
      parts = [];
      store = (data) => tables.set(name, data);
    } else if (event.type === "largeObject") {
      store(Buffer.concat(parts));
      const oid = event.oid;
      parts = [];
      store = (data) => largeObjects.set(oid, data);
    } else if (event.type === "data") parts.push(Buffer.from(event.bytes));
    else if (event.type === "dataEnd") {
      store(Buffer.concat(parts));
      store = () => undefined;
    }
  }
  return { header: header!, entries, tables, largeObjects };
}

describe("pg_dump custom-format archives, read as they stream", () => {
  const database = uniqueName("archive_reader");
  beforeAll(async () => {
    await createDatabase(database);
    await seedRichDatabase(database);
    await withAdmin(database, (c) =>
      c.query(`
        CREATE TABLE public.odd (id int, t text, b bytea, a int[], j json, f float8, ts timestamptz, iv interval);
        INSERT INTO public.odd VALUES
          (1, E'tab\\there, newline\\nthere, cr\\r, backslash \\\\ and \\\\.', '\\x00ff5c2e0a', '{1,NULL,3}', '{"k": "v\\n"}', 0.1, '2024-12-31 23:59:59.123456+01', '1 year 2 mons 3 days 04:05:06.7'),
          (2, NULL, NULL, NULL, NULL, 'NaN', 'infinity', '-1 day'),
          (3, '', '', '{}', 'null', -0.0, '1999-01-08 04:05:06', '0'),
          (4, '\\.', 'x', '{7}', '[]', 1e308, now(), '1 microsecond'),
          -- Wider than the reader's 256 KiB batches.
          (5, repeat('wide row ', 60000), decode(repeat('ab', 300000), 'hex'), NULL, NULL, 5, NULL, NULL);
        CREATE TABLE public.empty_table (id int);
        -- A row small enough to be the end marker, then one wider than a batch: they must stay in order.
        CREATE TABLE public.narrow_then_wide (t text);
        INSERT INTO public.narrow_then_wide VALUES (repeat('n', 200000)), ('a'), (repeat('w', 300000)), ('b');
        CREATE MATERIALIZED VIEW public.odd_count AS SELECT count(*) FROM public.odd;
        CREATE SEQUENCE public.seq START 42;
      `),
    );
  });

  for (const [label, args] of [
    ["uncompressed", ["--compress=0"]],
    ["gzip", ["--compress=6"]],
  ] as const) {
    it(`when the archive is ${label}, then its table of contents is pg_restore's and every table's data is its COPY output`, async () => {
      const archive = await pgTool("pg_dump", ["--format=custom", ...args, database]);
      const read = await readAll(inPieces(archive, 7));
      expect(read.header.compression).toBe(label === "gzip" ? "gzip" : "none");
      expect(read.header.database).toBe(database);
      expect(read.header.version).toMatch(/^1\.1[4-6]\.0$/);
      expect(read.header.dumpVersion).toMatch(/^1[2-8]\./);

      // pg_restore --list: "<dumpId>; <tableoid> <oid> <desc> <namespace|-> <tag> <owner|->".
      const listed = (await listing(archive))
        .split("\n")
        .filter((line) => /^\d+;/.test(line))
        .map((line) => Number(line.split(";")[0]));
      const listedEntries = read.entries.filter((entry) => !unlisted.has(entry.desc));
      expect(listedEntries.map((entry) => entry.dumpId).sort((a, b) => a - b)).toEqual(listed.sort((a, b) => a - b));
      const listedText = await listing(archive);
      for (const entry of listedEntries) {
        const line = listedText.split("\n").find((l) => l.startsWith(`${entry.dumpId}; `))!;
        expect(line).toContain(` ${entry.desc} `);
        expect(line).toContain(entry.tag);
      }

      const tableData = read.entries.filter((entry) => entry.desc === "TABLE DATA");
      expect(tableData.length).toBeGreaterThanOrEqual(5);
      for (const entry of tableData) {
        const expected = await copyOutAsDumped(database, entry.copyStmt.replace(/ FROM stdin;\s*$/, " TO STDOUT"));
        expect(read.tables.get(`${entry.namespace}.${entry.tag}`)?.equals(expected), `${entry.namespace}.${entry.tag}`).toBe(true);
      }
      expect(read.tables.get("public.empty_table")?.length).toBe(0);

      const los = await withAdmin(database, (c) => c.query<{ oid: number; data: Buffer }>(`SELECT oid::int AS oid, lo_get(oid) AS data FROM pg_largeobject_metadata ORDER BY oid`));
      expect(los.rows).toHaveLength(2);
      for (const lo of los.rows) expect(read.largeObjects.get(lo.oid)?.equals(lo.data)).toBe(true);
    });
  }

  it("when the archive is cut short, or is not an archive, then it is refused as corrupted", async () => {
    const archive = await pgTool("pg_dump", ["--format=custom", "--compress=0", database]);
    for (const cut of [3, 40, Math.floor(archive.length / 3), archive.length - 1]) {
      const failure = await readAll(inPieces(archive.subarray(0, cut), cut)).then(() => undefined, (err: unknown) => err);
      expect(failure, `cut at ${cut}`).toBeInstanceOf(PgVaultError);
      expect((failure as PgVaultError).code).toBe("UserErrorRecoveryPointCorrupted");
    }
    const notArchive = await readAll(inPieces(Buffer.from("-- PostgreSQL database dump\n"), 1)).then(() => undefined, (err: unknown) => err);
    expect((notArchive as PgVaultError).message).toMatch(/not a readable pg_dump archive.*PGDMP/);
  });
});
