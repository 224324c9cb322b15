/**
 * The `server` half of the restore orchestration: a Flexible Server point's databases restored to any PostgreSQL
 * server. Every database goes into a temporary database of its own and all are renamed into place in one
 * transaction at the end, so the target gets all of them or none; with `roles: "createMissing"` the roles the
 * dumps need are created first (and dropped again if the restore fails). What was left out for want of a role goes
 * on the job.
 */
import type { OrchestrationContext, Task } from "durable-functions";
import { checkServerRestoreAccessStep, type ServerRestoreInput, type ServerRestorePlan } from "../activities/checkServerRestoreAccess";
import { createMissingRolesStep, type CreateMissingRolesInput, type CreatedRoles } from "../activities/createMissingRoles";
import type { DropCreatedRolesInput } from "../activities/dropCreatedRoles";
import type { DropTemporaryDatabaseInput } from "../activities/dropTemporaryDatabase";
import { restoreServerDatabaseStep, type RestoreServerDatabaseInput, type RestoredServerDatabase } from "../activities/restoreServerDatabase";
import { swapDatabasesStep, type SwapDatabasesInput } from "../activities/swapDatabases";
import type { RestoreReport, ServerRestoreTarget } from "../shared/domain";
import { boundedReport } from "../shared/restore/restoreReport";
import type { DatabaseAddress } from "../shared/postgres/connection";
import { databaseTargetOf } from "../shared/restore/serverRestore";
import { takeRestoreTargetLock } from "./instanceLock";
import { pinnedSecretVersion } from "./signIn";
import { jobRetry, valueOf, type JobUpdates } from "./jobSteps";

/** What the restore orchestration must undo if this fails: filled in as soon as each thing exists. */
export interface RestoreHeld {
  /** Restore targets whose locks this job holds. */
  targets: DatabaseAddress[];
  /** Set once temporary databases may exist: the failure path drops the job's whole stem. */
  cleanup?: DropTemporaryDatabaseInput;
  /** Roles a server restore created: the failure path drops them after the temporary databases. */
  createdRoles?: DropCreatedRolesInput;
}

export function* restoreToServer(
  context: OrchestrationContext,
  job: JobUpdates,
  { instanceName, recoveryPointId, target }: { instanceName: string; recoveryPointId: string; target: ServerRestoreTarget },
  held: RestoreHeld,
): Generator<Task, { databases: number; bytes: number; report: RestoreReport }, unknown> {
  const jobId = context.df.instanceId;
  const secretVersion = yield* pinnedSecretVersion(target);
  const base: ServerRestoreInput = { jobId, instanceName, recoveryPointId, target, ...(secretVersion !== undefined ? { secretVersion } : {}) };

  yield* job.enterPhase("CheckingAccess");
  const plan = valueOf<ServerRestorePlan>(yield checkServerRestoreAccessStep(base).withRetry(jobRetry));
  // Keyed by the server the sign-in is bound to, before anything is written: no other restore writes these meanwhile.
  for (const { restoreAs } of plan.databases) {
    const address: DatabaseAddress = { ...plan.server, database: restoreAs };
    yield* takeRestoreTargetLock(context, instanceName, address);
    held.targets.push(address);
  }

  held.cleanup = { target: databaseTargetOf(target, "postgres"), ...(secretVersion !== undefined ? { secretVersion } : {}), jobId };
  yield* job.enterPhase("Restoring");
  const roles: CreatedRoles =
    target.roles === "createMissing"
      ? valueOf<CreatedRoles>(yield createMissingRolesStep({ ...base, databases: plan.databases } satisfies CreateMissingRolesInput).withRetry(jobRetry))
      : { rolesCreated: [], rolesSkipped: [] };
  if (roles.rolesCreated.length > 0) held.createdRoles = { ...base, roles: roles.rolesCreated };

  let bytes = 0;
  const restored: { database: ServerRestorePlan["databases"][number]; result: RestoredServerDatabase }[] = [];
  for (const [index, database] of plan.databases.entries()) {
    const input: RestoreServerDatabaseInput = { ...base, database, index, bytesBefore: bytes };
    const result = valueOf<RestoredServerDatabase>(yield restoreServerDatabaseStep(input).withRetry(jobRetry));
    bytes += result.bytes;
    restored.push({ database, result });
  }

  yield* job.enterPhase("Swapping", { bytes });
  const swaps = restored.map(({ database, result }) => ({ database, temporaryDatabase: result.temporaryDatabase }));
  valueOf<null>(yield swapDatabasesStep({ ...base, swaps } satisfies SwapDatabasesInput).withRetry(jobRetry));
  held.cleanup = undefined;
  held.createdRoles = undefined;

  // Bounded: the job row must stay small however many roles and databases there are.
  const report = boundedReport({
    databases: plan.databases.map(({ name, restoreAs }) => ({ name, restoreAs })),
    ...roles,
    grantsSkipped: restored.flatMap(({ result }) => result.grantsSkipped),
    ownershipSkipped: restored.flatMap(({ result }) => result.ownershipSkipped),
    ...(plan.databases.some((d) => d.include) ? { objectsLeftOut: restored.flatMap(({ result }) => result.objectsLeftOut ?? []) } : {}),
  });
  return { databases: plan.databases.length, bytes, report };
}
