/**
 * Arranges a protected database the way an admin would (policy, instance, secret) and runs the backup
 * orchestration through the replay driver with the real activities.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { inject } from "vitest";
import { acquireInstanceLockActivity } from "../../activities/acquireInstanceLock";
import { releaseInstanceLockActivity } from "../../activities/releaseInstanceLock";
import { applyRetentionActivity } from "../../activities/applyRetention";
import { checkBackupAccessActivity } from "../../activities/checkBackupAccess";
import { dumpDatabaseActivity } from "../../activities/dumpDatabase";
import { protectRecoveryPointActivity } from "../../activities/protectRecoveryPoint";
import { recordRecoveryPointActivity } from "../../activities/recordRecoveryPoint";
import { resolveEncryptionKeyActivity } from "../../activities/resolveEncryptionKey";
import { resolveSecretActivity } from "../../activities/resolveSecret";
import { publishEventsActivity } from "../../activities/publishEvents";
import { updateJobActivity } from "../../activities/updateJob";
import { backupOrchestrationName, backupOrchestrator, type BackupInput } from "../../orchestrators/backup";
import { putInstance, putPolicy } from "../../shared/catalog/catalog";
import type { BackupInstance, BackupPolicy, DatabaseDatasource, DumpRecoveryPoint, RecoveryPoint } from "../../shared/domain";
import { backupContainer } from "../../shared/domain";
import { envSecretPrefix } from "../../shared/secrets/referenceScope";
import { runOrchestration, type ActivityFunction, type OrchestrationRun } from "./replayDriver";
import type { ClusterInfo } from "../../local-host/embedded/postgres";
import { cluster } from "./testDatabase";

export const backupActivities: Record<string, ActivityFunction> = {
  updateJob: updateJobActivity,
  // How the job ended, and anything else worth an event (a no-op without EVENT_GRID_TOPIC_ENDPOINT).
  publishEvents: publishEventsActivity,
  // The instance's operation lock, taken first and given back when the job ends.
  acquireInstanceLock: acquireInstanceLockActivity,
  releaseInstanceLock: releaseInstanceLockActivity,
  resolveSecret: resolveSecretActivity,
  resolveEncryptionKey: resolveEncryptionKeyActivity,
  checkBackupAccess: checkBackupAccessActivity,
  dumpDatabase: dumpDatabaseActivity,
  recordRecoveryPoint: recordRecoveryPointActivity,
  protectRecoveryPoint: protectRecoveryPointActivity,
  // Retention of the instance after its backup.
  applyRetention: applyRetentionActivity,
};

export const dailyPolicy = (name: string): BackupPolicy => ({
  name,
  datasourceType: "database",
  schedule: { repeatingIntervals: ["R/2026-01-04T02:30:00+00:00/P1D"], timeZone: "Europe/Berlin" },
  retention: { default: { duration: "P30D" }, rules: [{ tag: "Weekly", criteria: "FirstOfWeek", duration: "P12W" }] },
});

/**
 * Stores `postgres://user:password@host:port/...?sslmode=disable` (the server it is for; MIN_SSL_MODE raises the
 * mode to `require`) in an app setting and returns its `env:` reference. The name must carry the prefix `env:`
 * references may name.
 */
export function envSecret(settingName: string, user: string, password: string, server: ClusterInfo = cluster()): string {
  if (!settingName.startsWith(envSecretPrefix)) throw new Error(`env: secrets are named ${envSecretPrefix}<NAME>, not ${settingName}`);
  const url = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${server.host}:${server.port}/ignored?sslmode=disable`;
  process.env[settingName] = url;
  return `env:${settingName}`;
}

/** Protects `datasource` as `instanceName` under a daily policy of its own (with `policy`'s settings on top). */
export async function protect(instanceName: string, datasource: DatabaseDatasource, policy: Partial<BackupPolicy> = {}): Promise<BackupInstance> {
  await putPolicy({ ...dailyPolicy(`${instanceName}-policy`), ...policy });
  const instance: BackupInstance = {
    name: instanceName,
    policyName: `${instanceName}-policy`,
    datasource,
    protectionState: "ProtectionConfigured",
    createdAt: new Date().toISOString(),
  };
  await putInstance(instance);
  return instance;
}

export function databaseSource(database: string, secretRef: string, server: ClusterInfo = cluster()): DatabaseDatasource {
  return { type: "database", host: server.host, port: server.port, database, secretRef };
}

export async function runBackup(instance: BackupInstance, jobId = `backup-${instance.name}-${Date.now()}`): Promise<OrchestrationRun & { jobId: string }> {
  const input: BackupInput = {
    instanceName: instance.name,
    datasource: instance.datasource as DatabaseDatasource,
    trigger: "OnDemand",
  };
  const run = await runOrchestration(backupOrchestrator, { name: backupOrchestrationName, instanceId: jobId, input, activities: backupActivities });
  return { ...run, jobId };
}

export function vaultContainer() {
  return BlobServiceClient.fromConnectionString(inject("vaultConnectionString")).getContainerClient(backupContainer);
}

/** Committed blobs under the instance's folder. */
export async function committedBlobs(instanceName: string): Promise<string[]> {
  const names: string[] = [];
  const container = vaultContainer();
  if (!(await container.exists())) return names;
  for await (const blob of container.listBlobsFlat({ prefix: `${instanceName}/` })) names.push(blob.name);
  return names;
}

/** Narrows to a pg_dump recovery point, failing the test when it is something else (or missing). */
export function asDumpPoint(rp: RecoveryPoint | undefined): DumpRecoveryPoint {
  if (rp?.format !== "pg_dump-custom") throw new Error(`expected a pg_dump recovery point, got ${rp ? rp.format : "none"}`);
  return rp;
}
