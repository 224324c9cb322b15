/**
 * What every job orchestration shares: the retry policy for transient failures, turning an activity's user
 * error into a job failure, and keeping the job row and custom status in step with the phase. Pure: only
 * durable context calls, so it replays deterministically.
 */
import * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";
import { updateJobStep, type UpdateJobInput } from "../activities/updateJob";
import type { ActivityOutcome } from "../shared/activityOutcome";
import type { JobPhase } from "../shared/domain";
import { jobErrorFromFailure, type JobError } from "../shared/errors";
import { isoSeconds } from "../shared/time/isoTime";

/** Transient failures (storage 5xx, network, Key Vault throttling) are retried; user errors never reach here. */
export const jobRetry = Object.assign(new df.RetryOptions(10_000, 4), {
  backoffCoefficient: 2,
  maxRetryIntervalInMilliseconds: 5 * 60_000,
});

/** A step that reported a user error: the job fails with it, without retries. */
export class StepFailed extends Error {
  constructor(readonly error: JobError) {
    super(`${error.code}: ${error.message}`);
  }
}

/** The value of an activity's outcome (as the orchestrator receives it, untyped), or its user error thrown. */
export function valueOf<T>(result: unknown): T {
  const outcome = result as ActivityOutcome<T>;
  if (!outcome.ok) throw new StepFailed(outcome.error);
  return outcome.value;
}

export { isoSeconds };

export function jobErrorOf(err: unknown): JobError {
  return err instanceof StepFailed ? err.error : jobErrorFromFailure(err);
}

export type JobUpdates = ReturnType<typeof jobUpdates>;

/** Job row updates of one orchestration; each yields an activity call. */
export function jobUpdates(context: OrchestrationContext) {
  const jobId = context.df.instanceId;
  const update = (fields: UpdateJobInput["update"]) => updateJobStep({ jobId, update: fields } satisfies UpdateJobInput).withRetry(jobRetry);
  return {
    *enterPhase(phase: JobPhase, extra: UpdateJobInput["update"] = {}) {
      context.df.setCustomStatus({ phase });
      yield update({ status: "InProgress", phase, ...extra });
    },
    /** A job that has not started its work: status `Queued`, with the phase saying what it waits for. */
    *queue(phase: JobPhase, extra: UpdateJobInput["update"] = {}) {
      context.df.setCustomStatus({ phase });
      yield update({ status: "Queued", phase, ...extra });
    },
    *succeed(extra: UpdateJobInput["update"] = {}) {
      context.df.setCustomStatus({ phase: "Done" });
      yield update({ status: "Succeeded", phase: "Done", endTime: isoSeconds(context.df.currentUtcDateTime), ...extra });
    },
    *fail(error: JobError) {
      context.df.setCustomStatus({ phase: "Failed", errorCode: error.code });
      yield update({ status: "Failed", endTime: isoSeconds(context.df.currentUtcDateTime), error });
    },
  };
}
