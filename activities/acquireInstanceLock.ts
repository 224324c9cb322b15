import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import type { JobOperation } from "../shared/domain";
import { durableClientOf, orchestrationProbe } from "../shared/durableInstances";
import { jobLog } from "../shared/jobs/jobLog";
import { acquireLock, instanceLock, restoreTargetLock, type InstanceLockAttempt, type LockScope } from "../shared/jobs/operationLock";
import type { DatabaseAddress } from "../shared/postgres/connection";

export interface InstanceLockInput {
  instanceName: string;
  jobId: string;
  operation: JobOperation;
  /** The orchestration's time (ISO), recorded as when the lock was taken. */
  now: string;
  /** Take the lock of this restore target (server and database) instead of the instance's. */
  restoreTarget?: DatabaseAddress;
}

/** The lock an input names: a restore target's, or else the instance's. */
export const lockScopeOf = (input: { instanceName: string; restoreTarget?: DatabaseAddress }): LockScope =>
  input.restoreTarget ? restoreTargetLock(input.restoreTarget) : instanceLock(input.instanceName);

const clientInput = df.input.durableClient();

/**
 * Takes the instance's operation lock (or a restore target's) for the job, or answers who holds it. A holder
 * whose orchestration no longer runs is taken over, which is why this activity has a durable client; called
 * without one (directly, in tests), only the holder's job row decides.
 */
export async function acquireInstanceLockActivity(input: InstanceLockInput, context: InvocationContext): Promise<InstanceLockAttempt> {
  const client = durableClientOf(context);
  const attempt = await acquireLock(lockScopeOf(input), input.jobId, input.operation, {
    now: new Date(input.now),
    ...(client ? { isRunning: orchestrationProbe(client) } : {}),
  });
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: input.operation });
  const subject = input.restoreTarget ? `restore target '${input.restoreTarget.database}'` : "instance";
  if (!attempt.acquired) log.info(`${subject} busy: ${attempt.holder.operation} job ${attempt.holder.jobId} holds it`);
  else if (attempt.tookOverFrom) log.info(`took the ${subject} over from ${attempt.tookOverFrom.operation} job ${attempt.tookOverFrom.jobId}, which is over`);
  return attempt;
}

export const acquireInstanceLockStep = df.app.activity("acquireInstanceLock", { handler: acquireInstanceLockActivity, extraInputs: [clientInput] });
