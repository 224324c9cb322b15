/** Maps vault storage (blob and table) failures to spec codes: 5xx, throttling and network errors are transient. */
import { ensureError, PgVaultError } from "./errors";

/** Network failures of the client's socket: the storage (or the way to it) is down or cut, not refusing the request. */
const networkCodes = new Set([
  "ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "ETIMEDOUT", "ESOCKETTIMEDOUT", "EPIPE", "EHOSTUNREACH", "EHOSTDOWN",
  "ENETUNREACH", "ENETDOWN", "ENOTFOUND", "EAI_AGAIN", "REQUEST_SEND_ERROR",
]);

export function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

export function isTransientStorageError(err: unknown): boolean {
  const status = statusOf(err);
  if (status !== undefined) return status >= 500 || status === 408 || status === 429;
  return networkCodes.has((err as { code?: string }).code ?? "");
}

export function storageFailure(err: unknown, what: string): PgVaultError {
  if (err instanceof PgVaultError) return err;
  const error = ensureError(err);
  const status = statusOf(error);
  const reason = status ? `HTTP ${status}` : ((error as { code?: string }).code ?? error.name);
  if (isTransientStorageError(error)) {
    return new PgVaultError("SystemErrorStorageUnavailable", `Vault storage was unavailable while ${what} (${reason}).`, { transient: true });
  }
  return new PgVaultError("SystemErrorUnexpected", `Vault storage refused ${what} (${reason}).`);
}
