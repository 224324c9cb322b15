import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { DatabaseMapping, JobPhase, ObjectLeftOut, SkippedForRole } from "../shared/domain";
import { reportListLimit } from "../shared/restore/restoreReport";
import { throwIfStepOver } from "../shared/jobs/jobCancellation";
import { jobLog } from "../shared/jobs/jobLog";
import { jobProgress } from "../shared/jobs/jobProgress";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { attemptDatabaseName, restoreAttempt, restoreIntoTemporary } from "../shared/restore/databaseRestore";
import { restorablePoint } from "../shared/restore/restorablePoint";
import { asServerPoint, databaseSource, databaseStem, databaseTargetOf } from "../shared/restore/serverRestore";
import type { ServerRestoreInput } from "./checkServerRestoreAccess";

export interface RestoreServerDatabaseInput extends ServerRestoreInput {
  database: DatabaseMapping;
  /** Its place in the plan: names its temporary databases' stem. */
  index: number;
  /** Bytes the job restored before this database, so the job's progress counts on. */
  bytesBefore: number;
}

export interface RestoredServerDatabase {
  bytes: number;
  /** This attempt's own database, marked complete: the one the swap is to rename into place. */
  temporaryDatabase: string;
  grantsSkipped: SkippedForRole[];
  ownershipSkipped: SkippedForRole[];
  /** With an `include`: what it left out because it needs what was not restored (bounded by the orchestration's report). */
  objectsLeftOut?: ObjectLeftOut[];
}

/** Where the job goes once every database is restored: a copy of this step is no longer wanted. */
const pastRestoring: readonly JobPhase[] = ["Swapping", "CleaningUp", "Done"];

/**
 * One database of a Flexible Server point, through the database-restore pipeline into a temporary database of
 * this attempt's own: no ownership unless `roles: "createMissing"` created the owners, and only grants whose
 * grantees exist on the target; what was left out is returned for the job.
 */
export async function restoreServerDatabaseActivity(input: RestoreServerDatabaseInput, context: InvocationContext): Promise<ActivityOutcome<RestoredServerDatabase>> {
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: "Restore" });
  return asOutcome(async () => {
    const rp = asServerPoint(await restorablePoint(input.instanceName, input.recoveryPointId));
    const source = databaseSource(rp, input.database.name);
    const target = databaseTargetOf(input.target, input.database.restoreAs, input.database.include);
    const params = await connectionParamsFor(target, input.secretVersion);
    const progress = jobProgress(input.jobId, log);
    const started = Date.now();
    const attempt = restoreAttempt(input.jobId, attemptDatabaseName(databaseStem(input.jobId, input.index)));
    const restored = await restoreIntoTemporary(params, target, source, attempt, {
      onProgress: (bytes) => progress.report(input.bytesBefore + bytes),
      stillWanted: () => throwIfStepOver(input.jobId, pastRestoring),
    }, { ownership: input.target.roles === "createMissing" ? "existing" : "none" });
    await progress.flush();
    log.info(`restored '${input.database.name}' (${restored.bytes} bytes) into ${attempt.database} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const leftOut = input.database.include ? { objectsLeftOut: restored.objectsLeftOut.slice(0, reportListLimit) } : {};
    return { bytes: restored.bytes, temporaryDatabase: attempt.database, grantsSkipped: restored.grantsSkipped, ownershipSkipped: restored.ownershipSkipped, ...leftOut };
  });
}

export const restoreServerDatabaseStep = df.app.activity("restoreServerDatabase", { handler: restoreServerDatabaseActivity });
