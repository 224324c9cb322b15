import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { DatabaseMapping, ServerRestoreTarget } from "../shared/domain";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { restorablePoint } from "../shared/restore/restorablePoint";
import { passedOrThrow } from "../shared/restore/preflight/findings";
import { preflightServerRestore } from "../shared/restore/preflight/preflight";
import { asServerPoint, databaseMappings, databaseTargetOf } from "../shared/restore/serverRestore";

/** What every step of a Flexible Server point's restore to a server works with: ids and references only. */
export interface ServerRestoreInput {
  jobId: string;
  instanceName: string;
  /** The point, read from the catalog by each step. */
  recoveryPointId: string;
  target: ServerRestoreTarget;
  /** The pinned secret version; absent for an Entra sign-in. */
  secretVersion?: string;
}

export interface ServerRestorePlan {
  /** The server the sign-in is bound to (the secret's own, when the request left host or port out). */
  server: { host: string; port: number };
  /** Each database of the point to restore, and its name on the target, in the order they are restored. */
  databases: DatabaseMapping[];
}

/** The sign-in of a server target, on its maintenance database. */
export const serverParamsOf = (input: Pick<ServerRestoreInput, "target" | "secretVersion">) =>
  connectionParamsFor(databaseTargetOf(input.target, "postgres"), input.secretVersion);

/**
 * Settles what goes where, then the restore's pre-flight for all of it before anything is written
 * (shared/restore/preflight): CREATEDB, the overwrite rule and ownership for each target name, CREATEROLE for
 * `roles: "createMissing"` (SPEC section 5), the server version and the extensions each database's archive creates.
 */
export function checkServerRestoreAccessActivity(input: ServerRestoreInput): Promise<ActivityOutcome<ServerRestorePlan>> {
  return asOutcome(async () => {
    const rp = asServerPoint(await restorablePoint(input.instanceName, input.recoveryPointId));
    const databases = databaseMappings(rp, input.target.databases);
    const params = await serverParamsOf(input);
    const { server } = passedOrThrow(await preflightServerRestore(params, rp, input.target));
    return { server, databases };
  });
}

export const checkServerRestoreAccessStep = df.app.activity("checkServerRestoreAccess", { handler: checkServerRestoreAccessActivity });
