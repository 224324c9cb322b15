/** A database address plus the credentials its `secretRef` names, resolved at the pinned version. */
import type { DatabaseDatasource } from "../domain";
import { resolveSecret } from "../secrets/resolveSecret";
import type { ConnectionParams } from "./connection";

export type DatabaseAddressWithSecret = Pick<DatabaseDatasource, "host" | "port" | "database" | "secretRef">;

export async function connectionParamsFor(
  address: DatabaseAddressWithSecret,
  secretVersion?: string,
): Promise<ConnectionParams & { secretVersion: string }> {
  const secret = await resolveSecret(address.secretRef, secretVersion);
  const { host, port, database } = address;
  return { host, port, database, ...secret.credentials, secretVersion: secret.version };
}
