/** Runs the restore drill (verify orchestration) through the replay driver with the real activities. */
import { acquireInstanceLockActivity } from "../../activities/acquireInstanceLock";
import { checkScratchDatabaseActivity } from "../../activities/checkScratchDatabase";
import { checkVerifyAccessActivity } from "../../activities/checkVerifyAccess";
import { dropScratchDatabaseActivity } from "../../activities/dropScratchDatabase";
import { recordVerificationActivity } from "../../activities/recordVerification";
import { releaseInstanceLockActivity } from "../../activities/releaseInstanceLock";
import { resolveSecretActivity } from "../../activities/resolveSecret";
import { restoreScratchDatabaseActivity } from "../../activities/restoreScratchDatabase";
import { updateJobActivity } from "../../activities/updateJob";
import { verifyOrchestrationName, verifyOrchestrator, type VerifyInput } from "../../orchestrators/verify";
import type { BackupInstance, DatabaseDatasource, DumpRecoveryPoint, JobTrigger } from "../../shared/domain";
import { scratchDatabaseName } from "../../shared/verify/restoreDrill";
import { runOrchestration, type ActivityFunction, type OrchestrationRun } from "./replayDriver";
import { databasesUnder } from "./testDatabase";

export const verifyActivities: Record<string, ActivityFunction> = {
  updateJob: updateJobActivity,
  acquireInstanceLock: acquireInstanceLockActivity,
  releaseInstanceLock: releaseInstanceLockActivity,
  resolveSecret: resolveSecretActivity,
  checkVerifyAccess: checkVerifyAccessActivity,
  restoreScratchDatabase: restoreScratchDatabaseActivity,
  checkScratchDatabase: checkScratchDatabaseActivity,
  dropScratchDatabase: dropScratchDatabaseActivity,
  recordVerification: recordVerificationActivity,
};

let counter = 0;

/** Verifies the point as the catalog holds it: the orchestration carries its id, and its steps read the row. */
export async function runVerify(
  instance: BackupInstance,
  recoveryPoint: DumpRecoveryPoint,
  options: { trigger?: JobTrigger; jobId?: string } = {},
): Promise<OrchestrationRun & { jobId: string }> {
  const jobId = options.jobId ?? `verify-${instance.name}-${Date.now()}-${counter++}`;
  const input: VerifyInput = { instanceName: instance.name, datasource: instance.datasource as DatabaseDatasource, recoveryPointId: recoveryPoint.id, trigger: options.trigger ?? "OnDemand" };
  const run = await runOrchestration(verifyOrchestrator, { name: verifyOrchestrationName, instanceId: jobId, input, activities: verifyActivities });
  return { ...run, jobId };
}

/**
 * Whether a scratch database of the drill (any attempt's: each restores into one of its own under the job's stem)
 * exists on the test cluster (other test files run drills at the same time).
 */
export async function scratchExists(jobId: string): Promise<boolean> {
  return (await databasesUnder(scratchDatabaseName(jobId))).length > 0;
}
