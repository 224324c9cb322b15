import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { DatabaseDatasource } from "../shared/domain";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { checkScratchAccess } from "../shared/verify/restoreDrill";

/** What every restore-drill activity works with: the instance's own server and credentials, and the scratch database. */
export interface VerifyTargetInput {
  jobId: string;
  instanceName: string;
  datasource: DatabaseDatasource;
  /** The instance's secret, pinned by resolveSecret for the whole drill. */
  /** The pinned secret version; absent for an Entra sign-in. */
  secretVersion?: string;
  /**
   * The drill's scratch database stem (scratchDatabaseName): each restore attempt makes a database of its own
   * under it, and the drop removes them all. For checkScratchDatabase, the attempt's database the restore handed over.
   */
  scratchDatabase: string;
}

/** Connect, and CREATEDB (or superuser) for the scratch database: else UserErrorMissingRestorePermissions. */
export function checkVerifyAccessActivity(input: VerifyTargetInput): Promise<ActivityOutcome<{ serverVersion: string }>> {
  return asOutcome(async () => checkScratchAccess(await connectionParamsFor(input.datasource, input.secretVersion), input.scratchDatabase));
}

export const checkVerifyAccessStep = df.app.activity("checkVerifyAccess", { handler: checkVerifyAccessActivity });
