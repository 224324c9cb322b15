/**
 * Flexible Server backups through the replay driver with the real activities, against the ARM stand-in and
 * Azurite. The ARM stand-in must be started (useArmStandIn) before the first activity runs: the app reads
 * ARM_ENDPOINT and creates its credential once per process.
 */
import { acquireInstanceLockActivity } from "../../activities/acquireInstanceLock";
import { releaseInstanceLockActivity } from "../../activities/releaseInstanceLock";
import { applyRetentionActivity } from "../../activities/applyRetention";
import { checkFlexServerAccessActivity } from "../../activities/checkFlexServerAccess";
import { createLtrContainersActivity } from "../../activities/createLtrContainers";
import { deleteLtrContainersActivity } from "../../activities/deleteLtrContainers";
import { pollLtrBackupActivity } from "../../activities/pollLtrBackup";
import { protectRecoveryPointActivity } from "../../activities/protectRecoveryPoint";
import { recordRecoveryPointActivity } from "../../activities/recordRecoveryPoint";
import { startLtrBackupActivity } from "../../activities/startLtrBackup";
import { publishEventsActivity } from "../../activities/publishEvents";
import { updateJobActivity } from "../../activities/updateJob";
import { backupOrchestrationName, backupOrchestrator, type BackupInput } from "../../orchestrators/backup";
import { putInstance, putPolicy } from "../../shared/catalog/catalog";
import type { BackupInstance, BackupPolicy, LtrRecoveryPoint, RecoveryPoint } from "../../shared/domain";
import { runOrchestration, type ActivityFunction, type OrchestrationRun } from "./replayDriver";

export const flexBackupActivities: Record<string, ActivityFunction> = {
  updateJob: updateJobActivity,
  // How the job ended, and anything else worth an event (a no-op without EVENT_GRID_TOPIC_ENDPOINT).
  publishEvents: publishEventsActivity,
  // The instance's operation lock, taken first and given back when the job ends.
  acquireInstanceLock: acquireInstanceLockActivity,
  releaseInstanceLock: releaseInstanceLockActivity,
  checkFlexServerAccess: checkFlexServerAccessActivity,
  createLtrContainers: createLtrContainersActivity,
  startLtrBackup: startLtrBackupActivity,
  pollLtrBackup: pollLtrBackupActivity,
  deleteLtrContainers: deleteLtrContainersActivity,
  recordRecoveryPoint: recordRecoveryPointActivity,
  protectRecoveryPoint: protectRecoveryPointActivity,
  applyRetention: applyRetentionActivity,
};

export const weeklyFlexPolicy = (name: string): BackupPolicy => ({
  name,
  datasourceType: "flexibleServer",
  schedule: { repeatingIntervals: ["R/2026-01-04T03:00:00+00:00/P1W"], timeZone: "UTC" },
  retention: { default: { duration: "P12W" }, rules: [{ tag: "Yearly", criteria: "FirstOfYear", duration: "P10Y" }] },
});

/** Stores a policy and a protected instance for the server directly in the catalog. */
export async function protectFlexServer(instanceName: string, resourceId: string): Promise<BackupInstance> {
  const policy = weeklyFlexPolicy(`${instanceName}-policy`.slice(0, 63));
  await putPolicy(policy);
  const instance: BackupInstance = {
    name: instanceName,
    policyName: policy.name,
    datasource: { type: "flexibleServer", resourceId },
    protectionState: "ProtectionConfigured",
    createdAt: new Date().toISOString(),
  };
  await putInstance(instance);
  return instance;
}

let counter = 0;

export async function runFlexBackup(instance: BackupInstance): Promise<OrchestrationRun & { jobId: string; input: BackupInput }> {
  const jobId = `backup-${instance.name}-${Date.now()}-${counter++}`;
  const input: BackupInput = { instanceName: instance.name, datasource: instance.datasource, trigger: "OnDemand" };
  const run = await runOrchestration(backupOrchestrator, { name: backupOrchestrationName, instanceId: jobId, input, activities: flexBackupActivities });
  return { ...run, jobId, input };
}

export function asLtrPoint(rp: RecoveryPoint | undefined): LtrRecoveryPoint {
  if (rp?.format !== "flexibleServer-ltr") throw new Error(`expected a Flexible Server recovery point, got ${rp ? rp.format : "none"}`);
  return rp;
}
