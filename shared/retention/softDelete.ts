/**
 * Deleting recovery points on request (SPEC section 4, `SoftDeleted`): the point is only marked, with the time it
 * was deleted and `purgeAfter` (now + SOFT_DELETE_RETENTION_DAYS). Until then it is listed, can be restored, and can
 * be undeleted; retention purges its data after that (cleanup.ts), or later if the vault still holds it immutable.
 * A stolen identity or a mistaken request therefore cannot destroy a backup at once.
 *
 * Each change is one etag-checked write of the row (`changeRecoveryPoint`), so it cannot overwrite retention, which
 * claims a point (`deletionStartedAt`) before it deletes any of its data: from then on both requests are refused.
 */
import { changeRecoveryPoint } from "../catalog/catalog";
import { listRecoveryPoints } from "../catalog/recoveryPointReads";
import type { RecoveryPoint } from "../domain";
import { ConflictError } from "../errors";
import { isoSeconds } from "../time/isoTime";

const dayMs = 86_400_000;

function beingDeleted(rp: RecoveryPoint): ConflictError {
  return new ConflictError(
    "Conflict",
    `Recovery point '${rp.id}' of '${rp.instanceName}' is being deleted by retention (since ${rp.deletionStartedAt}); it can no longer be changed.`,
  );
}

/**
 * `Available` -> `SoftDeleted`, purged `graceDays` after `now`. A point already `SoftDeleted` or `Deleted` is left
 * as it is (deleting twice is not an error, and does not extend the grace period); `changed` tells which happened.
 * `undefined`: no such point.
 */
export async function softDeleteRecoveryPoint(
  instanceName: string,
  id: string,
  now: Date,
  graceDays: number,
): Promise<{ recoveryPoint: RecoveryPoint; changed: boolean } | undefined> {
  let changed = false;
  const recoveryPoint = await changeRecoveryPoint(instanceName, id, (rp) => {
    changed = rp.status === "Available";
    if (!changed) return undefined;
    if (rp.deletionStartedAt) throw beingDeleted(rp);
    return { ...rp, status: "SoftDeleted", softDeletedAt: isoSeconds(now), purgeAfter: isoSeconds(new Date(now.getTime() + graceDays * dayMs)) };
  });
  return recoveryPoint && { recoveryPoint, changed };
}

/**
 * `SoftDeleted` -> `Available`. Its policy expiry stays, unless it passed during the soft delete (or passes within
 * the grace period): then it is moved to `now + graceDays`, so the point just brought back is not deleted by the
 * next retention run before anyone could use it. An `Available` point is answered as it is; a `Deleted` one, or one
 * retention has started to purge, is refused with 409. `undefined`: no such point.
 */
export async function undeleteRecoveryPoint(instanceName: string, id: string, now: Date, graceDays: number): Promise<RecoveryPoint | undefined> {
  return changeRecoveryPoint(instanceName, id, (rp) => {
    if (rp.status === "Available") return undefined;
    if (rp.status === "Deleted") {
      throw new ConflictError("Conflict", `Recovery point '${rp.id}' of '${rp.instanceName}' is deleted: its data is gone and it cannot be undeleted.`);
    }
    if (rp.deletionStartedAt) throw beingDeleted(rp);
    const { softDeletedAt: _softDeletedAt, purgeAfter: _purgeAfter, ...kept } = rp;
    const keepAtLeastUntil = now.getTime() + graceDays * dayMs;
    const expiresAt = Date.parse(rp.expiresAt) >= keepAtLeastUntil ? rp.expiresAt : isoSeconds(new Date(keepAtLeastUntil));
    return { ...kept, status: "Available", expiresAt };
  });
}

/**
 * Stop protection with `deleteBackups=true`: every `Available` point of the instance is soft-deleted. Points that
 * retention is already deleting are left to it. Returns how many points this call soft-deleted.
 */
export async function softDeleteAllBackups(instanceName: string, now: Date, graceDays: number): Promise<number> {
  let count = 0;
  for (const listed of await listRecoveryPoints(instanceName, { heldOnly: true })) {
    if (listed.status !== "Available" || listed.deletionStartedAt) continue;
    try {
      if ((await softDeleteRecoveryPoint(instanceName, listed.id, now, graceDays))?.changed) count += 1;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  return count;
}
