/** Runs the restore orchestration through the replay driver with the real activities. */
import { acquireInstanceLockActivity } from "../../activities/acquireInstanceLock";
import { releaseInstanceLockActivity } from "../../activities/releaseInstanceLock";
import { checkRestoreAccessActivity } from "../../activities/checkRestoreAccess";
import { dropTemporaryDatabaseActivity } from "../../activities/dropTemporaryDatabase";
import { exportRecoveryPointActivity } from "../../activities/exportRecoveryPoint";
import { restoreDatabaseActivity } from "../../activities/restoreDatabase";
import { swapDatabaseActivity } from "../../activities/swapDatabase";
import { resolveSecretActivity } from "../../activities/resolveSecret";
import { updateJobActivity } from "../../activities/updateJob";
import { restoreOrchestrationName, restoreOrchestrator, type RestoreInput } from "../../orchestrators/restore";
import type { RecoveryPoint, RestoreTarget } from "../../shared/domain";
import { runOrchestration, type ActivityFunction, type OrchestrationRun } from "./replayDriver";

export const restoreActivities: Record<string, ActivityFunction> = {
  updateJob: updateJobActivity,
  // The instance's operation lock, taken first and given back when the job ends.
  acquireInstanceLock: acquireInstanceLockActivity,
  releaseInstanceLock: releaseInstanceLockActivity,
  resolveSecret: resolveSecretActivity,
  checkRestoreAccess: checkRestoreAccessActivity,
  restoreDatabase: restoreDatabaseActivity,
  swapDatabase: swapDatabaseActivity,
  dropTemporaryDatabase: dropTemporaryDatabaseActivity,
  exportRecoveryPoint: exportRecoveryPointActivity,
};

let counter = 0;

/** Restores the point as the catalog holds it: the orchestration carries its id, and its steps read the row. */
export async function runRestore(recoveryPoint: RecoveryPoint, target: RestoreTarget): Promise<OrchestrationRun & { jobId: string }> {
  const jobId = `restore-${recoveryPoint.instanceName}-${Date.now()}-${counter++}`;
  const input: RestoreInput = { instanceName: recoveryPoint.instanceName, recoveryPointId: recoveryPoint.id, target };
  const run = await runOrchestration(restoreOrchestrator, { name: restoreOrchestrationName, instanceId: jobId, input, activities: restoreActivities });
  return { ...run, jobId };
}
