import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { jobLog } from "../shared/jobLog";
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
  failed: number;
}

/**
 * Deletes one instance's expired recovery points. A point that cannot be deleted is logged and counted, not
 * thrown: the others go on, and the next run tries it again.
 */
export async function applyRetentionActivity(input: ApplyRetentionInput, context: InvocationContext): Promise<ActivityOutcome<RetentionCounts>> {
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: "Retention" });
  return asOutcome(async () => {
    const report = await applyRetention(input.instanceName, new Date(input.now));
    for (const id of report.deleted) log.info(`deleted expired recovery point ${id}`);
    for (const { recoveryPointId, error } of report.failed) log.warn(`could not delete ${recoveryPointId}: ${error.code}: ${error.message}`);
    return { deleted: report.deleted.length, failed: report.failed.length };
  });
}

export const applyRetentionStep = df.app.activity("applyRetention", { handler: applyRetentionActivity });
