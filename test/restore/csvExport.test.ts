/**
 * Tables as CSV (issue 24): real pg_dump archives in the vault, converted with no server, each file compared with
 * what PostgreSQL's own `COPY (SELECT ...) TO STDOUT (FORMAT csv, HEADER)` gives for the source table.
 */
import { createHash, randomBytes } from "node:crypto";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { startRestore } from "../../functions/restore";
import type { HttpResponseInit } from "@azure/functions";
import { insertRecoveryPoint } from "../../shared/catalog/catalog";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob, updateJob } from "../../shared/catalog/jobRows";
import type { BlobRestoreTarget, DumpRecoveryPoint, LtrRecoveryPoint, RecoveryPoint } from "../../shared/domain";
import { ValidationError } from "../../shared/errors";
import { cleanUpCancelledJob } from "../../shared/jobs/jobCleanup";
import { parseRestoreRequest } from "../../shared/validation/restore";
import { asDumpPoint, databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { parseCsvStrict } from "../support/csvParse";
import { startDurableClientStandIn } from "../support/durableClientStandIn";
import { bodyOf, request } from "../support/http";
import { runRestore } from "../support/restoreFixture";
import { useArmStandIn, type ArmTestServer } from "../support/armServer";
import { asLtrPoint, protectFlexServer, runFlexBackup } from "../support/flexFixture";
import { cluster, createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const exportService = () => BlobServiceClient.fromConnectionString(inject("exportConnectionString"));
const keySetting = "PGVAULT_TEST_CSV_KEK";

/** Every value COPY's text and CSV formats have to escape, beside NULL, and the types whose text output is unusual. */
const trickySql = `
  CREATE SCHEMA csv;
  CREATE TABLE csv.tricky (id int, t text, b bytea, ia int[], ta text[], j json, jb jsonb, ts timestamptz, n numeric, "Mixed Case" text, "x, ""y""" text, doubled int GENERATED ALWAYS AS (id * 2) STORED);
  INSERT INTO csv.tricky VALUES
    (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (2, '', '\\x', '{}', '{}', '""', '{}', '2024-12-31 23:59:59.999999+00', 0, '', ''),
    (3, E'line1\\nline2\\r\\nline3\\rend', '\\x00ff5c0a0d09', '{1,NULL,-3}', ARRAY['a,b', 'say "hi"', NULL, '', E'back\\\\slash', E'tab\\there'],
        '{"k": "v\\n", "q": "\\""}', '{"nested": {"a": [1, 2.50, null]}, "s": "Zoë 日本語 🎉"}', '1999-01-08 04:05:06-08', -1234567890.0123456789, 'x', 'y'),
    (4, E'quote " and \\\\ backslash, comma\\ttab', decode('5c4e', 'hex'), '{{1,2},{3,4}}', '{"\\\\N"}', 'null', '[1, "two"]', 'infinity', 'NaN', E'\\\\.', '\\N'),
    (5, 'Zoë 日本語 🎉 ✓', convert_to('Zoë', 'UTF8'), NULL, ARRAY['日本語'], '"🎉"', '"\\u00e9"', '-infinity', 1e-20, ' leading and trailing ', E'\\\\.');
  INSERT INTO csv.tricky (id, t) SELECT g, repeat('row ' || g || E'\\t', g % 7) FROM generate_series(6, 3000) g;
  CREATE SCHEMA "Odd.Schema/x";
  CREATE TABLE "Odd.Schema/x"."a:b ""c"" é" ("B c" text, "order" int);
  INSERT INTO "Odd.Schema/x"."a:b ""c"" é" VALUES ('one', 1), (NULL, 2), ('', NULL);
  CREATE TABLE csv.empty (a int, b text);
  CREATE VIEW csv.a_view AS SELECT id FROM csv.tricky;
  CREATE TABLE csv.parted (id int, v text) PARTITION BY RANGE (id);
  CREATE TABLE csv.parted_low PARTITION OF csv.parted FOR VALUES FROM (0) TO (10);
  INSERT INTO csv.parted VALUES (1, 'one');
`;

/** A new database (UTF8, or LATIN1), seeded, protected and backed up once; encrypted when asked. */
async function backedUp(prefix: string, seed: string, options: { latin1?: boolean; encrypted?: boolean } = {}): Promise<{ database: string; rp: DumpRecoveryPoint }> {
  const database = uniqueName(prefix);
  const encoding = options.latin1 ? " ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" : "";
  await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${database}${encoding}`));
  await withAdmin(database, (c) => c.query(seed));
  const role = uniqueName(`${prefix}_backup`);
  await createBackupRole(database, role, "pw-backup");
  const instance = await protect(
    uniqueName(prefix).replaceAll("_", "-"),
    databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-backup")),
    options.encrypted ? { encryption: { keyRef: `env:${keySetting}` } } : {},
  );
  expect((await runBackup(instance)).state.error).toBeUndefined();
  return { database, rp: asDumpPoint((await listRecoveryPoints(instance.name))[0]) };
}

/**
 * PostgreSQL's own CSV of the table, read under pg_dump's session settings (pg_dump.c `setup_connection`), of the
 * columns pg_dump copies: generated columns are computed on restore, so neither the archive nor the CSV has them.
 */
async function postgresCsv(database: string, schema: string, table: string): Promise<string> {
  return withAdmin(database, async (c) => {
    await c.query("SET DateStyle = ISO; SET IntervalStyle = postgres; SET extra_float_digits = 3");
    const columns = await c.query<{ attname: string }>(
      "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
      [`${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)}`],
    );
    const list = columns.rows.map((row) => pg.escapeIdentifier(row.attname)).join(", ");
    const stream = c.query(copyTo(`COPY (SELECT ${list} FROM ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)}) TO STDOUT (FORMAT csv, HEADER)`));
    const parts: Buffer[] = [];
    for await (const part of stream) parts.push(part as Buffer);
    return Buffer.concat(parts).toString("utf8");
  });
}

/** Posts restore requests through the real handler; `started` counts the jobs it started. */
async function withHandler(work: (post: (rp: RecoveryPoint, target: Record<string, unknown>) => Promise<HttpResponseInit>, started: () => number) => Promise<void>): Promise<void> {
  const durable = await startDurableClientStandIn();
  try {
    await work(
      (rp, target) => {
        const { client, context } = durable.client("startRestore");
        const name = rp.instanceName;
        return startRestore(request("POST", `backupInstances/${name}/restore`, { body: { recoveryPointId: rp.id, target }, params: { name } }), client, context);
      },
      () => durable.started.length,
    );
  } finally {
    await durable.close();
  }
}

async function newContainer(): Promise<ContainerClient> {
  const container = exportService().getContainerClient(uniqueName("csv").replaceAll("_", "-"));
  await container.create();
  return container;
}

async function namesIn(container: ContainerClient, prefix = ""): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix })) names.push(blob.name);
  return names.sort();
}

const csvTarget = (container: ContainerClient, prefix: string, tables: string[]): BlobRestoreTarget => ({ type: "blob", containerUrl: container.url, prefix, overwrite: false, format: "csv", include: { tables } });

interface CsvManifest {
  recoveryPoint: { id: string; time: string };
  format: string;
  files: { table: string; name: string; rows: number; sizeBytes: number; sha256: string }[];
  notes: string;
}

/** Each exported file equals PostgreSQL's CSV record for record, and the manifest is true of the files. */
async function expectExportMatches(container: ContainerClient, prefix: string, database: string, expected: { table: string; schema: string; name: string; file: string }[]) {
  const manifest = JSON.parse((await container.getBlobClient(`${prefix}manifest.json`).downloadToBuffer()).toString()) as CsvManifest;
  expect(manifest.files.map((file) => [file.table, file.name])).toEqual(expected.map((table) => [table.table, `${prefix}${table.file}`]));
  for (const [i, table] of expected.entries()) {
    const bytes = await container.getBlobClient(`${prefix}${table.file}`).downloadToBuffer();
    const ours = parseCsvStrict(bytes.toString("utf8"), "\r\n");
    const theirs = parseCsvStrict(await postgresCsv(database, table.schema, table.name), "\n");
    expect(ours, table.table).toEqual(theirs);
    expect(manifest.files[i]).toEqual({ table: table.table, name: `${prefix}${table.file}`, rows: theirs.length - 1, sizeBytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") });
  }
  return manifest;
}

let utf8: { database: string; rp: DumpRecoveryPoint };
/** Started before anything reads the app's config (read once per process): the Flexible Server point's backup needs it. */
let arm: ArmTestServer;
beforeAll(async () => {
  ({ arm } = await useArmStandIn(inject("tls")));
  process.env[keySetting] = randomBytes(32).toString("base64");
  utf8 = await backedUp("csv_src", trickySql);
});
afterAll(() => arm?.close());

describe("tables as CSV", () => {
  test("when tables with every awkward value are exported as CSV, then each file is PostgreSQL's own CSV of the table record for record, NULL and '' apart, and the manifest tells each file's rows, size and SHA-256", async () => {
    const container = await newContainer();
    const tables = ["csv.tricky", '"Odd.Schema/x"."a:b ""c"" é"', "csv.empty"];
    const run = await runRestore(utf8.rp, csvTarget(container, "legal/hold", tables));
    expect(run.state.error).toBeUndefined();
    expect(await getJob(run.jobId)).toMatchObject({ status: "Succeeded" });
    expect(await namesIn(container)).toEqual(["legal/hold/Odd%2ESchema%2Fx.a%3Ab %22c%22 é.csv", "legal/hold/csv.empty.csv", "legal/hold/csv.tricky.csv", "legal/hold/manifest.json"]);

    const manifest = await expectExportMatches(container, "legal/hold/", utf8.database, [
      { table: "csv.tricky", schema: "csv", name: "tricky", file: "csv.tricky.csv" },
      { table: '"Odd.Schema/x"."a:b ""c"" é"', schema: "Odd.Schema/x", name: 'a:b "c" é', file: "Odd%2ESchema%2Fx.a%3Ab %22c%22 é.csv" },
      { table: "csv.empty", schema: "csv", name: "empty", file: "csv.empty.csv" },
    ]);
    expect(manifest).toMatchObject({ recoveryPoint: { id: utf8.rp.id, time: utf8.rp.time }, format: "csv" });
    expect(manifest.files.map((file) => file.rows)).toEqual([3000, 3, 0]);
    // The strings the comparison rests on, spelled out: NULL empty and unquoted, '' quoted, CRLF record ends.
    const tricky = (await container.getBlobClient("legal/hold/csv.tricky.csv").downloadToBuffer()).toString("utf8");
    expect(tricky.split("\r\n")[0]).toBe('id,t,b,ia,ta,j,jb,ts,n,Mixed Case,"x, ""y"""');
    expect(tricky.split("\r\n")[1]).toBe("1,,,,,,,,,,");
    expect(tricky).toContain('\r\n2,"",\\x,{},{},"""""",{},2024-12-31 23:59:59.999999+00,0,"",""\r\n');
    expect(tricky).toContain('"line1\nline2\r\nline3\rend",\\x00ff5c0a0d09,');
    expect(tricky).toContain("Zoë 日本語 🎉 ✓");
    expect((await container.getBlobClient("legal/hold/csv.tricky.csv").getProperties()).contentType).toBe("text/csv; charset=utf-8");
  });

  test("when a table's CSV is larger than a block (8 MiB), then its blocks are committed in order and the file is still PostgreSQL's CSV", async () => {
    const large = await backedUp("csv_large", `CREATE TABLE public.wide (id int, a text, b text); INSERT INTO wide SELECT g, md5(g::text) || E'\\n,"' || md5((g * 3)::text), repeat('x', g % 50) FROM generate_series(1, 200000) g;`);
    const container = await newContainer();
    expect((await runRestore(large.rp, csvTarget(container, "", ["public.wide"]))).state.error).toBeUndefined();
    const manifest = await expectExportMatches(container, "", large.database, [{ table: "public.wide", schema: "public", name: "wide", file: "public.wide.csv" }]);
    expect(manifest.files[0]!.sizeBytes).toBeGreaterThan(2 * 8 * 1024 * 1024);
    expect((await container.getBlockBlobClient("public.wide.csv").getBlockList("committed")).committedBlocks?.length).toBeGreaterThanOrEqual(2);
  });

  test("when the database is in LATIN1, then its text and names arrive as UTF-8, equal to PostgreSQL's CSV, and the API finds its tables by their names", async () => {
    const latin1 = await backedUp(
      "csv_latin1",
      `CREATE TABLE public.names (id int, name text); INSERT INTO names VALUES (1, 'Zoë'), (2, 'ÆØÅ £ ¿ ÿ'), (3, E'\\u0080\\u009f'), (4, NULL);
       CREATE TABLE public."Größe" ("Maß" text); INSERT INTO "Größe" VALUES ('groß');`,
      { latin1: true },
    );
    const container = await newContainer();
    const tables = ["public.names", 'public."Größe"'];
    await withHandler(async (post) => {
      expect((await post(latin1.rp, { type: "blob", containerUrl: container.url, format: "csv", include: { tables } })).status).toBe(202);
      expect((await post(latin1.rp, { type: "blob", containerUrl: container.url, format: "csv", include: { tables: ['public."Grösse"'] } })).status).toBe(422);
    });
    const run = await runRestore(latin1.rp, csvTarget(container, "", tables));
    expect(run.state.error).toBeUndefined();
    await expectExportMatches(container, "", latin1.database, [
      { table: "public.names", schema: "public", name: "names", file: "public.names.csv" },
      { table: 'public."Größe"', schema: "public", name: "Größe", file: "public.Größe.csv" },
    ]);
    expect((await container.getBlobClient("public.Größe.csv").downloadToBuffer()).toString("utf8")).toBe("Maß\r\ngroß\r\n");
    expect((await container.getBlobClient("public.names.csv").downloadToBuffer()).toString("utf8")).toContain("2,ÆØÅ £ ¿ ÿ\r\n");
  });

  test("when the point is encrypted, then the export decrypts it as a restore does and the CSV is the table's plaintext", async () => {
    const encrypted = await backedUp("csv_enc", "CREATE TABLE public.secret (id int, v text); INSERT INTO secret SELECT g, 'v' || g FROM generate_series(1, 100) g;", { encrypted: true });
    expect(encrypted.rp.encryption).toBeDefined();
    const container = await newContainer();
    expect((await runRestore(encrypted.rp, csvTarget(container, "x/", ["public.secret"]))).state.error).toBeUndefined();
    const manifest = await expectExportMatches(container, "x/", encrypted.database, [{ table: "public.secret", schema: "public", name: "secret", file: "public.secret.csv" }]);
    expect(manifest.notes).toContain("decrypted data, exported as requested");
  });

  test("when a named object has no rows of its own in the point (a view, a partitioned table), then the job fails with UserErrorDBNotFound saying what it is, and writes nothing; a partition exports", async () => {
    const container = await newContainer();
    const parted = await getJob((await runRestore(utf8.rp, csvTarget(container, "", ["csv.parted"]))).jobId);
    expect(parted?.error?.message).toContain("holds no table data for csv.parted (TABLE)");
    const job = await getJob((await runRestore(utf8.rp, csvTarget(container, "", ["csv.tricky", "csv.a_view"]))).jobId);
    expect(job).toMatchObject({ status: "Failed", error: { code: "UserErrorDBNotFound" } });
    expect(job?.error?.message).toContain("holds no table data for csv.a_view (VIEW)");
    expect(await namesIn(container)).toEqual([]);
    expect((await runRestore(utf8.rp, csvTarget(container, "", ["csv.parted_low"]))).state.error).toBeUndefined();
    expect((await container.getBlobClient("csv.parted_low.csv").downloadToBuffer()).toString()).toBe("id,v\r\n1,one\r\n");
  });

  test("when the stored bytes do not match the point's SHA-256 (found only after the last byte), then UserErrorRecoveryPointCorrupted and no CSV is left, though every table's data had streamed by", async () => {
    const altered: DumpRecoveryPoint = { ...utf8.rp, id: `rp-20260104T023007Z-${randomBytes(4).toString("hex")}`, sha256: "0".repeat(64) };
    await insertRecoveryPoint(altered);
    const container = await newContainer();
    const job = await getJob((await runRestore(altered, csvTarget(container, "bad/", ["csv.tricky", "csv.empty"]))).jobId);
    expect(job).toMatchObject({ status: "Failed", error: { code: "UserErrorRecoveryPointCorrupted" } });
    expect(job?.error?.message).toContain("do not match the recovery point's SHA-256");
    expect(await namesIn(container)).toEqual([]);
  });

  test("when a CSV export is cancelled after it wrote its files, then its cleanup removes the CSVs and the manifest, and an export as files keeps working beside it", async () => {
    const container = await newContainer();
    const target = csvTarget(container, "cancel/", ["csv.tricky", "csv.empty"]);
    const run = await runRestore(utf8.rp, target);
    expect(run.state.error).toBeUndefined();
    expect(await namesIn(container, "cancel/")).toHaveLength(3);
    await updateJob(run.jobId, { status: "InProgress" }, { afterFinish: true });
    expect(await cleanUpCancelledJob(run.jobId, { kind: "restore", instanceName: utf8.rp.instanceName, recoveryPointId: utf8.rp.id, target }, new Date())).toBe("cancelled");
    expect(await namesIn(container, "cancel/")).toEqual([]);

    const files = await runRestore(utf8.rp, { type: "blob", containerUrl: container.url, prefix: "files/" });
    expect(files.state.error).toBeUndefined();
    expect(await namesIn(container, "files/")).toHaveLength(2);
  });
});

describe("the request", () => {
  const containerUrl = "https://acct.blob.core.windows.net/exports";
  const rpId = "rp-20260104T023007Z-1a2b3c4d";
  const issuesOf = (target: Record<string, unknown>) => {
    try {
      parseRestoreRequest({ recoveryPointId: rpId, target: { type: "blob", containerUrl, ...target } });
    } catch (err) {
      if (err instanceof ValidationError) return err.issues.map((issue) => issue.path);
      throw err;
    }
    return [];
  };

  test("when format csv lacks include.tables, names schemas, repeats a table or format files names include, then 400 says where", () => {
    expect(issuesOf({ format: "csv" })).toEqual(["target.include"]);
    expect(issuesOf({ format: "csv", include: { tables: [] } })).toEqual(["target.include.tables"]);
    expect(issuesOf({ format: "csv", include: { schemas: ["sales"] } })).toEqual(["target.include.schemas"]);
    expect(issuesOf({ format: "csv", include: { tables: ["sales.orders", "SALES.Orders"] } })).toEqual(["target.include.tables"]);
    expect(issuesOf({ format: "csv", include: { tables: ["orders"] } })).toEqual(["target.include.tables[0]"]);
    expect(issuesOf({ include: { tables: ["sales.orders"] } })).toEqual(["target.include"]);
    expect(issuesOf({ format: "xlsx" })).toEqual(["target.format"]);
    expect(issuesOf({ database: "sales" })).toEqual(["target.database"]);
    expect(issuesOf({ format: "csv", database: "x".repeat(64), include: { tables: ["sales.orders"] } })).toEqual(["target.database"]);
  });

  test("when an export as files says nothing of its format, then the request is as it always was; csv keeps its tables as written", () => {
    expect(parseRestoreRequest({ recoveryPointId: rpId, target: { type: "blob", containerUrl } }).target).toEqual({ type: "blob", containerUrl, prefix: "", overwrite: false });
    expect(parseRestoreRequest({ recoveryPointId: rpId, target: { type: "blob", containerUrl, format: "files" } }).target).toEqual({ type: "blob", containerUrl, prefix: "", overwrite: false });
    expect(parseRestoreRequest({ recoveryPointId: rpId, target: { type: "blob", containerUrl, format: "csv", include: { tables: ['Sales."Orders"'] } } }).target).toEqual({
      type: "blob", containerUrl, prefix: "", overwrite: false, format: "csv", include: { tables: ['Sales."Orders"'] },
    });
  });

  test("when a CSV export names a table the point lacks, then 422 UserErrorDBNotFound before any job; naming a database for a dump is a 400", async () => {
    await withHandler(async (post, started) => {
      const target = { type: "blob", containerUrl: exportService().getContainerClient("anywhere").url, format: "csv" };
      const refused = await post(utf8.rp, { ...target, include: { tables: ["csv.tricky", "csv.nowhere"] } });
      expect(refused.status).toBe(422);
      const { error } = bodyOf<{ error: { code: string; message: string } }>(refused);
      expect(error).toMatchObject({ code: "UserErrorDBNotFound" });
      expect(error.message).toContain("'csv.nowhere'");
      expect(error.message).not.toContain("csv.tricky");
      const view = await post(utf8.rp, { ...target, include: { tables: ["csv.a_view", "csv.parted"] } });
      expect(view.status).toBe(422);
      expect(bodyOf<{ error: { message: string } }>(view).error.message).toContain("holds no table data for csv.a_view (VIEW), csv.parted (TABLE)");
      const named = await post(utf8.rp, { ...target, database: "sales", include: { tables: ["csv.tricky"] } });
      expect(named.status).toBe(400);
      expect(JSON.stringify(bodyOf(named))).toContain("target.database");
      expect(started()).toBe(0);
      expect((await post(utf8.rp, { ...target, include: { tables: ["csv.tricky"] } })).status).toBe(202);
    });
  });
});

describe("a Flexible Server point's database as CSV", () => {
  let ltr: LtrRecoveryPoint;
  let database: string;

  beforeAll(async () => {
    database = uniqueName("csv_flex");
    await createDatabase(database);
    await withAdmin(database, (c) => c.query(trickySql));
    const resourceId = arm.addServer({
      subscriptionId: "5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
      resourceGroup: "rg-data",
      name: uniqueName("pg").replaceAll("_", "-"),
      backup: { outcome: "Succeeded", cluster: { server: cluster(), databases: [database] } },
    });
    const instance = await protectFlexServer(uniqueName("csvflex").replaceAll("_", "-"), resourceId);
    expect((await runFlexBackup(instance)).state.error).toBeUndefined();
    ltr = asLtrPoint((await listRecoveryPoints(instance.name))[0]);
  }, 120_000);

  test("when the request names one of the point's databases, then its tables export as PostgreSQL's CSV of them, the manifest naming the database", async () => {
    const container = await newContainer();
    const run = await runRestore(ltr, { ...csvTarget(container, "flex/", ["csv.tricky", '"Odd.Schema/x"."a:b ""c"" é"']), database });
    expect(run.state.error).toBeUndefined();
    const manifest = await expectExportMatches(container, "flex/", database, [
      { table: "csv.tricky", schema: "csv", name: "tricky", file: "csv.tricky.csv" },
      { table: '"Odd.Schema/x"."a:b ""c"" é"', schema: "Odd.Schema/x", name: 'a:b "c" é', file: "Odd%2ESchema%2Fx.a%3Ab %22c%22 é.csv" },
    ]);
    expect(manifest.recoveryPoint).toMatchObject({ id: ltr.id, database });
  });

  test("when the request names no database, or one the point lacks, then 400 listing the point's; a table the database lacks, 422; nothing starts", async () => {
    await withHandler(async (post, started) => {
      const target = { type: "blob", containerUrl: exportService().getContainerClient("anywhere").url, format: "csv", include: { tables: ["csv.tricky"] } };
      for (const [named, why] of [[{}, "is required"], [{ database: "nowhere" }, "is not in recovery point"]] as const) {
        const refused = await post(ltr, { ...target, ...named });
        expect(refused.status).toBe(400);
        const body = JSON.stringify(bodyOf(refused));
        expect(body).toContain("target.database");
        expect(body).toContain(why);
        expect(body).toContain(database); // the point's databases are listed
      }
      const missing = await post(ltr, { ...target, database, include: { tables: ["csv.nowhere"] } });
      expect(missing.status).toBe(422);
      expect(bodyOf<{ error: { code: string; message: string } }>(missing).error.message).toContain(`Database '${database}' of recovery point ${ltr.id} holds no 'csv.nowhere'`);
      expect(started()).toBe(0);
    });
  });
});
