import * as df from "durable-functions";
import { readCommittedDump } from "../shared/backup/committedDump";
import { beginRecording, completeRecording, removeUnrecordedPoint } from "../shared/backup/pointRecording";
import { getInstance, getPolicy } from "../shared/catalog/catalog";
import { listRecoveryPoints } from "../shared/catalog/recoveryPointReads";
import { isRecorded, type DumpRecoveryPoint, type LtrRecoveryPoint, type RecoveryPoint, type RetentionTag } from "../shared/domain";
import { PgVaultError } from "../shared/errors";
import { ltrBackupStatus } from "../shared/flexServer/ltrBackup";
import { listWrittenLtrFiles } from "../shared/flexServer/ltrContainers";
import { jobCancelledError, undoIfCancelled } from "../shared/jobs/jobCancellation";
import { decideRetention } from "../shared/retention/retentionTagging";

/**
 * Where a finished backup's data is, by reference: the record step reads every fact it records from there (the
 * committed dump's metadata; the server's LTR operation and the files in the point's containers), so the history
 * never carries them. Ids and references only; nothing that grows with the database.
 */
export type BackupLocation =
  | { format: "pg_dump-custom"; blobPath: string; serverVersion: string }
  | { format: "flexibleServer-ltr"; serverResourceId: string; serverVersion: string; backupName: string; containers: string[] };

export interface RecordRecoveryPointInput {
  jobId: string;
  instanceName: string;
  recoveryPointId: string;
  time: string;
  retentionTag?: RetentionTag;
  backup: BackupLocation;
}

/** What the orchestration keeps of the recorded point: its id and size, not the row (whose `blobs` may be long). */
export interface RecordedPoint {
  recoveryPointId: string;
  sizeBytes: number;
}

/** The fields decided here; the rest is what the backup produced. */
type Decided = "id" | "instanceName" | "time" | "tag" | "expiresAt" | "status" | "recording";
type RecoveryPointContent = Omit<DumpRecoveryPoint, Decided> | Omit<LtrRecoveryPoint, Decided>;

/** What the backup left in the vault, read where it is. */
async function contentAt(input: RecordRecoveryPointInput): Promise<RecoveryPointContent> {
  const { backup } = input;
  if (backup.format === "pg_dump-custom") {
    const dump = await readCommittedDump(input.instanceName, input.recoveryPointId, backup.blobPath);
    if (!dump) throw new PgVaultError("SystemErrorUnexpected", `No dump is committed at ${backup.blobPath}; recovery point ${input.recoveryPointId} cannot be recorded.`);
    return {
      format: "pg_dump-custom",
      sizeBytes: dump.sizeBytes,
      sha256: dump.sha256,
      serverVersion: backup.serverVersion,
      toolVersion: dump.toolVersion,
      blobs: [dump.blobPath],
      ...(dump.compression ? { compression: dump.compression } : {}),
      ...(dump.encryption ? { encryption: dump.encryption } : {}),
      ...(dump.contents ? { contents: dump.contents } : {}),
    };
  }
  const operation = await ltrBackupStatus(backup.serverResourceId, backup.backupName);
  if (operation.status !== "Succeeded") {
    throw new PgVaultError("SystemErrorUnexpected", `The long-term-retention backup '${backup.backupName}' is ${operation.status}; recovery point ${input.recoveryPointId} cannot be recorded.`);
  }
  const files = await listWrittenLtrFiles(backup.backupName, backup.containers);
  return {
    format: "flexibleServer-ltr",
    sizeBytes: files.reduce((sum, file) => sum + file.sizeBytes, 0),
    blobs: files.map((file) => file.path),
    serverResourceId: backup.serverResourceId,
    serverVersion: backup.serverVersion,
    containers: backup.containers,
    ltr: operation.details,
  };
}

/**
 * Writes the recovery point row, tagged and with its expiry decided now from the instance's current policy
 * (SPEC section 3). Runs only after the backup's data is complete in the vault. Two writes (pointRecording.ts): the
 * row marked as being recorded by this job, then, unless the job was cancelled meanwhile, the mark removed. A
 * retried (or a second, concurrent) copy finds the row and carries on from it, never overwriting it.
 */
export async function recordRecoveryPointActivity(input: RecordRecoveryPointInput): Promise<RecordedPoint> {
  const rp = await decidedPoint(input);
  const stored = await beginRecording(rp, input.jobId);
  if (stored && isRecorded(stored)) return recordedPoint(stored);
  await undoIfCancelled(input.jobId, () => removeUnrecordedPoint(rp.instanceName, rp.id));
  const recorded = stored && (await completeRecording(rp.instanceName, rp.id));
  // The row went before it was complete: only a cancel's cleanup removes such a row.
  if (!recorded) throw jobCancelledError(input.jobId);
  return recordedPoint(recorded);
}

/** The point as this backup makes it: its content, and the tag and expiry its instance's policy gives it today. */
async function decidedPoint(input: RecordRecoveryPointInput): Promise<RecoveryPoint> {
  const instance = await getInstance(input.instanceName);
  const policy = instance && (await getPolicy(instance.policyName));
  if (!policy) {
    throw new PgVaultError("SystemErrorUnexpected", `Instance '${input.instanceName}' or its policy disappeared during the backup.`);
  }
  const content = await contentAt(input);
  // Only backups that were recorded count for the tag (a row its job never finished is not a successful backup).
  // Tags look back a calendar year at most (in the policy's zone, an ISO week reaching into the year before):
  // 370 days of rows, not the instance's whole history.
  const time = new Date(input.time);
  const earlier = (await listRecoveryPoints(input.instanceName, { since: new Date(time.getTime() - 370 * 86_400_000) })).filter(
    (rp) => rp.id !== input.recoveryPointId && isRecorded(rp),
  );
  const { tag, expiresAt } = decideRetention(policy, time, earlier.map((rp) => new Date(rp.time)), input.retentionTag);
  return { ...content, id: input.recoveryPointId, instanceName: input.instanceName, time: input.time, tag, expiresAt, status: "Available" };
}

const recordedPoint = (rp: RecoveryPoint): RecordedPoint => ({ recoveryPointId: rp.id, sizeBytes: rp.sizeBytes });

export const recordRecoveryPointStep = df.app.activity("recordRecoveryPoint", { handler: recordRecoveryPointActivity });
