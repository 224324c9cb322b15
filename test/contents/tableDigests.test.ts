/**
 * The pieces of the table digests that need no archive: the column list of pg_dump's COPY statements, the digest
 * of COPY text, and the drill's read-back (pg-copy-streams) against pg_dump's own plain output of the same tables.
 */
import pg from "pg";
import { beforeAll, describe, expect, test } from "vitest";
import type { ArchiveEvent, TocEntry } from "../../shared/archive/archiveTypes";
import { copyColumns, CopyTextDigest, digestArchiveTables } from "../../shared/contents/tableDigests";
import { compareDigests, readBackTables } from "../../shared/verify/digestReadBack";
import { plainDumpCopyBlocks } from "../support/copyBlocks";
import { cluster, createDatabase, seedRichDatabase, uniqueName } from "../support/testDatabase";

describe("the column list of a COPY statement", () => {
  test.each([
    ["COPY public.t (a, b) FROM stdin;", ["a", "b"]],
    ['COPY "Ünïcødé Schéma"."Größe ""quoted"" table" ("Spalte Ä", payload, "日本語") FROM stdin;', ["Spalte Ä", "payload", "日本語"]],
    ['COPY "we(ird"."t.x" ("a, b", "c)") FROM stdin;', ["a, b", "c)"]],
    // pg_dump writes no list for a table without dumped columns.
    ["COPY public.empty  FROM stdin;", []],
  ])("when it is %s, then its columns are read as pg_dump wrote them", (statement, columns) => {
    expect(copyColumns(statement)).toEqual(columns);
  });

  test.each([["INSERT INTO t VALUES (1);"], ['COPY public."open (a) FROM stdin;'], ["COPY public.t (a b) FROM stdin;"], ["COPY public.t (a) TO stdout;"]])(
    "when it is %s, then it is not recognised",
    (statement) => {
      expect(copyColumns(statement)).toBeUndefined();
    },
  );
});

describe("the digest of COPY text", () => {
  test("when rows arrive in chunks cut anywhere, then the digest, bytes and rows are those of the whole text", () => {
    const text = Buffer.from("1\ta\\tb\\nc\n2\t\\N\n3\t✓\n");
    const whole = new CopyTextDigest();
    whole.update(text);
    const cut = new CopyTextDigest();
    for (let at = 0; at < text.length; at += 3) cut.update(text.subarray(at, at + 3));
    expect(cut.result()).toEqual(whole.result());
    expect(whole.result()).toMatchObject({ bytes: text.length, rows: 3 });
  });
});

/** A table-of-contents entry with only what the digests look at. */
function tocEntry(dumpId: number, desc: string, namespace: string, tag: string, fields: Partial<TocEntry> = {}): TocEntry {
  return {
    dumpId, hasData: desc === "TABLE DATA", tableOid: 0, oid: 0, tag, desc, section: "data", defn: "", dropStmt: "", copyStmt: "",
    namespace, tablespace: "", tableAccessMethod: "", relkind: "", owner: "", dependencies: [], ...fields,
  };
}

async function* eventsOf(events: ArchiveEvent[]): AsyncGenerator<ArchiveEvent> {
  yield* events;
}

describe("digests from the archive's events", () => {
  test("when an extension's configuration table has data but no TABLE entry, then it gets no digest; a table's data in many pieces gets one", async () => {
    const orders = tocEntry(3, "TABLE DATA", "sales", "orders", { copyStmt: "COPY sales.orders (id, note) FROM stdin;\n" });
    // As pg_dump writes an extension's configuration table (pg_extension_config_dump): data, no TABLE entry.
    const config = tocEntry(4, "TABLE DATA", "public", "spatial_ref_sys", { copyStmt: "COPY public.spatial_ref_sys (srid) FROM stdin;\n" });
    const entries = [
      tocEntry(1, "ENCODING", "", "ENCODING", { defn: "SET client_encoding = 'LATIN1';\n" }),
      tocEntry(2, "TABLE", "sales", "orders"),
      orders,
      config,
    ];
    const rows = ["1\tfirst\n", "2\t\\N\n", "3\tthird\n"];
    const { digests, clientEncoding } = await digestArchiveTables(
      eventsOf([
        { type: "toc", entries },
        { type: "dataStart", entry: orders, kind: "table" },
        ...rows.map((row): ArchiveEvent => ({ type: "data", entry: orders, bytes: Buffer.from(row) })),
        { type: "dataEnd", entry: orders, storedBytes: 0, bytes: 0 },
        { type: "dataStart", entry: config, kind: "table" },
        { type: "data", entry: config, bytes: Buffer.from("900913\n") },
        { type: "dataEnd", entry: config, storedBytes: 0, bytes: 0 },
      ]),
    );
    const whole = new CopyTextDigest();
    whole.update(Buffer.from(rows.join("")));
    expect(clientEncoding).toBe("LATIN1");
    expect(digests).toEqual([{ schema: "sales", name: "orders", columns: ["id", "note"], ...whole.result() }]);
    expect(digests[0]).toMatchObject({ rows: 3 });
  });
});

describe("reading tables back", () => {
  let database: string;
  beforeAll(async () => {
    database = uniqueName("readback");
    await createDatabase(database);
    await seedRichDatabase(database);
  });

  test("when the drill reads tables back through pg-copy-streams, then each digest is that of the rows pg_dump writes for them", async () => {
    const blocks = await plainDumpCopyBlocks(database);
    const tables = [...blocks.keys()].map((statement) => {
      const columns = copyColumns(statement);
      expect(columns).toBeDefined();
      return { statement, columns: columns! };
    });
    expect(tables).toHaveLength(3);
    const client = new pg.Client({ host: cluster().host, port: cluster().port, user: cluster().user, password: cluster().password, database });
    await client.connect();
    try {
      const settings = (await client.query<{ timeZone: string; byteaOutput: string; lcMonetary: string }>(
        `SELECT current_setting('TimeZone') AS "timeZone", current_setting('bytea_output') AS "byteaOutput", current_setting('lc_monetary') AS "lcMonetary"`,
      )).rows[0]!;
      const named = [
        { schema: "sales", name: "orders", dumpedAs: "COPY sales.orders " },
        { schema: "Ünïcødé Schéma", name: 'Größe "quoted" table', dumpedAs: 'COPY "Ünïcødé Schéma"."Größe ""quoted"" table" ' },
        { schema: "public", name: "documents", dumpedAs: "COPY public.documents " },
      ].map(({ dumpedAs, ...table }) => {
        const found = tables.find(({ statement }) => statement.startsWith(dumpedAs))!;
        const expected = new CopyTextDigest();
        expected.update(blocks.get(found.statement)!);
        return { ...table, columns: found.columns, ...expected.result() };
      });
      const readBack = await readBackTables(client, named, { ...settings, clientEncoding: "UTF8" });
      expect(readBack).toEqual(named.map(({ sha256, bytes, rows }) => ({ sha256, bytes, rows })));
      expect(compareDigests(named, readBack, true)).toEqual([]);
      // One byte off in what was recorded: named when the backup is not encrypted, counted when it is.
      const altered = named.map((table, index) => (index === 1 ? { ...table, sha256: "0".repeat(64) } : table));
      expect(compareDigests(altered, readBack, true)).toEqual([expect.stringMatching(/^table "Ünïcødé Schéma"\."Größe ""quoted"" table": its data differs from what was dumped/)]);
      expect(compareDigests(altered, readBack, false)).toEqual(["1 of 3 tables restored other data than was dumped (table names are not reported: the backup is encrypted)"]);
    } finally {
      await client.end();
    }
  });

  test("when a recorded table is not in the database, then the read-back says so instead of failing", async () => {
    const client = new pg.Client({ host: cluster().host, port: cluster().port, user: cluster().user, password: cluster().password, database });
    await client.connect();
    try {
      const missing = { schema: "sales", name: "gone", columns: ["id"], sha256: "0".repeat(64), bytes: 0, rows: 0 };
      const readBack = await readBackTables(client, [missing], { timeZone: "UTC", byteaOutput: "hex", lcMonetary: "C", clientEncoding: "UTF8" });
      expect(readBack).toEqual([{ unreadable: expect.stringContaining('relation "sales.gone" does not exist') }]);
      expect(compareDigests([missing], readBack, true)).toEqual([expect.stringContaining(`table "sales"."gone" could not be read back`)]);
    } finally {
      await client.end();
    }
  });
});
