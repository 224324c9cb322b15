/** Key Vault failures (secrets and keys alike) in spec terms. Free of SDK imports: errors are matched by shape. */
import { ensureError, PgVaultError } from "../errors";

/** A Key Vault failure in spec terms; `action` is what the identity was doing ("read", "use"), for the message. */
export function keyVaultFailure(err: unknown, what: string, action = "read"): PgVaultError {
  const error = ensureError(err);
  // RestError from any copy of core-rest-pipeline: match by shape, not by class identity.
  const status = (error as { statusCode?: number }).statusCode;
  if (status === 404) return new PgVaultError("UserErrorSecretNotFound", `${what} does not exist.`);
  if (status === 401 || status === 403) {
    return new PgVaultError("UserErrorMissingPermissionsOnSecretStore", `The app's identity may not ${action} ${what} (HTTP ${status}).`);
  }
  if (error.name === "CredentialUnavailableError" || error.name === "AuthenticationError" || error.name === "AggregateAuthenticationError") {
    return new PgVaultError(
      "UserErrorMissingPermissionsOnSecretStore",
      `No Microsoft Entra token could be obtained to ${action} ${what}: ${error.name}.`,
    );
  }
  const errno = (error as NodeJS.ErrnoException).code;
  if (errno === "ENOTFOUND") {
    return new PgVaultError("UserErrorSecretNotFound", `The Key Vault host of ${what} does not resolve; check the vault name.`);
  }
  // Throttling, 5xx and network errors: worth another attempt by the orchestrator's retry policy.
  const reason = status ? `HTTP ${status}` : (error as NodeJS.ErrnoException).code ?? error.name;
  return new PgVaultError("SystemErrorUnexpected", `Key Vault did not answer for ${what} (${reason}).`, { transient: true });
}
