/**
 * Per-table content digests (docs/architecture.md, "Per-table digests"): taken from the archive while a backup
 * streams, recorded with the output settings of pg_dump's session, and compared by the drill with the restored
 * tables read back through pg-copy-streams. A source database with every kind of value, session defaults of its
 * own (TimeZone, bytea_output) and a table stored out of key order; an archive altered in one row of one table
 * with every outer checksum fixed; an encrypted one; a record without digests. Real PostgreSQL, Azurite, pg_dump
 * and pg_restore throughout.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { getJob } from "../../shared/catalog/jobRows";
import type { ContentsRecord } from "../../shared/contents/contentsRecord";
import type { DumpRecoveryPoint } from "../../shared/domain";
import { unwrapDataKey } from "../../shared/encryption/dataKeys";
import { envSecret } from "../support/backupFixture";
import { decodeStoredDump, decryptStoredDump, encodeStoredDump } from "../support/storedDump";
import { plainDumpCopyBlocks } from "../support/copyBlocks";
import { createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";
import { backUpOnce, blobOf, recordOf, replaceRecord, replaceStoredDump, runVerify, sealedForPoint, storedPoint } from "../support/verifyFixture";

let source: string;
let secretRef: string;
const envKeySetting = "PGVAULT_DIGEST_DRILL_KEK";
/** A value that occurs once in the source, in `kinds.values`: the row the tampering tests alter. */
const needle = "needle-7f3a9c";

/**
 * Every kind of value whose text a setting or an escape could change, a table whose physical order is not its
 * key order, a table without columns, and database defaults other than the server's (which the scratch database
 * of a drill does not get).
 */
async function seedSource(database: string): Promise<void> {
  await withAdmin(database, async (c) => {
    await c.query(`
      CREATE SCHEMA kinds;
      CREATE TABLE kinds."values" (
        id int PRIMARY KEY, at timestamptz, raw bytea, f float8, n numeric, span interval, price money, j json, jb jsonb,
        ints int[], words text[], note text, d date, u uuid, addr inet,
        doubled numeric GENERATED ALWAYS AS (n * 2) STORED);
      INSERT INTO kinds."values" (id, at, raw, f, n, span, price, j, jb, ints, words, note, d, u, addr)
        SELECT g,
               timestamptz '2024-03-31 01:30:00+00' + g * interval '7 hours 13 minutes',
               decode(md5(g::text), 'hex') || '\\x00095c0a'::bytea,
               CASE g % 5 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN '-Infinity'::float8 WHEN 2 THEN 0.1 * g ELSE 1e300 / g END,
               (g * 1.000000000000001)::numeric,
               make_interval(0, g % 14, 0, g % 40, g % 24, g % 60, (g / 7.0)::float8),
               (g * 12.34)::numeric::money,
               json_build_object('n', g, 'text', E'tab\\there "q" \\\\ ✓'),
               jsonb_build_object('n', g, 'nested', jsonb_build_array(g, null, 'x')),
               ARRAY[g, -g, NULL],
               ARRAY['a b', E'line\\nbreak', NULL, 'ü'],
               CASE WHEN g % 11 = 0 THEN NULL ELSE E'tab\\tnewline\\nbackslash\\\\ carriage\\r ✓ row ' || g END,
               date '2000-02-29' + g,
               md5(g::text)::uuid,
               ('10.0.' || (g % 256) || '.' || (g % 200) || '/24')::inet
        FROM generate_series(1, 400) g;
      UPDATE kinds."values" SET note = '${needle}' WHERE id = 123;

      CREATE TABLE kinds.shuffled (id int PRIMARY KEY, grp int NOT NULL, label text);
      INSERT INTO kinds.shuffled SELECT g, (g * 7919) % 101, 'label ' || g FROM generate_series(1, 3000) g;
      UPDATE kinds.shuffled SET label = label || ' updated' WHERE id % 7 = 0;
      DELETE FROM kinds.shuffled WHERE id % 5 = 0;
      INSERT INTO kinds.shuffled SELECT -g, g % 101, 'late ' || g FROM generate_series(1, 300) g;
      CREATE INDEX shuffled_grp ON kinds.shuffled (grp);
      CLUSTER kinds.shuffled USING shuffled_grp;
      UPDATE kinds.shuffled SET label = label || ' again' WHERE id % 13 = 0;

      CREATE TABLE kinds.no_columns ();
      INSERT INTO kinds.no_columns SELECT FROM generate_series(1, 3);
    `);
    await c.query(`ALTER DATABASE ${database} SET TimeZone = 'Pacific/Chatham'`);
    await c.query(`ALTER DATABASE ${database} SET bytea_output = 'escape'`);
  });
}

beforeAll(async () => {
  process.env[envKeySetting] = randomBytes(32).toString("base64");
  source = uniqueName("digest_src");
  await createDatabase(source);
  await seedSource(source);
  const role = uniqueName("digest_user");
  await createBackupRole(source, role, "pw-digest");
  await withAdmin("postgres", (c) => c.query(`ALTER ROLE ${role} CREATEDB`));
  secretRef = envSecret(`PGVAULT_SECRET_${role}`, role, "pw-digest");
});

afterAll(() => {
  delete process.env[envKeySetting];
});

const hex = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** The digests of a record by table name. */
const digestsByName = (record: ContentsRecord) => new Map((record.digests ?? []).map((digest) => [digest.name, digest]));

describe("table digests at backup", () => {
  test("when a database with its own TimeZone and bytea_output is backed up, then every table's digest is the SHA-256 of the rows pg_dump writes, with the settings it wrote them under", async () => {
    // What the app's own environment might hold must not reach pg_dump, nor the session the defaults are read in.
    const leaks = { PGOPTIONS: "-c TimeZone=America/New_York -c bytea_output=hex", PGTZ: "Asia/Tokyo", PGDATESTYLE: "German", PGCLIENTENCODING: "LATIN1" };
    Object.assign(process.env, leaks);
    let rp: DumpRecoveryPoint;
    try {
      ({ rp } = await backUpOnce(source, secretRef));
    } finally {
      for (const name of Object.keys(leaks)) delete process.env[name];
    }
    const record = await recordOf(rp);
    const lcMonetary = await withAdmin(source, async (c) => (await c.query<{ v: string }>("SELECT current_setting('lc_monetary') AS v")).rows[0]!.v);
    expect(record.digestSettings).toEqual({ timeZone: "Pacific/Chatham", byteaOutput: "escape", lcMonetary, clientEncoding: "UTF8" });

    const digests = digestsByName(record);
    expect([...digests.keys()].sort()).toEqual(["no_columns", "shuffled", "values"]);
    // Generated columns are not dumped, so not read back either; a table without columns has a COPY without a list.
    expect(digests.get("values")?.columns).toEqual(["id", "at", "raw", "f", "n", "span", "price", "j", "jb", "ints", "words", "note", "d", "u", "addr"]);
    expect(digests.get("no_columns")).toMatchObject({ columns: [], rows: 3, bytes: 3 });
    // Rows agree with the counts taken in pg_dump's snapshot.
    for (const table of record.tables) expect(digests.get(table.name)?.rows).toBe(table.rows);

    // Independently: pg_dump's own plain output of the same data, by the admin (the database's defaults apply to every user).
    const blocks = await plainDumpCopyBlocks(source);
    const plainDigests = new Set([...blocks.values()].map(hex));
    for (const digest of digests.values()) expect(plainDigests.has(digest.sha256)).toBe(true);
    // The settings matter: the database's own defaults shape the text (escape-format bytea, times in +12:45/+13:45).
    const valuesBlock = [...blocks.entries()].find(([statement]) => statement.startsWith('COPY kinds."values"'))![1].toString("utf8");
    expect(valuesBlock).toContain("\\\\000\\\\011");
    expect(valuesBlock).toMatch(/\+1[23]:45\t/);
  });

  test("when a table's physical order is not its key order, then the drill still reads it back in the order pg_dump wrote it, and succeeds", async () => {
    const ids = await withAdmin(source, async (c) => (await c.query<{ id: number }>("SELECT id FROM kinds.shuffled")).rows.map((row) => row.id));
    const sorted = [...ids].sort((a, b) => a - b);
    expect(ids).not.toEqual(sorted);
    // The scratch database gets none of the source database's defaults: the drill must set them itself.
    const drillDefaults = await withAdmin("postgres", async (c) => (await c.query<{ tz: string; bytea: string }>("SELECT current_setting('TimeZone') AS tz, current_setting('bytea_output') AS bytea")).rows[0]!);
    expect(drillDefaults).not.toEqual({ tz: "Pacific/Chatham", bytea: "escape" });

    const { instance, rp } = await backUpOnce(source, secretRef);
    const run = await runVerify(instance, rp);
    expect(run.state.error).toBeUndefined();
    expect(run.state.output).toMatchObject({ outcome: "Succeeded", tablesDigested: 3 });
    expect((await storedPoint(rp)).verification).toMatchObject({ outcome: "Succeeded", tablesChecked: 3, tablesDigested: 3, rowCountsRecorded: true });
    expect(run.logs.join("\n")).toContain("3 tables read back against their digests");
  });
});

/** The archive of a point with one character of `needle` changed: same length, same rows, same objects. */
function withOneRowAltered(archive: Buffer): Buffer {
  const at = archive.indexOf(needle);
  expect(at).toBeGreaterThan(0);
  expect(archive.indexOf(needle, at + 1)).toBe(-1);
  const altered = Buffer.from(archive);
  altered[at + needle.length - 1] = altered[at + needle.length - 1] === 0x63 ? 0x64 : 0x63;
  return altered;
}

describe("a drill of an archive altered in one row", () => {
  test("when one row of one table is altered in the stored archive (every outer checksum fixed), then only the digest catches it: the drill fails naming that table", async () => {
    const { instance, rp } = await backUpOnce(source, secretRef);
    const archive = decodeStoredDump(await blobOf(rp.blobs[0]!).downloadToBuffer());
    // Compressed and framed anew as pgvault stores it (every segment's checksum holds), the catalog's SHA-256 to match.
    const tampered = await replaceStoredDump(rp, await encodeStoredDump(withOneRowAltered(archive)));

    const run = await runVerify(instance, tampered);
    const job = await getJob(run.jobId);
    expect(job?.error?.code).toBe("UserErrorRecoveryPointCorrupted");
    const message = job?.error?.message ?? "";
    expect(message).toContain(`table "kinds"."values": its data differs from what was dumped`);
    // Nothing else differed: the restore succeeded, and every count matched.
    expect(message).not.toMatch(/shuffled|no_columns|rows at backup,|does not restore|SHA-256 of the stored/);
    expect(run.attempts.filter((a) => a.name === "restoreScratchDatabase")).toHaveLength(1);
    const record = await recordOf(rp);
    expect((await storedPoint(rp)).verification).toMatchObject({
      outcome: "Failed",
      tablesChecked: 3,
      rowsChecked: record.tables.reduce((sum, table) => sum + table.rows, 0),
      tablesDigested: 3,
      error: { code: "UserErrorRecoveryPointCorrupted", message },
    });

    // The same altered point with a record from before digests (counts only): the drill finds nothing wrong.
    const { digests: _digests, digestSettings: _settings, ...countsOnly } = record;
    await replaceRecord(rp, countsOnly);
    const countOnly = await runVerify(instance, await storedPoint(rp));
    expect(countOnly.state.error).toBeUndefined();
    expect(countOnly.state.output).toMatchObject({ outcome: "Succeeded", rowCountsRecorded: true });
    expect(countOnly.state.output).not.toHaveProperty("tablesDigested");
    expect(countOnly.logs.join("\n")).toContain("counts only: it has no table digests");
  });

  test("when an encrypted point's archive is altered in one row (re-encrypted with its data key), then the drill fails without naming the table", async () => {
    const { instance, rp } = await backUpOnce(source, secretRef, `env:${envKeySetting}`);
    const encryption = rp.encryption!;
    const archive = decryptStoredDump(await blobOf(rp.blobs[0]!).downloadToBuffer(), await unwrapDataKey(encryption));
    const compressed = execFileSync("zstd", ["-1", "-q", "-c"], { input: withOneRowAltered(archive), maxBuffer: 1024 ** 3 });
    const tampered = await replaceStoredDump(rp, await sealedForPoint({ ...rp, encryption }, compressed));

    const run = await runVerify(instance, tampered);
    const job = await getJob(run.jobId);
    expect(job?.error?.code).toBe("UserErrorRecoveryPointCorrupted");
    expect(job?.error?.message).toContain("1 of 3 tables restored other data than was dumped (table names are not reported: the backup is encrypted)");
    expect(job?.error?.message).not.toMatch(/values|kinds|shuffled/);
  });

  test("when a record's digest is not of the shape this version writes, then the drill refuses the record", async () => {
    const { instance, rp } = await backUpOnce(source, secretRef);
    const record = await recordOf(rp);
    await replaceRecord(rp, { ...record, digests: record.digests!.map((digest) => ({ ...digest, sha256: "not a digest" })) });
    const run = await runVerify(instance, await storedPoint(rp));
    expect((await getJob(run.jobId))?.error?.message).toContain("is not a pgvault contents record this version can read");
  });
});
