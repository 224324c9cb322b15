import * as df from "durable-functions";
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { cleanUpCancelledJobStep, type CleanUpCancelledJobInput } from "../activities/cleanUpCancelledJob";
import { isoSeconds, jobRetry } from "./jobSteps";

export const cancelJobOrchestrationName = "cancelJob";

/** `cancel-<job id>`: one cleanup per cancelled job, however often the cancel is asked for. */
export const cancelJobInstanceId = (jobId: string) => `cancel-${jobId}`;

export type CancelJobInput = Omit<CleanUpCancelledJobInput, "now">;

/**
 * The cleanup after POST /jobs/{id}/cancel terminated a job's orchestration, as its own orchestration so it is
 * retried and survives a host restart.
 */
const cancelJobOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<CancelJobInput>();
  const cleanup: CleanUpCancelledJobInput = { ...input, now: isoSeconds(context.df.currentUtcDateTime) };
  return (yield cleanUpCancelledJobStep(cleanup).withRetry(jobRetry)) as string;
};

df.app.orchestration(cancelJobOrchestrationName, cancelJobOrchestrator);

export { cancelJobOrchestrator };
