/**
 * The restore drill through the verify orchestration (replayed by durable-functions, real activities): the contents
 * record a backup takes in pg_dump's own snapshot, a drill that succeeds, a tampered dump, a record that disagrees
 * with the archive (plain and encrypted), a point taken before records existed, a backup user without CREATEDB, and
 * a cancelled drill. Real PostgreSQL, Azurite, pg_dump and pg_restore throughout.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { changeRecoveryPoint } from "../../shared/catalog/catalog";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob, updateJob } from "../../shared/catalog/jobRows";
import type { DatabaseDatasource, DumpRecoveryPoint } from "../../shared/domain";
import { cleanUpCancelledJob } from "../../shared/jobs/jobCleanup";
import { scratchDatabaseName } from "../../shared/verify/restoreDrill";
import { asDumpPoint, envSecret, runBackup } from "../support/backupFixture";
import { dumpDatabaseActivity } from "../../activities/dumpDatabase";
import { invocation } from "../support/http";
import { waitUntil } from "../support/localHost";
import { decodeStoredDump, encodeStoredDump } from "../support/storedDump";
import { backUpOnce, blobOf, damageArchive, recordOf, replaceRecord, runVerify, scratchExists, sha256, storedPoint } from "../support/verifyFixture";
import { cluster, createBackupRole, createDatabase, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

let source: string;
/** The backup role of `source`, with CREATEDB (what a drill needs), and its secret reference. */
let secretRef: string;

/** A new instance of `source` with one backup; its (only) recovery point. */
const backedUp = (options: { encryptWith?: string; database?: string; secret?: string } = {}) =>
  backUpOnce(options.database ?? source, options.secret ?? secretRef, options.encryptWith);

const envKeySetting = "PGVAULT_DRILL_KEK";

beforeAll(async () => {
  process.env[envKeySetting] = randomBytes(32).toString("base64");
  source = uniqueName("drill_src");
  await createDatabase(source);
  await seedRichDatabase(source);
  const role = uniqueName("drill_user");
  await createBackupRole(source, role, "pw-drill");
  // The drill restores with the instance's own credentials into a scratch database: the backup role needs CREATEDB.
  await withAdmin("postgres", (c) => c.query(`ALTER ROLE ${role} CREATEDB`));
  secretRef = envSecret(`PGVAULT_SECRET_${role}`, role, "pw-drill");
});

describe("the contents record of a backup", () => {
  test("when a database is backed up, then the contents record next to the dump holds its objects and every table's rows", async () => {
    const { rp } = await backedUp();
    // Named for the dump attempt that committed (docs/architecture.md, "Two copies of an activity at once").
    expect(rp.contents?.blobPath).toMatch(new RegExp(`^backups/${rp.instanceName}/${rp.id}/contents-[0-9a-f]{16}\\.json$`));
    expect(rp.blobs).toEqual([`backups/${rp.instanceName}/${rp.id}/${source}.dump`]);
    const stored = await blobOf(rp.contents!.blobPath).downloadToBuffer();
    expect(sha256(stored)).toBe(rp.contents!.sha256);
    const record = await recordOf(rp);
    expect(record).toMatchObject({ format: "pgvault-contents", formatVersion: 1, recoveryPointId: rp.id, database: source });
    expect(record.tables).toEqual([
      { schema: "public", name: "documents", rows: 2 },
      { schema: "sales", name: "orders", rows: 2000 },
      { schema: "Ünïcødé Schéma", name: 'Größe "quoted" table', rows: 500 },
    ]);
    // hstore's own functions and types belong to the extension and are not counted; plpgsql is in every database.
    expect(record.objects).toMatchObject({ schemas: 2, tables: 3, views: 1, sequences: 1, indexes: 2, extensions: 2, largeObjects: 2, functions: 0, types: 0 });
  });

  test("when rows are committed all through the backup, then the record counts exactly what the dump holds (its snapshot), and the drill agrees", async () => {
    const { instance } = await backedUp();
    // A writer commits a row every few milliseconds from before the backup until after it: a count taken in any
    // other snapshot than pg_dump's (even one taken a moment before pg_dump starts) would differ from the archive.
    const writer = new pg.Client({ host: cluster().host, port: cluster().port, user: cluster().user, password: cluster().password, database: source });
    await writer.connect();
    let writing = true;
    let written = 0;
    const writes = (async () => {
      while (writing) await writer.query(`INSERT INTO public.documents VALUES ($1, NULL)`, [1000 + written++]);
    })();
    try {
      await waitUntil(async () => (written > 20 ? true : undefined), 10_000, "the writer writing");
      // Ids order by time only to the second: the new point is found by not being one of the earlier ones.
      const earlier = new Set((await listRecoveryPoints(instance.name)).map((point) => point.id));
      const backup = await runBackup(instance);
      expect(backup.state.error).toBeUndefined();
      const before = written;
      await waitUntil(async () => (written > before + 20 ? true : undefined), 10_000, "the writer writing after the backup");
      writing = false;
      await writes;
      const rp = asDumpPoint((await listRecoveryPoints(instance.name)).find((point) => !earlier.has(point.id)));
      const documents = (await recordOf(rp)).tables.find((t) => t.name === "documents")?.rows ?? 0;
      expect(documents).toBeGreaterThan(22);
      expect(documents).toBeLessThan(2 + written);
      const run = await runVerify(instance, rp);
      expect(run.state.error).toBeUndefined();
      expect((await storedPoint(rp)).verification).toMatchObject({ outcome: "Succeeded", rowsChecked: 2500 + documents });
    } finally {
      writing = false;
      await writes.catch(() => undefined);
      await writer.end();
      await withAdmin(source, (c) => c.query(`DELETE FROM public.documents WHERE id >= 1000`));
    }
  });

  test("when a backup is cancelled while a table is being counted, then the count is cancelled on the server at once", async () => {
    const { instance } = await backedUp();
    const jobId = `${instance.name}-cancelled-count`;
    await updateJob(jobId, { operation: "Backup", trigger: "OnDemand", instanceName: instance.name, status: "InProgress", phase: "Uploading", startTime: new Date().toISOString(), bytes: 0 });
    // pg_dump and the count both wait for this lock; only a cancel on the server ends the count's wait.
    const blocker = new pg.Client({ host: cluster().host, port: cluster().port, user: cluster().user, password: cluster().password, database: source });
    await blocker.connect();
    await blocker.query("BEGIN");
    await blocker.query("LOCK TABLE sales.orders IN ACCESS EXCLUSIVE MODE");
    try {
      const waiting = () =>
        withAdmin(source, async (c) => Number((await c.query(`SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgvault' AND wait_event_type = 'Lock'`, [source])).rows[0]!.count));
      const dump = dumpDatabaseActivity(
        { jobId, instanceName: instance.name, recoveryPointId: "rp-20261122T000000Z-2a2b2c2d", datasource: instance.datasource as DatabaseDatasource, secretVersion: "env", expectedBytes: 1 },
        invocation("dumpDatabase"),
      );
      // Both sessions, pg_dump's and the count's, wait on the lock.
      await waitUntil(async () => ((await waiting()) === 2 ? true : undefined), 30_000, "pg_dump and the count waiting on the lock");
      await updateJob(jobId, { cancelRequested: true });
      // The lock is still held: the activity ends because the count was cancelled, not because it finished.
      expect(await dump).toMatchObject({ ok: false, error: { message: `Job ${jobId} was cancelled on request.` } });
      expect(await waiting()).toBeLessThanOrEqual(1);
    } finally {
      await blocker.query("ROLLBACK");
      await blocker.end();
    }
  });

  test("when the policy encrypts, then the record is sealed with the point's data key: no table name in the vault in clear", async () => {
    const { rp } = await backedUp({ encryptWith: `env:${envKeySetting}` });
    const stored = await blobOf(rp.contents!.blobPath).downloadToBuffer();
    expect(stored.subarray(0, 6).toString("ascii")).toBe("PGVENC");
    for (const name of ["orders", "documents", "sales", "Größe"]) expect(stored.includes(Buffer.from(name))).toBe(false);
    expect(sha256(stored)).toBe(rp.contents!.sha256);
    expect((await recordOf(rp)).tables.map((t) => t.rows)).toEqual([2, 2000, 500]);
  });
});

describe("the restore drill", () => {
  test("when a rich database's point is verified, then the drill succeeds, the point records it, and the scratch database is gone", async () => {
    const { instance, rp } = await backedUp();
    const run = await runVerify(instance, rp);
    expect(run.state.error).toBeUndefined();
    expect(run.state.output).toEqual({ recoveryPointId: rp.id, outcome: "Succeeded", tablesChecked: 3, rowsChecked: 2502, rowCountsRecorded: true, tablesDigested: 3 });
    const verification = (await storedPoint(rp)).verification;
    expect(verification).toEqual({ verifiedAt: expect.any(String), outcome: "Succeeded", jobId: run.jobId, tablesChecked: 3, rowsChecked: 2502, rowCountsRecorded: true, tablesDigested: 3 });
    expect(await scratchExists(run.jobId)).toBe(false);
    const job = await getJob(run.jobId);
    expect(job).toMatchObject({ operation: "Verify", trigger: "OnDemand", status: "Succeeded", phase: "Done", recoveryPointId: rp.id, bytes: rp.sizeBytes });
    const scheduled = run.history.filter((e) => e.EventType === 4).map((e) => (e as { Name?: string }).Name);
    expect(scheduled).toEqual([
      "acquireInstanceLock", "updateJob", "resolveSecret", "updateJob", "checkVerifyAccess", "updateJob", "restoreScratchDatabase",
      "updateJob", "checkScratchDatabase", "updateJob", "dropScratchDatabase", "updateJob", "recordVerification", "updateJob", "releaseInstanceLock",
      "publishEvents",
    ]);
    expect(run.customStatuses.at(-1)).toEqual({ phase: "Done" });
  });

  test("when the archive itself is damaged (stored intact, catalog SHA-256 to match), then pg_restore fails, the point records Failed, and the scratch database is gone", async () => {
    const { instance, rp } = await backedUp();
    const tampered = await damageArchive(rp);

    const run = await runVerify(instance, tampered);
    const job = await getJob(run.jobId);
    expect(job).toMatchObject({ status: "Failed", error: { code: "UserErrorRecoveryPointCorrupted" } });
    expect(job?.error?.message).toMatch(new RegExp(`Recovery point ${rp.id} does not restore: `));
    const verification = (await storedPoint(rp)).verification;
    expect(verification).toMatchObject({ outcome: "Failed", jobId: run.jobId, tablesChecked: 0, rowsChecked: 0, error: { code: "UserErrorRecoveryPointCorrupted", message: job?.error?.message } });
    expect(await scratchExists(run.jobId)).toBe(false);
    // A verdict, not a transient failure: the restore ran once.
    expect(run.attempts.filter((a) => a.name === "restoreScratchDatabase")).toHaveLength(1);
  });

  test("when the stored bytes do not match the catalog's SHA-256, then the drill fails with the verdict Failed", async () => {
    const { instance, rp } = await backedUp();
    const blob = blobOf(rp.blobs[0]!);
    // The same archive framed anew (a new header nonce): every segment checks, but the file is not the one recorded.
    const bytes = await encodeStoredDump(decodeStoredDump(await blob.downloadToBuffer()));
    await blob.uploadData(bytes);
    const run = await runVerify(instance, rp);
    expect((await getJob(run.jobId))?.error?.message).toContain("do not match the recovery point's SHA-256");
    expect((await storedPoint(rp)).verification?.outcome).toBe("Failed");
    expect(await scratchExists(run.jobId)).toBe(false);
  });

  test("when the contents record says more rows than the archive holds, then the drill names the table and records Failed", async () => {
    const { instance, rp } = await backedUp();
    const record = await recordOf(rp);
    await replaceRecord(rp, { ...record, tables: record.tables.map((t) => (t.name === "orders" ? { ...t, rows: t.rows + 5 } : t)) });

    const run = await runVerify(instance, await storedPoint(rp));
    const job = await getJob(run.jobId);
    expect(job?.error).toMatchObject({ code: "UserErrorRecoveryPointCorrupted" });
    expect(job?.error?.message).toContain(`table "sales"."orders": 2005 rows at backup, 2000 restored`);
    expect((await storedPoint(rp)).verification).toMatchObject({ outcome: "Failed", tablesChecked: 3, rowsChecked: 2502, rowCountsRecorded: true });
    expect(await scratchExists(run.jobId)).toBe(false);
  });

  test("when an encrypted point's record disagrees with its archive, then the drill fails without naming tables", async () => {
    const { instance, rp } = await backedUp({ encryptWith: `env:${envKeySetting}` });
    const clean = await runVerify(instance, rp);
    expect(clean.state.error).toBeUndefined();

    const record = await recordOf(rp);
    await replaceRecord(rp, { ...record, objects: { ...record.objects, indexes: record.objects.indexes + 1 }, tables: record.tables.filter((t) => t.name !== "documents") });
    const run = await runVerify(instance, await storedPoint(rp));
    const message = (await getJob(run.jobId))?.error?.message ?? "";
    expect(message).toContain("indexes: 3 at backup, 2 restored");
    expect(message).toContain("1 restored tables were not recorded at backup (table names are not reported: the backup is encrypted)");
    expect(message).not.toMatch(/documents|orders/);
    expect((await storedPoint(rp)).verification?.outcome).toBe("Failed");
  });

  test("when the contents record is gone from the vault, then the drill fails with the verdict Failed", async () => {
    const { instance, rp } = await backedUp();
    await blobOf(rp.contents!.blobPath).delete();
    const run = await runVerify(instance, rp);
    expect((await getJob(run.jobId))?.error?.message).toContain("is missing from the vault");
    expect((await storedPoint(rp)).verification?.outcome).toBe("Failed");
  });

  test("when a point was taken before contents records existed, then the drill restores and counts, and says row counts were not recorded", async () => {
    const { instance, rp } = await backedUp();
    await blobOf(rp.contents!.blobPath).delete();
    const old = asDumpPoint(await changeRecoveryPoint(rp.instanceName, rp.id, (stored) => {
      const { contents: _contents, ...rest } = stored as DumpRecoveryPoint;
      return rest;
    }));
    expect(old.contents).toBeUndefined();
    const run = await runVerify(instance, old);
    expect(run.state.error).toBeUndefined();
    expect((await storedPoint(rp)).verification).toMatchObject({ outcome: "Succeeded", tablesChecked: 3, rowsChecked: 2502, rowCountsRecorded: false });
    expect(run.logs.join("\n")).toContain("no contents record to compare with");
  });

  test("when the instance's user lacks CREATEDB, then UserErrorMissingRestorePermissions, nothing is recorded on the point, and nothing is created", async () => {
    const role = uniqueName("no_createdb");
    await createBackupRole(source, role, "pw-plain");
    const { instance, rp } = await backedUp({ secret: envSecret(`PGVAULT_SECRET_${role}`, role, "pw-plain") });
    const run = await runVerify(instance, rp);
    const job = await getJob(run.jobId);
    expect(job).toMatchObject({ status: "Failed", error: { code: "UserErrorMissingRestorePermissions" } });
    expect(job?.error?.message).toContain(`User '${role}' lacks CREATEDB`);
    expect(job?.error?.message).toContain(scratchDatabaseName(run.jobId));
    expect((await storedPoint(rp)).verification).toBeUndefined();
    expect(run.attempts.some((a) => a.name === "restoreScratchDatabase" || a.name === "dropScratchDatabase")).toBe(false);
    expect(await scratchExists(run.jobId)).toBe(false);
  });

  test("when a drill is cancelled, then its cleanup drops the scratch database and the job ends Cancelled", async () => {
    const { instance } = await backedUp();
    const jobId = `verify-${instance.name}-cancelled`;
    await updateJob(jobId, { operation: "Verify", trigger: "OnDemand", instanceName: instance.name, status: "InProgress", phase: "Restoring", startTime: new Date().toISOString(), bytes: 0 });
    // What a terminated drill leaves: its scratch database, owned by the backup user.
    const owner = secretRef.replace("env:PGVAULT_SECRET_", "");
    await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(scratchDatabaseName(jobId))} OWNER ${pg.escapeIdentifier(owner)}`));
    expect(await scratchExists(jobId)).toBe(true);
    expect(await cleanUpCancelledJob(jobId, { kind: "verify", datasource: instance.datasource as DatabaseDatasource }, new Date())).toBe("cancelled");
    expect(await scratchExists(jobId)).toBe(false);
    expect((await getJob(jobId))?.status).toBe("Cancelled");
  });
});

afterAll(async () => {
  delete process.env[envKeySetting];
});
