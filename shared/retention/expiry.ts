/**
 * Which recovery points retention deletes (SPEC section 3). Pure: the caller passes the instance's recovery
 * points and the time, so the orchestrator's clock decides and a test can move it freely.
 *
 * - Only `Available` points expire; `SoftDeleted` ones belong to the soft-delete grace period and `Deleted` ones
 *   are already gone.
 * - A point is expired when `expiresAt <= now`: its expiry instant is the first one at which it is no longer kept.
 * - The newest `Available` point of a protected instance is kept even when expired, so an instance whose backups
 *   keep failing still has something to restore.
 * - `SoftDeleted` points are purged when their grace period ends (`recoveryPointsToPurge`), not by this rule.
 */
import type { RecoveryPoint } from "../domain";

export function recoveryPointsToDelete(recoveryPoints: readonly RecoveryPoint[], now: Date, isProtected: boolean): RecoveryPoint[] {
  const available = recoveryPoints.filter((rp) => rp.status === "Available");
  // Found by time rather than by position, so a caller's ordering cannot make us delete the last good backup.
  const newest = available.reduce<RecoveryPoint | undefined>((best, rp) => (best && newer(best, rp) ? best : rp), undefined);
  return available.filter((rp) => Date.parse(rp.expiresAt) <= now.getTime() && !(isProtected && rp === newest));
}

/** Ids sort by time (`rp-YYYYMMDDTHHMMSSZ-...`) and break ties between points of the same second. */
function newer(a: RecoveryPoint, b: RecoveryPoint): boolean {
  const byTime = Date.parse(a.time) - Date.parse(b.time);
  return byTime !== 0 ? byTime > 0 : a.id > b.id;
}

/**
 * `SoftDeleted` points whose grace period is over (`purgeAfter <= now`): their data goes, whatever their policy
 * expiry says. A soft-deleted point without `purgeAfter` is never purged by this rule: only a delete request sets
 * the status, and it always sets both.
 */
export function recoveryPointsToPurge(recoveryPoints: readonly RecoveryPoint[], now: Date): RecoveryPoint[] {
  return recoveryPoints.filter((rp) => rp.status === "SoftDeleted" && rp.purgeAfter !== undefined && Date.parse(rp.purgeAfter) <= now.getTime());
}
