import * as df from "durable-functions";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { dropDatabaseIfExists } from "../shared/restore/databaseRestore";
import type { VerifyTargetInput } from "./checkVerifyAccess";

/** Drops the drill's scratch database (with its sessions), whatever the drill's outcome; a missing one is fine. */
export async function dropScratchDatabaseActivity(input: VerifyTargetInput): Promise<void> {
  await dropDatabaseIfExists(await connectionParamsFor(input.datasource, input.secretVersion), input.scratchDatabase);
}

export const dropScratchDatabaseStep = df.app.activity("dropScratchDatabase", { handler: dropScratchDatabaseActivity });
