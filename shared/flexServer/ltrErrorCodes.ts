/**
 * The failure codes Microsoft documents for Flexible Server long-term-retention backups, each mapped to the spec
 * code (SPEC section 9) and the action that fixes it. Source: MicrosoftDocs/azure-docs
 * `articles/backup/backup-azure-database-postgresql-flex-troubleshoot.md` ("Common errors for the backup and restore
 * operations"): outer code `PostgreSQLFlexOperationFailedUserError` with the inner codes below, and
 * `UserErrorMaxConcurrentOperationLimitReached` as its own outer and inner code. The one-backup-a-week rule behind
 * the concurrency limit is in `backup-azure-database-postgresql-flex-support-matrix.md` ("Limitation").
 */
import type { ErrorCode } from "../errors";

export interface DocumentedLtrCode {
  code: ErrorCode;
  recommendedAction: string;
}

const missingPermissions: DocumentedLtrCode = {
  code: "UserErrorMSIMissingPermissions",
  recommendedAction:
    "Assign the app's managed identity the 'PostgreSQL Flexible Server Long Term Retention Backup Role' role on the server and Reader on its resource group, then retry.",
};

/** Keys are Azure's codes as they appear in an ARM error body or an operation's `errorCode`. */
export const documentedLtrCodes: Readonly<Record<string, DocumentedLtrCode>> = {
  ServerNotReadyForLongTermBackup: {
    code: "UserErrorFlexServerNotReady",
    recommendedAction:
      "The server's resource JSON must show \"state\": \"Ready\" (a stopped, starting, updating or scaling server cannot be backed up). " +
      "Wait for the state to change, or fix the server, then retry the backup.",
  },
  ResourceGroupNotFound: {
    code: "UserErrorFlexServerNotFound",
    recommendedAction:
      "The server's resource group no longer exists (it may have been deleted). Stop protection of this instance, or correct its resource id.",
  },
  ResourceNotFound: {
    code: "UserErrorFlexServerNotFound",
    recommendedAction: "The server no longer exists (it may have been deleted). Stop protection of this instance, or correct its resource id.",
  },
  AuthorizationFailed: missingPermissions,
  UserErrorMSIMissingPermissions: missingPermissions,
  UserErrorMaxConcurrentOperationLimitReached: {
    code: "UserErrorOperationInProgress",
    recommendedAction:
      "Azure runs one long-term-retention backup per server per week; later ones that week fail. Retry after the current backup finished, " +
      "and schedule the policy at most once a week.",
  },
};

/** The outer code every documented inner code comes wrapped in. */
export const flexOperationFailedCode = "PostgreSQLFlexOperationFailedUserError";

/** The first of `codes` (inner before outer) that Microsoft documents, or undefined. */
export function documentedLtrCode(codes: readonly (string | undefined)[]): (DocumentedLtrCode & { azureCode: string }) | undefined {
  for (const azureCode of codes) {
    if (azureCode === undefined || !Object.hasOwn(documentedLtrCodes, azureCode)) continue;
    const known = documentedLtrCodes[azureCode];
    if (known) return { ...known, azureCode };
  }
  return undefined;
}
