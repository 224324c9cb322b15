/** Runs the restore orchestration through the replay driver with the real activities, and arranges what restores need. */
import { acquireInstanceLockActivity } from "../../activities/acquireInstanceLock";
import { releaseInstanceLockActivity } from "../../activities/releaseInstanceLock";
import { checkRestoreAccessActivity } from "../../activities/checkRestoreAccess";
import { checkServerRestoreAccessActivity } from "../../activities/checkServerRestoreAccess";
import { createDatabaseRolesActivity } from "../../activities/createDatabaseRoles";
import { createMissingRolesActivity } from "../../activities/createMissingRoles";
import { dropCreatedRolesActivity } from "../../activities/dropCreatedRoles";
import { restoreServerDatabaseActivity } from "../../activities/restoreServerDatabase";
import { swapDatabasesActivity } from "../../activities/swapDatabases";
import { dropTemporaryDatabaseActivity } from "../../activities/dropTemporaryDatabase";
import { exportRecoveryPointActivity } from "../../activities/exportRecoveryPoint";
import { restoreDatabaseActivity } from "../../activities/restoreDatabase";
import { swapDatabaseActivity } from "../../activities/swapDatabase";
import { moveIntoSchemaActivity } from "../../activities/moveIntoSchema";
import { resolveSecretActivity } from "../../activities/resolveSecret";
import { publishEventsActivity } from "../../activities/publishEvents";
import { updateJobActivity } from "../../activities/updateJob";
import { restoreOrchestrationName, restoreOrchestrator, type RestoreInput } from "../../orchestrators/restore";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import type { DatabaseRestoreTarget, RecoveryPoint, RestoreTarget } from "../../shared/domain";
import { databaseSource, envSecret, protect, runBackup } from "./backupFixture";
import { runOrchestration, type ActivityFunction, type OrchestrationRun } from "./replayDriver";
import { cluster, createBackupRole, createDatabase, seedRichDatabase, uniqueName, withAdmin } from "./testDatabase";

export const restoreActivities: Record<string, ActivityFunction> = {
  updateJob: updateJobActivity,
  // How the job ended, and anything else worth an event (a no-op without EVENT_GRID_TOPIC_ENDPOINT).
  publishEvents: publishEventsActivity,
  // The instance's operation lock, taken first and given back when the job ends.
  acquireInstanceLock: acquireInstanceLockActivity,
  releaseInstanceLock: releaseInstanceLockActivity,
  resolveSecret: resolveSecretActivity,
  checkRestoreAccess: checkRestoreAccessActivity,
  restoreDatabase: restoreDatabaseActivity,
  // A database target's roles: "createMissing".
  createDatabaseRoles: createDatabaseRolesActivity,
  swapDatabase: swapDatabaseActivity,
  moveIntoSchema: moveIntoSchemaActivity,
  dropTemporaryDatabase: dropTemporaryDatabaseActivity,
  exportRecoveryPoint: exportRecoveryPointActivity,
  // A Flexible Server point to a server.
  checkServerRestoreAccess: checkServerRestoreAccessActivity,
  createMissingRoles: createMissingRolesActivity,
  restoreServerDatabase: restoreServerDatabaseActivity,
  swapDatabases: swapDatabasesActivity,
  dropCreatedRoles: dropCreatedRolesActivity,
};

let counter = 0;

/** Restores the point as the catalog holds it: the orchestration carries its id, and its steps read the row. */
export async function runRestore(recoveryPoint: RecoveryPoint, target: RestoreTarget): Promise<OrchestrationRun & { jobId: string }> {
  const jobId = `restore-${recoveryPoint.instanceName}-${Date.now()}-${counter++}`;
  const input: RestoreInput = { instanceName: recoveryPoint.instanceName, recoveryPointId: recoveryPoint.id, target };
  const run = await runOrchestration(restoreOrchestrator, { name: restoreOrchestrationName, instanceId: jobId, input, activities: restoreActivities });
  return { ...run, jobId };
}

/** A new database seeded with every kind of object (seedRichDatabase), protected and backed up once. */
export async function backedUpRichDatabase(prefix: string): Promise<{ database: string; rp: RecoveryPoint }> {
  const database = uniqueName(prefix);
  await createDatabase(database);
  await seedRichDatabase(database);
  const role = uniqueName(`${prefix}_backup`);
  await createBackupRole(database, role, "pw-backup");
  const instance = await protect(uniqueName(prefix).replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-backup")));
  await runBackup(instance);
  return { database, rp: (await listRecoveryPoints(instance.name))[0]! };
}

/** A login role with CREATEDB, as a restore's target user, and the secret reference to it. */
export async function restoringRole(prefix: string): Promise<{ role: string; secretRef: string }> {
  const role = uniqueName(prefix);
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${role} LOGIN CREATEDB PASSWORD 'pw-restore'`));
  return { role, secretRef: envSecret(`PGVAULT_SECRET_${role}`, role, "pw-restore") };
}

/** An existing database owned by the restoring role, with a table of its own: a target a restore with overwrite replaces. */
export async function existingTarget(prefix: string, restorer: { role: string; secretRef: string }): Promise<DatabaseRestoreTarget> {
  const database = uniqueName(prefix);
  await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${database} OWNER ${restorer.role}`));
  await withAdmin(database, (c) => c.query("CREATE TABLE old_stuff (v int); INSERT INTO old_stuff VALUES (1), (2), (3)"));
  return { type: "database", host: cluster().host, port: cluster().port, database, secretRef: restorer.secretRef, overwrite: true, preserveOwnership: false };
}
