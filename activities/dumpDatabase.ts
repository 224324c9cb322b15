import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { dumpSlotBusy, tryTakeDumpSlot, type DumpSlotBusy } from "../shared/backup/dumpSlots";
import type { StoredDump } from "../shared/backup/committedDump";
import { dumpToVault } from "../shared/backup/dumpToVault";
import { getInstance, getPolicy } from "../shared/catalog/catalog";
import { updateJob } from "../shared/catalog/jobRows";
import { effectiveCompression, type Compression } from "../shared/compression/compressionSettings";
import { getConfig } from "../shared/config";
import type { DatabaseDatasource } from "../shared/domain";
import type { PinnedKey } from "../shared/encryption/dataKeys";
import { watchCancellation } from "../shared/jobs/jobCancellation";
import { jobLog, type JobLog } from "../shared/jobs/jobLog";
import { jobProgress } from "../shared/jobs/jobProgress";

export interface DumpDatabaseInput {
  jobId: string;
  instanceName: string;
  recoveryPointId: string;
  datasource: DatabaseDatasource;
  /** The pinned secret version; absent for an Entra sign-in. */
  secretVersion?: string;
  expectedBytes: number;
  /** The policy's key, pinned by resolveEncryptionKey: the dump is stored encrypted. A reference, never key material. */
  encryption?: PinnedKey;
  /** Set after the job waited for a slot: the job row's phase goes back to `Uploading` once the dump starts. */
  waitedForSlot?: boolean;
}

/**
 * Where the committed dump is and its size (for the job's progress): a reference, not its facts. The record step
 * reads those (SHA-256, compression, encryption, contents record) from the committed blob (readCommittedDump).
 */
export type DumpedBlob = Pick<StoredDump, "blobPath" | "sizeBytes">;

/** The committed dump, or "busy" when this process already runs MAX_CONCURRENT_DUMPS dumps (nothing was started). */
export type DumpDatabaseResult = DumpedBlob | DumpSlotBusy;

export interface DumpOptions {
  /** Bytes per stored segment, encrypted or checked (default 4 MiB); tests pass small ones to get many segments. */
  segmentSize?: number;
}

/** The activity with options; `dumpDatabaseActivity` is it with the defaults. */
export const dumpDatabaseWith =
  (options: DumpOptions) =>
  (input: DumpDatabaseInput, context: InvocationContext): Promise<ActivityOutcome<DumpDatabaseResult>> =>
    dumpDatabase(input, context, options);

/**
 * Streams pg_dump into the vault and commits the blob; the recovery point row is the next step's job. Without a
 * free dump slot it answers busy at once, and the orchestration waits on a durable timer (shared/backup/dumpSlots.ts).
 */
export function dumpDatabaseActivity(input: DumpDatabaseInput, context: InvocationContext): Promise<ActivityOutcome<DumpDatabaseResult>> {
  return dumpDatabase(input, context, {});
}

async function dumpDatabase(input: DumpDatabaseInput, context: InvocationContext, options: DumpOptions): Promise<ActivityOutcome<DumpDatabaseResult>> {
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: "Backup" });
  const cap = getConfig().maxConcurrentDumps;
  const slot = tryTakeDumpSlot(input.jobId, cap);
  if (!slot) {
    const busy = dumpSlotBusy(input.jobId, cap);
    log.info(`all ${cap} dump slots of this host are taken (MAX_CONCURRENT_DUMPS); asking again in about ${Math.round(busy.retryAfterMs / 1000)} s`);
    return { ok: true, value: busy };
  }
  try {
    if (input.waitedForSlot) await updateJob(input.jobId, { phase: "Uploading" }).catch(() => log.warn("could not record the phase"));
    return await dumpWithSlot(input, log, options);
  } finally {
    slot.release();
  }
}

/** The compression the instance's policy asks for now (a retried dump may see a changed policy; the point records what it got). */
async function policyCompression(instanceName: string): Promise<Compression> {
  const instance = await getInstance(instanceName);
  const policy = instance && (await getPolicy(instance.policyName));
  return effectiveCompression(policy?.compression);
}

function dumpWithSlot(input: DumpDatabaseInput, log: JobLog, options: DumpOptions): Promise<ActivityOutcome<DumpedBlob>> {
  return asOutcome(async () => {
    const params = await connectionParamsFor(input.datasource, input.secretVersion);
    const compression = await policyCompression(input.instanceName);
    const progress = jobProgress(input.jobId, log);
    const started = Date.now();
    const watch = watchCancellation(input.jobId);
    const stored = await dumpToVault(params, {
      instanceName: input.instanceName,
      recoveryPointId: input.recoveryPointId,
      expectedBytes: input.expectedBytes,
      compression,
      segmentSize: options.segmentSize,
      onProgress: progress.report,
      cancellation: { jobId: input.jobId, signal: watch.signal },
      ...(input.encryption ? { encryption: { key: input.encryption, segmentSize: options.segmentSize } } : {}),
    }).finally(() => watch.stop());
    await progress.flush();
    const seconds = (Date.now() - started) / 1000;
    const packed = stored.compression ? `, ${stored.compression}${compression.level ? ` level ${compression.level}` : ""}` : "";
    const sealed = stored.encryption ? `, encrypted (data key wrapped by ${stored.encryption.keyRef} version ${stored.encryption.keyVersion})` : "";
    const counted = stored.counted
      ? `; contents record: ${stored.counted.tables} tables, ${stored.counted.rows} rows, counted in pg_dump's snapshot`
      : stored.contents
        ? ""
        : "; no contents record (the server could not export a snapshot)";
    log.info(`stored ${stored.blobPath}: ${stored.sizeBytes} bytes in ${seconds.toFixed(1)} s, sha256 ${stored.sha256}${packed}${sealed}${counted}`);
    return { blobPath: stored.blobPath, sizeBytes: stored.sizeBytes };
  });
}

export const dumpDatabaseStep = df.app.activity("dumpDatabase", { handler: dumpDatabaseActivity });
