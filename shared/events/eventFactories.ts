/**
 * The events pgvault publishes, built from what the job or the request knows: ids that follow from the job or the
 * point (so a retried publish repeats them, and a subscriber can drop a repeat), the instance as subject, and data
 * taken from the job's error (code, message, recommended action), whose messages never hold a secret.
 */
import type { Job, JobOperation } from "../domain";
import type { JobError } from "../errors";
import { instanceSubject, type PgvaultEvent, type PgvaultEventData, type PgvaultEventType } from "./pgvaultEvents";

export interface JobFacts {
  jobId: string;
  instanceName: string;
  operation: JobOperation;
  /** The point the job made, restored or drilled, when there is one. */
  recoveryPointId?: string;
  /** When it happened (ISO 8601 UTC): the job's end, in orchestrator time. */
  time: string;
}

const errorData = (error: JobError) => ({ errorCode: error.code, message: error.message, recommendedAction: error.recommendedAction });

function event(type: PgvaultEventType, id: string, time: string, data: PgvaultEventData): PgvaultEvent {
  return { id, type, subject: instanceSubject(data.instanceName), time, data };
}

/** What every job event's data names. */
interface JobData {
  instanceName: string;
  jobId: string;
  operation: JobOperation;
  recoveryPointId?: string;
}

function jobData(job: JobFacts): JobData {
  return { instanceName: job.instanceName, jobId: job.jobId, operation: job.operation, ...(job.recoveryPointId ? { recoveryPointId: job.recoveryPointId } : {}) };
}

export const jobFailedEvent = (job: JobFacts, error: JobError): PgvaultEvent =>
  event("pgvault.job.failed", `${job.jobId}/failed`, job.time, { ...jobData(job), ...errorData(error) });

/** A job row that ended Failed, as its event (the same id its orchestration would have given it); else undefined. */
export function jobFailedEventOf(job: Job): PgvaultEvent | undefined {
  if (job.status !== "Failed" || !job.error || !job.endTime) return undefined;
  const facts = { jobId: job.id, instanceName: job.instanceName, operation: job.operation, time: job.endTime };
  return jobFailedEvent(job.recoveryPointId ? { ...facts, recoveryPointId: job.recoveryPointId } : facts, job.error);
}

export const jobSucceededEvent = (job: JobFacts): PgvaultEvent =>
  event("pgvault.job.succeeded", `${job.jobId}/succeeded`, job.time, {
    ...jobData(job),
    message: `${job.operation} of '${job.instanceName}' succeeded${job.recoveryPointId ? ` (recovery point ${job.recoveryPointId})` : ""}.`,
  });

/** A cancelled job; `leftovers` when its partial data could not all be removed (the job's error says what). */
export const jobCancelledEvent = (job: JobFacts, leftovers?: JobError): PgvaultEvent =>
  event("pgvault.job.cancelled", `${job.jobId}/cancelled`, job.time, {
    ...jobData(job),
    ...(leftovers ? errorData(leftovers) : { message: `${job.operation} of '${job.instanceName}' was cancelled on request; its partial data was removed.` }),
  });

/** A restore drill's verdict that the point does not restore to what was backed up. */
export const drillFailedEvent = (job: JobFacts & { recoveryPointId: string }, error: JobError): PgvaultEvent =>
  event("pgvault.drill.failed", `${job.jobId}/drillFailed`, job.time, { ...jobData(job), ...errorData(error) });

/** A recorded point that could not be made immutable: the vault refused (`reason`), or the step failed (`error`). */
export const immutabilityNotAppliedEvent = (job: JobFacts & { recoveryPointId: string }, why: { reason: string; message: string } | { error: JobError }): PgvaultEvent =>
  event("pgvault.immutability.notApplied", `${job.jobId}/immutabilityNotApplied`, job.time, {
    ...jobData(job),
    ...("error" in why ? errorData(why.error) : { reason: why.reason, message: `Recovery point ${job.recoveryPointId} is not immutable: ${why.message}` }),
  });

/** A point soft-deleted through the API (a person's act); restorable until `purgeAfter`. */
export const recoveryPointDeletedEvent = (point: { instanceName: string; id: string; softDeletedAt: string; purgeAfter: string }): PgvaultEvent =>
  event("pgvault.recoveryPoint.deleted", `${point.instanceName}/${point.id}/deleted`, point.softDeletedAt, {
    instanceName: point.instanceName,
    recoveryPointId: point.id,
    purgeAfter: point.purgeAfter,
    message: `Recovery point ${point.id} of '${point.instanceName}' was deleted on request; it stays restorable (and can be undeleted) until ${point.purgeAfter}.`,
    recommendedAction: `If the deletion was not intended, POST /api/backupInstances/${point.instanceName}/recoveryPoints/${point.id}/undelete before ${point.purgeAfter}.`,
  });
