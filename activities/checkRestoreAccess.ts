import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { DatabaseRestoreTarget } from "../shared/domain";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { checkRestoreAccess, type RestoreFacts } from "../shared/restore/restoreAccess";

/** What every database-restore activity works with: the target and the pinned secret version. */
export interface RestoreTargetInput {
  target: DatabaseRestoreTarget;
  /** The pinned secret version; absent for an Entra sign-in. */
  secretVersion?: string;
}

/** Connect, CREATEDB (or owner of an existing target), the overwrite rule (SPEC section 5), CREATEROLE for `roles: "createMissing"`. */
export function checkRestoreAccessActivity(input: RestoreTargetInput): Promise<ActivityOutcome<RestoreFacts>> {
  return asOutcome(async () => checkRestoreAccess(await connectionParamsFor(input.target, input.secretVersion), input.target));
}

export const checkRestoreAccessStep = df.app.activity("checkRestoreAccess", { handler: checkRestoreAccessActivity });
