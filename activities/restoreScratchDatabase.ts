import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { DumpRecoveryPoint } from "../shared/domain";
import { throwIfCancelled } from "../shared/jobCancellation";
import { jobLog } from "../shared/jobLog";
import { jobProgress } from "../shared/jobProgress";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { restorableDump } from "../shared/restore/restorablePoint";
import { restoreIntoScratch } from "../shared/verify/restoreDrill";
import type { VerifyTargetInput } from "./checkVerifyAccess";

export interface RestoreScratchDatabaseInput extends VerifyTargetInput {
  /** The point under test, read from the catalog by each step. */
  recoveryPointId: string;
}

/** The point a drill step works on; a Flexible Server point is refused (the API and the scheduler never send one). */
export const drilledPoint = (input: RestoreScratchDatabaseInput): Promise<DumpRecoveryPoint> =>
  restorableDump(input.instanceName, input.recoveryPointId, "it cannot be verified");

/** The restore pipeline into the scratch database: SHA-256 checked (and decrypted) on the way into pg_restore. */
export async function restoreScratchDatabaseActivity(input: RestoreScratchDatabaseInput, context: InvocationContext): Promise<ActivityOutcome<{ bytes: number }>> {
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: "Verify" });
  return asOutcome(async () => {
    const rp = await drilledPoint(input);
    const params = await connectionParamsFor(input.datasource, input.secretVersion);
    const progress = jobProgress(input.jobId, log);
    const started = Date.now();
    // A cancel's cleanup drops the scratch database (ending pg_restore's session); one created after it looked is dropped here.
    const bytes = await restoreIntoScratch(params, input.datasource, rp, input.scratchDatabase, {
      onProgress: progress.report,
      afterCreate: () => throwIfCancelled(input.jobId),
    });
    await progress.flush();
    log.info(`restored ${rp.id} (${bytes} bytes) into ${input.scratchDatabase} in ${((Date.now() - started) / 1000).toFixed(1)} s, sha256 verified`);
    return { bytes };
  });
}

export const restoreScratchDatabaseStep = df.app.activity("restoreScratchDatabase", { handler: restoreScratchDatabaseActivity });
