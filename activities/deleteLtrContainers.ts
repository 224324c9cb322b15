import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { deleteLtrContainers } from "../shared/flexServer/ltrContainers";
import type { LtrContainersInput } from "./createLtrContainers";

/** A failed or abandoned backup's containers go, so no partial data stays behind in the vault. */
export function deleteLtrContainersActivity(input: LtrContainersInput): Promise<ActivityOutcome<null>> {
  return asOutcome(async () => {
    await deleteLtrContainers(input.recoveryPointId, input.containers);
    return null;
  });
}

export const deleteLtrContainersStep = df.app.activity("deleteLtrContainers", { handler: deleteLtrContainersActivity });
