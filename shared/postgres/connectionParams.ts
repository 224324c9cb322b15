/**
 * A database address plus how to sign in to it: the credentials its `secretRef` names, resolved at the pinned
 * version, or a fresh Microsoft Entra token of the app's identity (`auth.type: "entra"`).
 */
import type { DatabaseAddress } from "./connection";
import type { DatabaseSignIn } from "../domain";
import { resolveSecret } from "../secrets/resolveSecret";
import type { ConnectionParams } from "./connection";
import { entraCredentials } from "./entraSignIn";

export type DatabaseAddressWithSignIn = DatabaseAddress & DatabaseSignIn;

/** `secretVersion` pins a secret for the whole job (resolveSecret); an Entra sign-in has none and gets a new token each call. */
export async function connectionParamsFor(address: DatabaseAddressWithSignIn, secretVersion?: string): Promise<ConnectionParams & { secretVersion?: string }> {
  const { host, port, database } = address;
  if (address.auth) return { host, port, database, ...(await entraCredentials(address.auth)) };
  const secret = await resolveSecret(address.secretRef, secretVersion);
  return { host, port, database, ...secret.credentials, secretVersion: secret.version };
}
