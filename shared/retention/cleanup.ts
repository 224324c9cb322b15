/**
 * Deletes recovery points: the data first (a dump's blobs, or a Flexible Server point's own containers), then
 * the row is marked `Deleted` (SPEC section 3). In that order a crash in between leaves a row that is still
 * `Available` and expired, whose data is gone: the next run deletes again (data already gone counts as deleted)
 * and marks the row. The other order could leave a row
 * marked `Deleted` over data that nobody would ever remove.
 *
 * One recovery point failing does not stop the others: failures are collected and reported, and the next run
 * tries again.
 */
import { markRecoveryPointDeleted } from "../catalog";
import { backupContainer, type DumpRecoveryPoint, type RecoveryPoint } from "../domain";
import { deleteLtrContainers } from "../flexServer/ltrContainers";
import { PgVaultError, type JobError } from "../errors";
import { statusOf, storageFailure } from "../storageErrors";
import { getBlobServiceClient } from "../vaultClients";

export interface CleanupFailure {
  recoveryPointId: string;
  error: JobError;
}

export interface CleanupReport {
  deleted: string[];
  failed: CleanupFailure[];
}

/** Sequential on purpose: a run normally has one or two points per instance, and it keeps the vault's load flat. */
export async function deleteRecoveryPoints(recoveryPoints: readonly RecoveryPoint[]): Promise<CleanupReport> {
  const report: CleanupReport = { deleted: [], failed: [] };
  for (const rp of recoveryPoints) {
    try {
      if (rp.format === "pg_dump-custom") {
        for (const blobPath of rp.blobs) await deleteBlob(rp, blobPath);
      } else {
        await deleteLtrContainers(rp.id, rp.containers);
      }
      await markRecoveryPointDeleted(rp.instanceName, rp.id);
      report.deleted.push(rp.id);
    } catch (err) {
      report.failed.push({ recoveryPointId: rp.id, error: storageFailure(err, `deleting recovery point ${rp.instanceName}/${rp.id}`).toJobError() });
    }
  }
  return report;
}

async function deleteBlob(rp: DumpRecoveryPoint, blobPath: string): Promise<void> {
  // A row is only trusted to name blobs inside its own folder: a damaged row must not delete another backup.
  // Dot segments are refused too, since URL parsing would resolve them to a path outside the folder.
  const folder = `${backupContainer}/${rp.instanceName}/${rp.id}/`;
  const segments = blobPath.slice(folder.length).split("/");
  if (!blobPath.startsWith(folder) || segments.some((segment) => segment === "" || segment === "." || segment === "..")) {
    throw new PgVaultError("SystemErrorUnexpected", `Recovery point ${rp.instanceName}/${rp.id} names a blob outside its folder (${blobPath}); it was left alone.`);
  }
  const blob = getBlobServiceClient().getContainerClient(backupContainer).getBlobClient(blobPath.slice(backupContainer.length + 1));
  try {
    await blob.delete({ deleteSnapshots: "include" });
  } catch (err) {
    // Already gone: an earlier run deleted it and crashed before marking the row.
    if (statusOf(err) !== 404) throw err;
  }
}
