/** Runs the restore drill (verify orchestration) through the replay driver with the real activities. */
import { acquireInstanceLockActivity } from "../../activities/acquireInstanceLock";
import { checkScratchDatabaseActivity } from "../../activities/checkScratchDatabase";
import { checkVerifyAccessActivity } from "../../activities/checkVerifyAccess";
import { dropScratchDatabaseActivity } from "../../activities/dropScratchDatabase";
import { listPointDatabasesActivity } from "../../activities/listPointDatabases";
import { recordVerificationActivity } from "../../activities/recordVerification";
import { releaseInstanceLockActivity } from "../../activities/releaseInstanceLock";
import { resolveSecretActivity } from "../../activities/resolveSecret";
import { restoreScratchDatabaseActivity } from "../../activities/restoreScratchDatabase";
import { updateJobActivity } from "../../activities/updateJob";
import { verifyOrchestrationName, verifyOrchestrator, type VerifyInput } from "../../orchestrators/verify";
import type { BackupInstance, JobTrigger, RecoveryPoint } from "../../shared/domain";
import { drillSubjectOf } from "../../shared/verify/drillServer";
import { scratchDatabaseName } from "../../shared/verify/restoreDrill";
import { runOrchestration, type ActivityFunction, type OrchestrationRun } from "./replayDriver";
import { databasesUnder } from "./testDatabase";

export const verifyActivities: Record<string, ActivityFunction> = {
  updateJob: updateJobActivity,
  acquireInstanceLock: acquireInstanceLockActivity,
  releaseInstanceLock: releaseInstanceLockActivity,
  resolveSecret: resolveSecretActivity,
  checkVerifyAccess: checkVerifyAccessActivity,
  listPointDatabases: listPointDatabasesActivity,
  restoreScratchDatabase: restoreScratchDatabaseActivity,
  checkScratchDatabase: checkScratchDatabaseActivity,
  dropScratchDatabase: dropScratchDatabaseActivity,
  recordVerification: recordVerificationActivity,
};

let counter = 0;

/**
 * Verifies the point as the catalog holds it: the orchestration carries its id, and its steps read the row. A
 * Flexible Server instance must name its drill server (`verification`).
 */
export async function runVerify(
  instance: BackupInstance,
  recoveryPoint: RecoveryPoint,
  options: { trigger?: JobTrigger; jobId?: string } = {},
): Promise<OrchestrationRun & { jobId: string }> {
  const jobId = options.jobId ?? `verify-${instance.name}-${Date.now()}-${counter++}`;
  const subject = drillSubjectOf(instance);
  if (!subject) throw new Error(`instance ${instance.name} names no drill server`);
  const input: VerifyInput = { instanceName: instance.name, recoveryPointId: recoveryPoint.id, trigger: options.trigger ?? "OnDemand", ...subject };
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
