/**
 * The backup orchestration's last word on a recorded point: make it immutable until it expires. Run after the job
 * succeeded, so a cancel (which removes a backup's blobs) never meets an immutable blob; its failure is logged and
 * never fails the backup, whose data is complete either way. A point left mutable (the vault refused, or the step
 * failed) is published as `pgvault.immutability.notApplied`; VAULT_IMMUTABILITY=off asks for none, so says nothing.
 */
import type { OrchestrationContext, Task } from "durable-functions";
import { protectRecoveryPointStep, type ProtectRecoveryPointInput, type RecoveryPointProtection } from "../activities/protectRecoveryPoint";
import { immutabilityNotAppliedEvent } from "../shared/events/eventFactories";
import { jobLogPrefix } from "../shared/jobs/jobLog";
import { immutabilityRefusalMessages } from "../shared/recoveryPoints/immutability";
import { announce, jobFacts } from "./jobEvents";
import { isoSeconds, jobErrorOf, jobRetry, valueOf } from "./jobSteps";

export function* protectAfterBackup(context: OrchestrationContext, instanceName: string, recoveryPointId: string): Generator<Task, void, unknown> {
  const input: ProtectRecoveryPointInput = {
    jobId: context.df.instanceId,
    instanceName,
    recoveryPointId,
    now: isoSeconds(context.df.currentUtcDateTime),
  };
  const job = { ...jobFacts(context, "Backup"), instanceName, recoveryPointId };
  try {
    const protection = valueOf<RecoveryPointProtection>(yield protectRecoveryPointStep(input).withRetry(jobRetry));
    const refusal = protection.notImmutable === "notSupported" || protection.notImmutable === "forbidden" ? protection.notImmutable : undefined;
    if (refusal) yield* announce(context, [immutabilityNotAppliedEvent(job, { reason: refusal, message: immutabilityRefusalMessages[refusal] })]);
  } catch (err) {
    const error = jobErrorOf(err);
    if (!context.df.isReplaying) {
      context.warn(`${jobLogPrefix({ jobId: input.jobId, instanceName, operation: "Backup" })} recovery point ${recoveryPointId} could not be made immutable: ${error.code}: ${error.message}`);
    }
    yield* announce(context, [immutabilityNotAppliedEvent(job, { error })]);
  }
}
