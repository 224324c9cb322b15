import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { DatabaseRestoreTarget } from "../shared/domain";
import { jobLog } from "../shared/jobs/jobLog";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { passedOrThrow } from "../shared/restore/preflight/findings";
import { preflightDatabaseRestore, type PreflightResult } from "../shared/restore/preflight/preflight";
import { restorableDump } from "../shared/restore/restorablePoint";

/** What every database-restore activity works with: the target and the pinned secret version. */
export interface RestoreTargetInput {
  target: DatabaseRestoreTarget;
  /** The pinned secret version; absent for an Entra sign-in. */
  secretVersion?: string;
}

/** Into the durable history: small, whatever the archive holds (warnings are in the job log, a dry run lists them). */
export interface PreflightPassed {
  server: PreflightResult["server"];
  warnings: number;
}

export interface CheckRestoreAccessInput extends RestoreTargetInput {
  jobId: string;
  instanceName: string;
  recoveryPointId: string;
}

/**
 * The restore's pre-flight (shared/restore/preflight): connect, CREATEDB (or owner of an existing target), the
 * overwrite rule (SPEC section 5), the server version, extensions and owner roles against the archive's table of
 * contents. A fatal finding fails the job here, before anything is created; warnings go to the job log.
 */
export function checkRestoreAccessActivity(input: CheckRestoreAccessInput, context: InvocationContext): Promise<ActivityOutcome<PreflightPassed>> {
  return asOutcome(async () => {
    const rp = await restorableDump(input.instanceName, input.recoveryPointId, "it can be restored as files only");
    const params = await connectionParamsFor(input.target, input.secretVersion);
    const result = passedOrThrow(await preflightDatabaseRestore(params, rp, input.target));
    const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: "Restore" });
    for (const warning of result.findings) log.warn(`pre-flight warning ${warning.code} on ${warning.object}: ${warning.message}`);
    return { server: result.server, warnings: result.findings.length };
  });
}

export const checkRestoreAccessStep = df.app.activity("checkRestoreAccess", { handler: checkRestoreAccessActivity });
