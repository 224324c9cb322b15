import type { InvocationContext, Timer } from "@azure/functions";
import * as df from "durable-functions";
import type { DurableClient } from "durable-functions";
import { backupOrchestrationName, type BackupInput } from "../orchestrators/backup";
import { verifyOrchestrationName, type VerifyInput } from "../orchestrators/verify";
import { readFleetCatalog, type FleetCatalog } from "../shared/catalog/catalog";
import { getConfig } from "../shared/config";
import { orchestrationExists } from "../shared/durableInstances";
import { ensureError, PgVaultError } from "../shared/errors";
import { jobLog } from "../shared/jobs/jobLog";
import { startEventPublishing } from "../shared/events/eventPublishing";
import { evaluateFleetHealth, type HealthEventSink } from "../shared/rpo/healthStates";
import { schedulerTick, type SchedulerPort } from "../shared/scheduler/tick";
import { recordSchedulerHeartbeat } from "../shared/telemetry";

/**
 * Starts a due backup's orchestration, logging the start, or the failure to start (the tick counts it and a later
 * tick retries it), as the job's first line. Only the error's name: a durable client error may quote its URL.
 */
export function schedulerPort(client: DurableClient, context: InvocationContext): SchedulerPort {
  return {
    async start(due) {
      const log = jobLog(context, { jobId: due.jobId, instanceName: due.instanceName, operation: "Backup" });
      const input: BackupInput = { instanceName: due.instanceName, datasource: due.datasource, trigger: "Scheduled" };
      try {
        await client.startNew(backupOrchestrationName, { instanceId: due.jobId, input });
      } catch (err) {
        log.warn(`scheduled backup of slot ${due.slot.toISOString()} could not be started (${ensureError(err).name}); a later tick retries`);
        throw err;
      }
      log.info(`scheduled backup of slot ${due.slot.toISOString()} started`);
    },
    exists: (jobId) => orchestrationExists(client, jobId),
    async startVerification(due) {
      const log = jobLog(context, { jobId: due.jobId, instanceName: due.instanceName, operation: "Verify" });
      const { instanceName, recoveryPoint, dueAt: _dueAt, jobId: _jobId, ...subject } = due;
      const input: VerifyInput = { instanceName, recoveryPointId: recoveryPoint.id, trigger: "Scheduled", ...subject };
      try {
        await client.startNew(verifyOrchestrationName, { instanceId: due.jobId, input });
      } catch (err) {
        log.warn(`scheduled restore drill of ${due.recoveryPoint.id} could not be started (${ensureError(err).name}); a later tick retries`);
        throw err;
      }
      log.info(`scheduled restore drill of ${due.recoveryPoint.id} started (due since ${due.dueAt.toISOString()})`);
    },
  };
}

/**
 * The fleet's RPO health at the tick's time (shared/rpo/healthStates.ts), its events to `emit`. Never throws: a
 * failure is logged and the next tick evaluates again.
 */
export async function evaluateHealthAfterTick(now: Date, context: InvocationContext, emit: HealthEventSink, catalog?: FleetCatalog): Promise<void> {
  try {
    const health = await evaluateFleetHealth(now, emit, catalog);
    const { Healthy, AtRisk, Breached } = health.states;
    context.log(
      `rpo health: ${Healthy} healthy, ${AtRisk} at risk, ${Breached} breached; ${health.events.length} events, ${health.written} rows written` +
        (health.lostRaces ? `, ${health.lostRaces} left to another evaluation` : "") +
        (health.failed.length ? `, ${health.failed.length} not evaluated (${health.failed[0]!.instanceName}: ${health.failed[0]!.error.code})` : ""),
    );
  } catch (err) {
    // Our errors say what failed, secret-free; of others only the name (a publisher's may quote its URL).
    const why = err instanceof PgVaultError ? err.message : ensureError(err).name;
    context.warn(`rpo health not evaluated (${why}); the next tick tries again`);
  }
}

/** The RPO events of an evaluation, to the eventPublishing orchestration (shared/events/eventPublishing.ts). */
export const healthEventPublisher =
  (client: DurableClient, context: InvocationContext): HealthEventSink =>
  async (events) => {
    await startEventPublishing(client, events, (line) => context.warn(`rpo: ${line}`));
  };

/**
 * The scheduler timer: starts every due scheduled backup (SPEC section 3), then evaluates the fleet's RPO health
 * at the same instant, even when the tick failed (a tick that cannot start backups is what the health is there to
 * show). Each tick that ran to its end sends the heartbeat metric the dead man's switch alert watches.
 * SCHEDULER_SCHEDULE sets how often.
 */
export async function runScheduler(timer: Timer, client: DurableClient, context: InvocationContext): Promise<void> {
  const port = schedulerPort(client, context);
  const now = new Date();
  // Read once for both: the tick's instances and policies are the evaluation's too.
  let catalog: FleetCatalog | undefined;
  try {
    catalog = await readFleetCatalog();
    const result = await schedulerTick(now, port, catalog);
    // After the tick, not before: a tick that fails every time stops the heartbeat as surely as a stopped timer.
    recordSchedulerHeartbeat();
    context.log(
      `scheduler: ${result.instances} instances, ${result.due} due, ${result.started} started ` +
        `(${result.recovered} recovered, ${result.lostRaces} claimed elsewhere, ${result.failed} failed to start) in ${Date.now() - now.getTime()} ms` +
        (result.verifications?.scheduled ? `; restore drills: ${result.verifications.due} due, ${result.verifications.started} started (${result.verifications.recovered} recovered, ${result.verifications.failed} failed to start)` : "") +
        (timer.isPastDue ? " (past due)" : ""),
    );
  } finally {
    await evaluateHealthAfterTick(now, context, healthEventPublisher(client, context), catalog);
  }
}

df.app.client.timer("scheduler", { schedule: getConfig().schedulerSchedule, handler: runScheduler });
