import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { BlobRestoreTarget, DatabaseRestoreTarget, RecoveryPoint } from "../shared/domain";
import { jobLog } from "../shared/jobLog";
import { jobProgress } from "../shared/jobProgress";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { dropDatabaseIfExists, restoreIntoTemporary, swapIn, type RestoreSource } from "../shared/restore/databaseRestore";
import { exportToContainer, type ExportResult } from "../shared/restore/exportToContainer";
import { checkRestoreAccess, type RestoreFacts } from "../shared/restore/restoreAccess";

/** The activities of a restore job, one effect each; every one works with the pinned secret version. */

export interface RestoreTargetInput {
  target: DatabaseRestoreTarget;
  secretVersion: string;
}

export function checkRestoreAccessActivity(input: RestoreTargetInput): Promise<ActivityOutcome<RestoreFacts>> {
  return asOutcome(async () => checkRestoreAccess(await connectionParamsFor(input.target, input.secretVersion), input.target));
}

export interface RestoreDatabaseInput extends RestoreTargetInput {
  jobId: string;
  instanceName: string;
  source: RestoreSource;
  temporaryDatabase: string;
}

/** pg_restore into the temporary database, verifying the recovery point's SHA-256 on the way. */
export async function restoreDatabaseActivity(input: RestoreDatabaseInput, context: InvocationContext): Promise<ActivityOutcome<{ bytes: number }>> {
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: "Restore" });
  return asOutcome(async () => {
    const params = await connectionParamsFor(input.target, input.secretVersion);
    const progress = jobProgress(input.jobId, log);
    const started = Date.now();
    const bytes = await restoreIntoTemporary(params, input.target, input.source, input.temporaryDatabase, { onProgress: progress.report });
    await progress.flush();
    log.info(`restored ${bytes} bytes into ${input.temporaryDatabase} in ${((Date.now() - started) / 1000).toFixed(1)} s, sha256 verified`);
    return { bytes };
  });
}

export interface SwapDatabaseInput extends RestoreTargetInput {
  temporaryDatabase: string;
}

export function swapDatabaseActivity(input: SwapDatabaseInput): Promise<ActivityOutcome<null>> {
  return asOutcome(async () => {
    await swapIn(await connectionParamsFor(input.target, input.secretVersion), input.target, input.temporaryDatabase);
    return null;
  });
}

/** The failure path's cleanup: a restore never leaves its temporary database behind. */
export async function dropTemporaryDatabaseActivity(input: SwapDatabaseInput): Promise<void> {
  await dropDatabaseIfExists(await connectionParamsFor(input.target, input.secretVersion), input.temporaryDatabase);
}

export interface ExportRecoveryPointInput {
  recoveryPoint: RecoveryPoint;
  target: BlobRestoreTarget;
}

export function exportRecoveryPointActivity(input: ExportRecoveryPointInput): Promise<ActivityOutcome<ExportResult>> {
  return asOutcome(() => exportToContainer(input.recoveryPoint, input.target));
}

export const checkRestoreAccessStep = df.app.activity("checkRestoreAccess", { handler: checkRestoreAccessActivity });
export const restoreDatabaseStep = df.app.activity("restoreDatabase", { handler: restoreDatabaseActivity });
export const swapDatabaseStep = df.app.activity("swapDatabase", { handler: swapDatabaseActivity });
export const dropTemporaryDatabaseStep = df.app.activity("dropTemporaryDatabase", { handler: dropTemporaryDatabaseActivity });
export const exportRecoveryPointStep = df.app.activity("exportRecoveryPoint", { handler: exportRecoveryPointActivity });
