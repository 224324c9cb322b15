/**
 * Restore to a database through the restore orchestration (replayed by durable-functions, real activities):
 * round trip, another server, overwrite false and true, ownership, a corrupted blob, and a restore killed
 * half-way. Real PostgreSQL, Azurite and pg_restore throughout.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import type { DatabaseRestoreTarget, RecoveryPoint } from "../../shared/domain";
import { startPostgresCluster, type ClusterInfo, type PostgresCluster } from "../../local-host/embedded/postgres";
import { databaseSource, envSecret, protect, runBackup, vaultContainer } from "../support/backupFixture";
import { runRestore } from "../support/restoreFixture";
import { swapDatabaseActivity, type SwapDatabaseInput } from "../../activities/swapDatabase";
import { EventType } from "../support/durableTesting";
import { cluster, contentFingerprint, createBackupRole, createDatabase, schemaDump, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

let source: string;
let rp: RecoveryPoint;
let other: PostgresCluster;

async function restorer(server: ClusterInfo, name = uniqueName("restorer")): Promise<string> {
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${name} LOGIN CREATEDB PASSWORD 'pw-restore'`), server);
  return envSecret(`PGVAULT_SECRET_${name}`, name, "pw-restore", server);
}

function target(server: ClusterInfo, secretRef: string, database: string, extra: { overwrite?: boolean; preserveOwnership?: boolean } = {}): DatabaseRestoreTarget {
  return { type: "database", host: server.host, port: server.port, database, secretRef, overwrite: false, preserveOwnership: false, ...extra };
}

async function temporaryDatabases(server: ClusterInfo = cluster()): Promise<string[]> {
  return withAdmin("postgres", async (c) => (await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'pgvault_restore_%'`)).rows.map((r) => r.datname), server);
}

async function backUp(database: string): Promise<RecoveryPoint> {
  const role = uniqueName("backup_user");
  await createBackupRole(database, role, "pw-backup");
  const instance = await protect(uniqueName("restoresrc").replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-backup")));
  await runBackup(instance);
  return (await listRecoveryPoints(instance.name))[0]!;
}

beforeAll(async () => {
  source = uniqueName("restore_src");
  await createDatabase(source);
  await seedRichDatabase(source);
  [rp, other] = await Promise.all([backUp(source), startPostgresCluster()]);
});
afterAll(() => other?.destroy());

describe("restore to a database", () => {
  test("when a recovery point is restored as a new database, then schema and rows equal the source and no temporary database remains", async () => {
    const restored = uniqueName("restored");
    const run = await runRestore(rp, target(cluster(), await restorer(cluster()), restored));
    expect(run.state.error).toBeUndefined();
    expect(await schemaDump(restored)).toBe(await schemaDump(source));
    expect(await contentFingerprint(restored)).toEqual(await contentFingerprint(source));
    expect(await temporaryDatabases()).toEqual([]);
    const job = await getJob(run.jobId);
    expect(job).toMatchObject({ operation: "Restore", status: "Succeeded", phase: "Done", recoveryPointId: rp.id, bytes: rp.sizeBytes });
    expect(job?.endTime).toBeDefined();
    expect(run.customStatuses.at(-1)).toEqual({ phase: "Done" });
  });

  test("when restored to another server, then its content equals the source", async () => {
    const restored = uniqueName("elsewhere");
    const run = await runRestore(rp, target(other, await restorer(other), restored));
    expect(run.state.error).toBeUndefined();
    expect(await contentFingerprint(restored, other)).toEqual(await contentFingerprint(source));
  });

  test("when the target exists and overwrite is false, then UserErrorDatabaseNameAlreadyInUse and the target is untouched", async () => {
    const existing = uniqueName("existing");
    await createDatabase(existing);
    await withAdmin(existing, (c) => c.query("CREATE TABLE keep (v int); INSERT INTO keep VALUES (42)"));
    const before = await contentFingerprint(existing);
    const run = await runRestore(rp, target(cluster(), await restorer(cluster()), existing));
    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Failed");
    expect(job?.error?.code).toBe("UserErrorDatabaseNameAlreadyInUse");
    expect(job?.error?.recommendedAction).toContain("overwrite");
    expect(await contentFingerprint(existing)).toEqual(before);
    expect(run.attempts.some((a) => a.name === "restoreDatabase")).toBe(false);
  });

  test("when the target exists and overwrite is true, then it is replaced only after the restore and its sessions are terminated", async () => {
    const secretRef = await restorer(cluster(), uniqueName("owner"));
    const owner = secretRef.replace("env:PGVAULT_SECRET_", "");
    const existing = uniqueName("replaced");
    await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${existing} OWNER ${owner}`));
    await withAdmin(existing, (c) => c.query("CREATE TABLE old_stuff (v int)"));
    // The owner still connected to the old database: the swap terminates that session (documented behaviour).
    const pg = await import("pg");
    const session = new pg.default.Client({ host: cluster().host, port: cluster().port, user: owner, password: "pw-restore", database: existing });
    await session.connect();
    session.on("error", () => undefined);

    const run = await runRestore(rp, target(cluster(), secretRef, existing, { overwrite: true }));
    expect(run.state.error).toBeUndefined();
    expect(await contentFingerprint(existing)).toEqual(await contentFingerprint(source));
    await expect(session.query("SELECT 1")).rejects.toThrow();
    expect(await temporaryDatabases()).toEqual([]);

    // A retried swap after the first one committed (its answer lost), with the same input, finds the restore in place and succeeds.
    const scheduled = run.history.find((e) => e.EventType === EventType.TaskScheduled && e.Name === "swapDatabase");
    const again = await swapDatabaseActivity(JSON.parse(String(scheduled?.Input)) as SwapDatabaseInput);
    expect(again).toEqual({ ok: true, value: null });
    expect(await contentFingerprint(existing)).toEqual(await contentFingerprint(source));
  });

  test("when ownership is preserved and the roles exist, then objects keep their owners; on a server without them it fails before restoring", async () => {
    const kept = uniqueName("owned");
    const superuser = envSecret("PGVAULT_SECRET_SUPERUSER_RESTORE", cluster().user, cluster().password);
    const run = await runRestore(rp, target(cluster(), superuser, kept, { preserveOwnership: true }));
    expect(run.state.error).toBeUndefined();
    const owner = await withAdmin(kept, async (c) => (await c.query<{ owner: string }>(`SELECT tableowner AS owner FROM pg_tables WHERE schemaname = 'sales' AND tablename = 'orders'`)).rows[0]?.owner);
    expect(owner).toBe("postgres");

    const elsewhere = uniqueName("owned_elsewhere");
    const refused = await runRestore(rp, target(other, await restorer(other), elsewhere, { preserveOwnership: true }));
    const job = await getJob(refused.jobId);
    expect(job?.error?.code).toBe("UserErrorMissingRestorePermissions");
    expect(job?.error?.message).toContain("postgres");
    expect(await temporaryDatabases(other)).toEqual([]);
  });

  test("when the stored blob is corrupted, then UserErrorRecoveryPointCorrupted, and an existing target stays as it was", async () => {
    const corruptSource = uniqueName("corrupt_src");
    await createDatabase(corruptSource);
    await seedRichDatabase(corruptSource);
    const corrupted = await backUp(corruptSource);
    const blob = vaultContainer().getBlockBlobClient(corrupted.blobs[0]!.replace(/^backups\//, ""));
    const bytes = await blob.downloadToBuffer();
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await blob.uploadData(bytes);

    const existing = uniqueName("precious");
    const secretRef = await restorer(cluster(), uniqueName("owner"));
    await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${existing} OWNER ${secretRef.replace("env:PGVAULT_SECRET_", "")}`));
    await withAdmin(existing, (c) => c.query("CREATE TABLE precious (v int); INSERT INTO precious VALUES (7)"));
    const before = await contentFingerprint(existing);

    const run = await runRestore(corrupted, target(cluster(), secretRef, existing, { overwrite: true }));
    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Failed");
    expect(job?.error?.code).toBe("UserErrorRecoveryPointCorrupted");
    expect(await contentFingerprint(existing)).toEqual(before);
    expect(await temporaryDatabases()).toEqual([]);
  });

  test("when the restore is killed half-way on every attempt, then the job fails and the failure path leaves no temporary database", async () => {
    // Big enough that each attempt's pg_restore runs for a while, so the killer below always catches it.
    const bigSource = uniqueName("big_src");
    await createDatabase(bigSource);
    await withAdmin(bigSource, (c) => c.query(`CREATE TABLE t AS SELECT g, md5(g::text) AS h FROM generate_series(1, 400000) g`));
    const big = await backUp(bigSource);
    const restored = uniqueName("killed");
    const secretRef = await restorer(cluster());
    let stop = false;
    let killed = 0;
    const killer = (async () => {
      while (!stop) {
        await withAdmin("postgres", async (c) => {
          const { rows } = await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname LIKE 'pgvault_restore_%' AND application_name = 'pgvault'`);
          killed += rows.length;
        });
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const run = await runRestore(big, target(cluster(), secretRef, restored));
    stop = true;
    await killer;

    expect(killed).toBeGreaterThan(0);
    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Failed");
    expect(run.attempts.filter((a) => a.name === "restoreDatabase").length).toBeGreaterThan(1);
    expect(run.attempts.some((a) => a.name === "dropTemporaryDatabase")).toBe(true);
    expect(await temporaryDatabases()).toEqual([]);
    const exists = await withAdmin("postgres", async (c) => (await c.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [restored])).rows.length);
    expect(exists).toBe(0);
  });
});
