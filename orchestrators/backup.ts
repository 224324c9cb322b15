import * as df from "durable-functions";
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { recordRecoveryPointStep, type RecordRecoveryPointInput, type RecoveryPointContent } from "../activities/recordRecoveryPoint";
import type { UpdateJobInput } from "../activities/updateJob";
import type { Datasource, JobTrigger, RecoveryPoint, RetentionTag } from "../shared/domain";
import { backUpDatabase } from "./databaseBackup";
import { backUpFlexibleServer } from "./flexServerBackup";
import { releaseInstanceLock, takeInstanceLock } from "./instanceLock";
import { isoSeconds, jobErrorOf, jobRetry, jobUpdates } from "./jobSteps";
import { protectAfterBackup } from "./protection";
import { retentionAfterBackup } from "./retention";

export const backupOrchestrationName = "backup";

/** The orchestration input: references only, never a secret value (it is stored in the durable history). */
export interface BackupInput {
  instanceName: string;
  datasource: Datasource;
  trigger: JobTrigger;
  retentionTag?: RetentionTag;
}

export interface BackupOutput {
  recoveryPointId: string;
  sizeBytes: number;
}

export type JobStart = UpdateJobInput["update"];

/** What a datasource's backup steps hand over once its data is complete in the vault. */
export interface TakenBackup {
  recoveryPointId: string;
  time: Date;
  content: RecoveryPointContent;
}

/**
 * Backup of one instance: with the instance's operation lock held (one backup, restore or verify per instance at a
 * time), the datasource's own steps put the data into the vault, then the recovery point is recorded and the lock
 * given back; then the point is protected and the instance's retention applied. The job row and custom status
 * follow each phase.
 */
const backupOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
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

    yield* job.enterPhase("Recording", { bytes: taken.content.sizeBytes });
    const recordInput: RecordRecoveryPointInput = {
      jobId: context.df.instanceId,
      instanceName,
      recoveryPointId: taken.recoveryPointId,
      time: isoSeconds(taken.time),
      retentionTag: input.retentionTag,
      content: taken.content,
    };
    const rp = (yield recordRecoveryPointStep(recordInput).withRetry(jobRetry)) as RecoveryPoint;

    yield* job.succeed({ bytes: rp.sizeBytes });
    locked = false;
    yield* releaseInstanceLock(context, instanceName);
    // Immutable until it expires (VAULT_IMMUTABILITY); after the job succeeded, so a cancel never meets it.
    yield* protectAfterBackup(context, rp);
    // Expired points of this instance go now, not only at the nightly run; a failure here is logged, not fatal.
    yield* retentionAfterBackup(context, instanceName);
    return { recoveryPointId: rp.id, sizeBytes: rp.sizeBytes } satisfies BackupOutput;
  } catch (err) {
    const error = jobErrorOf(err);
    yield* job.fail(error);
    if (locked) yield* releaseInstanceLock(context, instanceName);
    // Failing the orchestration too keeps the runtime status (and the portal's monitoring) truthful.
    throw new Error(`${error.code}: ${error.message}`);
  }
};

df.app.orchestration(backupOrchestrationName, backupOrchestrator);

export { backupOrchestrator };
