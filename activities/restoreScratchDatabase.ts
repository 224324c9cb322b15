import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { JobPhase, RecoveryPoint } from "../shared/domain";
import { PgVaultError } from "../shared/errors";
import { throwIfStepOver } from "../shared/jobs/jobCancellation";
import { jobLog } from "../shared/jobs/jobLog";
import { jobProgress } from "../shared/jobs/jobProgress";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { attemptDatabaseName, restoreAttempt } from "../shared/restore/databaseRestore";
import { restorablePoint } from "../shared/restore/restorablePoint";
import { restoreIntoScratch, restoreServerDatabaseIntoScratch } from "../shared/verify/restoreDrill";
import type { VerifyTargetInput } from "./checkVerifyAccess";

export interface RestoreScratchDatabaseInput extends VerifyTargetInput {
  /** The point under test, read from the catalog by each step. */
  recoveryPointId: string;
  /** Flexible Server points only: the database whose archive is restored (`scratchDatabase` is that database's stem). */
  database?: string;
  /** Bytes the drill read before this step (earlier databases of the point), so the job's progress adds up. */
  bytesBefore?: number;
}

/** Where the drill goes once it has a restored scratch database: a copy of this step is no longer wanted. */
const pastRestoring: readonly JobPhase[] = ["Verifying", "CleaningUp", "Recording", "Done"];

export interface RestoredScratchDatabase {
  bytes: number;
  /** This attempt's own scratch database, marked complete: the one the check is to count. */
  scratchDatabase: string;
}

/**
 * The point a drill step works on: a `database` instance's dump, or (with `database` named) a Flexible Server point;
 * anything else is an orchestration started with the wrong input, and fails plainly.
 */
export async function drilledPoint(input: RestoreScratchDatabaseInput): Promise<RecoveryPoint> {
  const rp = await restorablePoint(input.instanceName, input.recoveryPointId);
  if ((rp.format === "flexibleServer-ltr") !== (input.database !== undefined)) {
    throw new PgVaultError("SystemErrorUnexpected", `Recovery point ${rp.id} (${rp.format}) does not match the drill step's input: ${input.database === undefined ? "no" : "a"} database named.`);
  }
  return rp;
}

/**
 * The restore pipeline into a scratch database of this attempt's own: SHA-256 checked (and decrypted) on the way
 * into pg_restore, where the point has one. Another copy of the step running at the same time works on its own
 * database; a copy the drill no longer waits for drops its database and fails.
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
    const watch = {
      onProgress: (bytes: number) => progress.report((input.bytesBefore ?? 0) + bytes),
      stillWanted: () => throwIfStepOver(input.jobId, pastRestoring),
    };
    const bytes =
      rp.format === "pg_dump-custom"
        ? await restoreIntoScratch(params, input.datasource, rp, attempt, watch)
        : await restoreServerDatabaseIntoScratch(params, input.datasource, rp, input.database!, attempt, watch);
    await progress.flush();
    const what = input.database === undefined ? rp.id : `database '${input.database}' of ${rp.id}`;
    const checked = rp.format === "pg_dump-custom" ? "sha256 verified" : "no checksum recorded: pg_restore read it whole";
    log.info(`restored ${what} (${bytes} bytes) into ${attempt.database} in ${((Date.now() - started) / 1000).toFixed(1)} s, ${checked}`);
    return { bytes, scratchDatabase: attempt.database };
  });
}

export const restoreScratchDatabaseStep = df.app.activity("restoreScratchDatabase", { handler: restoreScratchDatabaseActivity });
