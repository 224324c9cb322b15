import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { createLtrContainers, deleteLtrContainers } from "../shared/flexServer/ltrContainers";
import { undoIfCancelled } from "../shared/jobCancellation";

export interface LtrContainersInput {
  jobId: string;
  instanceName: string;
  recoveryPointId: string;
  containers: string[];
}

/** The recovery point's own vault containers, which the server will write into. */
export function createLtrContainersActivity(input: LtrContainersInput): Promise<ActivityOutcome<null>> {
  return asOutcome(async () => {
    await createLtrContainers(input.containers, input);
    await undoIfCancelled(input.jobId, () => deleteLtrContainers(input.recoveryPointId, input.containers));
    return null;
  });
}

export const createLtrContainersStep = df.app.activity("createLtrContainers", { handler: createLtrContainersActivity });
