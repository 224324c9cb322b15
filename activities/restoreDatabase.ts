import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { throwIfCancelled } from "../shared/jobCancellation";
import { jobLog } from "../shared/jobLog";
import { jobProgress } from "../shared/jobProgress";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { restoreIntoTemporary, restoreSourceOf } from "../shared/restore/databaseRestore";
import { restorableDump } from "../shared/restore/restorablePoint";
import type { RestoreTargetInput } from "./checkRestoreAccess";

export interface RestoreDatabaseInput extends RestoreTargetInput {
  jobId: string;
  instanceName: string;
  /** The point to restore, read from the catalog here. */
  recoveryPointId: string;
  temporaryDatabase: string;
}

/** pg_restore into the temporary database, verifying the recovery point's SHA-256 (and decrypting) on the way. */
export async function restoreDatabaseActivity(input: RestoreDatabaseInput, context: InvocationContext): Promise<ActivityOutcome<{ bytes: number }>> {
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: "Restore" });
  return asOutcome(async () => {
    const source = restoreSourceOf(await restorableDump(input.instanceName, input.recoveryPointId, "it can be restored as files only"));
    const params = await connectionParamsFor(input.target, input.secretVersion);
    const progress = jobProgress(input.jobId, log);
    const started = Date.now();
    // A cancel's cleanup drops the temporary database (ending pg_restore's session); one created after that
    // cleanup looked is dropped here.
    const bytes = await restoreIntoTemporary(params, input.target, source, input.temporaryDatabase, {
      onProgress: progress.report,
      afterCreate: () => throwIfCancelled(input.jobId),
    });
    await progress.flush();
    log.info(`restored ${bytes} bytes into ${input.temporaryDatabase} in ${((Date.now() - started) / 1000).toFixed(1)} s, sha256 verified${source.encryption ? ", every segment authenticated" : ""}`);
    return { bytes };
  });
}

export const restoreDatabaseStep = df.app.activity("restoreDatabase", { handler: restoreDatabaseActivity });
