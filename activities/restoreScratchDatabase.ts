import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { DumpRecoveryPoint, JobPhase } from "../shared/domain";
import { throwIfStepOver } from "../shared/jobCancellation";
import { jobLog } from "../shared/jobLog";
import { jobProgress } from "../shared/jobProgress";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { attemptDatabaseName, restoreAttempt } from "../shared/restore/databaseRestore";
import { restorableDump } from "../shared/restore/restorablePoint";
import { restoreIntoScratch } from "../shared/verify/restoreDrill";
import type { VerifyTargetInput } from "./checkVerifyAccess";

export interface RestoreScratchDatabaseInput extends VerifyTargetInput {
  /** The point under test, read from the catalog by each step. */
  recoveryPointId: string;
}

/** Where the drill goes once it has a restored scratch database: a copy of this step is no longer wanted. */
const pastRestoring: readonly JobPhase[] = ["Verifying", "CleaningUp", "Recording", "Done"];

export interface RestoredScratchDatabase {
  bytes: number;
  /** This attempt's own scratch database, marked complete: the one the check is to count. */
  scratchDatabase: string;
}

/** The point a drill step works on; a Flexible Server point is refused (the API and the scheduler never send one). */
export const drilledPoint = (input: RestoreScratchDatabaseInput): Promise<DumpRecoveryPoint> =>
  restorableDump(input.instanceName, input.recoveryPointId, "it cannot be verified");

/**
 * The restore pipeline into a scratch database of this attempt's own: SHA-256 checked (and decrypted) on the way
 * into pg_restore. Another copy of the step running at the same time works on its own database; a copy the drill
 * no longer waits for drops its database and fails.
 */
export async function restoreScratchDatabaseActivity(input: RestoreScratchDatabaseInput, context: InvocationContext): Promise<ActivityOutcome<RestoredScratchDatabase>> {
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: "Verify" });
  return asOutcome(async () => {
    const rp = await drilledPoint(input);
    const params = await connectionParamsFor(input.datasource, input.secretVersion);
    const progress = jobProgress(input.jobId, log);
    const started = Date.now();
    const attempt = restoreAttempt(input.jobId, attemptDatabaseName(input.scratchDatabase));
    // The drill's drop and a cancel's cleanup drop the job's scratch databases once its row moved on; one created
    // after they looked is dropped here.
    const bytes = await restoreIntoScratch(params, input.datasource, rp, attempt, {
      onProgress: progress.report,
      stillWanted: () => throwIfStepOver(input.jobId, pastRestoring),
    });
    await progress.flush();
    log.info(`restored ${rp.id} (${bytes} bytes) into ${attempt.database} in ${((Date.now() - started) / 1000).toFixed(1)} s, sha256 verified`);
    return { bytes, scratchDatabase: attempt.database };
  });
}

export const restoreScratchDatabaseStep = df.app.activity("restoreScratchDatabase", { handler: restoreScratchDatabaseActivity });
