/**
 * The `flexibleServer` access check (SPEC section 5): the app's identity can read the server, the server is
 * Ready, and the long-term-retention pre-check (`ltrPreBackup`) passes. The pre-check also says how many
 * containers the backup will write into.
 */
import type { Server } from "@azure/arm-postgresql-flexible";
import { PgVaultError } from "../errors";
import { flexServerClient } from "./armClient";
import { armFailure } from "./armErrors";
import { parseResourceId } from "./resourceId";

/**
 * Microsoft's support matrix: "Vaulted backups are supported for server size <= 1 TB. If backup is configured on
 * server size larger than 1 TB, the backup operation fails." (`backup-azure-database-postgresql-flex-support-matrix.md`).
 * The size read is the provisioned storage (`storage.storageSizeGB`), the only size `servers.get` gives; 1 TB is
 * taken as 1024 GB, the unit Flexible Server storage tiers are sold in (docs/platform-facts.md).
 */
export const maxLtrServerStorageGb = 1024;

export interface FlexServerFacts {
  /** Major version, as ARM reports it (`16`). */
  serverVersion: string;
  numberOfContainers: number;
}

export const ltrRole = "the 'PostgreSQL Flexible Server Long Term Retention Backup Role' role on the server";
export const readerRole = "Reader on the server's resource group";

/** Containers a backup may ask for; more would mean a broken answer, not a big server. */
const maxContainers = 64;

/** The server's resource; a server or resource group that is gone fails with UserErrorFlexServerNotFound. */
export async function readFlexServer(resourceId: string): Promise<Server> {
  const { subscriptionId, resourceGroup, serverName } = parseResourceId(resourceId);
  return flexServerClient(subscriptionId)
    .servers.get(resourceGroup, serverName)
    .catch((err: unknown) => {
      throw armFailure(err, { what: `reading Flexible Server '${serverName}'`, neededRole: readerRole });
    });
}

export async function verifyFlexServerAccess(resourceId: string, backupName: string): Promise<FlexServerFacts> {
  const { subscriptionId, resourceGroup, serverName } = parseResourceId(resourceId);
  const client = flexServerClient(subscriptionId);
  const server = await readFlexServer(resourceId);
  if (server.state !== "Ready") {
    throw new PgVaultError("UserErrorFlexServerNotReady", `Flexible Server '${serverName}' is ${server.state ?? "in an unknown state"}, not Ready.`);
  }
  const storageGb = server.storage?.storageSizeGB;
  if (storageGb !== undefined && storageGb > maxLtrServerStorageGb) {
    // SPEC section 9 has no code of its own for it: the server cannot be backed up this way, as one not Ready.
    throw new PgVaultError(
      "UserErrorFlexServerNotReady",
      `Flexible Server '${serverName}' has ${storageGb} GB of storage; Azure's long-term-retention backup supports servers up to 1 TB (${maxLtrServerStorageGb} GB) and fails larger ones.`,
      {
        recommendedAction:
          "Protect the server's databases one by one as 'database' instances instead, or reduce the server's storage to 1 TB or less.",
      },
    );
  }
  const check = await client.backupsLongTermRetention.checkPrerequisites(resourceGroup, serverName, { backupSettings: { backupName } }).catch((err: unknown) => {
    throw armFailure(err, { what: `the long-term-retention pre-check of Flexible Server '${serverName}'`, neededRole: ltrRole });
  });
  const containers = check.numberOfContainers;
  if (!Number.isInteger(containers) || containers < 1 || containers > maxContainers) {
    throw new PgVaultError("SystemErrorUnexpected", `The pre-check of Flexible Server '${serverName}' asked for ${containers} containers.`);
  }
  return { serverVersion: server.version ?? "unknown", numberOfContainers: containers };
}
