import * as df from "durable-functions";
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { recordRecoveryPointStep, type RecordedPoint, type RecordRecoveryPointInput } from "../activities/recordRecoveryPoint";
import type { Datasource, JobTrigger, RetentionTag } from "../shared/domain";
import type { JobStart } from "./backupTypes";
import { backUpDatabase } from "./databaseBackup";
import { backUpFlexibleServer } from "./flexServerBackup";
import { releaseInstanceLock, takeInstanceLock } from "./instanceLock";
import { withJobEvents } from "./jobEvents";
import { isoSeconds, jobErrorOf, jobRetry, jobUpdates, StepFailed } from "./jobSteps";
import { protectAfterBackup } from "./protection";
import { retentionAfterBackup } from "./retention";

export const backupOrchestrationName = "backup";

/**
 * The orchestration input, stored in the durable history: ids and references only; nothing that grows with the
 * database, and never a secret value.
 */
export interface BackupInput {
  instanceName: string;
  datasource: Datasource;
  trigger: JobTrigger;
  retentionTag?: RetentionTag;
}

export type BackupOutput = RecordedPoint;

/**
 * Backup of one instance: with the instance's operation lock held (one backup, restore or verify per instance at a
 * time), the datasource's own steps put the data into the vault, then the recovery point is recorded and the lock
 * given back; then the point is protected and the instance's retention applied. The job row and custom status
 * follow each phase; its end is published as an event (orchestrators/jobEvents.ts).
 */
const backupOrchestrator: OrchestrationHandler = withJobEvents("Backup", function* (context: OrchestrationContext) {
  const input = context.df.getInput<BackupInput>();
  const { instanceName, datasource } = input;
  const job = jobUpdates(context);
  let locked = false;

  try {
    // Written with the first phase of either datasource.
    const start: JobStart = {
      operation: "Backup",
      trigger: input.trigger,
      instanceName,
      startTime: isoSeconds(context.df.currentUtcDateTime),
      bytes: 0,
    };
    // A scheduled job has no row yet, and a lock held without one would be taken for a leftover.
    if (input.trigger === "Scheduled") yield* job.queue("Queued", start);
    // A scheduled backup waits for a job already running on the instance; an on-demand one is refused.
    yield* takeInstanceLock(context, job, { instanceName, operation: "Backup", whenBusy: input.trigger === "Scheduled" ? "wait" : "fail" });
    locked = true;
    const taken =
      datasource.type === "database"
        ? yield* backUpDatabase(context, job, { instanceName, datasource, start })
        : yield* backUpFlexibleServer(context, job, { instanceName, datasource, start });

    yield* job.enterPhase("Recording", { bytes: taken.sizeBytes });
    const recordInput: RecordRecoveryPointInput = {
      jobId: context.df.instanceId,
      instanceName,
      recoveryPointId: taken.recoveryPointId,
      time: isoSeconds(taken.time),
      retentionTag: input.retentionTag,
      backup: taken.backup,
    };
    const recorded = (yield recordRecoveryPointStep(recordInput).withRetry(jobRetry)) as RecordedPoint;

    yield* job.succeed({ bytes: recorded.sizeBytes });
    locked = false;
    yield* releaseInstanceLock(context, instanceName);
    // Immutable until it expires (VAULT_IMMUTABILITY); after the job succeeded, so a cancel never meets it.
    yield* protectAfterBackup(context, instanceName, recorded.recoveryPointId);
    // Expired points of this instance go now, not only at the nightly run; a failure here is logged, not fatal.
    yield* retentionAfterBackup(context, instanceName);
    return recorded satisfies BackupOutput;
  } catch (err) {
    const error = jobErrorOf(err);
    yield* job.fail(error);
    if (locked) yield* releaseInstanceLock(context, instanceName);
    // Failing the orchestration too keeps the runtime status (and the portal's monitoring) truthful.
    throw new StepFailed(error);
  }
});

df.app.orchestration(backupOrchestrationName, backupOrchestrator);

export { backupOrchestrator };
