import * as df from "durable-functions";
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { checkBackupAccessStep, type CheckBackupAccessInput } from "../activities/checkBackupAccess";
import { dumpDatabaseStep, type DumpDatabaseInput } from "../activities/dumpDatabase";
import { recordRecoveryPointStep, type RecordRecoveryPointInput } from "../activities/recordRecoveryPoint";
import { resolveSecretStep, type ResolveSecretInput } from "../activities/resolveSecret";
import { updateJobStep, type UpdateJobInput } from "../activities/updateJob";
import type { ActivityOutcome } from "../shared/activityOutcome";
import type { VerifiedAccess } from "../shared/backup/databaseAccess";
import type { StoredDump } from "../shared/backup/dumpToVault";
import type { DatabaseDatasource, JobPhase, JobTrigger, RecoveryPoint, RetentionTag } from "../shared/domain";
import { jobErrorFromFailure, type JobError } from "../shared/errors";
import { recoveryPointId } from "../shared/recoveryPointId";

export const backupOrchestrationName = "backup";

/** The orchestration input: references only, never a secret value (it is stored in the durable history). */
export interface BackupInput {
  instanceName: string;
  datasource: DatabaseDatasource;
  trigger: JobTrigger;
  retentionTag?: RetentionTag;
}

export interface BackupOutput {
  recoveryPointId: string;
  sizeBytes: number;
}

/** Transient failures (storage 5xx, network, Key Vault throttling) are retried; user errors never reach here. */
export const backupRetry = Object.assign(new df.RetryOptions(10_000, 4), {
  backoffCoefficient: 2,
  maxRetryIntervalInMilliseconds: 5 * 60_000,
});

/** A step that reported a user error: the job fails with it, without retries. */
class StepFailed extends Error {
  constructor(readonly error: JobError) {
    super(`${error.code}: ${error.message}`);
  }
}

function valueOf<T>(outcome: ActivityOutcome<T>): T {
  if (!outcome.ok) throw new StepFailed(outcome.error);
  return outcome.value;
}

const isoSeconds = (time: Date) => time.toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * Backup of one `database` instance: resolve the secret (pinning its version), check access, stream pg_dump into
 * the vault, then record the recovery point. The job row and custom status follow each phase.
 */
const backupOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<BackupInput>();
  const jobId = context.df.instanceId;
  const { instanceName, datasource } = input;

  function* enterPhase(phase: JobPhase, extra: UpdateJobInput["update"] = {}) {
    context.df.setCustomStatus({ phase });
    yield updateJobStep({ jobId, update: { status: "InProgress", phase, ...extra } } satisfies UpdateJobInput).withRetry(backupRetry);
  }

  try {
    yield* enterPhase("ResolvingSecret", {
      operation: "Backup",
      trigger: input.trigger,
      instanceName,
      startTime: isoSeconds(context.df.currentUtcDateTime),
      bytes: 0,
    });
    const secret = valueOf<{ version: string }>(
      yield resolveSecretStep({ secretRef: datasource.secretRef } satisfies ResolveSecretInput).withRetry(backupRetry),
    );

    yield* enterPhase("CheckingAccess");
    const access = valueOf<VerifiedAccess>(
      yield checkBackupAccessStep({ datasource, secretVersion: secret.version } satisfies CheckBackupAccessInput).withRetry(backupRetry),
    );

    const time = context.df.currentUtcDateTime;
    const rpId = recoveryPointId(time, context.df.newGuid(jobId));
    yield* enterPhase("Uploading", { recoveryPointId: rpId });
    const dumpInput: DumpDatabaseInput = {
      jobId,
      instanceName,
      recoveryPointId: rpId,
      datasource,
      secretVersion: secret.version,
      expectedBytes: access.databaseSizeBytes,
    };
    const stored = valueOf<StoredDump>(yield dumpDatabaseStep(dumpInput).withRetry(backupRetry));

    yield* enterPhase("Recording", { bytes: stored.sizeBytes });
    const recordInput: RecordRecoveryPointInput = {
      instanceName,
      recoveryPointId: rpId,
      time: isoSeconds(time),
      retentionTag: input.retentionTag,
      blobPath: stored.blobPath,
      sizeBytes: stored.sizeBytes,
      sha256: stored.sha256,
      serverVersion: access.serverVersion,
      toolVersion: stored.toolVersion,
    };
    const rp = (yield recordRecoveryPointStep(recordInput).withRetry(backupRetry)) as RecoveryPoint;

    context.df.setCustomStatus({ phase: "Done" });
    yield updateJobStep({
      jobId,
      update: { status: "Succeeded", phase: "Done", endTime: isoSeconds(context.df.currentUtcDateTime), bytes: rp.sizeBytes },
    } satisfies UpdateJobInput).withRetry(backupRetry);
    return { recoveryPointId: rp.id, sizeBytes: rp.sizeBytes } satisfies BackupOutput;
  } catch (err) {
    const error = err instanceof StepFailed ? err.error : jobErrorFromFailure(err);
    context.df.setCustomStatus({ phase: "Failed", errorCode: error.code });
    yield updateJobStep({
      jobId,
      update: { status: "Failed", endTime: isoSeconds(context.df.currentUtcDateTime), error },
    } satisfies UpdateJobInput).withRetry(backupRetry);
    // Failing the orchestration too keeps the runtime status (and the portal's monitoring) truthful.
    throw new Error(`${error.code}: ${error.message}`);
  }
};

df.app.orchestration(backupOrchestrationName, backupOrchestrator);

export { backupOrchestrator };
