/**
 * Every failure pgvault reports carries one of these codes (SPEC section 9). The table below is the single
 * source of each code's recommended action and whether it is worth retrying; activities, HTTP mapping and
 * docs/troubleshooting.md all read from it.
 */
export const errorCatalog = {
  UserErrorMissingDBPermissions: {
    transient: false,
    recommendedAction:
      "Grant the backup user CONNECT on the database, USAGE on every schema and SELECT on every table and sequence " +
      "(see docs/troubleshooting.md for the grant script), then retry.",
  },
  UserErrorDBUserAuthFailed: {
    transient: false,
    recommendedAction:
      "Check the user name and password in the referenced secret, and that pg_hba.conf allows this user from the backup host.",
  },
  UserErrorDBNotFound: {
    transient: false,
    recommendedAction: "Check the database name on the backup instance; it must exist on the server.",
  },
  UserErrorServerUnreachable: {
    transient: false,
    recommendedAction:
      "Check the host name and port, that the server is running, and that firewall rules allow connections from the backup service.",
  },
  UserErrorInvalidSecret: {
    transient: false,
    recommendedAction:
      "Use a Key Vault secret URI (https://<vault>.vault.azure.net/secrets/<name>[/<version>]) of a vault that KEY_VAULT_HOSTS lists (when it is set), " +
      "or env:PGVAULT_SECRET_<NAME> (only app settings with that prefix may be named); " +
      "for a policy's encryption.keyRef, a Key Vault RSA key URI (https://<vault>.vault.azure.net/keys/<name>[/<version>]) or env:PGVAULT_SECRET_<NAME>.",
  },
  UserErrorSecretNotFound: {
    transient: false,
    recommendedAction:
      "Create the secret (or app setting) that secretRef names, or the key that the policy's encryption.keyRef names, or correct the reference. " +
      "A recovery point needs the exact key version that wrapped its data key: do not delete old key versions while their backups are kept.",
  },
  UserErrorMissingPermissionsOnSecretStore: {
    transient: false,
    recommendedAction:
      "Give the app's managed identity the 'Key Vault Secrets User' role on the vault (or a Get secret access policy); " +
      "for an encryption key, 'Key Vault Crypto Service Encryption User' or 'Key Vault Crypto User' (or Get, Wrap Key and Unwrap Key key permissions).",
  },
  UserErrorSecretValueInUnsupportedFormat: {
    transient: false,
    recommendedAction:
      "Store the credentials as a libpq URI (postgres://user:pass@host:5432/db?sslmode=require) or an " +
      "ADO.NET-style string (Server=...;Database=...;Port=5432;User Id=...;Password=...;Ssl Mode=Require;). " +
      "An env: encryption key holds 32 random bytes in base64 (openssl rand -base64 32).",
  },
  UserErrorPgDumpVersionMismatch: {
    transient: false,
    recommendedAction:
      "Install a pg_dump at least as new as the server (PG_BIN_DIR names where it is), then retry.",
  },
  UserErrorMissingRestorePermissions: {
    transient: false,
    recommendedAction:
      "Grant the restore user CREATEDB on the target server, or make it the owner of the target database. " +
      "A restore drill (verify) restores with the instance's own backup user (a Flexible Server instance's: the user of its drill server, " +
      "`verification`): grant that user CREATEDB.",
  },
  UserErrorDatabaseNameAlreadyInUse: {
    transient: false,
    recommendedAction: "Choose another target database name, or set overwrite to true to replace it.",
  },
  UserErrorRecoveryPointNotFound: {
    transient: false,
    recommendedAction: "List the instance's recovery points and use the id of an Available one.",
  },
  UserErrorRecoveryPointCorrupted: {
    transient: false,
    recommendedAction:
      "The stored backup does not match its checksum, fails decryption, or (in a restore drill) does not restore to what was recorded at backup (its objects, row counts and table digests); " +
      "restore from another recovery point, and take a new backup. " +
      "If it is encrypted and the message names the key, check that the policy's key (and that version of it) is the one that wrapped it.",
  },
  UserErrorOperationInProgress: {
    transient: false,
    recommendedAction:
      "Another job of this instance is running (the message names it; GET /api/jobs?instanceName=<name> lists them): " +
      "wait for it to end, or cancel it (POST /api/jobs/<jobId>/cancel), then retry. A scheduled backup waits for it by itself.",
  },
  UserErrorMSIMissingPermissions: {
    transient: false,
    recommendedAction:
      "Assign the app's managed identity the 'PostgreSQL Flexible Server Long Term Retention Backup Role' role on the server and Reader on its resource group.",
  },
  UserErrorFlexServerNotFound: {
    transient: false,
    recommendedAction: "Check the Flexible Server resource id (subscription, resource group and server name).",
  },
  UserErrorFlexServerNotReady: {
    transient: false,
    recommendedAction: "Wait until the server is in the Ready state, then retry.",
  },
  UserErrorSecretServerMismatch: {
    transient: false,
    recommendedAction:
      "A credential goes only to the server it belongs to: the message names the server the secret names. Leave host and port out of the request " +
      "(the secret's are used) or give exactly those, or name a secret that holds credentials for the server you meant. " +
      "Microsoft Entra sign-in goes only to Azure Database for PostgreSQL hosts and those listed in ENTRA_SIGN_IN_HOSTS, over a verified TLS connection.",
  },
  UserErrorContainerNotAccessible: {
    transient: false,
    recommendedAction:
      "Check the container URL and give the app's identity 'Storage Blob Data Contributor' on the target container.",
  },
  SystemErrorStorageUnavailable: {
    transient: true,
    recommendedAction: "The vault storage was unavailable; the operation was retried. Retry later; if it persists, check the storage account's health.",
  },
  SystemErrorUnexpected: {
    transient: false,
    recommendedAction: "Retry the operation. If it fails again, open a support case with the job id.",
  },
} as const satisfies Record<string, { transient: boolean; recommendedAction: string }>;

export type ErrorCode = keyof typeof errorCatalog;

/** The serialisable error carried by jobs, 422 answers and activity results. */
export interface JobError {
  code: ErrorCode;
  message: string;
  recommendedAction: string;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(errorCatalog, value);
}

/** A failure with a spec error code. Its message names the object at fault and never holds a secret. */
export class PgVaultError extends Error {
  override readonly name = "PgVaultError";
  /** The message without the code prefix, for job records and API answers. */
  readonly detail: string;
  /** Worth retrying: storage 5xx, network resets, throttling. Retries are the orchestrator's job. */
  readonly transient: boolean;
  /** What to do about this failure when the code's catalogued action does not fit the case (Entra sign-in). */
  readonly recommendedAction: string;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { transient?: boolean; cause?: unknown; recommendedAction?: string } = {},
  ) {
    // The code leads the message so it survives any transport that keeps only the text (durable TaskFailed).
    super(`${code}: ${message}`, { cause: options.cause });
    this.detail = message;
    this.transient = options.transient ?? errorCatalog[code].transient;
    this.recommendedAction = options.recommendedAction ?? errorCatalog[code].recommendedAction;
  }

  toJobError(): JobError {
    return { code: this.code, message: this.detail, recommendedAction: this.recommendedAction };
  }
}

/** One field that failed validation, addressed by its JSON path (`schedule.timeZone`). */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** A request the API refuses before doing anything: HTTP 400 `InvalidRequest`. */
export class ValidationError extends Error {
  override readonly name = "ValidationError";
  constructor(readonly issues: ValidationIssue[]) {
    super(issues.map((issue) => `${issue.path}: ${issue.message}`).join("; "));
  }
}

/** A named resource that does not exist: HTTP 404 `NotFound`. */
export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
}

/** A request that conflicts with the current state: HTTP 409 with `code` (and what to do, when there is more to say). */
export class ConflictError extends Error {
  override readonly name = "ConflictError";
  constructor(
    readonly code: "Conflict" | "PolicyInUse" | "UserErrorOperationInProgress",
    message: string,
    readonly recommendedAction?: string,
  ) {
    super(message);
  }
}

/**
 * Request text for an error message: quoted when it is short and plain (a name, a time zone, a path), otherwise only
 * described, so a connection string, SAS URL or password sent in the wrong field is never repeated back. Plain text
 * has none of the characters credentials need (`@ = ; ? & #`, spaces, quotes, escapes).
 */
export function quoted(value: string, otherwise = "the value given"): string {
  return /^[A-Za-z0-9_+\-./:,*~]{1,100}$/.test(value) ? `'${value}'` : otherwise;
}

/**
 * The first `atMost` items of a list for an error message, then how many more. Job errors are stored in the durable
 * history and the job row, so a message never grows with the database (grants, owners, differences per table).
 */
export function someOf(items: readonly string[], atMost: number, separator = "; "): string {
  const more = items.length > atMost ? `${separator}and ${items.length - atMost} more` : "";
  return `${items.slice(0, atMost).join(separator)}${more}`;
}

/** Every `catch` goes through this, so nothing downstream handles a string or `undefined` as an error. */
export function ensureError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === "string" ? err : `Non-error thrown: ${describeThrown(err)}`);
}

/** Text for a thrown non-error; never throws itself (BigInt, cycles and symbols defeat JSON.stringify). */
function describeThrown(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Recovers the spec code from an error that crossed a durable boundary as text. Activities throw
 * `PgVaultError`s whose message starts with the code; anything else is unexpected.
 */
export function jobErrorFromFailure(err: unknown): JobError {
  const error = ensureError(err);
  if (error instanceof PgVaultError) return error.toJobError();
  const match = /\b((?:UserError|SystemError)[A-Za-z]+): ([^\n]*)/.exec(error.message);
  const code = match?.[1];
  if (match && isErrorCode(code)) {
    return { code, message: (match[2] ?? "").trim(), recommendedAction: errorCatalog[code].recommendedAction };
  }
  return {
    code: "SystemErrorUnexpected",
    message: "The operation failed unexpectedly; details are in the function logs.",
    recommendedAction: errorCatalog.SystemErrorUnexpected.recommendedAction,
  };
}
