import * as df from "durable-functions";
import { releaseLock } from "../shared/jobs/operationLock";
import type { DatabaseAddress } from "../shared/postgres/connection";
import { lockScopeOf } from "./acquireInstanceLock";

export interface ReleaseInstanceLockInput {
  instanceName: string;
  jobId: string;
  /** Give back this restore target's lock instead of the instance's. */
  restoreTarget?: DatabaseAddress;
}

/** Gives the instance's operation lock (or a restore target's) back, if the job still holds it. */
export async function releaseInstanceLockActivity(input: ReleaseInstanceLockInput): Promise<boolean> {
  return releaseLock(lockScopeOf(input), input.jobId);
}

export const releaseInstanceLockStep = df.app.activity("releaseInstanceLock", { handler: releaseInstanceLockActivity });
