import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { dumpToVault, type StoredDump } from "../shared/backup/dumpToVault";
import type { DatabaseDatasource } from "../shared/domain";
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
}

/** Streams pg_dump into the vault and commits the blob; the recovery point row is the next step's job. */
export async function dumpDatabaseActivity(input: DumpDatabaseInput, context: InvocationContext): Promise<ActivityOutcome<StoredDump>> {
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
    }).finally(() => watch.stop());
    await progress.flush();
    const seconds = (Date.now() - started) / 1000;
    log.info(`stored ${stored.blobPath}: ${stored.sizeBytes} bytes in ${seconds.toFixed(1)} s, sha256 ${stored.sha256}`);
    return stored;
  });
}

export const dumpDatabaseStep = df.app.activity("dumpDatabase", { handler: dumpDatabaseActivity });
