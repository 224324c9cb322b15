/**
 * Puts a time-based immutability policy on every blob of a recovery point (its contents record included), until the point expires (Set Blob
 * Immutability Policy, `PUT ...?comp=immutabilityPolicies` with `x-ms-immutability-policy-until-date` and
 * `-mode`). It needs version-level immutability on the blob's container (see docs/configuration.md); without it
 * the answer says so and nothing fails.
 */
import type { BlobClient } from "@azure/storage-blob";
import type { ImmutabilityPolicyMode, RecoveryPoint } from "../domain";
import { immutabilityRefusal, type ImmutabilityRefusal } from "./immutability";
import { ownedBlob, storedBlobPaths } from "./recoveryPointBlobs";
import { statusOf, storageFailure } from "../storageErrors";
import { getBlobServiceClient } from "../catalog/vaultClients";

export type ImmutabilityResult =
  | { kind: "immutable"; until: string; mode: ImmutabilityPolicyMode }
  /** The point has already expired: a policy in the past is not valid, and retention is about to delete it. */
  | { kind: "expired" }
  | { kind: ImmutabilityRefusal; status: number | undefined; code: string | undefined };

export async function makeImmutable(rp: RecoveryPoint, mode: ImmutabilityPolicyMode, now: Date): Promise<ImmutabilityResult> {
  const until = new Date(rp.expiresAt);
  if (until.getTime() <= now.getTime()) return { kind: "expired" };
  for (const blobPath of storedBlobPaths(rp)) {
    const { container, name } = ownedBlob(rp, blobPath);
    const blob = getBlobServiceClient().getContainerClient(container).getBlobClient(name);
    try {
      await blob.setImmutabilityPolicy({ expiriesOn: until, policyMode: mode });
    } catch (err) {
      // A policy already there that lasts as long (a retried step after a Locked policy was set) is as good.
      if (statusOf(err) === 409 && (await protectedUntil(blob)) >= until.getTime()) continue;
      const refusal = immutabilityRefusal(err);
      // The containers of one point share the account's settings: the first refusal speaks for all its blobs.
      if (refusal) return { kind: refusal, status: statusOf(err), code: (err as { code?: string }).code };
      throw storageFailure(err, `setting the immutability policy of ${blobPath}`);
    }
  }
  return { kind: "immutable", until: rp.expiresAt, mode };
}

async function protectedUntil(blob: BlobClient): Promise<number> {
  try {
    return (await blob.getProperties()).immutabilityPolicyExpiresOn?.getTime() ?? 0;
  } catch {
    return 0;
  }
}
