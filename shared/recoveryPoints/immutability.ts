/**
 * What the vault's answers about immutability mean, and what the app says about it at start-up. Pure: no
 * storage calls here (they are in recoveryPointImmutability.ts), so the error shapes are unit-tested as they are.
 *
 * - Setting a policy on a blob whose container has no version-level immutability support: Azure answers 409;
 *   Azurite, which implements no immutability API at all, answers 501 `APINotImplemented`. Neither fails a
 *   backup: the point is simply not immutable, and the app says so once per process.
 * - 403: the app's identity may not set policies (`.../blobs/immutableStorage/runAsSuperUser/action`).
 * - Deleting a blob whose policy has not expired: 409 `BlobImmutableDueToPolicy`. Retention keeps the point and
 *   tries again at its next run.
 */
import type { AppConfig, VaultImmutability } from "../config";
import type { ImmutabilityPolicyMode } from "../domain";

export type ImmutabilityRefusal = "notSupported" | "forbidden";

/** Why a point is not immutable, for the job's log and the `pgvault.immutability.notApplied` event. */
export const immutabilityRefusalMessages: Record<ImmutabilityRefusal, string> = {
  notSupported:
    "the vault does not support version-level immutability (Azurite, or a container created without it): recovery points are not made " +
    "immutable until it does; backups carry on. See docs/configuration.md, VAULT_IMMUTABILITY.",
  forbidden:
    "the app's identity may not set immutability policies on the vault (it needs Microsoft.Storage/storageAccounts/blobServices/containers/" +
    "blobs/immutableStorage/runAsSuperUser/action): recovery points are not made immutable; backups carry on. See docs/configuration.md, VAULT_IMMUTABILITY.",
};

interface StorageErrorShape {
  statusCode?: number;
  code?: string;
  details?: { errorCode?: string };
}

function shapeOf(err: unknown): StorageErrorShape {
  return typeof err === "object" && err !== null ? (err as StorageErrorShape) : {};
}

function errorCodeOf(err: unknown): string | undefined {
  const shape = shapeOf(err);
  return shape.code ?? shape.details?.errorCode;
}

/** Why setting a policy was refused in a way that will not change by retrying; `undefined` for anything else. */
export function immutabilityRefusal(err: unknown): ImmutabilityRefusal | undefined {
  const status = shapeOf(err).statusCode;
  if (status === 501 || errorCodeOf(err) === "APINotImplemented") return "notSupported";
  if (status === 409) return "notSupported";
  if (status === 403) return "forbidden";
  return undefined;
}

/** A delete the vault refused because the blob (version) is still under an immutability policy. */
export function isImmutableBlobRefusal(err: unknown): boolean {
  return shapeOf(err).statusCode === 409 && errorCodeOf(err) === "BlobImmutableDueToPolicy";
}

export function policyModeOf(setting: Exclude<VaultImmutability, "off">): ImmutabilityPolicyMode {
  return setting === "locked" ? "Locked" : "Unlocked";
}

const emulatorHosts = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/i;

/** Azurite: the development storage shorthand, its well-known account, or a blob endpoint on loopback. */
export function isStorageEmulator(vault: AppConfig["vault"]): boolean {
  if (vault.kind === "identity") return emulatorHosts.test(hostOf(vault.blobServiceUri));
  const connection = vault.connectionString;
  if (/UseDevelopmentStorage=true/i.test(connection) || /AccountName=devstoreaccount1/i.test(connection)) return true;
  const blobEndpoint = /BlobEndpoint=([^;]+)/i.exec(connection)?.[1];
  return blobEndpoint !== undefined && emulatorHosts.test(hostOf(blobEndpoint));
}

function hostOf(url: string): string {
  try {
    return new URL(url.trim()).hostname;
  } catch {
    return "";
  }
}

/** The line the app writes once at start-up when immutability is asked for but cannot work, else `undefined`. */
export function immutabilityNotice(config: Pick<AppConfig, "vault" | "vaultImmutability">): string | undefined {
  if (config.vaultImmutability === "off" || !isStorageEmulator(config.vault)) return undefined;
  return (
    `VAULT_IMMUTABILITY=${config.vaultImmutability}, but the vault is the Azurite storage emulator, which has no immutability ` +
    "support: recovery points will not be immutable here (backups carry on). In Azure, use a vault with version-level immutability."
  );
}
