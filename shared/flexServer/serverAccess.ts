/**
 * The `flexibleServer` access check (SPEC section 5): the app's identity can read the server, the server is
 * Ready, and the long-term-retention pre-check (`ltrPreBackup`) passes. The pre-check also says how many
 * containers the backup will write into.
 */
import { PgVaultError } from "../errors";
import { flexServerClient } from "./armClient";
import { armFailure } from "./armErrors";
import { parseResourceId } from "./resourceId";

export interface FlexServerFacts {
  /** Major version, as ARM reports it (`16`). */
  serverVersion: string;
  numberOfContainers: number;
}

export const ltrRole = "the 'PostgreSQL Flexible Server Long Term Retention Backup Role' role on the server";
export const readerRole = "Reader on the server's resource group";

/** Containers a backup may ask for; more would mean a broken answer, not a big server. */
const maxContainers = 64;

export async function verifyFlexServerAccess(resourceId: string, backupName: string): Promise<FlexServerFacts> {
  const { subscriptionId, resourceGroup, serverName } = parseResourceId(resourceId);
  const client = flexServerClient(subscriptionId);
  const server = await client.servers.get(resourceGroup, serverName).catch((err: unknown) => {
    throw armFailure(err, { what: `reading Flexible Server '${serverName}'`, neededRole: readerRole });
  });
  if (server.state !== "Ready") {
    throw new PgVaultError("UserErrorFlexServerNotReady", `Flexible Server '${serverName}' is ${server.state ?? "in an unknown state"}, not Ready.`);
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
