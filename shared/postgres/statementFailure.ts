/**
 * A statement that failed on a server, in spec terms: a lost connection is `UserErrorServerUnreachable` (worth
 * retrying), anything else `SystemErrorUnexpected` with what was being done and the server's words (which name
 * objects, never a password).
 */
import { ensureError, PgVaultError } from "../errors";

export function statementFailure(err: unknown, doing: string): PgVaultError {
  if (err instanceof PgVaultError) return err;
  const error = ensureError(err);
  const code = (error as { code?: string }).code ?? "";
  // node-pg's own errors (a closed socket) carry no SQLSTATE.
  if (code === "" || code.startsWith("08") || code.startsWith("57P")) {
    return new PgVaultError("UserErrorServerUnreachable", `Lost the server while ${doing} (${code || error.message}).`, { transient: true });
  }
  return new PgVaultError("SystemErrorUnexpected", `${doing[0]!.toUpperCase()}${doing.slice(1)} failed: ${error.message} (${code}).`);
}
