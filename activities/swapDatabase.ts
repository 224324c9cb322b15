import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { throwIfCancelled } from "../shared/jobCancellation";
import { swapIn } from "../shared/restore/databaseRestore";
import type { RestoreTargetInput } from "./checkRestoreAccess";

export interface SwapDatabaseInput extends RestoreTargetInput {
  jobId: string;
  temporaryDatabase: string;
}

/** Renames the restored temporary database into place (replacing the old one when overwrite is set). */
export function swapDatabaseActivity(input: SwapDatabaseInput): Promise<ActivityOutcome<null>> {
  return asOutcome(async () => {
    // The swap is the restore's point of no return: a cancelled job never reaches it.
    await throwIfCancelled(input.jobId);
    await swapIn(await connectionParamsFor(input.target, input.secretVersion), input.target, input.temporaryDatabase);
    return null;
  });
}

export const swapDatabaseStep = df.app.activity("swapDatabase", { handler: swapDatabaseActivity });
