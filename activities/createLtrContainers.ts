import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { createLtrContainers } from "../shared/flexServer/ltrContainers";

export interface LtrContainersInput {
  instanceName: string;
  recoveryPointId: string;
  containers: string[];
}

/** The recovery point's own vault containers, which the server will write into. */
export function createLtrContainersActivity(input: LtrContainersInput): Promise<ActivityOutcome<null>> {
  return asOutcome(async () => {
    await createLtrContainers(input.containers, input);
    return null;
  });
}

export const createLtrContainersStep = df.app.activity("createLtrContainers", { handler: createLtrContainersActivity });
