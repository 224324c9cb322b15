import * as df from "durable-functions";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { dropAttemptDatabases, temporaryDatabaseName } from "../shared/restore/databaseRestore";
import type { RestoreTargetInput } from "./checkRestoreAccess";

export interface DropTemporaryDatabaseInput extends RestoreTargetInput {
  jobId: string;
}

/** The failure path's cleanup: a restore never leaves a temporary database behind, whichever attempt made it. */
export async function dropTemporaryDatabaseActivity(input: DropTemporaryDatabaseInput): Promise<void> {
  await dropAttemptDatabases(await connectionParamsFor(input.target, input.secretVersion), temporaryDatabaseName(input.jobId));
}

export const dropTemporaryDatabaseStep = df.app.activity("dropTemporaryDatabase", { handler: dropTemporaryDatabaseActivity });
