import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import type { JobOperation } from "../shared/domain";
import { durableClientOf, orchestrationProbe } from "../shared/durableInstances";
import { jobLog } from "../shared/jobLog";
import { acquireInstanceLock, type InstanceLockAttempt } from "../shared/operationLock";

export interface InstanceLockInput {
  instanceName: string;
  jobId: string;
  operation: JobOperation;
  /** The orchestration's time (ISO), recorded as when the lock was taken. */
  now: string;
}

const clientInput = df.input.durableClient();

/**
 * Takes the instance's operation lock for the job, or answers who holds it. A holder whose orchestration no
 * longer runs is taken over, which is why this activity has a durable client; called without one (directly, in
 * tests), only the holder's job row decides.
 */
export async function acquireInstanceLockActivity(input: InstanceLockInput, context: InvocationContext): Promise<InstanceLockAttempt> {
  const client = durableClientOf(context);
  const attempt = await acquireInstanceLock(input.instanceName, input.jobId, input.operation, {
    now: new Date(input.now),
    ...(client ? { isRunning: orchestrationProbe(client) } : {}),
  });
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: input.operation });
  if (!attempt.acquired) log.info(`instance busy: ${attempt.holder.operation} job ${attempt.holder.jobId} holds it`);
  else if (attempt.tookOverFrom) log.info(`took the instance over from ${attempt.tookOverFrom.operation} job ${attempt.tookOverFrom.jobId}, which is over`);
  return attempt;
}

export const acquireInstanceLockStep = df.app.activity("acquireInstanceLock", { handler: acquireInstanceLockActivity, extraInputs: [clientInput] });
