import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { DatabaseRestoreTarget, JobPhase, RestoreReport } from "../shared/domain";
import type { PrivilegeHandling } from "../shared/restore/applyPrivileges";
import { throwIfStepOver } from "../shared/jobs/jobCancellation";
import { jobLog } from "../shared/jobs/jobLog";
import { jobProgress } from "../shared/jobs/jobProgress";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { attemptDatabaseName, restoreAttempt, restoreIntoTemporary, restoreSourceOf, temporaryDatabaseName } from "../shared/restore/databaseRestore";
import { restorableDump } from "../shared/restore/restorablePoint";
import { boundedReport } from "../shared/restore/restoreReport";
import { intoSchemaReport } from "../shared/restore/intoSchema";
import type { RestoreTargetInput } from "./checkRestoreAccess";

export interface RestoreDatabaseInput extends RestoreTargetInput {
  jobId: string;
  instanceName: string;
  /** The point to restore, read from the catalog here. */
  recoveryPointId: string;
}

/** Where the restore orchestration goes once it has a restored database: a copy of this step is no longer wanted. */
const pastRestoring: readonly JobPhase[] = ["Swapping", "CleaningUp", "Done"];

export interface RestoredDatabase {
  bytes: number;
  /** This attempt's own database, marked complete: the one the swap is to rename into place. */
  temporaryDatabase: string;
  /** What the restore left out for want of roles on the target, for the job; kept small (boundedReport). */
  report: RestoreReport;
}

/**
 * pg_restore into a temporary database of this attempt's own, verifying the recovery point's SHA-256 (and
 * decrypting) on the way, then the archive's grants whose grantees the target has (unless ownership is preserved,
 * when pg_restore restores them all). Another copy of the step running at the same time works on its own database; a copy
 * the job no longer waits for drops its database and fails (the orchestration has a result already).
 */
export async function restoreDatabaseActivity(input: RestoreDatabaseInput, context: InvocationContext): Promise<ActivityOutcome<RestoredDatabase>> {
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: "Restore" });
  return asOutcome(async () => {
    const source = restoreSourceOf(await restorableDump(input.instanceName, input.recoveryPointId, "it can be restored as files only"));
    const params = await connectionParamsFor(input.target, input.secretVersion);
    const progress = jobProgress(input.jobId, log);
    const started = Date.now();
    const attempt = restoreAttempt(input.jobId, attemptDatabaseName(temporaryDatabaseName(input.jobId)));
    // A cancel's cleanup, the swap and the failure path drop the job's databases once its row moved on; a database
    // created after they looked is dropped here.
    // Without preserveOwnership, objects stay the restoring user's (unless roles were created: then they go to
    // their owners where it can) and the grants whose grantees exist are kept, unless privileges: "none".
    const { bytes, grantsSkipped, ownershipSkipped, objectsLeftOut, tables } = await restoreIntoTemporary(
      params,
      input.target,
      source,
      attempt,
      { onProgress: progress.report, stillWanted: () => throwIfStepOver(input.jobId, pastRestoring) },
      privilegeHandlingOf(input.target),
    );
    await progress.flush();
    log.info(`restored ${bytes} bytes into ${attempt.database} in ${((Date.now() - started) / 1000).toFixed(1)} s, sha256 verified${source.encryption ? ", every segment authenticated" : ""}`);
    // The roles step's part of the report (roles created and skipped) is added by the orchestration.
    const report = boundedReport({
      rolesCreated: [],
      rolesSkipped: [],
      grantsSkipped,
      ownershipSkipped,
      ...(input.target.include ? { objectsLeftOut } : {}),
      ...(input.target.intoSchema !== undefined ? { intoSchema: intoSchemaReport(input.target.intoSchema, tables) } : {}),
    });
    return { bytes, temporaryDatabase: attempt.database, report };
  });
}

/** How a database target's owners and grants are restored when ownership is not preserved (pg_restore's own way). */
export function privilegeHandlingOf(target: DatabaseRestoreTarget): PrivilegeHandling {
  return { ownership: target.roles === "createMissing" ? "existing" : "none", privileges: target.privileges ?? "all" };
}

export const restoreDatabaseStep = df.app.activity("restoreDatabase", { handler: restoreDatabaseActivity });
