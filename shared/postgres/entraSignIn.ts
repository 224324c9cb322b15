/**
 * Passwordless sign-in to Azure Database for PostgreSQL: the app's Microsoft Entra identity gets an access token
 * for the PostgreSQL resource from `DefaultAzureCredential` (managed identity in Azure; `AZURE_CLIENT_ID` picks a
 * user-assigned one) and uses it as the password. A token is fetched for each operation and lives only in that
 * operation's memory: never stored, logged, or passed between activities (history).
 *
 * The token opens every server that trusts the app's identity for about an hour, so it goes only to Azure Database
 * for PostgreSQL hosts (and those ENTRA_SIGN_IN_HOSTS lists), checked before it is requested, and only over
 * `verify-full` TLS: the server proves its name with a certificate from the system's roots before it sees the token.
 */
import { getAzureCredential } from "../azureCredential";
import { getConfig } from "../config";
import type { EntraAuth } from "../domain";
import { ensureError, PgVaultError } from "../errors";
import { matchesHostPattern } from "../network/hostNames";
import type { DatabaseCredentials } from "../secrets/credentialsFormat";

/**
 * The DNS domains of Azure Database for PostgreSQL servers in the public cloud, Azure Government and Azure China:
 * "Compare Azure Government and global Azure" (https://learn.microsoft.com/azure/azure-government/compare-azure-government-global-azure,
 * endpoint table: postgres.database.azure.com, postgres.database.usgovcloudapi.net) and "Azure Private Endpoint DNS
 * configuration" (https://learn.microsoft.com/azure/private-link/private-endpoint-dns, public DNS zone forwarders of
 * each cloud, postgres.database.chinacloudapi.cn for Azure China). Private DNS names of VNet-integrated servers
 * (`<name>.private.postgres.database.azure.com`) are below these too.
 */
export const azurePostgresHostPatterns = ["*.postgres.database.azure.com", "*.postgres.database.usgovcloudapi.net", "*.postgres.database.chinacloudapi.cn"];

/** Throws `UserErrorSecretServerMismatch` unless `host` may receive the app's token; nothing has been requested yet. */
export function assertEntraSignInHost(host: string): void {
  const allowed = [...azurePostgresHostPatterns, ...getConfig().entraSignInHosts];
  if (allowed.some((pattern) => matchesHostPattern(host, pattern))) return;
  throw new PgVaultError(
    "UserErrorSecretServerMismatch",
    `Microsoft Entra sign-in goes only to Azure Database for PostgreSQL hosts (${azurePostgresHostPatterns.join(", ")}) and those listed in ENTRA_SIGN_IN_HOSTS; ${host} is neither, so no token was requested.`,
    {
      recommendedAction:
        "Name the server by its Azure Database for PostgreSQL host (<server>.postgres.database.azure.com, or the sovereign cloud's); " +
        "for a private DNS name of such a server, add it to the app setting ENTRA_SIGN_IN_HOSTS; any other server signs in with a secretRef.",
    },
  );
}

/** The audience Azure Database for PostgreSQL accepts tokens for (the same in every public region). */
export const postgresTokenScope = "https://ossrdbms-aad.database.windows.net/.default";

/** The first lines of what the credential chain said: which credentials it tried and why each failed. No token is in it. */
function chainReport(err: unknown): string {
  const message = ensureError(err).message.replace(/\s+/g, " ").trim();
  return message.length > 600 ? `${message.slice(0, 600)}...` : message;
}

export async function entraCredentials(auth: EntraAuth, host: string): Promise<DatabaseCredentials> {
  assertEntraSignInHost(host);
  let token: { token: string } | null;
  try {
    token = await getAzureCredential().getToken(postgresTokenScope);
  } catch (err) {
    throw new PgVaultError(
      "UserErrorMSIMissingPermissions",
      `No Microsoft Entra token for Azure Database for PostgreSQL (${postgresTokenScope}) could be obtained; DefaultAzureCredential said: ${chainReport(err)}`,
      {
        recommendedAction:
          "Give the Function App a managed identity (set AZURE_CLIENT_ID to the client id of a user-assigned one), or sign in locally (az login), then retry. " +
          "The message lists each credential DefaultAzureCredential tried and why it failed.",
      },
    );
  }
  if (!token?.token) throw new PgVaultError("UserErrorMSIMissingPermissions", `DefaultAzureCredential returned no token for ${postgresTokenScope}.`);
  // Never in the clear, and never to a server that cannot prove its name (a token replays against every server).
  return { user: auth.user, password: token.token, sslMode: "verify-full", signIn: "entra" };
}

/** The `pgaadauth_create_principal` call an admin runs to map `user` to the app's identity. */
export function entraRoleAction(user: string): string {
  const literal = `'${user.replaceAll("'", "''")}'`;
  return (
    `As the server's Microsoft Entra admin, connected to the postgres database, create the role for the app's identity: ` +
    `SELECT * FROM pgaadauth_create_principal(${literal}, false, false); (the role name must be the managed identity's name), ` +
    `then grant it the backup or restore privileges (docs/security.md, "Passwordless sign-in"). Check also that the server allows Microsoft Entra authentication.`
  );
}
