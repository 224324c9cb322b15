import * as df from "durable-functions";
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { cleanUpCancelledJobStep, type CleanUpCancelledJobInput } from "../activities/cleanUpCancelledJob";
import { updateJobStep, type UpdateJobInput } from "../activities/updateJob";
import { jobCancelledEvent } from "../shared/events/eventFactories";
import { announce } from "./jobEvents";
import { isoSeconds, jobErrorOf, jobRetry } from "./jobSteps";

export const cancelJobOrchestrationName = "cancelJob";

export type CancelJobInput = Omit<CleanUpCancelledJobInput, "now">;

/**
 * The cleanup after POST /jobs/{id}/cancel terminated a job's orchestration, as its own orchestration so it is
 * retried and survives a host restart. A job that ended Cancelled is published as `pgvault.job.cancelled` (the
 * terminated orchestration itself publishes nothing); one that had finished first was not cancelled.
 */
const cancelJobOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<CancelJobInput>();
  const cleanup: CleanUpCancelledJobInput = { ...input, now: isoSeconds(context.df.currentUtcDateTime) };
  const recoveryPointId = "recoveryPointId" in input.plan ? input.plan.recoveryPointId : undefined;
  const job = { jobId: input.jobId, instanceName: input.instanceName, operation: input.operation, time: cleanup.now, ...(recoveryPointId ? { recoveryPointId } : {}) };
  try {
    const outcome = (yield cleanUpCancelledJobStep(cleanup).withRetry(jobRetry)) as string;
    if (outcome === "cancelled") yield* announce(context, [jobCancelledEvent(job)]);
    return outcome;
  } catch (err) {
    // The job is cancelled either way; what could not be removed is said in its error, for the operator.
    const error = jobErrorOf(err);
    const leftovers = { ...error, message: `Cancelled, but not all partial data could be removed: ${error.message}` };
    yield updateJobStep({ jobId: input.jobId, update: { status: "Cancelled", endTime: cleanup.now, error: leftovers } } satisfies UpdateJobInput).withRetry(jobRetry);
    yield* announce(context, [jobCancelledEvent(job, leftovers)]);
    return "cancelledWithLeftovers";
  }
};

df.app.orchestration(cancelJobOrchestrationName, cancelJobOrchestrator);

export { cancelJobOrchestrator };
