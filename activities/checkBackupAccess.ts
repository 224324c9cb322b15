import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { verifyDatabaseAccess, type VerifiedAccess } from "../shared/backup/databaseAccess";
import type { DatabaseDatasource } from "../shared/domain";

export interface CheckBackupAccessInput {
  datasource: DatabaseDatasource;
  /** The pinned secret version; absent for an Entra sign-in. */
  secretVersion?: string;
}

/** Connects with the pinned secret version and verifies every grant pg_dump needs (SPEC section 5). */
export function checkBackupAccessActivity(input: CheckBackupAccessInput): Promise<ActivityOutcome<VerifiedAccess>> {
  return asOutcome(() => verifyDatabaseAccess(input.datasource, input.secretVersion));
}

export const checkBackupAccessStep = df.app.activity("checkBackupAccess", { handler: checkBackupAccessActivity });
