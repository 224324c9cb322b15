/**
 * Retention of one instance, and deletion of all its backups when protection stops with `deleteBackups=true`.
 * Both go through the same expiry rule and the same cleanup, so there is one way a recovery point gets deleted.
 */
import { getInstance, listRecoveryPoints, putRecoveryPoint } from "../catalog";
import { deleteRecoveryPoints, type CleanupReport } from "./cleanup";
import { recoveryPointsToDelete } from "./expiry";
import { isoSeconds } from "../isoTime";

/** Deletes the instance's expired recovery points as of `now` (the orchestrator's time, never the activity's). */
export async function applyRetention(instanceName: string, now: Date): Promise<CleanupReport> {
  const [instance, recoveryPoints] = await Promise.all([getInstance(instanceName), listRecoveryPoints(instanceName)]);
  // Points of a stopped (or vanished) instance expire as their policy said, the newest one included.
  const isProtected = instance?.protectionState === "ProtectionConfigured";
  return deleteRecoveryPoints(recoveryPointsToDelete(recoveryPoints, now, isProtected));
}

/**
 * Expires every `Available` point of a stopped instance at `now`, then deletes them. The expiry is written first,
 * so whatever this call does not finish (a crash, a failed blob) the daily retention run finishes.
 */
export async function deleteAllBackups(instanceName: string, now: Date): Promise<CleanupReport> {
  const expiresAt = isoSeconds(now);
  for (const rp of await listRecoveryPoints(instanceName)) {
    if (rp.status === "Available" && Date.parse(rp.expiresAt) > now.getTime()) await putRecoveryPoint({ ...rp, expiresAt });
  }
  return deleteRecoveryPoints(recoveryPointsToDelete(await listRecoveryPoints(instanceName), now, false));
}
