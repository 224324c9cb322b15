/**
 * The pieces of job cancellation below the HTTP call (see test/local-host/cancelJob.test.ts for the whole):
 * finished jobs stay finished, steps that land after a cancel undo themselves, a cancelled dump commits nothing,
 * and the cleanup removes what each kind of job leaves behind, except from a job that succeeded first.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { describe, expect, inject, test } from "vitest";
import { dumpDatabaseActivity } from "../../activities/dumpDatabase";
import type { CancelJobInput } from "../../orchestrators/cancelJob";
import { runCancelJob } from "../support/cancelJobRun";
import { recordRecoveryPointActivity } from "../../activities/recordRecoveryPoint";
import { isDumpSlotBusy } from "../../shared/backup/dumpSlots";
import { getRecoveryPoint, listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob, updateJob } from "../../shared/catalog/jobRows";
import type { DatabaseDatasource } from "../../shared/domain";
import { cleanUpCancelledJob } from "../../shared/jobs/jobCleanup";
import { temporaryDatabaseName } from "../../shared/restore/databaseRestore";
import { asDumpPoint, committedBlobs, databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { invocation } from "../support/http";
import { runRestore } from "../support/restoreFixture";
import { cluster, createBackupRole, createDatabase, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";


async function startedJob(jobId: string, instanceName: string, operation: "Backup" | "Restore" = "Backup"): Promise<void> {
  await updateJob(jobId, { operation, trigger: "OnDemand", instanceName, status: "InProgress", phase: "Uploading", startTime: "2026-11-22T00:00:00Z", bytes: 0 });
}

async function protectedDatabase(prefix: string) {
  const database = uniqueName(prefix);
  const role = uniqueName(`${prefix}_user`);
  await createDatabase(database);
  await seedRichDatabase(database);
  await createBackupRole(database, role, "pw-cancel");
  const instance = await protect(uniqueName(prefix).replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-cancel")));
  return { database, instance };
}

describe("a job row", () => {
  test("when a finished job gets a late update, then it stays as it finished; the cancellation alone may still end it", async () => {
    const id = uniqueName("finished-job");
    await startedJob(id, "late-writes");
    await updateJob(id, { status: "Succeeded", phase: "Done", endTime: "2026-11-22T00:05:00Z" });
    await updateJob(id, { status: "InProgress", phase: "Uploading", bytes: 42 });
    expect(await getJob(id)).toMatchObject({ status: "Succeeded", phase: "Done", bytes: 0 });

    const failed = uniqueName("failed-job");
    await startedJob(failed, "late-writes");
    await updateJob(failed, { status: "Failed", endTime: "2026-11-22T00:05:00Z" });
    await updateJob(failed, { status: "Cancelled" }, { afterFinish: true });
    expect((await getJob(failed))?.status).toBe("Cancelled");
  });
});

describe("steps that land after a cancel", () => {
  test("when a recovery point is recorded for a cancelled job, then the row is removed again and the step fails", async () => {
    const { instance } = await protectedDatabase("late_record");
    const jobId = uniqueName("late-record-job");
    await startedJob(jobId, instance.name);
    await updateJob(jobId, { cancelRequested: true });
    // The dump itself was committed before the cancel (by an attempt that did not look again).
    const recoveryPointId = "rp-20261122T000000Z-0a0b0c0d";
    const datasource = instance.datasource as DatabaseDatasource;
    const dumpJob = uniqueName("late-record-dump");
    await startedJob(dumpJob, instance.name);
    const dumped = await dumpDatabaseActivity({ jobId: dumpJob, instanceName: instance.name, recoveryPointId, datasource, secretVersion: "env", expectedBytes: 1 }, invocation("dumpDatabase"));
    if (!dumped.ok || isDumpSlotBusy(dumped.value)) throw new Error(`no dump: ${JSON.stringify(dumped)}`);
    const record = recordRecoveryPointActivity({
      jobId,
      instanceName: instance.name,
      recoveryPointId,
      time: "2026-11-22T00:00:00Z",
      backup: { format: "pg_dump-custom", blobPath: dumped.value.blobPath, serverVersion: "15" },
    });
    await expect(record).rejects.toThrow(/was cancelled/);
    expect(await listRecoveryPoints(instance.name)).toEqual([]);
  });

  test("when a dump runs for a job that is cancelled, then it stops before committing and no session stays", async () => {
    const { database, instance } = await protectedDatabase("cancelled_dump");
    const jobId = uniqueName("cancelled-dump-job");
    await startedJob(jobId, instance.name);
    await updateJob(jobId, { cancelRequested: true });
    const datasource = instance.datasource.type === "database" ? instance.datasource : undefined;
    const outcome = await dumpDatabaseActivity(
      { jobId, instanceName: instance.name, recoveryPointId: "rp-20261122T000000Z-1a1b1c1d", datasource: datasource!, secretVersion: "env", expectedBytes: 1 },
      invocation("dumpDatabase"),
    );
    expect(outcome).toMatchObject({ ok: false, error: { message: `Job ${jobId} was cancelled on request.` } });
    expect(await committedBlobs(instance.name)).toEqual([]);
    const sessions = await withAdmin(database, async (c) => (await c.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgvault'`, [database])).rowCount);
    expect(sessions).toBe(0);
  });
});

describe("the cleanup of a cancelled job", () => {
  test("when a backup is cancelled after its point was recorded (the job row still InProgress), then the point and its data are kept and the job ends Succeeded", async () => {
    const { instance } = await protectedDatabase("cleanup_backup");
    const run = await runBackup(instance);
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    const blobs = await committedBlobs(instance.name);
    // The record step finished, but the job's last updates were lost (a vault outage, the orchestration ended): the row says InProgress.
    await updateJob(run.jobId, { status: "InProgress", phase: "Recording" }, { afterFinish: true });

    expect(await cleanUpCancelledJob(run.jobId, { kind: "backup", instanceName: instance.name, recoveryPointId: rp.id }, new Date("2026-11-22T01:00:00Z"))).toBe("finishedFirst");

    expect(await getRecoveryPoint(instance.name, rp.id)).toEqual(rp);
    expect(await committedBlobs(instance.name)).toEqual(blobs);
    expect(await getJob(run.jobId)).toMatchObject({ status: "Succeeded", phase: "Done", recoveryPointId: rp.id, bytes: rp.sizeBytes, endTime: "2026-11-22T01:00:00Z" });
  });

  test("when the job succeeded before the cancel took effect, then its recovery point is kept", async () => {
    const { instance } = await protectedDatabase("cleanup_late");
    const run = await runBackup(instance);
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    expect(await cleanUpCancelledJob(run.jobId, { kind: "backup", instanceName: instance.name, recoveryPointId: rp.id }, new Date())).toBe("finishedFirst");
    expect(await getRecoveryPoint(instance.name, rp.id)).toEqual(rp);
    expect((await getJob(run.jobId))?.status).toBe("Succeeded");
  });

  test("when a restore to a database is cancelled, then its temporary database is dropped, its sessions ended", async () => {
    const jobId = uniqueName("cancelled-restore");
    const temporary = temporaryDatabaseName(jobId);
    await createDatabase(temporary);
    await startedJob(jobId, "restored-instance", "Restore");
    const superuser = envSecret("PGVAULT_SECRET_CANCEL_RESTORE", cluster().user, cluster().password);
    const target = { type: "database" as const, host: cluster().host, port: cluster().port, database: "never_swapped", secretRef: superuser, overwrite: false, preserveOwnership: false };
    const { instance } = await protectedDatabase("cleanup_restore");
    await runBackup(instance);
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);

    expect(await cleanUpCancelledJob(jobId, { kind: "restore", instanceName: rp.instanceName, recoveryPointId: rp.id, target }, new Date())).toBe("cancelled");

    const exists = await withAdmin("postgres", async (c) => (await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [temporary])).rowCount);
    expect(exists).toBe(0);
    expect((await getJob(jobId))?.status).toBe("Cancelled");
  });

  test("when a restore as files is cancelled, then the exported files and manifest are removed", async () => {
    const { instance } = await protectedDatabase("cleanup_export");
    await runBackup(instance);
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    const container = BlobServiceClient.fromConnectionString(inject("exportConnectionString")).getContainerClient(uniqueName("cancelled-export").replaceAll("_", "-"));
    await container.create();
    const target = { type: "blob" as const, containerUrl: container.url, prefix: "drill" };
    const exported = await runRestore(rp, target);
    expect(exported.state.error).toBeUndefined();
    await updateJob(exported.jobId, { status: "InProgress" }, { afterFinish: true });

    expect(await cleanUpCancelledJob(exported.jobId, { kind: "restore", instanceName: rp.instanceName, recoveryPointId: rp.id, target }, new Date())).toBe("cancelled");

    const left: string[] = [];
    for await (const blob of container.listBlobsFlat()) left.push(blob.name);
    expect(left).toEqual([]);
  });

  test("when the cleanup cannot finish (the restore target is unreachable), then the job still ends Cancelled, saying what was left", async () => {
    const jobId = uniqueName("unreachable-cleanup");
    await startedJob(jobId, "restored-instance", "Restore");
    const { instance } = await protectedDatabase("cleanup_unreachable");
    await runBackup(instance);
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    const target = { type: "database" as const, host: "127.0.0.1", port: 1, database: "x", secretRef: envSecret("PGVAULT_SECRET_CANCEL_NOWHERE", "u", "p"), overwrite: false, preserveOwnership: false };
    const input: CancelJobInput = { jobId, instanceName: "restored-instance", operation: "Restore", plan: { kind: "restore", instanceName: rp.instanceName, recoveryPointId: rp.id, target } };

    const run = await runCancelJob(input);

    expect(run.state.output).toBe("cancelledWithLeftovers");
    expect(run.attempts.filter((a) => a.name === "cleanUpCancelledJob").length).toBeGreaterThan(1);
    const job = await getJob(jobId);
    expect(job?.status).toBe("Cancelled");
    expect(job?.error?.message).toMatch(/^Cancelled, but not all partial data could be removed: /);
  });
});

