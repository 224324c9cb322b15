import * as df from "durable-functions";
import { updateJob, type JobUpdate } from "../shared/catalog/jobRows";
import { reportJobFinished } from "../shared/telemetry";

export interface UpdateJobInput {
  jobId: string;
  update: JobUpdate;
}

/**
 * Merges the given fields into the job row (created if missing), so GET /api/jobs/{id} shows progress; the update
 * that finishes the job also records its metrics.
 */
export async function updateJobActivity(input: UpdateJobInput): Promise<void> {
  await updateJob(input.jobId, input.update);
  await reportJobFinished(input.jobId, input.update);
}

export const updateJobStep = df.app.activity("updateJob", { handler: updateJobActivity });
