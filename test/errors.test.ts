/**
 * Error codes (SPEC section 9): the catalog has every code with a recommended action, PgVaultError carries one,
 * and a failure that crossed a durable boundary as text gets its code back, or SystemErrorUnexpected without the
 * foreign message.
 */
import { TaskFailedError, type FailureDetails } from "durable-functions";
import { describe, expect, test } from "vitest";
import {
  ensureError,
  errorCatalog,
  isErrorCode,
  jobErrorFromFailure,
  PgVaultError,
  ValidationError,
  type ErrorCode,
  type JobError,
} from "../shared/errors";

/** The codes SPEC section 9 lists, in its order. */
const specCodes = [
  "UserErrorMissingDBPermissions",
  "UserErrorDBUserAuthFailed",
  "UserErrorDBNotFound",
  "UserErrorServerUnreachable",
  "UserErrorInvalidSecret",
  "UserErrorSecretNotFound",
  "UserErrorMissingPermissionsOnSecretStore",
  "UserErrorSecretValueInUnsupportedFormat",
  "UserErrorPgDumpVersionMismatch",
  "UserErrorMissingRestorePermissions",
  "UserErrorDatabaseNameAlreadyInUse",
  "UserErrorRecoveryPointNotFound",
  "UserErrorRecoveryPointCorrupted",
  "UserErrorOperationInProgress",
  "UserErrorMSIMissingPermissions",
  "UserErrorFlexServerNotFound",
  "UserErrorFlexServerNotReady",
  "UserErrorContainerNotAccessible",
  "UserErrorSecretServerMismatch",
  "SystemErrorStorageUnavailable",
  "SystemErrorUnexpected",
] as const satisfies readonly ErrorCode[];

const allCodes = Object.keys(errorCatalog) as ErrorCode[];

const unexpected: JobError = {
  code: "SystemErrorUnexpected",
  message: "The operation failed unexpectedly; details are in the function logs.",
  recommendedAction: errorCatalog.SystemErrorUnexpected.recommendedAction,
};

function failureDetails(errorType: string, errorMessage: string, stackTrace?: string): FailureDetails {
  return { errorType, errorMessage, stackTrace, isNonRetriable: false, isCausedBy: (type) => type === errorType };
}

describe("the error catalog", () => {
  test("when compared with SPEC section 9, then it has exactly the spec's codes", () => {
    expect([...allCodes].sort()).toEqual([...specCodes].sort());
  });

  test.each(allCodes)("when %s is looked up, then it has a recommended action that is a full sentence", (code) => {
    const action = errorCatalog[code].recommendedAction;
    expect(action.trim().length).toBeGreaterThan(20);
    expect(action).toBe(action.trim());
    expect(action.endsWith(".")).toBe(true);
  });

  test("when codes are checked for transience, then only SystemErrorStorageUnavailable is transient", () => {
    expect(allCodes.filter((code) => errorCatalog[code].transient)).toEqual(["SystemErrorStorageUnavailable"]);
  });

  test.each([["toString"], ["constructor"], ["__proto__"], ["hasOwnProperty"], ["userErrorDBNotFound"], [""], [42], [undefined]])(
    "when %j is checked, then it is not an error code",
    (value) => {
      expect(isErrorCode(value)).toBe(false);
    },
  );

  test.each(specCodes)("when %s is checked, then it is an error code", (code) => {
    expect(isErrorCode(code)).toBe(true);
  });
});

describe("PgVaultError", () => {
  test("when it is created, then its message leads with the code and its detail is the bare message", () => {
    const cause = new Error("pg: database \"sales\" does not exist");
    const error = new PgVaultError("UserErrorDBNotFound", "Database 'sales' does not exist on pg.example.com:5432.", { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("PgVaultError");
    expect(error.code).toBe("UserErrorDBNotFound");
    expect(error.message).toBe("UserErrorDBNotFound: Database 'sales' does not exist on pg.example.com:5432.");
    expect(error.detail).toBe("Database 'sales' does not exist on pg.example.com:5432.");
    expect(error.cause).toBe(cause);
  });

  test.each(allCodes)("when a %s error is created without an override, then transient follows the catalog", (code) => {
    expect(new PgVaultError(code, "x").transient).toBe(errorCatalog[code].transient);
  });

  test("when transient is overridden, then the override wins either way", () => {
    expect(new PgVaultError("UserErrorServerUnreachable", "x", { transient: true }).transient).toBe(true);
    expect(new PgVaultError("SystemErrorStorageUnavailable", "x", { transient: false }).transient).toBe(false);
  });

  test("when it becomes a job error, then it carries the code, the bare detail and the catalog's action", () => {
    expect(new PgVaultError("UserErrorSecretNotFound", "App setting 'PG_SALES' is not set.").toJobError()).toEqual({
      code: "UserErrorSecretNotFound",
      message: "App setting 'PG_SALES' is not set.",
      recommendedAction: errorCatalog.UserErrorSecretNotFound.recommendedAction,
    });
  });
});

describe("jobErrorFromFailure", () => {
  const detail = "Database 'sales' does not exist on pg.example.com:5432.";
  const expected: JobError = {
    code: "UserErrorDBNotFound",
    message: detail,
    recommendedAction: errorCatalog.UserErrorDBNotFound.recommendedAction,
  };

  test("when the failure is a PgVaultError, then its own job error is returned", () => {
    expect(jobErrorFromFailure(new PgVaultError("UserErrorDBNotFound", detail))).toEqual(expected);
  });

  test("when a durable TaskFailed message holds the code, detail and a stack, then the code and first line are recovered", () => {
    const message = `UserErrorDBNotFound: ${detail}\n    at checkBackupAccess (/home/site/wwwroot/dist/shared/postgres/backupAccess.js:41:15)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)`;
    expect(jobErrorFromFailure(new Error(message))).toEqual(expected);
  });

  test("when a TaskFailedError-like message is prefixed with the error type, then the code is recovered", () => {
    expect(jobErrorFromFailure(new Error(`PgVaultError: UserErrorDBNotFound: ${detail}`))).toEqual(expected);
  });

  test("when a real durable-functions TaskFailedError wraps the activity's PgVaultError, then the code is recovered", () => {
    const failure = new TaskFailedError(failureDetails("PgVaultError", `UserErrorDBNotFound: ${detail}`, "PgVaultError: ...\n    at x"));
    expect(failure.message).toBe(`PgVaultError: UserErrorDBNotFound: ${detail}`);
    expect(jobErrorFromFailure(failure)).toEqual(expected);
  });

  test("when the host wrapped the text in its own sentence, then the code is still recovered", () => {
    const message = `Activity function 'checkBackupAccess' failed: UserErrorMissingDBPermissions: User 'backup' lacks SELECT on public.orders.\r\n   at ...`;
    expect(jobErrorFromFailure(new Error(message))).toEqual({
      code: "UserErrorMissingDBPermissions",
      message: "User 'backup' lacks SELECT on public.orders.",
      recommendedAction: errorCatalog.UserErrorMissingDBPermissions.recommendedAction,
    });
  });

  test("when a string holding the code was thrown, then the code is recovered", () => {
    expect(jobErrorFromFailure("SystemErrorStorageUnavailable: The vault returned 503.")).toEqual({
      code: "SystemErrorStorageUnavailable",
      message: "The vault returned 503.",
      recommendedAction: errorCatalog.SystemErrorStorageUnavailable.recommendedAction,
    });
  });

  test.each([
    ["a driver error holding a password", new Error('password authentication failed for user "admin" (password=hunter2)')],
    ["a code-like name not in the catalog", new Error("UserErrorMadeUp: secret=hunter2")],
    ["a code glued to another word", new Error("NotAUserErrorDBNotFound: secret=hunter2")],
    ["a code without the colon", new Error("UserErrorDBNotFound secret=hunter2")],
    ["a lower-case code", new Error("usererrordbnotfound: secret=hunter2")],
    ["a thrown object", { password: "hunter2" }],
    ["a thrown string", "connect ECONNREFUSED (secret=hunter2)"],
    ["undefined", undefined],
    ["null", null],
  ])("when the failure is %s, then it is SystemErrorUnexpected and the foreign text is not passed on", (_case, failure) => {
    const jobError = jobErrorFromFailure(failure);
    expect(jobError).toEqual(unexpected);
    expect(JSON.stringify(jobError)).not.toContain("hunter2");
  });

  test.each([
    ["a BigInt", 10n],
    ["an object with a cycle", (() => {
      const node: Record<string, unknown> = { password: "hunter2" };
      node.self = node;
      return node;
    })()],
  ])("when the failure is %s (JSON.stringify throws on it), then it is still SystemErrorUnexpected", (_case, failure) => {
    expect(jobErrorFromFailure(failure)).toEqual(unexpected);
  });

  test("when a ValidationError crosses the boundary, then it is unexpected (it has no job code)", () => {
    expect(jobErrorFromFailure(new ValidationError([{ path: "x", message: "bad" }]))).toEqual(unexpected);
  });
});

describe("ensureError", () => {
  test("when an Error is thrown, then the same object comes back", () => {
    const error = new RangeError("r");
    expect(ensureError(error)).toBe(error);
  });

  test("when a string is thrown, then it becomes the message", () => {
    expect(ensureError("boom").message).toBe("boom");
  });

  test.each<[string, unknown, string]>([
    ["an object", { a: 1 }, 'Non-error thrown: {"a":1}'],
    ["undefined", undefined, "Non-error thrown: undefined"],
    ["a number", 7, "Non-error thrown: 7"],
    ["a symbol", Symbol("s"), "Non-error thrown: Symbol(s)"],
    ["a BigInt", 10n, "Non-error thrown: [object BigInt]"],
  ])("when %s is thrown, then an Error describing it comes back without throwing", (_case, value, message) => {
    const error = ensureError(value);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe(message);
  });

  test("when an object with a cycle is thrown, then an Error comes back instead of a TypeError from JSON", () => {
    const node: Record<string, unknown> = {};
    node.self = node;
    expect(ensureError(node).message).toBe("Non-error thrown: [object Object]");
  });
});
