/**
 * Cooperative cancellation of a running job (POST /jobs/{id}/cancel). Terminating an orchestration does not stop
 * an activity that is already running, so every step that can outlast a cancel watches the job row's
 * `cancelRequested` flag: long steps stop their child process when it appears, and any step that has just
 * created something (a committed blob, a recovery point row, a temporary database, a container) looks once more
 * afterwards and removes it if the job was cancelled meanwhile. With the flag set before the cleanup runs, every
 * such effect is removed either by the cleanup or by the step itself.
 */
import { isCancelRequested } from "./catalog";
import { PgVaultError } from "./errors";

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
