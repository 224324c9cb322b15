import * as df from "durable-functions";
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { pinnedSecretVersion } from "./signIn";
import { checkRestoreAccessStep, type CheckRestoreAccessInput, type PreflightPassed, type RestoreTargetInput } from "../activities/checkRestoreAccess";
import { createDatabaseRolesStep } from "../activities/createDatabaseRoles";
import type { CreatedRoles } from "../activities/createMissingRoles";
import { dropCreatedRolesStep } from "../activities/dropCreatedRoles";
import { dropTemporaryDatabaseStep, type DropTemporaryDatabaseInput } from "../activities/dropTemporaryDatabase";
import { exportRecoveryPointStep, type ExportRecoveryPointInput } from "../activities/exportRecoveryPoint";
import { restoreDatabaseStep, type RestoreDatabaseInput, type RestoredDatabase } from "../activities/restoreDatabase";
import { swapDatabaseStep, type SwapDatabaseInput } from "../activities/swapDatabase";
import { moveIntoSchemaStep } from "../activities/moveIntoSchema";
import type { RestoreTarget } from "../shared/domain";
import type { DatabaseAddress } from "../shared/postgres/connection";
import type { ExportResult } from "../shared/restore/exportToContainer";
import { boundedReport } from "../shared/restore/restoreReport";
import { releaseInstanceLock, releaseRestoreTargetLock, takeInstanceLock, takeRestoreTargetLock } from "./instanceLock";
import { restoreToServer, type RestoreHeld } from "./serverRestore";
import { withJobEvents } from "./jobEvents";
import { isoSeconds, jobErrorOf, jobRetry, jobUpdates, StepFailed, valueOf } from "./jobSteps";

export const restoreOrchestrationName = "restore";

/**
 * Stored in the durable history: ids and references only; nothing that grows with the database (the point is read
 * from the catalog by the step that needs it), and the target's `secretRef`, never a secret value.
 */
export interface RestoreInput {
  instanceName: string;
  recoveryPointId: string;
  target: RestoreTarget;
}

/**
 * Restore of one recovery point, to a database (through a temporary database swapped in at the end; the failure
 * path drops it) or as files to a blob container. It holds its instance's operation lock throughout: no backup,
 * other restore or verify of the instance runs meanwhile; a restore into a database also holds that database's
 * lock, so no other restore (of any instance) writes into it meanwhile. A Flexible Server point restores to a
 * server (orchestrators/serverRestore.ts), holding the lock of each database it writes. The swap takes the name of
 * the database the restore step handed over (its attempt's own), never one computed here. A succeeded restore
 * carries the steps' report (roles created, grants and owners left out for want of a role) on its job.
 */
const restoreOrchestrator: OrchestrationHandler = withJobEvents("Restore", function* (context: OrchestrationContext) {
  const { instanceName, recoveryPointId, target } = context.df.getInput<RestoreInput>();
  const job = jobUpdates(context);
  let locked = false;
  /** The restore targets' locks and the temporary databases, once held: the failure path gives them back. */
  const held: RestoreHeld = { targets: [] };
  try {
    const start = { operation: "Restore" as const, trigger: "OnDemand" as const, instanceName, recoveryPointId, startTime: isoSeconds(context.df.currentUtcDateTime), bytes: 0 };
    yield* takeInstanceLock(context, job, { instanceName, operation: "Restore", whenBusy: "fail" });
    locked = true;
    if (target.type === "blob") {
      yield* job.enterPhase("Exporting", start);
      const exported = valueOf<ExportResult>(yield exportRecoveryPointStep({ jobId: context.df.instanceId, instanceName, recoveryPointId, target } satisfies ExportRecoveryPointInput).withRetry(jobRetry));
      yield* job.succeed({ bytes: exported.bytes });
      yield* releaseInstanceLock(context, instanceName);
      return exported;
    }
    if (target.type === "server") {
      yield* job.enterPhase("ResolvingSecret", start);
      const done = yield* restoreToServer(context, job, { instanceName, recoveryPointId, target }, held);
      yield* job.succeed({ bytes: done.bytes, restoreReport: done.report });
      for (const address of held.targets) yield* releaseRestoreTargetLock(context, instanceName, address);
      yield* releaseInstanceLock(context, instanceName);
      return { databases: done.databases, bytes: done.bytes };
    }
    yield* job.enterPhase("ResolvingSecret", start);
    const onTarget: RestoreTargetInput = { target, secretVersion: yield* pinnedSecretVersion(target) };

    // The pre-flight: a fatal finding (name in use, no CREATEDB, older server, missing extension or owner) fails here.
    yield* job.enterPhase("CheckingAccess");
    const preflight: CheckRestoreAccessInput = { ...onTarget, jobId: context.df.instanceId, instanceName, recoveryPointId };
    const { server } = valueOf<PreflightPassed>(yield checkRestoreAccessStep(preflight).withRetry(jobRetry));
    // Keyed by the server the sign-in is bound to (the request may leave it to the secret), before anything is written.
    const targetAddress: DatabaseAddress = { ...server, database: target.database };
    yield* takeRestoreTargetLock(context, instanceName, targetAddress);
    held.targets.push(targetAddress);

    const cleanup: DropTemporaryDatabaseInput = { ...onTarget, jobId: context.df.instanceId };
    held.cleanup = cleanup;
    yield* job.enterPhase("Restoring");
    const restoreInput: RestoreDatabaseInput = { ...cleanup, instanceName, recoveryPointId };
    // roles: "createMissing": the roles first, dropped again by the failure path if the restore does not land.
    const roles: CreatedRoles =
      target.roles === "createMissing" ? valueOf<CreatedRoles>(yield createDatabaseRolesStep(restoreInput).withRetry(jobRetry)) : { rolesCreated: [], rolesSkipped: [] };
    if (roles.rolesCreated.length > 0) held.createdRoles = { ...onTarget, roles: roles.rolesCreated };
    // Reads the point and refuses a Flexible Server one (the API refuses it before a job starts).
    const restored = valueOf<RestoredDatabase>(yield restoreDatabaseStep(restoreInput).withRetry(jobRetry));

    yield* job.enterPhase("Swapping", { bytes: restored.bytes });
    // A restore intoSchema moves its schema into the live database instead of renaming a database into place.
    const swap = { ...cleanup, temporaryDatabase: restored.temporaryDatabase } satisfies SwapDatabaseInput;
    valueOf<null>(yield (target.intoSchema !== undefined ? moveIntoSchemaStep(swap) : swapDatabaseStep(swap)).withRetry(jobRetry));
    held.cleanup = undefined;
    held.createdRoles = undefined;
    yield* job.succeed({ bytes: restored.bytes, restoreReport: boundedReport({ ...restored.report, ...roles }) });
    yield* releaseRestoreTargetLock(context, instanceName, targetAddress);
    yield* releaseInstanceLock(context, instanceName);
    return { database: target.database, bytes: restored.bytes };
  } catch (err) {
    const error = jobErrorOf(err);
    if (held.cleanup) {
      yield* job.enterPhase("CleaningUp");
      try {
        yield dropTemporaryDatabaseStep(held.cleanup).withRetry(jobRetry);
      } catch {
        // The job reports the restore's own error; a cleanup that failed too is in the function logs.
      }
    }
    if (held.createdRoles) {
      try {
        yield dropCreatedRolesStep(held.createdRoles).withRetry(jobRetry);
      } catch {
        // As above: the roles it could not drop are in the function logs (and were named by the roles step).
      }
    }
    yield* job.fail(error);
    for (const address of held.targets) yield* releaseRestoreTargetLock(context, instanceName, address);
    if (locked) yield* releaseInstanceLock(context, instanceName);
    throw new StepFailed(error);
  }
});

df.app.orchestration(restoreOrchestrationName, restoreOrchestrator);

export { restoreOrchestrator };
