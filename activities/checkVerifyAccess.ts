import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { RequestedDatabaseEndpoint } from "../shared/domain";
import type { DatabaseServer } from "../shared/postgres/serverBinding";
import { checkDrillAccess } from "../shared/verify/drillServer";

/** What every restore-drill activity works with: the drill's server and sign-in, and the scratch database. */
export interface VerifyTargetInput {
  jobId: string;
  instanceName: string;
  /**
   * Where the drill restores and how it signs in (drillEndpoint): a `database` instance's own datasource, or a
   * Flexible Server instance's drill server (its `verification`, at database `postgres`). References only.
   */
  datasource: RequestedDatabaseEndpoint;
  /** The pinned secret version; absent for an Entra sign-in. */
  secretVersion?: string;
  /**
   * The stem of scratch databases (scratchDatabaseName, or one database's stem under it): each restore attempt makes
   * a database of its own under it, and the drop removes them all. For checkScratchDatabase, the attempt's database
   * the restore handed over.
   */
  scratchDatabase: string;
}

/** Connect, and CREATEDB (or superuser) for the scratch databases: else UserErrorMissingRestorePermissions. */
export function checkVerifyAccessActivity(input: VerifyTargetInput): Promise<ActivityOutcome<{ server: DatabaseServer; serverVersion: string }>> {
  return asOutcome(() => checkDrillAccess(input.datasource, input.scratchDatabase, input.secretVersion));
}

export const checkVerifyAccessStep = df.app.activity("checkVerifyAccess", { handler: checkVerifyAccessActivity });
