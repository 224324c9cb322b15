/**
 * The orchestration side of pgvault's events: `announce` publishes through the publishEvents activity with
 * retries of its own, and never lets a publishing failure touch the job it reports on (a warning in the log, once,
 * not on replay). `withJobEvents` wraps a job orchestrator so that every job publishes how it ended, in one place:
 * `pgvault.job.failed` with the job's error when it throws, `pgvault.job.succeeded` (which the activity drops unless
 * the instance's policy opts in) when it returns. Both come after the orchestrator's own last step, so its locks
 * are given back before any publishing is waited for.
 */
import * as df from "durable-functions";
import type { OrchestrationContext, OrchestrationHandler, Task } from "durable-functions";
import { publishEventsStep, type PublishEventsInput } from "../activities/publishEvents";
import { allInstances, type JobOperation } from "../shared/domain";
import { jobFailedEvent, jobSucceededEvent, type JobFacts } from "../shared/events/eventFactories";
import type { PgvaultEvent } from "../shared/events/pgvaultEvents";
import { isoSeconds, jobErrorOf, valueOf } from "./jobSteps";

/** 5 attempts, 5 s, 10 s, 20 s and 40 s apart: an Event Grid outage of over a minute loses the events (logged). */
export const publishRetry = Object.assign(new df.RetryOptions(5_000, 5), { backoffCoefficient: 2 });

/** Publishes `events`; a failure after the retries is logged and swallowed. */
export function* announce(context: OrchestrationContext, events: PgvaultEvent[]): Generator<Task, void, unknown> {
  if (events.length === 0) return;
  try {
    valueOf<number>(yield publishEventsStep({ events } satisfies PublishEventsInput).withRetry(publishRetry));
  } catch (err) {
    const error = jobErrorOf(err);
    if (!context.df.isReplaying) context.warn(`events not published (${events.map((event) => event.id).join(", ")}): ${error.code}: ${error.message}`);
  }
}

/** What a job's input or output may say about it; each job orchestrator's input names its instance (retention: all). */
interface Named {
  instanceName?: unknown;
  recoveryPointId?: unknown;
}

const textOf = (value: unknown) => (typeof value === "string" ? value : undefined);

/** The job's facts for its events, from its input and (on success) its output, as of the orchestrator's clock. */
export function jobFacts(context: OrchestrationContext, operation: JobOperation, output?: unknown): JobFacts {
  const input = (context.df.getInput<Named | undefined>() ?? {}) as Named;
  const made = typeof output === "object" && output !== null ? (output as Named) : {};
  const recoveryPointId = textOf(input.recoveryPointId) ?? textOf(made.recoveryPointId);
  return {
    jobId: context.df.instanceId,
    instanceName: textOf(input.instanceName) ?? allInstances,
    operation,
    time: isoSeconds(context.df.currentUtcDateTime),
    ...(recoveryPointId ? { recoveryPointId } : {}),
  };
}

/** `handler` as a job orchestrator that publishes its end; what it returns or throws is passed on unchanged. */
export function withJobEvents(operation: JobOperation, handler: OrchestrationHandler): OrchestrationHandler {
  return function* (context: OrchestrationContext) {
    let output: unknown;
    try {
      output = yield* handler(context);
    } catch (err) {
      yield* announce(context, [jobFailedEvent(jobFacts(context, operation), jobErrorOf(err))]);
      throw err;
    }
    yield* announce(context, [jobSucceededEvent(jobFacts(context, operation, output))]);
    return output;
  };
}
