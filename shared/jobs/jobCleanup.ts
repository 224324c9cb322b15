/**
 * What a cancelled job leaves behind, and its removal: a backup's recovery point row (only while the point is not
 * recorded complete) and then its blobs and Flexible Server containers; a restore's temporary databases and the
 * roles it created, or its exported files; a restore drill's scratch database. Run after the job's orchestration
 * was terminated, with the job's `cancelRequested` flag already set (see jobCancellation.ts). Idempotent.
 */
import { removeUnlessRecorded } from "../backup/pointRecording";
import { getRecoveryPoint } from "../catalog/recoveryPointReads";
import { getJob, updateJob, type JobUpdate } from "../catalog/jobRows";
import type { DatabaseRestoreTarget, RecoveryPoint, RequestedDatabaseEndpoint, RestoreTarget } from "../domain";
import type { DatabaseAddress } from "../postgres/connection";
import { isoSeconds } from "../time/isoTime";
import { connectionParamsFor } from "../postgres/connectionParams";
import { dropAttemptDatabases, temporaryDatabaseName } from "../restore/databaseRestore";
import { databaseMappings, databaseTargetOf } from "../restore/serverRestore";
import { dropRoles, rolesCreatedBy } from "../restore/missingRoles";
import { connectMaintenance } from "../restore/restoreAccess";
import { removeExport } from "../restore/exportToContainer";
import { scratchDatabaseName } from "../verify/restoreDrill";
import { storageFailure } from "../storageErrors";
import { getBackupContainer, getBlobServiceClient } from "../catalog/vaultClients";
import { ltrContainerNames } from "../flexServer/ltrContainers";
import { releaseInstanceLock, releaseLock, restoreTargetLock } from "./operationLock";
import { reportJobFinished } from "../telemetry";

export type CancelPlan =
  /** `recoveryPointId` is absent when the job was cancelled before it named its recovery point. */
  | { kind: "backup"; instanceName: string; recoveryPointId?: string }
  /** Ids and references only (it is an orchestration's input): the point is read when its files are to be removed. */
  | { kind: "restore"; instanceName: string; recoveryPointId: string; target: RestoreTarget }
  /** A restore drill: its scratch databases where it restored (drillEndpoint: the instance's own server, or its drill server). */
  | { kind: "verify"; datasource: RequestedDatabaseEndpoint }
  | { kind: "nothing" };

/**
 * A cancelled backup's point: its row first, and only while the point is not recorded complete (the row is the
 * truth, whatever the job row says); then its data. Were the data to go first, a failed row delete would leave an
 * `Available` row naming nothing. Data whose row is gone and whose removal fails here is an orphan for the
 * reconciliation (shared/retention/reconcile.ts). Returns the point when it was recorded complete: then it stays.
 */
async function removeBackupLeftovers(instanceName: string, recoveryPointId: string): Promise<RecoveryPoint | undefined> {
  return removeUnlessRecorded(instanceName, recoveryPointId, async () => {
    try {
      const backups = getBackupContainer();
      for await (const blob of backups.listBlobsFlat({ prefix: `${instanceName}/${recoveryPointId}/` })) {
        await backups.getBlobClient(blob.name).deleteIfExists({ deleteSnapshots: "include" });
      }
      // The Flexible Server containers of the point, however many the pre-check asked for.
      const stem = ltrContainerNames(recoveryPointId, 1)[0]!.replace(/0$/, "");
      for await (const container of getBlobServiceClient().listContainers({ prefix: stem })) {
        await getBlobServiceClient().getContainerClient(container.name).deleteIfExists();
      }
    } catch (err) {
      throw storageFailure(err, `removing what the cancelled backup ${instanceName}/${recoveryPointId} wrote`);
    }
  });
}

/** The target's address as its lock knows it: the request's server, or its secret's where the request left it out. */
async function settledAddress(target: DatabaseRestoreTarget): Promise<DatabaseAddress> {
  if (target.host !== undefined && target.port !== undefined) return { host: target.host, port: target.port, database: target.database };
  const { host, port } = await connectionParamsFor(target);
  return { host, port, database: target.database };
}

/**
 * The databases a restore writes into, each as a database target: a server target's from its point (as its job
 * planned them; none when the point is gone, and then no lock can have been taken for them either).
 */
async function databaseTargetsOf(plan: Extract<CancelPlan, { kind: "restore" }>): Promise<DatabaseRestoreTarget[]> {
  const { target } = plan;
  if (target.type === "database") return [target];
  if (target.type === "blob") return [];
  const rp = await getRecoveryPoint(plan.instanceName, plan.recoveryPointId);
  if (rp?.format !== "flexibleServer-ltr") return [];
  return databaseMappings(rp, target.databases).map((mapping) => databaseTargetOf(target, mapping.restoreAs));
}

/** The job's last update, counted in the metrics. A finished row is overwritten only by the cancel's own cleanup. */
async function finishJob(jobId: string, update: JobUpdate): Promise<void> {
  await updateJob(jobId, update, { afterFinish: true });
  await reportJobFinished(jobId, update);
}

/**
 * Removes the job's leftovers, marks it `Cancelled` and gives its locks back (the instance's, and a restore
 * target's; a terminated orchestration never reaches its own release). A job that succeeded before the cancel took
 * effect is left as it is (its data is a complete, recorded backup or restore), and a backup whose point was
 * recorded complete is marked `Succeeded` with it (its last job updates were lost, or the cancel came after the
 * record); the answer says which happened.
 */
export async function cleanUpCancelledJob(jobId: string, plan: CancelPlan, now: Date): Promise<"cancelled" | "finishedFirst"> {
  const job = await getJob(jobId);
  const release = async () => {
    if (plan.kind === "restore") for (const target of await databaseTargetsOf(plan)) await releaseLock(restoreTargetLock(await settledAddress(target)), jobId);
    if (job && job.operation !== "Retention") await releaseInstanceLock(job.instanceName, jobId);
  };
  if (job?.status === "Succeeded") {
    await release();
    return "finishedFirst";
  }
  const recorded = plan.kind === "backup" && plan.recoveryPointId ? await removeBackupLeftovers(plan.instanceName, plan.recoveryPointId) : undefined;
  if (recorded) {
    await finishJob(jobId, { status: "Succeeded", phase: "Done", endTime: isoSeconds(now), recoveryPointId: recorded.id, bytes: recorded.sizeBytes });
    await release();
    return "finishedFirst";
  }
  if (plan.kind === "restore" && plan.target.type !== "blob") {
    // Every attempt's database (of every database of a server target): the cancel refuses once a swap started,
    // so none of them is in place yet.
    const onServer = plan.target.type === "database" ? plan.target : databaseTargetOf(plan.target, "postgres");
    const params = await connectionParamsFor(onServer);
    await dropAttemptDatabases(params, temporaryDatabaseName(jobId));
    // Then the roles the job created (roles: "createMissing"), found by their mark: they own nothing now.
    const client = await connectMaintenance(params);
    try {
      await dropRoles(client, await rolesCreatedBy(client, jobId));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  if (plan.kind === "restore" && plan.target.type === "blob") {
    // Whatever its status now, the row names the files the export wrote.
    const rp = await getRecoveryPoint(plan.instanceName, plan.recoveryPointId);
    if (rp) await removeExport(rp, plan.target, jobId);
  }
  if (plan.kind === "verify") await dropAttemptDatabases(await connectionParamsFor(plan.datasource), scratchDatabaseName(jobId));
  await finishJob(jobId, { status: "Cancelled", endTime: isoSeconds(now) });
  await release();
  return "cancelled";
}
