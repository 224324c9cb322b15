/** What the jobs API answers for a job: the stored row plus its duration so far (or in total, once ended). */
import type { Job } from "../domain";

export interface JobView extends Omit<Job, "cancelRequested"> {
  durationSeconds: number;
  cancelRequested?: boolean;
}

export function jobView(job: Job, now: Date): JobView {
  const end = job.endTime ? Date.parse(job.endTime) : now.getTime();
  return { ...job, durationSeconds: Math.max(0, Math.round((end - Date.parse(job.startTime)) / 1000)) };
}
