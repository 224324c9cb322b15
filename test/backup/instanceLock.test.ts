/**
 * One backup, restore or verify per instance at a time (shared/jobs/operationLock.ts, orchestrators/instanceLock.ts):
 * the lock itself under concurrent writers, and the backup and restore orchestrations replayed by
 * durable-functions with the real activities against Azurite and PostgreSQL. The HTTP side (409s, cancel,
 * orchestrations terminated from outside) is in test/local-host/operationConflicts.test.ts.
 */
import type { InvocationContext } from "@azure/functions";
import { describe, expect, test } from "vitest";
import { acquireInstanceLockActivity, type InstanceLockInput } from "../../activities/acquireInstanceLock";
import { backupOrchestrationName, backupOrchestrator, type BackupInput } from "../../orchestrators/backup";
import { instanceWaitLimitMs, instanceWaitStepMs } from "../../orchestrators/instanceLock";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob, updateJob } from "../../shared/catalog/jobRows";
import type { BackupInstance, DatabaseDatasource, Job } from "../../shared/domain";
import { cleanUpCancelledJob } from "../../shared/jobs/jobCleanup";
import { acquireInstanceLock, readInstanceLock, releaseInstanceLock, runningOperation } from "../../shared/jobs/operationLock";
import { asDumpPoint, backupActivities, databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { EventType, type HistoryEvent } from "../support/durableTesting";
import { runOrchestration, type OrchestrationRun } from "../support/replayDriver";
import { runRestore } from "../support/restoreFixture";
import { cluster, createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const instanceNameOf = (prefix: string) => uniqueName(prefix).replaceAll("_", "-");

/** A job row as the HTTP routes or a running orchestration leave it. */
async function runningJob(jobId: string, instanceName: string, status: Job["status"] = "InProgress", operation: Job["operation"] = "Backup"): Promise<void> {
  await updateJob(jobId, { operation, trigger: "OnDemand", instanceName, status, phase: status === "Queued" ? "Queued" : "Uploading", startTime: "2026-11-22T00:00:00Z", bytes: 0 });
}

/** A small protected database (one table) and its instance. */
async function protectedDatabase(prefix: string): Promise<BackupInstance> {
  const database = uniqueName(prefix);
  const role = uniqueName(`${prefix}_user`);
  await createDatabase(database);
  await withAdmin(database, (c) => c.query("CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 500) g"));
  await createBackupRole(database, role, "pw-lock");
  return protect(instanceNameOf(prefix), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-lock")));
}

const timersOf = (run: OrchestrationRun) =>
  run.history.filter((e: HistoryEvent) => e.EventType === EventType.TimerCreated).map((e) => Date.parse((e as { FireAt?: string }).FireAt ?? ""));
const namesOf = (run: OrchestrationRun) => run.attempts.map((a) => a.name);

function runScheduled(instance: BackupInstance, jobId: string, activities = backupActivities): Promise<OrchestrationRun> {
  const input: BackupInput = { instanceName: instance.name, datasource: instance.datasource as DatabaseDatasource, trigger: "Scheduled" };
  return runOrchestration(backupOrchestrator, { name: backupOrchestrationName, instanceId: jobId, input, activities });
}

describe("the instance lock", () => {
  test("when ten jobs take an instance's lock at the same moment, then exactly one gets it and the others are told who has it", async () => {
    const instanceName = instanceNameOf("race");
    const jobIds = Array.from({ length: 10 }, (_, i) => `${instanceName}-job-${i}`);
    await Promise.all(jobIds.map((id) => runningJob(id, instanceName, "Queued")));

    const attempts = await Promise.all(jobIds.map((id) => acquireInstanceLock(instanceName, id, "Backup")));

    const winners = jobIds.filter((_, i) => attempts[i]!.acquired);
    expect(winners).toHaveLength(1);
    for (const attempt of attempts.filter((a) => !a.acquired)) expect(attempt).toMatchObject({ acquired: false, holder: { jobId: winners[0], operation: "Backup" } });
    expect((await readInstanceLock(instanceName))?.jobId).toBe(winners[0]);
    // The holder taking it again (a retried activity) keeps it.
    expect(await acquireInstanceLock(instanceName, winners[0]!, "Backup")).toEqual({ acquired: true });
  });

  test("when a lock's job ended without releasing it, then it is taken over, and of two jobs taking it over at once exactly one wins", async () => {
    const instanceName = instanceNameOf("stale");
    await runningJob("stale-holder", instanceName);
    expect((await acquireInstanceLock(instanceName, "stale-holder", "Restore")).acquired).toBe(true);
    await updateJob("stale-holder", { status: "Failed", endTime: "2026-11-22T00:10:00Z" });
    expect(await runningOperation(instanceName)).toBeUndefined();
    await Promise.all(["taker-a", "taker-b"].map((id) => runningJob(id, instanceName, "Queued")));

    const [a, b] = await Promise.all(["taker-a", "taker-b"].map((id) => acquireInstanceLock(instanceName, id, "Backup")));

    expect([a!.acquired, b!.acquired].filter(Boolean)).toHaveLength(1);
    const winner = a!.acquired ? a! : b!;
    expect(winner).toMatchObject({ acquired: true, tookOverFrom: { jobId: "stale-holder", operation: "Restore" } });
    expect((await readInstanceLock(instanceName))?.jobId).toBe(a!.acquired ? "taker-a" : "taker-b");
  });

  test("when the holder's job row is gone, or its orchestration no longer runs, then the lock is taken over; while both say it runs, it is not", async () => {
    const instanceName = instanceNameOf("orphan");
    await acquireInstanceLock(instanceName, "no-such-job", "Backup");
    await runningJob("next-job", instanceName, "Queued");
    expect(await acquireInstanceLock(instanceName, "next-job", "Backup")).toMatchObject({ acquired: true, tookOverFrom: { jobId: "no-such-job" } });

    await runningJob("after-next", instanceName, "Queued");
    const stillRunning = await acquireInstanceLock(instanceName, "after-next", "Backup", { isRunning: async () => true });
    expect(stillRunning).toMatchObject({ acquired: false, holder: { jobId: "next-job" } });
    const cannotTell = await acquireInstanceLock(instanceName, "after-next", "Backup", { isRunning: async () => undefined });
    expect(cannotTell.acquired).toBe(false);
    const ended = await acquireInstanceLock(instanceName, "after-next", "Backup", { isRunning: async (id) => id !== "next-job" });
    expect(ended).toMatchObject({ acquired: true, tookOverFrom: { jobId: "next-job" } });
  });

  test("when a job releases a lock it does not hold, then the holder keeps it", async () => {
    const instanceName = instanceNameOf("release");
    await runningJob("holder", instanceName);
    await acquireInstanceLock(instanceName, "holder", "Backup");
    expect(await releaseInstanceLock(instanceName, "someone-else")).toBe(false);
    expect((await readInstanceLock(instanceName))?.jobId).toBe("holder");
    expect(await releaseInstanceLock(instanceName, "holder")).toBe(true);
    expect(await readInstanceLock(instanceName)).toBeUndefined();
    expect(await releaseInstanceLock(instanceName, "holder")).toBe(false);
  });

  test("when a job holding the lock is cancelled, then its cleanup gives the lock back", async () => {
    const instanceName = instanceNameOf("cancelled");
    await runningJob("cancelled-job", instanceName);
    await acquireInstanceLock(instanceName, "cancelled-job", "Backup");
    await updateJob("cancelled-job", { cancelRequested: true });

    expect(await cleanUpCancelledJob("cancelled-job", { kind: "backup", instanceName }, new Date("2026-11-22T00:20:00Z"))).toBe("cancelled");

    expect(await readInstanceLock(instanceName)).toBeUndefined();
    expect((await getJob("cancelled-job"))?.status).toBe("Cancelled");
  });
});

describe("backups and restores under the lock", () => {
  test("when two on-demand backups of one instance start together, then exactly one runs and the other fails naming it, with no recovery point", async () => {
    const instance = await protectedDatabase("twins");
    const jobIds = [`${instance.name}-a`, `${instance.name}-b`];
    await Promise.all(jobIds.map((id) => runningJob(id, instance.name, "Queued")));
    const input: BackupInput = { instanceName: instance.name, datasource: instance.datasource as DatabaseDatasource, trigger: "OnDemand" };

    const runs = await Promise.all(jobIds.map((id) => runOrchestration(backupOrchestrator, { name: backupOrchestrationName, instanceId: id, input, activities: backupActivities })));

    const jobs = await Promise.all(jobIds.map((id) => getJob(id)));
    const winner = jobs.findIndex((job) => job?.status === "Succeeded");
    const loser = 1 - winner;
    expect(winner).toBeGreaterThanOrEqual(0);
    expect(jobs[loser]).toMatchObject({
      status: "Failed",
      error: {
        code: "UserErrorOperationInProgress",
        message: `Backup instance '${instance.name}' is busy: Backup job '${jobIds[winner]}' is running.`,
        recommendedAction: expect.stringContaining(`POST /api/jobs/${jobIds[winner]}/cancel`),
      },
    });
    expect(jobs[loser]?.recoveryPointId).toBeUndefined();
    // The loser did nothing but ask (and publish its failure); it never held the lock, so it gave nothing back either.
    expect(namesOf(runs[loser]!)).toEqual(["acquireInstanceLock", "updateJob", "publishEvents"]);
    expect(runs[loser]!.state.error).toContain("UserErrorOperationInProgress");
    const rps = await listRecoveryPoints(instance.name);
    expect(rps.map((rp) => rp.id)).toEqual([jobs[winner]!.recoveryPointId]);
    expect(await readInstanceLock(instance.name)).toBeUndefined();
  });

  test("when a backup fails, then it gives the lock back and the next backup runs", async () => {
    const instance = await protectedDatabase("fails");
    const broken = { ...instance, datasource: { ...(instance.datasource as DatabaseDatasource), secretRef: "env:PGVAULT_SECRET_LOCK_TEST_NOT_SET", auth: undefined } };

    const failed = await runBackup(broken);

    expect((await getJob(failed.jobId))?.error?.code).toBe("UserErrorSecretNotFound");
    expect(namesOf(failed)).toEqual(["acquireInstanceLock", "updateJob", "resolveSecret", "updateJob", "releaseInstanceLock", "publishEvents"]);
    expect(await readInstanceLock(instance.name)).toBeUndefined();
    const next = await runBackup(instance);
    expect((await getJob(next.jobId))?.status).toBe("Succeeded");
  });

  test("when the previous job ended without giving the lock back, then the next backup takes the instance over and succeeds", async () => {
    const instance = await protectedDatabase("takeover");
    await runningJob("crashed-job", instance.name);
    await acquireInstanceLock(instance.name, "crashed-job", "Backup");
    await updateJob("crashed-job", { status: "Failed", endTime: "2026-11-22T00:10:00Z" });

    const run = await runBackup(instance);

    expect((await getJob(run.jobId))?.status).toBe("Succeeded");
    expect(run.logs.some((line) => line.includes("took the instance over from Backup job crashed-job, which is over"))).toBe(true);
    expect(await readInstanceLock(instance.name)).toBeUndefined();
  });

  test("when a scheduled backup finds the instance busy, then it waits Queued a minute at a time and runs once the other job ends", async () => {
    const instance = await protectedDatabase("waits");
    await runningJob("restore-running", instance.name, "InProgress", "Restore");
    await acquireInstanceLock(instance.name, "restore-running", "Restore");
    const jobId = `scheduled-${instance.name}-20261122T0230Z`;
    let asked = 0;
    let whileWaiting: Job | undefined;
    const acquire = async (input: InstanceLockInput, context: InvocationContext) => {
      asked += 1;
      if (asked === 2) whileWaiting = await getJob(jobId);
      if (asked === 3) {
        // The restore ends (as its orchestration does): finished row, lock given back.
        await updateJob("restore-running", { status: "Succeeded", phase: "Done", endTime: "2026-11-22T02:32:00Z" });
        await releaseInstanceLock(instance.name, "restore-running");
      }
      return acquireInstanceLockActivity(input, context);
    };

    const run = await runScheduled(instance, jobId, { ...backupActivities, acquireInstanceLock: acquire });

    expect(asked).toBe(3);
    expect(whileWaiting).toMatchObject({ status: "Queued", phase: "WaitingForInstance", trigger: "Scheduled", instanceName: instance.name });
    const timers = timersOf(run);
    expect(timers).toHaveLength(2);
    // A minute after the look before (the orchestration's clock moves on a little while activities run).
    expect(timers[1]! - timers[0]!).toBeGreaterThanOrEqual(instanceWaitStepMs);
    expect(timers[1]! - timers[0]!).toBeLessThan(instanceWaitStepMs + 5_000);
    expect(run.customStatuses).toContainEqual({ phase: "WaitingForInstance" });
    const job = await getJob(jobId);
    expect(job).toMatchObject({ status: "Succeeded", trigger: "Scheduled" });
    expect(asDumpPoint((await listRecoveryPoints(instance.name))[0]).id).toBe(job?.recoveryPointId);
    expect(await readInstanceLock(instance.name)).toBeUndefined();
  });

  test("when the instance stays busy, then a scheduled backup gives up after the wait limit with UserErrorOperationInProgress", async () => {
    const instance = await protectedDatabase("gives_up");
    await runningJob("long-restore", instance.name, "InProgress", "Restore");
    await acquireInstanceLock(instance.name, "long-restore", "Restore");
    const jobId = `scheduled-${instance.name}-20261122T0230Z`;

    const run = await runScheduled(instance, jobId);

    const minutes = instanceWaitLimitMs / 60_000;
    expect(timersOf(run)).toHaveLength(minutes);
    expect(await getJob(jobId)).toMatchObject({
      status: "Failed",
      error: {
        code: "UserErrorOperationInProgress",
        message: `Backup instance '${instance.name}' is busy: Restore job 'long-restore' is running after waiting ${minutes} minutes; this scheduled backup was skipped.`,
      },
    });
    expect(namesOf(run)).not.toContain("resolveSecret");
    expect(await listRecoveryPoints(instance.name)).toEqual([]);
    expect((await readInstanceLock(instance.name))?.jobId).toBe("long-restore");
  });

  test("when a restore is asked for while a backup of the instance runs, then it fails naming the backup and touches no server", async () => {
    const instance = await protectedDatabase("restore_busy");
    await runBackup(instance);
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    await runningJob("backup-running", instance.name);
    await acquireInstanceLock(instance.name, "backup-running", "Backup");
    const target = {
      type: "database" as const, host: cluster().host, port: cluster().port, database: uniqueName("never_restored"),
      secretRef: envSecret("PGVAULT_SECRET_LOCK_RESTORE", cluster().user, cluster().password), overwrite: false, preserveOwnership: false,
    };

    const run = await runRestore(rp, target);

    expect(await getJob(run.jobId)).toMatchObject({ status: "Failed", error: { code: "UserErrorOperationInProgress", message: expect.stringContaining("Backup job 'backup-running'") } });
    expect(namesOf(run)).toEqual(["acquireInstanceLock", "updateJob", "publishEvents"]);
    expect((await readInstanceLock(instance.name))?.jobId).toBe("backup-running");
  });
});
