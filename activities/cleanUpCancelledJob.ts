import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { cleanUpCancelledJob, type CancelPlan } from "../shared/jobs/jobCleanup";
import { jobLog } from "../shared/jobs/jobLog";
import type { JobOperation } from "../shared/domain";

export interface CleanUpCancelledJobInput {
  jobId: string;
  instanceName: string;
  operation: JobOperation;
  plan: CancelPlan;
  /** The cancelling orchestration's time (ISO), the job's end time. */
  now: string;
}

/** Removes a cancelled job's partial data and marks it Cancelled (or Succeeded, for a job that finished first). */
export async function cleanUpCancelledJobActivity(input: CleanUpCancelledJobInput, context: InvocationContext): Promise<string> {
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: input.operation });
  const outcome = await cleanUpCancelledJob(input.jobId, input.plan, new Date(input.now));
  log.info(outcome === "cancelled" ? "cancelled; partial data removed" : "finished before the cancel took effect: Succeeded, its recovery point (if any) kept");
  return outcome;
}

export const cleanUpCancelledJobStep = df.app.activity("cleanUpCancelledJob", { handler: cleanUpCancelledJobActivity });
