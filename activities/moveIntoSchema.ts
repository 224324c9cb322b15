import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { claimSwap } from "../shared/jobs/jobCancellation";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { restoreAttempt, temporaryDatabaseName } from "../shared/restore/databaseRestore";
import { moveIntoSchema } from "../shared/restore/moveIntoSchema";
import type { SwapDatabaseInput } from "./swapDatabase";

/**
 * A restore `intoSchema`: moves the schema gathered in the restored database into the live one in one transaction
 * (shared/restore/moveIntoSchema.ts), then drops the job's temporary databases.
 */
export function moveIntoSchemaActivity(input: SwapDatabaseInput): Promise<ActivityOutcome<null>> {
  return asOutcome(async () => {
    // The restore's point of no return, as a swap's: claimed first, which a cancelled job refuses and which makes a later cancel refuse.
    await claimSwap(input.jobId, new Date());
    const params = await connectionParamsFor(input.target, input.secretVersion);
    await moveIntoSchema(params, input.target, restoreAttempt(input.jobId, input.temporaryDatabase), temporaryDatabaseName(input.jobId));
    return null;
  });
}

export const moveIntoSchemaStep = df.app.activity("moveIntoSchema", { handler: moveIntoSchemaActivity });
