/**
 * A database address plus how to sign in to it: the credentials its `secretRef` names, resolved at the pinned
 * version and bound to the server the secret names, or a fresh Microsoft Entra token of the app's identity
 * (`auth.type: "entra"`) for an Azure Database for PostgreSQL host. The one way activities reach a database, so
 * every connection passes the same checks, before it is opened, and uses at least MIN_SSL_MODE.
 */
import { getConfig } from "../config";
import type { RequestedDatabaseEndpoint } from "../domain";
import { PgVaultError } from "../errors";
import { defaultPort, strongerSslMode } from "../secrets/credentialsFormat";
import { resolveSecret } from "../secrets/resolveSecret";
import type { ConnectionParams } from "./connection";
import { entraCredentials } from "./entraSignIn";
import { boundServer } from "./serverBinding";

/** `secretVersion` pins a secret for the whole job (resolveSecret); an Entra sign-in has none and gets a new token each call. */
export async function connectionParamsFor(address: RequestedDatabaseEndpoint, secretVersion?: string): Promise<ConnectionParams & { secretVersion?: string }> {
  const { database } = address;
  const minimum = getConfig().minSslMode;
  if (address.auth) {
    // Validation requires it; a row written some other way is refused, not signed in to somewhere.
    if (!address.host) throw new PgVaultError("UserErrorSecretServerMismatch", "A Microsoft Entra sign-in needs the server's host; none is given.");
    const credentials = await entraCredentials(address.auth, address.host);
    return { host: address.host, port: address.port ?? defaultPort, database, ...credentials, sslMode: strongerSslMode(credentials.sslMode, minimum) };
  }
  const secret = await resolveSecret(address.secretRef, secretVersion);
  const server = boundServer(address, secret);
  const { credentials } = secret;
  return { ...server, database, ...credentials, sslMode: strongerSslMode(credentials.sslMode, minimum), secretVersion: secret.version };
}
