/**
 * How ARM failures become spec codes (SPEC section 9), with errors shaped as the SDK throws them (a RestError with
 * the parsed ARM error body in `details`; the end-to-end tests get the real ones from the ARM stand-in).
 */
import { describe, expect, test } from "vitest";
import { armFailure, withoutUrlQueries } from "../../shared/flexServer/armErrors";

const call = { what: "starting the backup of Flexible Server 'pg1'", neededRole: "the LTR role on the server" };

function armError(statusCode: number, code: string, message: string): Error {
  return Object.assign(new Error(message), { name: "RestError", statusCode, code, details: { error: { code, message } } });
}

describe("ARM answers", () => {
  test.each([
    [401, "InvalidAuthenticationToken", "UserErrorMSIMissingPermissions", false],
    [403, "AuthorizationFailed", "UserErrorMSIMissingPermissions", false],
    [404, "ResourceNotFound", "UserErrorFlexServerNotFound", false],
    [409, "ServerNotReady", "UserErrorFlexServerNotReady", false],
    [409, "OperationInProgress", "UserErrorOperationInProgress", false],
    [429, "TooManyRequests", "SystemErrorUnexpected", true],
    [500, "InternalServerError", "SystemErrorUnexpected", true],
    [503, "ServiceUnavailable", "SystemErrorUnexpected", true],
    [400, "InvalidParameter", "SystemErrorUnexpected", false],
  ])("when ARM answers %i %s, then the code is %s (transient: %s)", (status, armCode, code, transient) => {
    const failure = armFailure(armError(status, armCode, "The request was refused."), call);
    expect(failure.code).toBe(code);
    expect(failure.transient).toBe(transient);
    expect(failure.detail).toContain("Flexible Server 'pg1'");
  });

  test("when access is denied, then the message names the role that is missing", () => {
    expect(armFailure(armError(403, "AuthorizationFailed", "no"), call).detail).toContain("needs the LTR role on the server");
  });

  test("when ARM's message echoes a SAS URL, then the signature is cut from the job's message", () => {
    const sas = "https://vault.blob.core.windows.net/ltr-1?sv=2025-01-05&sp=cwl&sig=AbCd%2Bsecret%3D";
    const failure = armFailure(armError(400, "InvalidParameter", `The SAS URI '${sas}' cannot be reached.`), call);
    expect(failure.detail).toContain("https://vault.blob.core.windows.net/ltr-1?<redacted>");
    expect(JSON.stringify(failure.toJobError())).not.toMatch(/sig=|sv=|secret/);
  });
});

/** ARM's error body as Microsoft's troubleshooting page names them: an outer code with the inner code in `details`. */
function flexUserError(statusCode: number, inner: string, outer = "PostgreSQLFlexOperationFailedUserError"): Error {
  const message = `The operation failed: ${inner}.`;
  return Object.assign(new Error(message), {
    name: "RestError",
    statusCode,
    code: outer,
    details: { error: { code: outer, message, details: [{ code: inner, message }] } },
  });
}

describe("codes Microsoft documents (backup-azure-database-postgresql-flex-troubleshoot.md)", () => {
  test.each([
    ["ServerNotReadyForLongTermBackup", 400, "PostgreSQLFlexOperationFailedUserError", "UserErrorFlexServerNotReady", /state.*Ready/],
    ["ResourceGroupNotFound", 404, "PostgreSQLFlexOperationFailedUserError", "UserErrorFlexServerNotFound", /Stop protection/],
    ["ResourceNotFound", 404, "PostgreSQLFlexOperationFailedUserError", "UserErrorFlexServerNotFound", /Stop protection/],
    ["AuthorizationFailed", 403, "PostgreSQLFlexOperationFailedUserError", "UserErrorMSIMissingPermissions", /Long Term Retention Backup Role/],
    ["UserErrorMaxConcurrentOperationLimitReached", 409, "UserErrorMaxConcurrentOperationLimitReached", "UserErrorOperationInProgress", /once a week/],
  ])("when Azure answers inner code %s (HTTP %i), then the code is %s with the documented action", (inner, status, outer, code, action) => {
    const failure = armFailure(flexUserError(status, inner, outer), call);
    expect(failure.code).toBe(code);
    expect(failure.transient).toBe(false);
    expect(failure.detail).toContain(inner);
    expect(failure.recommendedAction).toMatch(action);
  });

  test("when a documented code comes with an unexpected status, then the code still decides (the REST reference gives no status)", () => {
    expect(armFailure(flexUserError(500, "ServerNotReadyForLongTermBackup"), call).code).toBe("UserErrorFlexServerNotReady");
  });
});

describe("failures without an answer", () => {
  test("when the connection is reset, then it is transient", () => {
    const failure = armFailure(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), call);
    expect(failure).toMatchObject({ code: "SystemErrorUnexpected", transient: true });
  });

  test("when no Entra token can be had, then the identity is what to fix", () => {
    const failure = armFailure(Object.assign(new Error("ManagedIdentityCredential: no endpoint"), { name: "CredentialUnavailableError" }), call);
    expect(failure.code).toBe("UserErrorMSIMissingPermissions");
  });
});

test("every URL in a text loses its query, and text without URLs is kept", () => {
  expect(withoutUrlQueries("a http://h/p?x=1 b https://h2:8/q?sig=2&y 'https://h3/r?z'")).toBe("a http://h/p?<redacted> b https://h2:8/q?<redacted> 'https://h3/r?<redacted>'");
  expect(withoutUrlQueries("no urls here?x=1")).toBe("no urls here?x=1");
});
