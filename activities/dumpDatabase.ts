import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { dumpToVault, type StoredDump } from "../shared/backup/dumpToVault";
import type { DatabaseDatasource } from "../shared/domain";
import type { PinnedKey } from "../shared/encryption/dataKeys";
import { watchCancellation } from "../shared/jobCancellation";
import { jobLog } from "../shared/jobLog";
import { jobProgress } from "../shared/jobProgress";

export interface DumpDatabaseInput {
  jobId: string;
  instanceName: string;
  recoveryPointId: string;
  datasource: DatabaseDatasource;
  secretVersion: string;
  expectedBytes: number;
  /** The policy's key, pinned by resolveEncryptionKey: the dump is stored encrypted. A reference, never key material. */
  encryption?: PinnedKey;
}

export interface DumpOptions {
  /** Plaintext bytes per encrypted segment (default 4 MiB); tests pass small ones to get many segments. */
  segmentSize?: number;
}

/** The activity with options; `dumpDatabaseActivity` is it with the defaults. */
export const dumpDatabaseWith =
  (options: DumpOptions) =>
  (input: DumpDatabaseInput, context: InvocationContext): Promise<ActivityOutcome<StoredDump>> =>
    dumpDatabase(input, context, options);

/** Streams pg_dump into the vault and commits the blob; the recovery point row is the next step's job. */
export function dumpDatabaseActivity(input: DumpDatabaseInput, context: InvocationContext): Promise<ActivityOutcome<StoredDump>> {
  return dumpDatabase(input, context, {});
}

async function dumpDatabase(input: DumpDatabaseInput, context: InvocationContext, options: DumpOptions): Promise<ActivityOutcome<StoredDump>> {
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: "Backup" });
  return asOutcome(async () => {
    const params = await connectionParamsFor(input.datasource, input.secretVersion);
    const progress = jobProgress(input.jobId, log);
    const started = Date.now();
    const watch = watchCancellation(input.jobId);
    const stored = await dumpToVault(params, {
      instanceName: input.instanceName,
      recoveryPointId: input.recoveryPointId,
      expectedBytes: input.expectedBytes,
      onProgress: progress.report,
      cancellation: { jobId: input.jobId, signal: watch.signal },
      ...(input.encryption ? { encryption: { key: input.encryption, segmentSize: options.segmentSize } } : {}),
    }).finally(() => watch.stop());
    await progress.flush();
    const seconds = (Date.now() - started) / 1000;
    const sealed = stored.encryption ? `, encrypted (data key wrapped by ${stored.encryption.keyRef} version ${stored.encryption.keyVersion})` : "";
    log.info(`stored ${stored.blobPath}: ${stored.sizeBytes} bytes in ${seconds.toFixed(1)} s, sha256 ${stored.sha256}${sealed}`);
    return stored;
  });
}

export const dumpDatabaseStep = df.app.activity("dumpDatabase", { handler: dumpDatabaseActivity });
