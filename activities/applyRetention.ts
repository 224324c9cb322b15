import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { jobLog } from "../shared/jobs/jobLog";
import { applyRetention } from "../shared/retention/instanceRetention";

export interface ApplyRetentionInput {
  /** The job the run belongs to, for the log lines. */
  jobId: string;
  instanceName: string;
  /** The orchestrator's time (ISO 8601): expiry is decided against it, so a replay decides the same. */
  now: string;
}

export interface RetentionCounts {
  deleted: number;
  /** Points due for deletion whose data the vault still holds immutable; the next run tries again. */
  kept: number;
  failed: number;
}

/**
 * Deletes one instance's expired recovery points, and purges its soft-deleted ones whose grace period is over. A
 * point that cannot be deleted (or is still immutable) is logged and counted, not thrown: the others go on, and
 * the next run tries it again.
 */
export async function applyRetentionActivity(input: ApplyRetentionInput, context: InvocationContext): Promise<ActivityOutcome<RetentionCounts>> {
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: "Retention" });
  return asOutcome(async () => {
    const report = await applyRetention(input.instanceName, new Date(input.now));
    for (const id of report.deleted) log.info(`deleted recovery point ${id} (expired, or soft-deleted and past its grace period)`);
    for (const id of report.kept) log.info(`kept recovery point ${id}: the vault holds its data immutable for now; the next run tries again`);
    for (const { recoveryPointId, error } of report.failed) log.warn(`could not delete ${recoveryPointId}: ${error.code}: ${error.message}`);
    return { deleted: report.deleted.length, kept: report.kept.length, failed: report.failed.length };
  });
}

export const applyRetentionStep = df.app.activity("applyRetention", { handler: applyRetentionActivity });
