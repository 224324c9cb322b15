/**
 * Which blobs a recovery point row may act on. A row is only trusted to name blobs of its own: a dump point's
 * blobs inside its folder (`backups/{instance}/{rpId}/`), a Flexible Server point's files inside its own
 * `ltr-<rp id>-<i>` containers. Dot segments are refused too, since URL parsing would resolve them to a path
 * elsewhere. So a damaged row can neither delete nor lock another backup.
 */
import { backupContainer, type RecoveryPoint } from "../domain";
import { PgVaultError } from "../errors";
import { isContainerOf } from "../flexServer/ltrContainers";

export interface VaultBlob {
  container: string;
  /** The blob's name inside its container. */
  name: string;
}

/**
 * Every blob a point keeps in the vault: its `blobs` (the dump, or a Flexible Server point's files) and a dump's
 * contents record. What retention deletes and immutability protects; `blobs` alone is what restores read.
 */
export function storedBlobPaths(rp: RecoveryPoint): string[] {
  return rp.format === "pg_dump-custom" && rp.contents ? [...rp.blobs, rp.contents.blobPath] : [...rp.blobs];
}

export function ownedBlob(rp: RecoveryPoint, blobPath: string): VaultBlob {
  const [container = "", ...rest] = blobPath.split("/");
  const name = rest.join("/");
  const validName = rest.length > 0 && rest.every((segment) => segment !== "" && segment !== "." && segment !== "..");
  if (rp.format === "pg_dump-custom") {
    const folder = `${backupContainer}/${rp.instanceName}/${rp.id}/`;
    if (!blobPath.startsWith(folder) || !validName) {
      throw new PgVaultError("SystemErrorUnexpected", `Recovery point ${rp.instanceName}/${rp.id} names a blob outside its folder (${blobPath}); it was left alone.`);
    }
  } else if (!isContainerOf(rp.id, container) || !validName) {
    throw new PgVaultError("SystemErrorUnexpected", `Recovery point ${rp.instanceName}/${rp.id} names a blob outside its own containers (${blobPath}); it was left alone.`);
  }
  return { container, name };
}
