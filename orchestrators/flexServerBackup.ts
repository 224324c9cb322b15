/**
 * The `flexibleServer` half of the backup orchestration: the server's own long-term-retention backup, written
 * into containers of the vault created for this recovery point. The orchestration waits on durable timers
 * between status reads (no activity sits and sleeps), backing off from 30 s to 5 min, until the operation ends
 * or the deadline passes. On any failure the point's containers are deleted, so no partial backup stays.
 */
import type { OrchestrationContext, Task } from "durable-functions";
import { checkFlexServerAccessStep, type CheckFlexServerAccessInput } from "../activities/checkFlexServerAccess";
import { createLtrContainersStep, type LtrContainersInput } from "../activities/createLtrContainers";
import { deleteLtrContainersStep } from "../activities/deleteLtrContainers";
import { pollLtrBackupStep, type LtrPoll, type PollLtrBackupInput } from "../activities/pollLtrBackup";
import { startLtrBackupStep, type StartedLtrBackup, type StartLtrBackupInput } from "../activities/startLtrBackup";
import type { FlexibleServerDatasource } from "../shared/domain";
import { PgVaultError } from "../shared/errors";
import type { FlexServerFacts } from "../shared/flexServer/serverAccess";
import { ltrContainerNames } from "../shared/flexServer/ltrContainers";
import { recoveryPointId } from "../shared/recoveryPoints/recoveryPointId";
import type { JobStart, TakenBackup } from "./backupTypes";
import { jobRetry, StepFailed, valueOf, type JobUpdates } from "./jobSteps";

const firstPollMs = 30_000;
const maxPollMs = 5 * 60_000;

/** The name the server files the backup under; derived from the point, so every replay and retry agrees. */
export function ltrBackupName(rpId: string): string {
  return `pgvault-${rpId.toLowerCase()}`;
}

export function* backUpFlexibleServer(
  context: OrchestrationContext,
  job: JobUpdates,
  { instanceName, datasource, start }: { instanceName: string; datasource: FlexibleServerDatasource; start: JobStart },
): Generator<Task, TakenBackup, unknown> {
  const jobId = context.df.instanceId;
  const time = context.df.currentUtcDateTime;
  const rpId = recoveryPointId(time, context.df.newGuid(jobId));
  const backupName = ltrBackupName(rpId);
  const { resourceId } = datasource;

  yield* job.enterPhase("CheckingAccess", start);
  const facts = valueOf<FlexServerFacts>(
    yield checkFlexServerAccessStep({ resourceId, backupName } satisfies CheckFlexServerAccessInput).withRetry(jobRetry),
  );

  const owned: LtrContainersInput = { jobId, instanceName, recoveryPointId: rpId, containers: ltrContainerNames(rpId, facts.numberOfContainers) };
  try {
    yield* job.enterPhase("Uploading", { recoveryPointId: rpId });
    valueOf<null>(yield createLtrContainersStep(owned).withRetry(jobRetry));
    const startInput: StartLtrBackupInput = { jobId, instanceName, resourceId, backupName, containers: owned.containers };
    const { deadline, startedAt } = valueOf<StartedLtrBackup>(yield startLtrBackupStep(startInput).withRetry(jobRetry));

    const pollInput: PollLtrBackupInput = { resourceId, backupName, containers: owned.containers, startedAt };
    const deadlineMs = Date.parse(deadline);
    let reportedBytes = 0;
    for (let waitMs = firstPollMs; ; waitMs = Math.min(waitMs * 2, maxPollMs)) {
      const pollAt = Math.min(context.df.currentUtcDateTime.getTime() + waitMs, deadlineMs);
      yield context.df.createTimer(new Date(pollAt));
      const poll = valueOf<LtrPoll>(yield pollLtrBackupStep(pollInput).withRetry(jobRetry));
      if (poll.status === "Succeeded") {
        // The files and the operation's details are read by the record step, not carried through the history.
        const backup = { format: "flexibleServer-ltr" as const, serverResourceId: resourceId, serverVersion: facts.serverVersion, backupName, containers: owned.containers };
        return { recoveryPointId: rpId, time, sizeBytes: poll.bytes, backup };
      }
      // Decided by the timer's due time, not the clock: the last look is the one taken at the deadline.
      if (pollAt >= deadlineMs) {
        throw new StepFailed(
          new PgVaultError(
            "SystemErrorUnexpected",
            `The long-term-retention backup '${backupName}' did not finish by ${deadline}; it was abandoned and its containers deleted. ` +
              "For a large server, raise FLEX_BACKUP_TIMEOUT.",
          ).toJobError(),
        );
      }
      if (poll.bytes !== reportedBytes) {
        reportedBytes = poll.bytes;
        yield* job.enterPhase("Uploading", { bytes: poll.bytes });
      }
    }
  } catch (err) {
    try {
      yield deleteLtrContainersStep(owned).withRetry(jobRetry);
    } catch {
      // The job reports the backup's own error; containers left behind are in the function logs.
    }
    throw err;
  }
}
