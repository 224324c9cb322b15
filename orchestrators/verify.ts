import * as df from "durable-functions";
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { checkScratchDatabaseStep } from "../activities/checkScratchDatabase";
import { checkVerifyAccessStep, type VerifyTargetInput } from "../activities/checkVerifyAccess";
import { dropScratchDatabaseStep } from "../activities/dropScratchDatabase";
import { recordVerificationStep, type RecordVerificationInput } from "../activities/recordVerification";
import { pinnedSecretVersion } from "./signIn";
import { restoreScratchDatabaseStep, type RestoreScratchDatabaseInput, type RestoredScratchDatabase } from "../activities/restoreScratchDatabase";
import type { DatabaseDatasource, JobTrigger, VerificationOutcome } from "../shared/domain";
import type { JobError } from "../shared/errors";
import { scratchDatabaseName, type DrillReport } from "../shared/verify/restoreDrill";
import { releaseInstanceLock, takeInstanceLock } from "./instanceLock";
import { isoSeconds, jobErrorOf, jobRetry, jobUpdates, valueOf } from "./jobSteps";

export const verifyOrchestrationName = "verify";

/**
 * Stored in the durable history: ids and references only; nothing that grows with the database (each step reads
 * the point from the catalog), and the instance's `secretRef`, never a secret value.
 */
export interface VerifyInput {
  instanceName: string;
  datasource: DatabaseDatasource;
  recoveryPointId: string;
  trigger: JobTrigger;
}

export interface VerifyOutput {
  recoveryPointId: string;
  outcome: VerificationOutcome;
  tablesChecked: number;
  rowsChecked: number;
  rowCountsRecorded: boolean;
}

/**
 * The restore drill of one recovery point (docs/architecture.md, "Restore drill"), holding the instance's
 * operation lock: restore into a scratch database on the instance's own server, count and compare there, drop the
 * scratch database whatever happened, and record the verdict on the point. The job fails when the point is not
 * sound (`UserErrorRecoveryPointCorrupted`, recorded as outcome Failed) or when the drill could not run (its own
 * code; nothing recorded on the point).
 */
const verifyOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const { instanceName, datasource, recoveryPointId, trigger } = context.df.getInput<VerifyInput>();
  const jobId = context.df.instanceId;
  const job = jobUpdates(context);
  let locked = false;
  let scratch: VerifyTargetInput | undefined;
  let bytes = 0;
  let report: DrillReport | undefined;
  let failure: JobError | undefined;
  try {
    const start = { operation: "Verify" as const, trigger, instanceName, recoveryPointId, startTime: isoSeconds(context.df.currentUtcDateTime), bytes: 0 };
    // A scheduled drill has no row yet, and a lock held without one would be taken for a leftover.
    if (trigger === "Scheduled") yield* job.queue("Queued", start);
    // A scheduled drill waits for a job already running on the instance; an on-demand one is refused.
    yield* takeInstanceLock(context, job, { instanceName, operation: "Verify", whenBusy: trigger === "Scheduled" ? "wait" : "fail" });
    locked = true;

    yield* job.enterPhase("ResolvingSecret", start);
    const secretVersion = yield* pinnedSecretVersion(datasource);
    const target: VerifyTargetInput = { jobId, instanceName, datasource, secretVersion, scratchDatabase: scratchDatabaseName(jobId) };

    yield* job.enterPhase("CheckingAccess");
    valueOf<{ serverVersion: string }>(yield checkVerifyAccessStep(target).withRetry(jobRetry));

    scratch = target;
    yield* job.enterPhase("Restoring");
    // Each step reads the point; a Flexible Server one is refused (the API and the scheduler never start one).
    const onScratch: RestoreScratchDatabaseInput = { ...target, recoveryPointId };
    const restored = valueOf<RestoredScratchDatabase>(yield restoreScratchDatabaseStep(onScratch).withRetry(jobRetry));
    bytes = restored.bytes;

    yield* job.enterPhase("Verifying", { bytes });
    // The database the restore handed over (its attempt's own, marked complete), never one named here.
    report = valueOf<DrillReport>(yield checkScratchDatabaseStep({ ...onScratch, scratchDatabase: restored.scratchDatabase }).withRetry(jobRetry));
    failure = report.problem;
  } catch (err) {
    failure = jobErrorOf(err);
  }

  // Whatever happened: the scratch database goes (the restore step drops it on its own failures; this covers the rest).
  if (scratch) {
    yield* job.enterPhase("CleaningUp");
    try {
      yield dropScratchDatabaseStep(scratch).withRetry(jobRetry);
    } catch (err) {
      const dropError = jobErrorOf(err);
      failure ??= { ...dropError, message: `The drill finished, but its scratch database '${scratch.scratchDatabase}' could not be dropped: ${dropError.message}` };
    }
  }

  // A verdict about the point is recorded on it; a drill that could not run leaves the point's last verdict alone.
  const corrupted = failure?.code === "UserErrorRecoveryPointCorrupted" ? failure : undefined;
  const outcome: VerificationOutcome | undefined = corrupted ? "Failed" : report ? "Succeeded" : undefined;
  if (outcome) {
    const verification: RecordVerificationInput["verification"] = {
      verifiedAt: isoSeconds(context.df.currentUtcDateTime),
      outcome,
      jobId,
      tablesChecked: report?.tablesChecked ?? 0,
      rowsChecked: report?.rowsChecked ?? 0,
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
    // Failing the orchestration too keeps the runtime status truthful.
    throw new Error(`${failure.code}: ${failure.message}`);
  }
  yield* job.succeed({ bytes });
  yield* releaseInstanceLock(context, instanceName);
  return {
    recoveryPointId,
    outcome: "Succeeded",
    tablesChecked: report?.tablesChecked ?? 0,
    rowsChecked: report?.rowsChecked ?? 0,
    rowCountsRecorded: report?.rowCountsRecorded ?? false,
  } satisfies VerifyOutput;
};

df.app.orchestration(verifyOrchestrationName, verifyOrchestrator);

export { verifyOrchestrator };
