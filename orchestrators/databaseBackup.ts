/** The `database` half of the backup orchestration: secret and key, access check, pg_dump streamed into the vault. */
import type { OrchestrationContext, Task } from "durable-functions";
import { checkBackupAccessStep, type CheckBackupAccessInput } from "../activities/checkBackupAccess";
import { dumpDatabaseStep, type DumpDatabaseInput, type DumpDatabaseResult, type DumpedBlob } from "../activities/dumpDatabase";
import { resolveEncryptionKeyStep, type ResolveEncryptionKeyInput } from "../activities/resolveEncryptionKey";
import type { VerifiedAccess } from "../shared/backup/databaseAccess";
import { isDumpSlotBusy, slotWaitMs } from "../shared/backup/dumpSlots";
import type { DatabaseDatasource } from "../shared/domain";
import type { PinnedKey } from "../shared/encryption/dataKeys";
import { recoveryPointId } from "../shared/recoveryPoints/recoveryPointId";
import type { JobStart, TakenBackup } from "./backupTypes";
import { jobRetry, valueOf, type JobUpdates } from "./jobSteps";
import { pinnedSecretVersion } from "./signIn";

export function* backUpDatabase(
  context: OrchestrationContext,
  job: JobUpdates,
  { instanceName, datasource, start }: { instanceName: string; datasource: DatabaseDatasource; start: JobStart },
): Generator<Task, TakenBackup, unknown> {
  const jobId = context.df.instanceId;
  yield* job.enterPhase("ResolvingSecret", start);
  const secretVersion = yield* pinnedSecretVersion(datasource);
  // The policy's encryption key, if any, checked and pinned like the secret (null: stored unencrypted).
  const key = valueOf<PinnedKey | null>(
    yield resolveEncryptionKeyStep({ instanceName } satisfies ResolveEncryptionKeyInput).withRetry(jobRetry),
  );

  yield* job.enterPhase("CheckingAccess");
  const access = valueOf<VerifiedAccess>(
    yield checkBackupAccessStep({ datasource, secretVersion } satisfies CheckBackupAccessInput).withRetry(jobRetry),
  );

  const time = context.df.currentUtcDateTime;
  const rpId = recoveryPointId(time, context.df.newGuid(jobId));
  // The database's size on the job row too: the total a first backup's progress is shown against.
  yield* job.enterPhase("Uploading", { recoveryPointId: rpId, expectedBytes: access.databaseSizeBytes });
  const dumpInput: DumpDatabaseInput = {
    jobId,
    instanceName,
    recoveryPointId: rpId,
    datasource,
    secretVersion,
    expectedBytes: access.databaseSizeBytes,
    ...(key ? { encryption: key } : {}),
  };
  const dumped = yield* dumpWhenSlotFree(context, job, dumpInput);
  // The dump's facts (SHA-256, compression, encryption, contents record) stay with the committed blob.
  return { recoveryPointId: rpId, time, sizeBytes: dumped.sizeBytes, backup: { format: "pg_dump-custom", blobPath: dumped.blobPath, serverVersion: access.serverVersion } };
}

/**
 * The dump, once the host has a free dump slot (MAX_CONCURRENT_DUMPS): while the activity answers busy, the job
 * shows `WaitingForSlot` and the orchestration waits on a durable timer for the wait the answer suggests, spread
 * per job (shared/backup/dumpSlots.ts), so no activity slot is held while waiting.
 */
function* dumpWhenSlotFree(context: OrchestrationContext, job: JobUpdates, input: DumpDatabaseInput): Generator<Task, DumpedBlob, unknown> {
  for (let attempt = 0; ; attempt++) {
    const result = valueOf<DumpDatabaseResult>(yield dumpDatabaseStep(input).withRetry(jobRetry));
    if (!isDumpSlotBusy(result)) return result;
    if (attempt === 0) {
      yield* job.enterPhase("WaitingForSlot");
      input = { ...input, waitedForSlot: true };
    }
    const waitMs = slotWaitMs(context.df.instanceId, attempt, result.retryAfterMs);
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + waitMs));
  }
}
