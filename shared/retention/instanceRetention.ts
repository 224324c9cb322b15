/**
 * Retention of one instance: its expired `Available` points and its `SoftDeleted` points whose grace period is
 * over go through the same cleanup, so there is one way a recovery point's data gets deleted. (Deleting on request
 * only soft-deletes: see softDelete.ts.)
 */
import { getInstance } from "../catalog/catalog";
import { listRecoveryPoints } from "../catalog/recoveryPointReads";
import { deleteRecoveryPoints, type CleanupReport } from "./cleanup";
import { newestAvailable, recoveryPointsToDelete, recoveryPointsToPurge } from "./expiry";

/** Deletes the instance's expired and purgeable recovery points as of `now` (the orchestrator's time, never the activity's). */
export async function applyRetention(instanceName: string, now: Date): Promise<CleanupReport> {
  // Deleted rows change nothing here, and are most of a long-protected instance's history.
  const [instance, recoveryPoints] = await Promise.all([getInstance(instanceName), listRecoveryPoints(instanceName, { heldOnly: true })]);
  // Points of a stopped (or vanished) instance expire as their policy said, the newest one included.
  const isProtected = instance?.protectionState === "ProtectionConfigured";
  const doomed = [...recoveryPointsToDelete(recoveryPoints, now, isProtected), ...recoveryPointsToPurge(recoveryPoints, now)];
  // The point kept as the newest: each claim checks it still is one (a soft delete may come between).
  return deleteRecoveryPoints(doomed, now, isProtected ? newestAvailable(recoveryPoints) : undefined);
}
