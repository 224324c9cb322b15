import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { cancelJobInstanceId } from "../shared/jobs/jobId";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { getJob } from "../shared/catalog/jobRows";
import { getConfig } from "../shared/config";
import type { DurableClient } from "durable-functions";
import { durableClientOf, orchestrationStatus } from "../shared/durableInstances";
import { jobErrorFromFailure } from "../shared/errors";
import { jobFailedEventOf } from "../shared/events/eventFactories";
import type { PgvaultEvent } from "../shared/events/pgvaultEvents";
import { startEventPublishing } from "../shared/events/eventPublishing";
import { jobLog, type JobLog } from "../shared/jobs/jobLog";
import { reconcileVault } from "../shared/retention/reconcile";

export interface ReconcileVaultInput {
  /** The retention job this runs for: never settled itself, and it scopes the log lines. */
  jobId: string;
  /** The orchestrator's time (ISO 8601): ages are measured against it, so a replay decides the same. */
  now: string;
}

export interface ReconcileCounts {
  jobsFailed: number;
  orphansDeleted: number;
  orphansKept: number;
  uncommittedLeft: number;
  summariesCounted: number;
  /** Instances AtRisk and Breached at the run's time, and the RPO events made (absent: health not evaluated, or a run from before). */
  rpoAtRisk?: number;
  rpoBreached?: number;
  rpoEvents?: number;
  failed: number;
}

/**
 * Settles what crashes and outages left (shared/retention/reconcile.ts): jobs whose orchestration ended without
 * finishing them are marked Failed, dump folders without a recovery point row are deleted once a day old; then
 * evaluates the fleet's RPO health. Each finding is logged; what could not be settled is counted and tried again
 * at the next run.
 */
export async function reconcileVaultActivity(input: ReconcileVaultInput, context: InvocationContext): Promise<ActivityOutcome<ReconcileCounts>> {
  // The run covers the whole vault, like its job row (instance `*`).
  const log = jobLog(context, { jobId: input.jobId, instanceName: "*", operation: "Retention" });
  // Registered with a durable client input, which the Functions host always supplies; called without one (the
  // replay driver), open jobs are not judged.
  const client = durableClientOf(context);
  if (!client) log.warn("no durable client in this invocation: open jobs were not checked");
  return asOutcome(async () => {
    const report = await reconcileVault({
      now: new Date(input.now),
      selfJobId: input.jobId,
      ...(client ? { orchestration: (instanceId: string) => orchestrationStatus(client, instanceId) } : {}),
      cancelCleanupId: cancelJobInstanceId,
      emitHealthEvents: (events) => publish(client, events, (line) => log.warn(`rpo: ${line}`)),
    });
    for (const id of report.jobsFailed) log.warn(`job ${id} was still open but its orchestration had ended or vanished: marked Failed`);
    for (const item of report.orphansDeleted) log.warn(`deleted the orphan dump ${item}: no recovery point row, no running job`);
    for (const item of report.orphansKept) log.info(`kept the orphan dump ${item}: the vault holds it immutable for now; the next run tries again`);
    for (const item of report.uncommittedLeft) log.info(`orphan dump ${item} holds only uncommitted blocks; the storage service discards them 7 days after the last upload`);
    for (const { item, error } of report.failed) log.warn(`could not settle ${item}: ${error.code}: ${error.message}`);
    await publishSettledJobs(report.jobsFailed, client, log);
    return {
      jobsFailed: report.jobsFailed.length,
      orphansDeleted: report.orphansDeleted.length,
      orphansKept: report.orphansKept.length,
      uncommittedLeft: report.uncommittedLeft.length,
      summariesCounted: report.summariesCounted,
      ...(report.health ? { rpoAtRisk: report.health.states.AtRisk, rpoBreached: report.health.states.Breached, rpoEvents: report.health.events } : {}),
      failed: report.failed.length,
    };
  });
}

/**
 * Events through the eventPublishing orchestration, which the durable client input starts; without one (the replay
 * driver) they are lost, and said so.
 */
async function publish(client: DurableClient | undefined, events: PgvaultEvent[], warn: (line: string) => void): Promise<void> {
  if (!client) {
    if (events.length > 0 && getConfig().eventGridTopicEndpoint) warn(`no durable client in this invocation: ${events.length} events not published`);
    return;
  }
  await startEventPublishing(client, events, warn);
}

/**
 * The jobs the reconciliation marked Failed, as `pgvault.job.failed`: their orchestrations, which would have
 * published it, are gone. The jobs stay failed whatever Event Grid says; reading them failing is a warning, and
 * a retry of this activity would settle nothing new. Without the topic it reads nothing.
 */
export async function publishSettledJobs(jobIds: readonly string[], client: DurableClient | undefined, log: JobLog): Promise<void> {
  if (jobIds.length === 0 || !getConfig().eventGridTopicEndpoint) return;
  let events: PgvaultEvent[];
  try {
    const jobs = await Promise.all(jobIds.map((id) => getJob(id)));
    events = jobs.flatMap((job): PgvaultEvent[] => {
      const event = job && jobFailedEventOf(job);
      return event ? [event] : [];
    });
  } catch (err) {
    const error = jobErrorFromFailure(err);
    log.warn(`the failure of ${jobIds.length} settled job(s) was not published: ${error.code}: ${error.message}`);
    return;
  }
  await publish(client, events, log.warn);
}

export const reconcileVaultStep = df.app.activity("reconcileVault", { handler: reconcileVaultActivity, extraInputs: [df.input.durableClient()] });
