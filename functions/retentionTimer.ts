import type { InvocationContext, Timer } from "@azure/functions";
import * as df from "durable-functions";
import type { DurableClient } from "durable-functions";
import { retentionOrchestrationName } from "../orchestrators/retention";
import { allInstances } from "../shared/domain";
import { updateJob } from "../shared/catalog/jobRows";
import { orchestrationExists } from "../shared/durableInstances";
import { isoSeconds } from "../shared/time/isoTime";
import { jobLog } from "../shared/jobs/jobLog";

/** One retention run per UTC day: `retention-YYYYMMDD`, so a repeated or past-due tick finds the day's run. */
export function retentionJobId(now: Date): string {
  return `retention-${now.toISOString().slice(0, 10).replaceAll("-", "")}`;
}

/**
 * Daily at 01:30 UTC: starts the day's retention run unless it exists already (in any state: the extension would
 * restart a finished instance of the same id). Two ticks racing past the check would both start it, which is
 * harmless: deleting an already deleted recovery point is a no-op.
 */
export async function retentionTimer(_timer: Timer, client: DurableClient, context: InvocationContext): Promise<void> {
  const now = new Date();
  const jobId = retentionJobId(now);
  const log = jobLog(context, { jobId, instanceName: allInstances, operation: "Retention" }).info;
  if (await orchestrationExists(client, jobId)) {
    log("today's retention run exists already; not started again");
    return;
  }
  const startTime = isoSeconds(now);
  await updateJob(jobId, { operation: "Retention", trigger: "Scheduled", instanceName: allInstances, status: "Queued", phase: "Queued", startTime, bytes: 0 });
  await client.startNew(retentionOrchestrationName, { instanceId: jobId });
  log("retention run started");
}

df.app.client.timer("retentionTimer", { schedule: "0 30 1 * * *", handler: retentionTimer });
