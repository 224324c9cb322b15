/** A job as a table row holds it (the `jobs` row and its copies): flat columns, error and restore report as JSON. */
import type { Job, RestoreReport } from "../domain";
import type { JobError } from "../errors";

/** A job as stored: flat columns, the error and restore report as JSON. */
export type JobColumns = Omit<Job, "id" | "error" | "restoreReport"> & { error?: string; restoreReport?: string };

export function jobFromColumns(id: string, columns: JobColumns): Job {
  const { error, restoreReport, operation, trigger, instanceName, status, startTime, endTime, phase, bytes, expectedBytes, recoveryPointId, cancelRequested, swapStartedAt } = columns;
  const job: Job = { id, operation, trigger, instanceName, status, startTime, phase, bytes: Number(bytes ?? 0) };
  if (endTime) job.endTime = endTime;
  if (expectedBytes !== undefined) job.expectedBytes = Number(expectedBytes);
  if (recoveryPointId) job.recoveryPointId = recoveryPointId;
  if (error) job.error = JSON.parse(error) as JobError;
  if (restoreReport) job.restoreReport = JSON.parse(restoreReport) as RestoreReport;
  if (cancelRequested) job.cancelRequested = true;
  if (swapStartedAt) job.swapStartedAt = swapStartedAt;
  return job;
}

/** The columns a job, or the fields of a job given, are stored with (the row's and its copies'). */
export function jobColumns<T extends Partial<Job>>(job: T): T extends Job ? JobColumns : Partial<JobColumns> {
  const { id: _id, error, restoreReport, ...fields } = job;
  const columns = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<JobColumns>;
  if (error) columns.error = JSON.stringify(error);
  if (restoreReport) columns.restoreReport = JSON.stringify(restoreReport);
  return columns as T extends Job ? JobColumns : Partial<JobColumns>;
}
