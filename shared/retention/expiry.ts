/**
 * Which recovery points retention deletes (SPEC section 3). Pure: the caller passes the instance's recovery
 * points and the time, so the orchestrator's clock decides and a test can move it freely.
 *
 * - Only `Available` points expire; `SoftDeleted` ones belong to the soft-delete grace period and `Deleted` ones
 *   are already gone.
 * - A point is expired when `expiresAt <= now`: its expiry instant is the first one at which it is no longer kept.
 * - The newest `Available` point of a protected instance is kept even when expired, so an instance whose backups
 *   keep failing still has something to restore.
 * - A point its backup job has not finished recording (`recording`) is neither: it never counts as the newest (so
 *   the rule never keeps it at the expense of a real one, and a cancel may still remove it) and never expires here.
 * - `SoftDeleted` points are purged when their grace period ends (`recoveryPointsToPurge`), not by this rule.
 */
import { isRecorded, type RecoveryPoint } from "../domain";

/** The points the expiry and keep-newest rules are about: `Available`, and recorded complete. */
const recordedAvailable = (recoveryPoints: readonly RecoveryPoint[]) => recoveryPoints.filter((rp) => rp.status === "Available" && isRecorded(rp));

/** The newest recorded `Available` point: the one a protected instance keeps. Found by time, whatever the order given. */
export function newestAvailable(recoveryPoints: readonly RecoveryPoint[]): RecoveryPoint | undefined {
  return recordedAvailable(recoveryPoints).reduce<RecoveryPoint | undefined>((best, rp) => (best && newer(best, rp) ? best : rp), undefined);
}

export function recoveryPointsToDelete(recoveryPoints: readonly RecoveryPoint[], now: Date, isProtected: boolean): RecoveryPoint[] {
  const newest = newestAvailable(recoveryPoints);
  return recordedAvailable(recoveryPoints).filter((rp) => Date.parse(rp.expiresAt) <= now.getTime() && !(isProtected && rp === newest));
}

/**
 * Whether `keeper`, as stored now, still makes `rp` other than its instance's newest recorded `Available` point:
 * it is one itself, not being deleted, and newer. Retention's claim checks this in the same write (cleanup.ts).
 */
export function outranks(keeper: RecoveryPoint | undefined, rp: RecoveryPoint): boolean {
  return keeper !== undefined && keeper.status === "Available" && isRecorded(keeper) && !keeper.deletionStartedAt && newer(keeper, rp);
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
