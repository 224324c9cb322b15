/**
 * Deletes recovery points: the data first (a dump's blobs, or a Flexible Server point's own containers), then
 * the row is marked `Deleted` (SPEC section 3). In that order a crash in between leaves a row that is still
 * `Available` and expired, whose data is gone: the next run deletes again (data already gone counts as deleted)
 * and marks the row. The other order could leave a row
 * marked `Deleted` over data that nobody would ever remove.
 *
 * One recovery point failing does not stop the others: failures are collected and reported, and the next run
 * tries again. The same goes for expired `Available` points and for `SoftDeleted` ones whose grace period is over.
 *
 * Immutability: a point recorded as immutable beyond the run's time is not touched; a blob the vault refuses to
 * delete because its policy has not run out (409 `BlobImmutableDueToPolicy`, say the vault's clock is behind)
 * keeps its point as it is. Both are reported as `kept`, not failed, and the next run tries again.
 *
 * Keep-newest against concurrent writers: the run decided on a listing, and an Admin may soft-delete the point it
 * keeps as the newest before it claims the next one. So the claim of an expired point is one transaction with the
 * kept point's row, under the etag that row had when the claim looked at it (a soft delete, an undelete, a claim
 * of that row all change it): the claim lands only while that point is still a newer recorded `Available` one.
 */
import { changeRecoveryPoint, markRecoveryPointDeleted } from "../catalog/catalog";
import type { RecoveryPoint } from "../domain";
import { deleteLtrContainers } from "../flexServer/ltrContainers";
import type { JobError } from "../errors";
import { isImmutableBlobRefusal } from "../recoveryPoints/immutability";
import { isoSeconds } from "../time/isoTime";
import { ownedBlob, storedBlobPaths } from "../recoveryPoints/recoveryPointBlobs";
import { statusOf, storageFailure } from "../storageErrors";
import { getBlobServiceClient } from "../catalog/vaultClients";
import { outranks } from "./expiry";

export interface CleanupFailure {
  recoveryPointId: string;
  error: JobError;
}

export interface CleanupReport {
  deleted: string[];
  /** Points whose data the vault still holds immutable: left as they are, and tried again at the next run. */
  kept: string[];
  failed: CleanupFailure[];
}

/**
 * Sequential on purpose: a run normally has one or two points per instance, and it keeps the vault's load flat.
 * `now` is the run's time (the orchestrator's): it decides whether a point's immutability has run out. `newest`:
 * the point a protected instance keeps (expiry.ts, `newestAvailable`); an `Available` point is deleted only while
 * that one still outranks it.
 */
export async function deleteRecoveryPoints(recoveryPoints: readonly RecoveryPoint[], now: Date, newest?: RecoveryPoint): Promise<CleanupReport> {
  const report: CleanupReport = { deleted: [], kept: [], failed: [] };
  for (const listed of recoveryPoints) {
    try {
      // Purging a soft-deleted point does not touch the keep-newest rule.
      const claim = await claimForDeletion(listed, now, listed.status === "Available" ? newest : undefined);
      if (claim === "immutable") {
        report.kept.push(listed.id);
        continue;
      }
      if (claim === "changed") continue;
      if (claim.format === "pg_dump-custom") {
        // The dump and its contents record.
        for (const blobPath of storedBlobPaths(claim)) await deleteBlob(claim, blobPath);
      } else {
        await deleteLtrContainers(claim.id, claim.containers, { emptyFirst: claim.immutableUntil !== undefined });
      }
      await markRecoveryPointDeleted(claim.instanceName, claim.id);
      report.deleted.push(claim.id);
    } catch (err) {
      // The vault's clock (or a policy set outside pgvault) says the data is still immutable: not a failure.
      if (isImmutableBlobRefusal(err)) report.kept.push(listed.id);
      else report.failed.push({ recoveryPointId: listed.id, error: storageFailure(err, `deleting recovery point ${listed.instanceName}/${listed.id}`).toJobError() });
    }
  }
  return report;
}

/**
 * Marks the stored point as being deleted (`deletionStartedAt`), under its etag, before any data goes: from then
 * on a delete or undelete request is refused, so nobody can bring back a point whose data is half gone. Nothing is
 * claimed when the row changed since it was listed (undeleted, soft-deleted, its expiry moved: the next run decides
 * again), when `newest` no longer outranks it (soft-deleted meanwhile: this point may be the newest now; the claim
 * checks that in the same transaction), or when the point is recorded as immutable beyond `now` (it stays as it
 * is, still undeletable).
 */
async function claimForDeletion(listed: RecoveryPoint, now: Date, newest: RecoveryPoint | undefined): Promise<RecoveryPoint | "changed" | "immutable"> {
  let outcome: "changed" | "immutable" | undefined;
  const claim = (rp: RecoveryPoint, newestNow?: RecoveryPoint) => {
    outcome = undefined;
    if (rp.status !== listed.status || rp.expiresAt !== listed.expiresAt || rp.purgeAfter !== listed.purgeAfter) outcome = "changed";
    else if (rp.immutableUntil !== undefined && Date.parse(rp.immutableUntil) > now.getTime()) outcome = "immutable";
    // A claim an earlier run made (and did not finish) stands: that run checked, and the data may be half gone.
    else if (!rp.deletionStartedAt && newest && !outranks(newestNow, rp)) outcome = "changed";
    if (outcome || rp.deletionStartedAt) return undefined;
    return { ...rp, deletionStartedAt: isoSeconds(now) };
  };
  const stored = await changeRecoveryPoint(listed.instanceName, listed.id, claim, { dependsOn: newest?.id });
  return stored ? (outcome ?? stored) : "changed";
}

async function deleteBlob(rp: RecoveryPoint, blobPath: string): Promise<void> {
  const { container, name } = ownedBlob(rp, blobPath);
  const blob = getBlobServiceClient().getContainerClient(container).getBlobClient(name);
  try {
    await blob.delete({ deleteSnapshots: "include" });
  } catch (err) {
    // Already gone: an earlier run deleted it and crashed before marking the row.
    if (statusOf(err) !== 404) throw err;
  }
}
