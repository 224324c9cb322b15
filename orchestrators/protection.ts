/**
 * The backup orchestration's last word on a recorded point: make it immutable until it expires. Run after the job
 * succeeded, so a cancel (which removes a backup's blobs) never meets an immutable blob; its failure is logged and
 * never fails the backup, whose data is complete either way.
 */
import type { OrchestrationContext, Task } from "durable-functions";
import { protectRecoveryPointStep, type ProtectRecoveryPointInput, type RecoveryPointProtection } from "../activities/protectRecoveryPoint";
import { jobLogPrefix } from "../shared/jobs/jobLog";
import { isoSeconds, jobErrorOf, jobRetry, valueOf } from "./jobSteps";

export function* protectAfterBackup(context: OrchestrationContext, instanceName: string, recoveryPointId: string): Generator<Task, void, unknown> {
  const input: ProtectRecoveryPointInput = {
    jobId: context.df.instanceId,
    instanceName,
    recoveryPointId,
    now: isoSeconds(context.df.currentUtcDateTime),
  };
  try {
    valueOf<RecoveryPointProtection>(yield protectRecoveryPointStep(input).withRetry(jobRetry));
  } catch (err) {
    const error = jobErrorOf(err);
    if (!context.df.isReplaying) {
      context.warn(`${jobLogPrefix({ jobId: input.jobId, instanceName, operation: "Backup" })} recovery point ${recoveryPointId} could not be made immutable: ${error.code}: ${error.message}`);
    }
  }
}
