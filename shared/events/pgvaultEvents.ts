/**
 * The events pgvault publishes (issue 26): each a CloudEvents 1.0 event on the Event Grid topic, with a stable
 * `type`, the instance as `subject`, and data that names the job or point and says what to do. Never a secret.
 */

export const pgvaultEventTypes = [
  "pgvault.job.failed",
  "pgvault.job.succeeded",
  "pgvault.job.cancelled",
  "pgvault.rpo.atRisk",
  "pgvault.rpo.breached",
  "pgvault.drill.failed",
  "pgvault.immutability.notApplied",
  "pgvault.recoveryPoint.deleted",
] as const;
export type PgvaultEventType = (typeof pgvaultEventTypes)[number];

export interface PgvaultEventData {
  instanceName: string;
  jobId?: string;
  recoveryPointId?: string;
  /** The stable error code (shared/errors.ts), when the event reports a failure. */
  errorCode?: string;
  message: string;
  recommendedAction?: string;
  /** Further plain facts of the event (for RPO events: the state, the RPO, the newest point's age). */
  [fact: string]: string | number | boolean | null | undefined;
}

export interface PgvaultEvent {
  /** Deterministic (from the job, point or transition it reports), so a retried publish repeats the same id. */
  id: string;
  type: PgvaultEventType;
  /** `backupInstances/<instanceName>`. */
  subject: string;
  /** When it happened, ISO 8601 UTC. */
  time: string;
  data: PgvaultEventData;
}

export const instanceSubject = (instanceName: string): string => `backupInstances/${instanceName}`;
