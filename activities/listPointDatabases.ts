import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { PgVaultError } from "../shared/errors";
import { ltrDatabaseFiles } from "../shared/flexServer/ltrFiles";
import { restorablePoint } from "../shared/restore/restorablePoint";

export interface ListPointDatabasesInput {
  instanceName: string;
  recoveryPointId: string;
}

/**
 * The databases of a Flexible Server point (one pg_dump archive each), in name order: names only, so an
 * orchestration can work through them one by one while its history stays small.
 */
export function listPointDatabasesActivity(input: ListPointDatabasesInput): Promise<ActivityOutcome<string[]>> {
  return asOutcome(async () => {
    const rp = await restorablePoint(input.instanceName, input.recoveryPointId);
    if (rp.format !== "flexibleServer-ltr") throw new PgVaultError("SystemErrorUnexpected", `Recovery point ${rp.id} is not a Flexible Server backup; it has no database archives.`);
    return ltrDatabaseFiles(rp).map((file) => file.database);
  });
}

export const listPointDatabasesStep = df.app.activity("listPointDatabases", { handler: listPointDatabasesActivity });
