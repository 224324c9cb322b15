/**
 * Passwordless sign-in to Azure Database for PostgreSQL: the app's Microsoft Entra identity gets an access token
 * for the PostgreSQL resource from `DefaultAzureCredential` (managed identity in Azure; `AZURE_CLIENT_ID` picks a
 * user-assigned one) and uses it as the password, over TLS. A token is fetched for each operation and lives only in
 * that operation's memory: never stored, logged, or passed between activities (history).
 */
import { getAzureCredential } from "../azureCredential";
import type { EntraAuth } from "../domain";
import { ensureError, PgVaultError } from "../errors";
import type { DatabaseCredentials } from "../secrets/credentialsFormat";

/** The audience Azure Database for PostgreSQL accepts tokens for (the same in every public region). */
export const postgresTokenScope = "https://ossrdbms-aad.database.windows.net/.default";

/** The first lines of what the credential chain said: which credentials it tried and why each failed. No token is in it. */
function chainReport(err: unknown): string {
  const message = ensureError(err).message.replace(/\s+/g, " ").trim();
  return message.length > 600 ? `${message.slice(0, 600)}...` : message;
}

export async function entraCredentials(auth: EntraAuth): Promise<DatabaseCredentials> {
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
  // Azure Database for PostgreSQL takes Entra tokens over TLS only; never send one in the clear.
  return { user: auth.user, password: token.token, sslMode: "require", signIn: "entra" };
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
