/**
 * Cooperative cancellation of a running job (POST /jobs/{id}/cancel). Terminating an orchestration does not stop
 * an activity that is already running, so every step that can outlast a cancel watches the job row's
 * `cancelRequested` flag: long steps stop their child process when it appears, and any step that has just
 * created something (a committed blob, a recovery point row, a temporary database, a container) looks once more
 * afterwards and removes it if the job was cancelled meanwhile. With the flag set before the cleanup runs, every
 * such effect is removed either by the cleanup or by the step itself.
 */
import { changeJob, getJob, isCancelRequested } from "../catalog/jobRows";
import { finishedJobStatuses, type Job, type JobPhase } from "../domain";
import { ConflictError, PgVaultError } from "../errors";
import { isoSeconds } from "../time/isoTime";

const watchIntervalMs = 2_000;

export function jobCancelledError(jobId: string): PgVaultError {
  return new PgVaultError("SystemErrorUnexpected", `Job ${jobId} was cancelled on request.`);
}

export async function throwIfCancelled(jobId: string): Promise<void> {
  if (await isCancelRequested(jobId)) throw jobCancelledError(jobId);
}

/** After an effect landed: when the job was cancelled meanwhile, undo it and stop. */
export async function undoIfCancelled(jobId: string, undo: () => Promise<unknown>): Promise<void> {
  if (!(await isCancelRequested(jobId))) return;
  await undo();
  throw jobCancelledError(jobId);
}

/**
 * For a step that two copies may run at once (activities are at-least-once, and a copy that lost its lease keeps
 * running): throws once the job no longer waits for it (cancelled, finished, swapping, or in one of the phases
 * that come after the step), so a late copy removes what it made instead of leaving it. Every sweep of a job's
 * databases runs after the job row moved on, and a copy asks after creating its database: the sweep sees that
 * database, or the copy sees the job moved. Phases that come after are named rather than "anything but the step's
 * own", so a stale phase write landing late (job row updates are activities too) never stops a wanted copy. A job
 * without a row (a step called on its own) is not stopped.
 */
export async function throwIfStepOver(jobId: string, laterPhases: readonly JobPhase[]): Promise<void> {
  const job = await getJob(jobId);
  if (!job) return;
  if (job.cancelRequested) throw jobCancelledError(jobId);
  if (finishedJobStatuses.includes(job.status) || job.swapStartedAt || laterPhases.includes(job.phase)) {
    throw new PgVaultError("SystemErrorUnexpected", `Job ${jobId} no longer waits for this step (${job.status}, phase ${job.phase}); this copy of it stopped and removed what it made.`);
  }
}

/**
 * Why a cancel is refused, if it is: the job finished, or its restore has started swapping the target in (the point
 * of no return: from then on the job's own end says what happened to the target).
 */
export function cancelRefusal(job: Job): string | undefined {
  if (finishedJobStatuses.includes(job.status)) return `Job '${job.id}' already finished (${job.status}).`;
  if (job.swapStartedAt || job.phase === "Swapping") {
    return `Job '${job.id}' is swapping the restored database in; it can no longer be cancelled. Its status will say whether the target was replaced.`;
  }
  return undefined;
}

/**
 * Flags the job cancelled, in one etag-checked step with `cancelRefusal`: of a cancel and a swap's claim
 * (`claimSwap`), whichever writes first makes the other refuse. A refused cancel is a ConflictError (409).
 */
export async function requestCancel(jobId: string): Promise<void> {
  await changeJob(jobId, (job) => {
    const refusal = cancelRefusal(job);
    if (refusal) throw new ConflictError("Conflict", refusal);
    return { cancelRequested: true };
  });
}

/**
 * A restore's swap claims its job before it touches the target, in one etag-checked step with the cancel flag's
 * check (see `requestCancel`); a cancelled or ended job is refused. The claim stays on the row, so a repeated swap
 * (a retry, or a second copy of the step) passes while the job has not failed.
 */
export async function claimSwap(jobId: string, now: Date): Promise<void> {
  await changeJob(jobId, (job) => {
    if (job.swapStartedAt && job.status !== "Failed") return undefined;
    if (job.cancelRequested) throw jobCancelledError(jobId);
    if (finishedJobStatuses.includes(job.status)) {
      throw new PgVaultError("SystemErrorUnexpected", `Job ${jobId} already ended (${job.status}); its restore is not swapped in.`);
    }
    return { phase: "Swapping", swapStartedAt: isoSeconds(now) };
  });
}

export interface CancellationWatch {
  /** Aborted once a cancel of the job is seen. */
  signal: AbortSignal;
  stop(): void;
}

/** Polls the job row while a long step runs; a failed read is ignored (the next one may succeed). */
export function watchCancellation(jobId: string): CancellationWatch {
  const controller = new AbortController();
  const timer = setInterval(() => {
    isCancelRequested(jobId).then(
      (cancelled) => {
        if (cancelled) controller.abort(jobCancelledError(jobId));
      },
      () => undefined,
    );
  }, watchIntervalMs);
  timer.unref();
  controller.signal.addEventListener("abort", () => clearInterval(timer), { once: true });
  return { signal: controller.signal, stop: () => clearInterval(timer) };
}
