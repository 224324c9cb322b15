import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { claimSwap } from "../shared/jobs/jobCancellation";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { restoreAttempt, swapIn, temporaryDatabaseName } from "../shared/restore/databaseRestore";
import type { RestoreTargetInput } from "./checkRestoreAccess";

export interface SwapDatabaseInput extends RestoreTargetInput {
  jobId: string;
  /** The database the restore step handed over (its attempt's own, marked complete). */
  temporaryDatabase: string;
}

/** Renames the restored database into place (replacing the old one when overwrite is set). */
export function swapDatabaseActivity(input: SwapDatabaseInput): Promise<ActivityOutcome<null>> {
  return asOutcome(async () => {
    // The swap is the restore's point of no return: it claims the job first, which a cancelled job refuses and
    // which makes a later cancel refuse.
    await claimSwap(input.jobId, new Date());
    const params = await connectionParamsFor(input.target, input.secretVersion);
    await swapIn(params, input.target, restoreAttempt(input.jobId, input.temporaryDatabase), temporaryDatabaseName(input.jobId));
    return null;
  });
}

export const swapDatabaseStep = df.app.activity("swapDatabase", { handler: swapDatabaseActivity });
