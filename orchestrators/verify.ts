import * as df from "durable-functions";
import type { OrchestrationContext, OrchestrationHandler, Task } from "durable-functions";
import { checkScratchDatabaseStep } from "../activities/checkScratchDatabase";
import { checkVerifyAccessStep, type VerifyTargetInput } from "../activities/checkVerifyAccess";
import { dropScratchDatabaseStep } from "../activities/dropScratchDatabase";
import { listPointDatabasesStep } from "../activities/listPointDatabases";
import { recordVerificationStep, type RecordVerificationInput } from "../activities/recordVerification";
import { pinnedSecretVersion } from "./signIn";
import { restoreScratchDatabaseStep, type RestoreScratchDatabaseInput, type RestoredScratchDatabase } from "../activities/restoreScratchDatabase";
import type { JobTrigger, VerificationOutcome } from "../shared/domain";
import type { JobError } from "../shared/errors";
import { drillFailedEvent } from "../shared/events/eventFactories";
import { drillEndpoint, type DrillSubject } from "../shared/verify/drillServer";
import { databaseScratchStem, scratchDatabaseName, type DrillReport } from "../shared/verify/restoreDrill";
import { releaseInstanceLock, takeInstanceLock } from "./instanceLock";
import { announce, jobFacts, withJobEvents } from "./jobEvents";
import { isoSeconds, jobErrorOf, jobRetry, jobUpdates, StepFailed, valueOf, type JobUpdates } from "./jobSteps";

export const verifyOrchestrationName = "verify";

/**
 * Stored in the durable history: ids and references only; nothing that grows with the database (each step reads
 * the point from the catalog), and `secretRef`s, never a secret value. A `database` instance's datasource, or a
 * Flexible Server instance's with its drill server (`drillServer`).
 */
export type VerifyInput = {
  instanceName: string;
  recoveryPointId: string;
  trigger: JobTrigger;
} & DrillSubject;

export interface VerifyOutput {
  recoveryPointId: string;
  outcome: VerificationOutcome;
  tablesChecked: number;
  rowsChecked: number;
  rowCountsRecorded: boolean;
  /** Present when restored tables were compared with their digests from backup time. */
  tablesDigested?: number;
}

/** What the drill has read and counted so far. */
interface Tally {
  bytes: number;
  tablesChecked: number;
  rowsChecked: number;
  rowCountsRecorded: boolean;
  tablesDigested: number;
}

/** The digest comparisons, for the output and the verdict: only when there were any. */
const digestedPart = (tally: Tally) => (tally.tablesDigested > 0 ? { tablesDigested: tally.tablesDigested } : {});

/** One archive: restored into a scratch database of the attempt's own, then counted (and compared) there. */
function* restoreAndCheck(job: JobUpdates, onScratch: RestoreScratchDatabaseInput, tally: Tally): Generator<Task, { tally: Tally; problem?: JobError }, unknown> {
  yield* job.enterPhase("Restoring");
  const restored = valueOf<RestoredScratchDatabase>(yield restoreScratchDatabaseStep(onScratch).withRetry(jobRetry));
  const bytes = tally.bytes + restored.bytes;
  yield* job.enterPhase("Verifying", { bytes });
  // The database the restore handed over (its attempt's own, marked complete), never one named here.
  const report = valueOf<DrillReport>(yield checkScratchDatabaseStep({ ...onScratch, scratchDatabase: restored.scratchDatabase }).withRetry(jobRetry));
  return {
    tally: {
      bytes,
      tablesChecked: tally.tablesChecked + report.tablesChecked,
      rowsChecked: tally.rowsChecked + report.rowsChecked,
      rowCountsRecorded: report.rowCountsRecorded,
      tablesDigested: tally.tablesDigested + report.tablesDigested,
    },
    ...(report.problem ? { problem: report.problem } : {}),
  };
}

/**
 * The restore drill of one recovery point (docs/architecture.md, "Restore drill"), holding the instance's
 * operation lock: restore into a scratch database on the instance's own server (a Flexible Server point: each of
 * its databases in turn, into a scratch database of its own on the instance's drill server, dropped once counted),
 * count and compare there, drop the scratch databases whatever happened, and record the verdict on the point. The
 * job fails when the point is not sound (`UserErrorRecoveryPointCorrupted`, recorded as outcome Failed) or when the
 * drill could not run (its own code; nothing recorded on the point).
 */
const verifyOrchestrator: OrchestrationHandler = withJobEvents("Verify", function* (context: OrchestrationContext) {
  const input = context.df.getInput<VerifyInput>();
  const { instanceName, recoveryPointId, trigger } = input;
  const jobId = context.df.instanceId;
  const job = jobUpdates(context);
  let locked = false;
  let scratch: VerifyTargetInput | undefined;
  let tally: Tally = { bytes: 0, tablesChecked: 0, rowsChecked: 0, rowCountsRecorded: false, tablesDigested: 0 };
  /** Every archive of the point was restored and counted: a verdict, Succeeded unless a problem says otherwise. */
  let judged = false;
  let failure: JobError | undefined;
  try {
    const start = { operation: "Verify" as const, trigger, instanceName, recoveryPointId, startTime: isoSeconds(context.df.currentUtcDateTime), bytes: 0 };
    // A scheduled drill has no row yet, and a lock held without one would be taken for a leftover.
    if (trigger === "Scheduled") yield* job.queue("Queued", start);
    // A scheduled drill waits for a job already running on the instance; an on-demand one is refused.
    yield* takeInstanceLock(context, job, { instanceName, operation: "Verify", whenBusy: trigger === "Scheduled" ? "wait" : "fail" });
    locked = true;

    yield* job.enterPhase("ResolvingSecret", start);
    const server = drillEndpoint(input);
    const secretVersion = yield* pinnedSecretVersion(server);
    const target: VerifyTargetInput = { jobId, instanceName, datasource: server, secretVersion, scratchDatabase: scratchDatabaseName(jobId) };

    yield* job.enterPhase("CheckingAccess");
    valueOf<{ serverVersion: string }>(yield checkVerifyAccessStep(target).withRetry(jobRetry));

    scratch = target;
    const onScratch: RestoreScratchDatabaseInput = { ...target, recoveryPointId };
    if (input.datasource.type === "database") {
      const checked = yield* restoreAndCheck(job, onScratch, tally);
      ({ tally } = checked);
      failure = checked.problem;
    } else {
      const databases = valueOf<string[]>(yield listPointDatabasesStep({ instanceName, recoveryPointId }).withRetry(jobRetry));
      for (const [index, database] of databases.entries()) {
        const stem = databaseScratchStem(target.scratchDatabase, index);
        const checked = yield* restoreAndCheck(job, { ...onScratch, scratchDatabase: stem, database, bytesBefore: tally.bytes }, tally);
        ({ tally } = checked);
        failure = checked.problem;
        if (failure) break;
        // One database on the drill server at a time. A late copy of a restore may still leave one under the stem:
        // the final drop sweeps the job's whole stem once the row has moved on.
        yield dropScratchDatabaseStep({ ...target, scratchDatabase: stem }).withRetry(jobRetry);
      }
    }
    judged = true;
  } catch (err) {
    failure = jobErrorOf(err);
  }

  // Whatever happened: the scratch databases go (the restore step drops its own on its failures; this covers the rest).
  if (scratch) {
    yield* job.enterPhase("CleaningUp");
    try {
      yield dropScratchDatabaseStep(scratch).withRetry(jobRetry);
    } catch (err) {
      const dropError = jobErrorOf(err);
      failure ??= { ...dropError, message: `The drill finished, but its scratch databases ('${scratch.scratchDatabase}...') could not be dropped: ${dropError.message}` };
    }
  }

  // A verdict about the point is recorded on it; a drill that could not run leaves the point's last verdict alone.
  const corrupted = failure?.code === "UserErrorRecoveryPointCorrupted" ? failure : undefined;
  const outcome: VerificationOutcome | undefined = corrupted ? "Failed" : judged ? "Succeeded" : undefined;
  if (outcome) {
    const verification: RecordVerificationInput["verification"] = {
      verifiedAt: isoSeconds(context.df.currentUtcDateTime),
      outcome,
      jobId,
      tablesChecked: tally.tablesChecked,
      rowsChecked: tally.rowsChecked,
      ...digestedPart(tally),
      ...(corrupted ? { error: corrupted } : {}),
    };
    yield* job.enterPhase("Recording");
    try {
      yield recordVerificationStep({ instanceName, recoveryPointId, verification } satisfies RecordVerificationInput).withRetry(jobRetry);
    } catch (err) {
      failure ??= jobErrorOf(err);
    }
  }

  if (failure) {
    yield* job.fail(failure);
    if (locked) yield* releaseInstanceLock(context, instanceName);
    // A point that failed its drill is news of its own, besides the job's failure (which withJobEvents publishes).
    if (corrupted) yield* announce(context, [drillFailedEvent({ ...jobFacts(context, "Verify"), recoveryPointId }, corrupted)]);
    // Failing the orchestration too keeps the runtime status truthful.
    throw new StepFailed(failure);
  }
  yield* job.succeed({ bytes: tally.bytes });
  yield* releaseInstanceLock(context, instanceName);
  return {
    recoveryPointId,
    outcome: "Succeeded",
    tablesChecked: tally.tablesChecked,
    rowsChecked: tally.rowsChecked,
    rowCountsRecorded: tally.rowCountsRecorded,
    ...digestedPart(tally),
  } satisfies VerifyOutput;
});

df.app.orchestration(verifyOrchestrationName, verifyOrchestrator);

export { verifyOrchestrator };
