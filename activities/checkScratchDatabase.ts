import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { objectKinds } from "../shared/contents/databaseContents";
import { jobLog } from "../shared/jobs/jobLog";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { restoreAttempt } from "../shared/restore/databaseRestore";
import { checkRestoredDatabase, type DrillReport } from "../shared/verify/restoreDrill";
import { drilledPoint, type RestoreScratchDatabaseInput } from "./restoreScratchDatabase";

/**
 * Counts the scratch database the restore step handed over (`scratchDatabase`, that attempt's own) and compares it
 * with the point's contents record, where it has one. A difference is a verdict (the report's `problem`), not an error of this step;
 * counting that cannot be done fails it, and so does a database without that attempt's completion mark.
 */
export async function checkScratchDatabaseActivity(input: RestoreScratchDatabaseInput, context: InvocationContext): Promise<ActivityOutcome<DrillReport>> {
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: "Verify" });
  return asOutcome(async () => {
    const rp = await drilledPoint(input);
    const params = await connectionParamsFor(input.datasource, input.secretVersion);
    const { mark } = restoreAttempt(input.jobId, input.scratchDatabase);
    const report = await checkRestoredDatabase({ ...params, database: input.scratchDatabase }, rp, mark);
    const objects = objectKinds.map((kind) => `${kind} ${report.objects[kind]}`).join(", ");
    const compared = report.rowCountsRecorded
      ? report.digestsRecorded
        ? `compared with the contents record (counts, and ${report.tablesDigested} tables read back against their digests)`
        : "compared with the contents record (counts only: it has no table digests, taken before pgvault digested tables)"
      : rp.format === "pg_dump-custom"
        ? "no contents record to compare with (taken before pgvault recorded one)"
        : `database '${input.database}': a Flexible Server backup records no counts to compare with`;
    log.info(`${input.scratchDatabase}: ${report.tablesChecked} tables, ${report.rowsChecked} rows; ${objects}; ${compared}: ${report.problem ? "DIFFERS" : "ok"}`);
    return report;
  });
}

export const checkScratchDatabaseStep = df.app.activity("checkScratchDatabase", { handler: checkScratchDatabaseActivity });
