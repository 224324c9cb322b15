import * as df from "durable-functions";
import { releaseInstanceLock } from "../shared/operationLock";

export interface ReleaseInstanceLockInput {
  instanceName: string;
  jobId: string;
}

/** Gives the instance's operation lock back, if the job still holds it. */
export async function releaseInstanceLockActivity(input: ReleaseInstanceLockInput): Promise<boolean> {
  return releaseInstanceLock(input.instanceName, input.jobId);
}

export const releaseInstanceLockStep = df.app.activity("releaseInstanceLock", { handler: releaseInstanceLockActivity });
