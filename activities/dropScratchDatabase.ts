import * as df from "durable-functions";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { dropAttemptDatabases } from "../shared/restore/databaseRestore";
import type { VerifyTargetInput } from "./checkVerifyAccess";

/** Drops the drill's scratch databases (every attempt's, with their sessions), whatever the drill's outcome. */
export async function dropScratchDatabaseActivity(input: VerifyTargetInput): Promise<void> {
  await dropAttemptDatabases(await connectionParamsFor(input.datasource, input.secretVersion), input.scratchDatabase);
}

export const dropScratchDatabaseStep = df.app.activity("dropScratchDatabase", { handler: dropScratchDatabaseActivity });
