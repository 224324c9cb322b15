import type { InvocationContext, Timer } from "@azure/functions";
import * as df from "durable-functions";
import type { DurableClient } from "durable-functions";
import { backupOrchestrationName, type BackupInput } from "../orchestrators/backup";
import { getConfig } from "../shared/config";
import { orchestrationExists } from "../shared/durableInstances";
import { schedulerTick, type SchedulerPort } from "../shared/scheduler/tick";

/** The scheduler timer: starts every due scheduled backup (SPEC section 3); SCHEDULER_SCHEDULE sets how often. */
export async function runScheduler(timer: Timer, client: DurableClient, context: InvocationContext): Promise<void> {
  const port: SchedulerPort = {
    async start(due) {
      const input: BackupInput = { instanceName: due.instanceName, datasource: due.datasource, trigger: "Scheduled" };
      await client.startNew(backupOrchestrationName, { instanceId: due.jobId, input });
    },
    exists: (jobId) => orchestrationExists(client, jobId),
  };
  const started = Date.now();
  const result = await schedulerTick(new Date(), port);
  context.log(
    `scheduler: ${result.instances} instances, ${result.due} due, ${result.started} started ` +
      `(${result.recovered} recovered, ${result.lostRaces} claimed elsewhere, ${result.failed} failed to start) in ${Date.now() - started} ms` +
      (timer.isPastDue ? " (past due)" : ""),
  );
}

df.app.client.timer("scheduler", { schedule: getConfig().schedulerSchedule, handler: runScheduler });
