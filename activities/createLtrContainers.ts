import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { isRecordedPoint } from "../shared/backup/pointRecording";
import { createLtrContainers, deleteLtrContainers } from "../shared/flexServer/ltrContainers";
import { undoIfCancelled } from "../shared/jobs/jobCancellation";

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
    await undoIfCancelled(input.jobId, async () => {
      // A late copy of this step (activities run at least once) must not take the data of a point since recorded.
      if (!(await isRecordedPoint(input.instanceName, input.recoveryPointId))) await deleteLtrContainers(input.recoveryPointId, input.containers);
    });
    return null;
  });
}

export const createLtrContainersStep = df.app.activity("createLtrContainers", { handler: createLtrContainersActivity });
