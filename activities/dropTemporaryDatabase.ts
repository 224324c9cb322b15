import * as df from "durable-functions";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { dropDatabaseIfExists } from "../shared/restore/databaseRestore";
import type { SwapDatabaseInput } from "./swapDatabase";

/** The failure path's cleanup: a restore never leaves its temporary database behind. */
export async function dropTemporaryDatabaseActivity(input: SwapDatabaseInput): Promise<void> {
  await dropDatabaseIfExists(await connectionParamsFor(input.target, input.secretVersion), input.temporaryDatabase);
}

export const dropTemporaryDatabaseStep = df.app.activity("dropTemporaryDatabase", { handler: dropTemporaryDatabaseActivity });
