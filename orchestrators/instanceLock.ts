/**
 * The orchestration side of the per-instance operation lock (shared/jobs/operationLock.ts): a job takes its instance's
 * lock before its first effect and gives it back when it ends. Taking and giving back are activities; the waits
 * are durable timers. Used by backup (database and Flexible Server), restore and verify; not by retention. A
 * restore into a database also holds that database's lock (`takeRestoreTargetLock`), through the same activities.
 */
import type { OrchestrationContext, Task } from "durable-functions";
import { acquireInstanceLockStep, type InstanceLockInput } from "../activities/acquireInstanceLock";
import { releaseInstanceLockStep, type ReleaseInstanceLockInput } from "../activities/releaseInstanceLock";
import type { JobOperation } from "../shared/domain";
import { operationInProgress, restoreTargetInUse, type InstanceLockAttempt } from "../shared/jobs/operationLock";
import type { DatabaseAddress } from "../shared/postgres/connection";
import { isoSeconds, jobRetry, StepFailed, type JobUpdates } from "./jobSteps";

/** A scheduled backup that finds its instance busy looks again every minute... */
export const instanceWaitStepMs = 60_000;
/** ...for at most two hours; then it fails with UserErrorOperationInProgress and the next slot tries again. */
export const instanceWaitLimitMs = 2 * 3_600_000;

export interface InstanceLockRequest {
  instanceName: string;
  operation: JobOperation;
  /**
   * `fail`: a busy instance fails the job at once (on-demand requests; the HTTP route answered 409 already when it
   * could tell). `wait`: the job stays `Queued` in phase `WaitingForInstance` and looks again every minute, up to
   * `instanceWaitLimitMs` (scheduled backups).
   */
  whenBusy: "fail" | "wait";
}

/**
 * Takes the instance's lock for this job, waiting when asked to. Throws `StepFailed` with
 * `UserErrorOperationInProgress` (naming the job that holds it) when the job is not to run.
 */
export function* takeInstanceLock(context: OrchestrationContext, job: JobUpdates, request: InstanceLockRequest): Generator<Task, void, unknown> {
  const maxWaits = request.whenBusy === "wait" ? Math.floor(instanceWaitLimitMs / instanceWaitStepMs) : 0;
  for (let waits = 0; ; waits++) {
    const input: InstanceLockInput = {
      instanceName: request.instanceName,
      jobId: context.df.instanceId,
      operation: request.operation,
      now: isoSeconds(context.df.currentUtcDateTime),
    };
    const attempt = (yield acquireInstanceLockStep(input).withRetry(jobRetry)) as InstanceLockAttempt;
    if (attempt.acquired) return;
    if (waits >= maxWaits) {
      const waited = waits > 0 ? { minutes: (waits * instanceWaitStepMs) / 60_000, operation: request.operation } : undefined;
      throw new StepFailed(operationInProgress(request.instanceName, attempt.holder, waited));
    }
    if (waits === 0) yield* job.queue("WaitingForInstance");
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + instanceWaitStepMs));
  }
}

/** Where a restore target is, without how to sign in to it: all a lock needs. */
const addressOf = ({ host, port, database }: DatabaseAddress): DatabaseAddress => ({ host, port, database });

/**
 * Takes the lock of the database a restore writes into (server and database), so two restores, of any instances,
 * never replace the same database at once. A busy target fails the job at once with `UserErrorOperationInProgress`
 * naming the restore that holds it.
 */
export function* takeRestoreTargetLock(context: OrchestrationContext, instanceName: string, target: DatabaseAddress): Generator<Task, void, unknown> {
  const restoreTarget = addressOf(target);
  const input: InstanceLockInput = { instanceName, jobId: context.df.instanceId, operation: "Restore", now: isoSeconds(context.df.currentUtcDateTime), restoreTarget };
  const attempt = (yield acquireInstanceLockStep(input).withRetry(jobRetry)) as InstanceLockAttempt;
  if (!attempt.acquired) throw new StepFailed(restoreTargetInUse(restoreTarget, attempt.holder));
}

/** Gives the restore target's lock back (see `releaseInstanceLock`). */
export function* releaseRestoreTargetLock(context: OrchestrationContext, instanceName: string, target: DatabaseAddress): Generator<Task, void, unknown> {
  yield* releaseInstanceLock(context, instanceName, target);
}

/**
 * Gives the instance's lock (or, with `restoreTarget`, that database's) back. Never fails the job: a lock that
 * could not be released is taken over by the next job once this one's row says it finished.
 */
export function* releaseInstanceLock(context: OrchestrationContext, instanceName: string, restoreTarget?: DatabaseAddress): Generator<Task, void, unknown> {
  const input: ReleaseInstanceLockInput = { instanceName, jobId: context.df.instanceId, ...(restoreTarget ? { restoreTarget: addressOf(restoreTarget) } : {}) };
  try {
    yield releaseInstanceLockStep(input).withRetry(jobRetry);
  } catch {
    // The job's own outcome stands; the failure is in the function logs.
  }
}
