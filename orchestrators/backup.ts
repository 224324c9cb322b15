import * as df from "durable-functions";
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { checkBackupAccessStep, type CheckBackupAccessInput } from "../activities/checkBackupAccess";
import { dumpDatabaseStep, type DumpDatabaseInput } from "../activities/dumpDatabase";
import { recordRecoveryPointStep, type RecordRecoveryPointInput } from "../activities/recordRecoveryPoint";
import { resolveSecretStep, type ResolveSecretInput } from "../activities/resolveSecret";
import type { VerifiedAccess } from "../shared/backup/databaseAccess";
import type { StoredDump } from "../shared/backup/dumpToVault";
import type { DatabaseDatasource, JobTrigger, RecoveryPoint, RetentionTag } from "../shared/domain";
import { recoveryPointId } from "../shared/recoveryPointId";
import { isoSeconds, jobErrorOf, jobRetry, jobUpdates, valueOf } from "./jobSteps";
import { retentionAfterBackup } from "./retention";

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

/**
 * Backup of one `database` instance: resolve the secret (pinning its version), check access, stream pg_dump into
 * the vault, record the recovery point, then apply the instance's retention. The job row and custom status follow
 * each phase.
 */
const backupOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<BackupInput>();
  const jobId = context.df.instanceId;
  const { instanceName, datasource } = input;
  const job = jobUpdates(context);

  try {
    yield* job.enterPhase("ResolvingSecret", {
      operation: "Backup",
      trigger: input.trigger,
      instanceName,
      startTime: isoSeconds(context.df.currentUtcDateTime),
      bytes: 0,
    });
    const secret = valueOf<{ version: string }>(
      yield resolveSecretStep({ secretRef: datasource.secretRef } satisfies ResolveSecretInput).withRetry(jobRetry),
    );

    yield* job.enterPhase("CheckingAccess");
    const access = valueOf<VerifiedAccess>(
      yield checkBackupAccessStep({ datasource, secretVersion: secret.version } satisfies CheckBackupAccessInput).withRetry(jobRetry),
    );

    const time = context.df.currentUtcDateTime;
    const rpId = recoveryPointId(time, context.df.newGuid(jobId));
    yield* job.enterPhase("Uploading", { recoveryPointId: rpId });
    const dumpInput: DumpDatabaseInput = {
      jobId,
      instanceName,
      recoveryPointId: rpId,
      datasource,
      secretVersion: secret.version,
      expectedBytes: access.databaseSizeBytes,
    };
    const stored = valueOf<StoredDump>(yield dumpDatabaseStep(dumpInput).withRetry(jobRetry));

    yield* job.enterPhase("Recording", { bytes: stored.sizeBytes });
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
    const rp = (yield recordRecoveryPointStep(recordInput).withRetry(jobRetry)) as RecoveryPoint;

    yield* job.succeed({ bytes: rp.sizeBytes });
    // Expired points of this instance go now, not only at the nightly run; a failure here is logged, not fatal.
    yield* retentionAfterBackup(context, instanceName);
    return { recoveryPointId: rp.id, sizeBytes: rp.sizeBytes } satisfies BackupOutput;
  } catch (err) {
    const error = jobErrorOf(err);
    yield* job.fail(error);
    // Failing the orchestration too keeps the runtime status (and the portal's monitoring) truthful.
    throw new Error(`${error.code}: ${error.message}`);
  }
};

df.app.orchestration(backupOrchestrationName, backupOrchestrator);

export { backupOrchestrator };
