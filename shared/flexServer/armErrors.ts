/**
 * Maps Azure Resource Manager failures to spec codes (SPEC section 9). ARM error messages are passed on, since
 * they name what is wrong, but with URL query strings cut: a service may echo a SAS URL it was given.
 */
import { ensureError, PgVaultError } from "../errors";
import { documentedLtrCode } from "./ltrErrorCodes";

/** What the app was doing, for the message, and which grant the failed call needs. */
export interface ArmCall {
  what: string;
  /** The role assignment that would allow the call, for a 403. */
  neededRole: string;
}

const networkCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "REQUEST_SEND_ERROR"]);
const credentialErrors = new Set(["CredentialUnavailableError", "AuthenticationError", "AggregateAuthenticationError"]);

/** Cuts the query string off every URL in a text, so no SAS signature survives into a job record or log. */
export function withoutUrlQueries(text: string): string {
  return text.replace(/(https?:\/\/[^\s"'?]+)\?[^\s"']*/g, "$1?<redacted>");
}

interface ArmErrorShape {
  statusCode?: number;
  code?: string;
  details?: { error?: { code?: string; message?: string; details?: { code?: string; message?: string }[] } };
}

/**
 * A documented code decides before the HTTP status: the REST reference (2025-08-01) gives errors only as `default`
 * ErrorResponse, so the status a code comes with is not a contract. Inner codes come first (ARM's `details`).
 */
function documentedArmFailure(shape: ArmErrorShape, call: ArmCall, armMessage: string): PgVaultError | undefined {
  const body = shape.details?.error;
  const inner = (body?.details ?? []).map((detail) => detail.code);
  const known = documentedLtrCode([...inner, body?.code, shape.code]);
  if (!known) return undefined;
  const role = known.code === "UserErrorMSIMissingPermissions" ? `; it needs ${call.neededRole}` : "";
  return new PgVaultError(known.code, `Azure refused ${call.what} (${known.azureCode}): ${armMessage}${role}`, { recommendedAction: known.recommendedAction });
}

export function armFailure(err: unknown, call: ArmCall): PgVaultError {
  if (err instanceof PgVaultError) return err;
  const error = ensureError(err);
  const shape = error as ArmErrorShape;
  const status = shape.statusCode;
  const armCode = shape.details?.error?.code ?? shape.code ?? "";
  const innerMessage = shape.details?.error?.details?.[0]?.message;
  const armMessage = withoutUrlQueries(innerMessage ?? shape.details?.error?.message ?? error.message).split("\n")[0]!.slice(0, 400);
  const documented = documentedArmFailure(shape, call, armMessage);
  if (documented) return documented;
  if (status === 401 || status === 403) {
    return new PgVaultError("UserErrorMSIMissingPermissions", `Azure denied the app's identity ${call.what} (HTTP ${status} ${armCode}); it needs ${call.neededRole}.`);
  }
  if (status === 404) return new PgVaultError("UserErrorFlexServerNotFound", `${call.what}: the server was not found (${armCode || "HTTP 404"}).`);
  if (status === 409) {
    if (/InProgress/i.test(armCode)) {
      return new PgVaultError("UserErrorOperationInProgress", `${call.what}: another long-term-retention backup of the server is running (${armCode}).`);
    }
    return new PgVaultError("UserErrorFlexServerNotReady", `${call.what}: the server is not ready (${armCode}: ${armMessage}).`);
  }
  if (credentialErrors.has(error.name)) {
    return new PgVaultError("UserErrorMSIMissingPermissions", `No Microsoft Entra token could be obtained for ${call.what}: ${error.name}.`);
  }
  const errno = (error as NodeJS.ErrnoException).code ?? "";
  if (status === 429 || status === 408 || (status !== undefined && status >= 500) || (status === undefined && networkCodes.has(errno))) {
    const reason = status ? `HTTP ${status}` : errno;
    return new PgVaultError("SystemErrorUnexpected", `Azure Resource Manager did not answer ${call.what} (${reason}).`, { transient: true });
  }
  const reason = status ? `HTTP ${status} ${armCode}` : error.name;
  return new PgVaultError("SystemErrorUnexpected", `Azure Resource Manager refused ${call.what} (${reason}): ${armMessage}`);
}
