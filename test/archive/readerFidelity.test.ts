/**
 * The archive reader against the real pg_dump 15, exactly: for a database with every kind of object (and a LATIN1
 * one), uncompressed (-Z0) and gzip (-Z6), the table of contents equals `pg_restore --list --verbose` line for line
 * (dump ids, catalog ids, kinds, schemas, tags, owners, dependencies; pg_backup_archiver.c `PrintTOCSummary`), every
 * table's data is byte for byte `COPY <table> (<columns>) TO STDOUT` under pg_dump's session settings, with the
 * column list taken from the catalog, and large objects are their bytes. The same archives recompressed as pg_dump
 * 16+ writes lz4 and zstd (test/support/archiveFixture.ts says why they are not pg_dump's own) read the same.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { TocEntry } from "../../shared/archive/archiveTypes";
import { copyOutAsDumped, customArchive, inRandomPieces, pg15Tool, readWholeArchive, recompressArchive, seedEveryObjectKind, seedLatin1Database, type ArchiveContents } from "../support/archiveFixture";
import { SeededRandom } from "../support/seededRandom";
import { createDatabase, dropDatabasesAndRoles, uniqueName, withAdmin } from "../support/testDatabase";

const grantee = uniqueName("reader_grantee");
const everyKind = uniqueName("every_kind");
const latin1 = uniqueName("latin1_archive");
/** Node's name for each database's encoding (what pg_restore prints and COPY sends are in it). */
const encodingOf: Record<string, BufferEncoding> = { [everyKind]: "utf8", [latin1]: "latin1" };

beforeAll(async () => {
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${pg.escapeIdentifier(grantee)} NOLOGIN`));
  await createDatabase(everyKind);
  await seedEveryObjectKind(everyKind, grantee, 60_000);
  await seedLatin1Database(latin1);
});
afterAll(() => dropDatabasesAndRoles([everyKind, latin1], [grantee]));

/** `pg_restore --list --verbose` of the archive: its entry and dependency lines, in the archive's encoding. */
async function restoreListing(archive: Buffer, encoding: BufferEncoding): Promise<string[]> {
  const dir = await mkdtemp(path.join(tmpdir(), "pgvault-listing-"));
  try {
    await writeFile(path.join(dir, "a.dump"), archive);
    const text = (await pg15Tool("pg_restore", ["--list", "--verbose", path.join(dir, "a.dump")])).toString(encoding);
    return text.split("\n").filter((line) => /^\d+; /.test(line) || line.startsWith(";\tdepends on:"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The lines PrintTOCSummary prints for the entries: sanitize_line turns newlines into spaces, an empty schema into "-". */
function listingOf(entries: readonly TocEntry[]): string[] {
  const sanitize = (text: string, hyphen: boolean) => (text === "" && hyphen ? "-" : text.replace(/[\r\n]/g, " "));
  return entries.flatMap((e) => [
    `${e.dumpId}; ${e.tableOid} ${e.oid} ${e.desc} ${sanitize(e.namespace, true)} ${sanitize(e.tag, false)} ${sanitize(e.owner, false)}`,
    ...(e.dependencies.length > 0 ? [`;\tdepends on: ${e.dependencies.join(" ")}`] : []),
  ]);
}

interface CatalogTable {
  oid: number;
  copyFrom: string;
  copyTo: string;
}

/**
 * Every ordinary table of the database with the COPY statements pg_dump would write for it, built from the catalog:
 * the columns that are neither dropped nor generated, in order, quoted as quote_ident quotes (pg_dump's fmtId rule).
 */
async function catalogTables(database: string): Promise<CatalogTable[]> {
  return withAdmin(database, async (c) => {
    const { rows } = await c.query<{ oid: number; target: string; names: string[] }>(`
      SELECT c.oid::int AS oid, format('%I.%I (%s)', n.nspname, c.relname, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)) AS target,
             ARRAY[n.nspname::text, c.relname::text] || array_agg(a.attname::text ORDER BY a.attnum) AS names
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
      GROUP BY c.oid, n.nspname, c.relname`);
    return rows.map((r) => {
      const [schema, table, ...columns] = r.names.map(asciiIdentifier);
      return { oid: r.oid, copyFrom: `COPY ${r.target} FROM stdin;\n`, copyTo: `COPY ${schema}.${table} (${columns.join(", ")}) TO STDOUT` };
    });
  });
}

/**
 * An identifier in ASCII alone (U&"..." with Unicode escapes), so a statement keeps its meaning whatever the session's
 * client encoding: the COPY below runs in the database's encoding, but node-postgres sends query text as UTF-8.
 */
function asciiIdentifier(name: string): string {
  let out = "";
  for (const char of name) {
    const code = char.codePointAt(0)!;
    if (char === '"') out += '""';
    else if (char === "\\") out += "\\\\";
    else if (code >= 0x20 && code < 0x7f) out += char;
    else out += code <= 0xffff ? `\\${code.toString(16).padStart(4, "0")}` : `\\+${code.toString(16).padStart(6, "0")}`;
  }
  return `U&"${out}"`;
}

async function largeObjectsOf(database: string): Promise<Map<number, Buffer>> {
  const { rows } = await withAdmin(database, (c) => c.query<{ oid: number; data: Buffer }>(`SELECT oid::int AS oid, lo_get(oid) AS data FROM pg_largeobject_metadata`));
  return new Map(rows.map((r) => [r.oid, r.data]));
}

/** What reading the archive gives, fed in uneven pieces. */
async function read(archive: Buffer, seed: number): Promise<ArchiveContents> {
  return readWholeArchive(inRandomPieces(archive, new SeededRandom(seed)));
}

/** Same tables and large objects, byte for byte (compared as buffers: a deep equality walks megabytes slowly). */
function expectSameData(got: ArchiveContents, expected: ArchiveContents): void {
  expect([...got.tables.keys()]).toEqual([...expected.tables.keys()]);
  for (const [dumpId, rows] of expected.tables) expect(got.tables.get(dumpId)?.equals(rows), `table data ${dumpId}`).toBe(true);
  expect([...got.largeObjects.keys()]).toEqual([...expected.largeObjects.keys()]);
  for (const [oid, bytes] of expected.largeObjects) expect(got.largeObjects.get(oid)?.equals(bytes), `large object ${oid}`).toBe(true);
}

describe("pg_dump 15 archives, read exactly", () => {
  for (const database of [everyKind, latin1]) {
    for (const level of [0, 6]) {
      const name = `${database === latin1 ? "a LATIN1 database" : "a database with every kind of object"} at -Z${level}`;

      test(`when pg_dump 15 dumps ${name}, then the table of contents is pg_restore --list --verbose, line for line`, async () => {
        const archive = await customArchive(database, level);
        const contents = await read(archive, level + 1);
        expect(contents.header).toMatchObject({ version: "1.14.0", compression: level === 0 ? "none" : "gzip", database, intSize: 4, offSize: 8 });
        expect(contents.header.dumpVersion).toMatch(/^15\./);
        expect(listingOf(contents.entries)).toEqual(await restoreListing(archive, encodingOf[database]!));
        if (database === everyKind) {
          const kinds = new Set(contents.entries.map((entry) => entry.desc));
          for (const kind of ["TABLE", "TABLE DATA", "BLOB", "BLOBS", "ACL", "COMMENT", "TYPE", "DOMAIN", "FUNCTION", "PROCEDURE", "AGGREGATE", "OPERATOR", "TRIGGER", "INDEX", "CONSTRAINT", "FK CONSTRAINT", "POLICY", "ROW SECURITY", "RULE", "STATISTICS", "MATERIALIZED VIEW", "MATERIALIZED VIEW DATA", "SEQUENCE", "SEQUENCE SET", "SEQUENCE OWNED BY", "DEFAULT", "DEFAULT ACL", "VIEW", "EXTENSION", "SCHEMA", "TEXT SEARCH CONFIGURATION", "COLLATION", "FOREIGN DATA WRAPPER", "SERVER", "USER MAPPING", "PUBLICATION", "PUBLICATION TABLE", "EVENT TRIGGER", "TABLE ATTACH", "ENCODING", "STDSTRINGS", "SEARCHPATH"]) {
            expect(kinds, kind).toContain(kind);
          }
        }
      });

      test(`when pg_dump 15 dumps ${name}, then every table's data is its COPY TO STDOUT output and every large object its bytes`, async () => {
        const archive = await customArchive(database, level);
        const contents = await read(archive, level + 100);
        const tableData = contents.entries.filter((entry) => entry.desc === "TABLE DATA");
        const tables = await catalogTables(database);
        expect(tableData.map((entry) => entry.oid).sort()).toEqual(tables.map((table) => table.oid).sort());
        for (const table of tables) {
          const entry = tableData.find((candidate) => candidate.oid === table.oid)!;
          expect(entry.copyStmt, table.copyTo).toBe(table.copyFrom);
          const expected = await copyOutAsDumped(database, table.copyTo);
          const got = contents.tables.get(entry.dumpId);
          expect(got?.length, table.copyTo).toBe(expected.length);
          expect(got?.equals(expected), table.copyTo).toBe(true);
        }
        const largeObjects = await largeObjectsOf(database);
        expect([...contents.largeObjects.keys()].sort()).toEqual([...largeObjects.keys()].sort());
        for (const [oid, bytes] of largeObjects) expect(contents.largeObjects.get(oid)?.equals(bytes), `large object ${oid}`).toBe(true);
        if (database === everyKind) expect(Math.max(...[...contents.tables.values()].map((rows) => rows.length))).toBeGreaterThan(5 * 1024 * 1024);
      });
    }
  }

  test("when pg_dump 15 writes the archive to a file (data offsets set, its table of contents rewritten at the end), then it reads as the piped archive does", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pgvault-seekable-"));
    try {
      const file = path.join(dir, "a.dump");
      await pg15Tool("pg_dump", ["--format=custom", "--compress=6", `--file=${file}`, everyKind]);
      const fromFile = await read(await readFile(file), 11);
      const piped = await read(await customArchive(everyKind, 6), 12);
      expect(fromFile.entries).toEqual(piped.entries);
      expect(fromFile.structure).toEqual(piped.structure);
      expectSameData(fromFile, piped);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  for (const algorithm of ["lz4", "zstd"] as const) {
    test(`when the archive is recompressed with ${algorithm} as pg_dump 16+ writes it, then it reads as the uncompressed archive does`, async () => {
      const plain = await customArchive(everyKind, 0);
      const recompressed = await recompressArchive(plain, algorithm);
      expect(recompressed.length).toBeLessThan(plain.length / 2);
      const expected = await read(plain, 5);
      const got = await read(recompressed, 6);
      expect(got.header).toEqual({ ...expected.header, version: "1.15.0", compression: algorithm });
      expect(got.entries).toEqual(expected.entries);
      expect(got.structure).toEqual(expected.structure);
      expectSameData(got, expected);
    });
  }
});
