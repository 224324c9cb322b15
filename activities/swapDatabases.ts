import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { DatabaseMapping } from "../shared/domain";
import { claimSwap } from "../shared/jobs/jobCancellation";
import { restoreAttempt, swapInAll, temporaryDatabaseName } from "../shared/restore/databaseRestore";
import { serverParamsOf, type ServerRestoreInput } from "./checkServerRestoreAccess";

export interface SwapDatabasesInput extends ServerRestoreInput {
  /** Each database and the attempt's database its restore step handed over (marked complete). */
  swaps: { database: DatabaseMapping; temporaryDatabase: string }[];
}

/** Renames every restored database into place in one transaction (replacing old ones when overwrite is set). */
export function swapDatabasesActivity(input: SwapDatabasesInput): Promise<ActivityOutcome<null>> {
  return asOutcome(async () => {
    // The point of no return: claimed first, which a cancelled job refuses and which makes a later cancel refuse.
    await claimSwap(input.jobId, new Date());
    const pairs = input.swaps.map(({ database, temporaryDatabase }) => ({ target: database.restoreAs, restored: restoreAttempt(input.jobId, temporaryDatabase) }));
    await swapInAll(await serverParamsOf(input), input.target.overwrite, pairs, temporaryDatabaseName(input.jobId));
    return null;
  });
}

export const swapDatabasesStep = df.app.activity("swapDatabases", { handler: swapDatabasesActivity });
