import * as df from "durable-functions";
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { cleanUpCancelledJobStep, type CleanUpCancelledJobInput } from "../activities/cleanUpCancelledJob";
import { updateJobStep, type UpdateJobInput } from "../activities/updateJob";
import { isoSeconds, jobErrorOf, jobRetry } from "./jobSteps";

export const cancelJobOrchestrationName = "cancelJob";


export type CancelJobInput = Omit<CleanUpCancelledJobInput, "now">;

/**
 * The cleanup after POST /jobs/{id}/cancel terminated a job's orchestration, as its own orchestration so it is
 * retried and survives a host restart.
 */
const cancelJobOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<CancelJobInput>();
  const cleanup: CleanUpCancelledJobInput = { ...input, now: isoSeconds(context.df.currentUtcDateTime) };
  try {
    return (yield cleanUpCancelledJobStep(cleanup).withRetry(jobRetry)) as string;
  } catch (err) {
    // The job is cancelled either way; what could not be removed is said in its error, for the operator.
    const error = jobErrorOf(err);
    const update = { status: "Cancelled" as const, endTime: cleanup.now, error: { ...error, message: `Cancelled, but not all partial data could be removed: ${error.message}` } };
    yield updateJobStep({ jobId: input.jobId, update } satisfies UpdateJobInput).withRetry(jobRetry);
    return "cancelledWithLeftovers";
  }
};

df.app.orchestration(cancelJobOrchestrationName, cancelJobOrchestrator);

export { cancelJobOrchestrator };
