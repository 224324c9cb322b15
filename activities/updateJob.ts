import * as df from "durable-functions";
import { updateJob, type JobUpdate } from "../shared/catalog";

export interface UpdateJobInput {
  jobId: string;
  update: JobUpdate;
}

/** Merges the given fields into the job row (created if missing), so GET /api/jobs/{id} shows progress. */
export async function updateJobActivity(input: UpdateJobInput): Promise<void> {
  await updateJob(input.jobId, input.update);
}

export const updateJobStep = df.app.activity("updateJob", { handler: updateJobActivity });
