import * as df from "durable-functions";
import type { OrchestrationContext, OrchestrationHandler, Task } from "durable-functions";
import { applyRetentionStep, type ApplyRetentionInput, type RetentionCounts } from "../activities/applyRetention";
import { listInstanceNamesStep, type InstanceNamesPage, type ListInstanceNamesInput } from "../activities/listInstanceNames";
import { reconcileVaultStep, type ReconcileCounts, type ReconcileVaultInput } from "../activities/reconcileVault";
import { allInstances, type JobOperation } from "../shared/domain";
import type { JobError } from "../shared/errors";
import { withJobEvents } from "./jobEvents";
import { isoSeconds, jobErrorOf, jobRetry, jobUpdates, StepFailed, valueOf } from "./jobSteps";
import { jobLogPrefix } from "../shared/jobs/jobLog";

export const retentionOrchestrationName = "retention";

export interface InstanceRetention extends RetentionCounts {
  instanceName: string;
  error?: JobError;
}

/** Instances the output names at most: it is stored in the history, so it must not grow with the number of instances. */
export const listedInstancesAtMost = 20;

/** The run's output (its durable status): counts, and a bounded list of the instances with something to report. */
export interface RetentionOutput {
  now: string;
  deleted: number;
  kept: number;
  failed: number;
  /** Instances the run went through. */
  instancesChecked: number;
  /**
   * Instances where points were deleted, kept or failed, or that failed themselves: at most `listedInstancesAtMost`,
   * the ones with a problem first in line. The run's log has every point deleted, kept or failed, and every instance
   * that failed.
   */
  instances: InstanceRetention[];
  /** Instances with something to report beyond that list. */
  instancesNotListed: number;
  /** What crashes and outages had left: stuck jobs failed, orphan dumps deleted (shared/retention/reconcile.ts). */
  reconciliation: ReconcileCounts & { error?: JobError };
}

/**
 * The daily retention run (job operation `Retention`): every instance's expired recovery points are deleted, and
 * its soft-deleted ones past their grace period purged, as of the orchestration's start time; then the vault is
 * reconciled (jobs left open by an orchestration that ended, dump folders without a row). Instances go one
 * after the other, each in its own try: one instance failing (even after the retries) does not stop the others;
 * its error is in the output and the log, and the job still succeeds unless every instance failed. Recovery points
 * that could not be deleted are counted as `failed`, those the vault still holds immutable as `kept`; the next run
 * tries them again. The instances are listed a page at a time and the output is bounded, so no history event grows
 * with the number of instances.
 *
 * Sequential rather than fanned out: a run is a few storage calls per instance, and one instance at a time keeps
 * the vault's load flat.
 */
const retentionOrchestrator: OrchestrationHandler = withJobEvents("Retention", function* (context: OrchestrationContext) {
  const now = context.df.currentUtcDateTime;
  const job = jobUpdates(context);
  try {
    yield* job.enterPhase("CleaningUp", { operation: "Retention", trigger: "Scheduled", instanceName: allInstances, startTime: isoSeconds(now), bytes: 0 });
    const tally = emptyTally();
    for (let after: string | undefined, more = true; more; ) {
      const page = (yield listInstanceNamesStep({ after } satisfies ListInstanceNamesInput).withRetry(jobRetry)) as InstanceNamesPage;
      for (const instanceName of page.names) addInstance(tally, yield* retainInstance(context, instanceName, now, "Retention"));
      after = page.next;
      more = after !== undefined;
    }
    const reconciliation = yield* reconcile(context, now);

    if (tally.firstError && tally.instancesFailed === tally.instancesChecked) throw new StepFailed(tally.firstError);
    yield* job.succeed();
    const { instancesFailed: _failed, firstError: _first, ...counts } = tally;
    return { now: isoSeconds(now), ...counts, reconciliation } satisfies RetentionOutput;
  } catch (err) {
    const error = jobErrorOf(err);
    yield* job.fail(error);
    throw new StepFailed(error);
  }
});

type Tally = Omit<RetentionOutput, "now" | "reconciliation"> & { instancesFailed: number; firstError?: JobError };

const emptyTally = (): Tally => ({ deleted: 0, kept: 0, failed: 0, instancesChecked: 0, instances: [], instancesNotListed: 0, instancesFailed: 0 });

const hasProblem = (summary: InstanceRetention) => summary.error !== undefined || summary.failed > 0;

/** Adds one instance's outcome; once the list is full, an instance with a problem takes the place of the last quiet one. */
function addInstance(tally: Tally, summary: InstanceRetention): void {
  tally.instancesChecked++;
  tally.deleted += summary.deleted;
  tally.kept += summary.kept;
  tally.failed += summary.failed;
  if (summary.error) {
    tally.instancesFailed++;
    tally.firstError ??= summary.error;
  }
  if (!hasProblem(summary) && summary.deleted + summary.kept === 0) return;
  if (tally.instances.length < listedInstancesAtMost) {
    tally.instances.push(summary);
    return;
  }
  tally.instancesNotListed++;
  const quiet = hasProblem(summary) ? tally.instances.findLastIndex((listed) => !hasProblem(listed)) : -1;
  if (quiet >= 0) tally.instances.splice(quiet, 1, summary);
}

/** Retention of one instance as of `now`; a failure is logged and returned, never thrown. */
function* retainInstance(context: OrchestrationContext, instanceName: string, now: Date, operation: JobOperation): Generator<Task, InstanceRetention, unknown> {
  const input: ApplyRetentionInput = { jobId: context.df.instanceId, instanceName, now: isoSeconds(now) };
  try {
    const counts = valueOf<RetentionCounts>(yield applyRetentionStep(input).withRetry(jobRetry));
    return { instanceName, ...counts };
  } catch (err) {
    const error = jobErrorOf(err);
    if (!context.df.isReplaying) context.warn(`${jobLogPrefix({ jobId: input.jobId, instanceName, operation })} retention failed: ${error.code}: ${error.message}`);
    return { instanceName, deleted: 0, kept: 0, failed: 0, error };
  }
}

/** The vault's reconciliation as of `now`; like an instance, its failure is logged and reported, never thrown. */
function* reconcile(context: OrchestrationContext, now: Date): Generator<Task, RetentionOutput["reconciliation"], unknown> {
  const input: ReconcileVaultInput = { jobId: context.df.instanceId, now: isoSeconds(now) };
  try {
    return valueOf<ReconcileCounts>(yield reconcileVaultStep(input).withRetry(jobRetry));
  } catch (err) {
    const error = jobErrorOf(err);
    if (!context.df.isReplaying) context.warn(`${jobLogPrefix({ jobId: input.jobId, instanceName: allInstances, operation: "Retention" })} reconciliation failed: ${error.code}: ${error.message}`);
    return { jobsFailed: 0, orphansDeleted: 0, orphansKept: 0, uncommittedLeft: 0, summariesCounted: 0, failed: 0, error };
  }
}

/**
 * Retention of the instance right after its backup, so an instance does not wait for the daily run (the point
 * just recorded is the newest, so it is kept). Its failure never fails the backup: the daily run repeats the work.
 */
export function retentionAfterBackup(context: OrchestrationContext, instanceName: string): Generator<Task, InstanceRetention, unknown> {
  return retainInstance(context, instanceName, context.df.currentUtcDateTime, "Backup");
}

df.app.orchestration(retentionOrchestrationName, retentionOrchestrator);

export { retentionOrchestrator };
