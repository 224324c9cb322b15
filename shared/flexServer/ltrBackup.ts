/**
 * Starting and following one long-term-retention backup of a Flexible Server. The operation is addressed by its
 * backup name, which the orchestration derives from the recovery point id: a retried start finds the operation
 * it already started instead of starting a second one, and the status is read from the operation resource
 * (`ltrBackupOperations/{backupName}`), so nothing but the name has to survive between polls.
 */
import type { BackupsLongTermRetentionOperation } from "@azure/arm-postgresql-flexible";
import type { LtrBackupDetails } from "../domain";
import { PgVaultError } from "../errors";
import { flexServerClient } from "./armClient";
import { armFailure, withoutUrlQueries } from "./armErrors";
import { documentedLtrCode, documentedLtrCodes, flexOperationFailedCode } from "./ltrErrorCodes";
import { ltrRole, readFlexServer } from "./serverAccess";
import { parseResourceId } from "./resourceId";
import { isoSeconds } from "../time/isoTime";

export type LtrStatus =
  | { status: "Running"; percentComplete: number; bytes: number }
  | { status: "Succeeded"; details: LtrBackupDetails };

function describe(resourceId: string, backupName: string): string {
  return `long-term-retention backup '${backupName}' of Flexible Server '${parseResourceId(resourceId).serverName}'`;
}

async function findOperation(resourceId: string, backupName: string): Promise<BackupsLongTermRetentionOperation | undefined> {
  const { subscriptionId, resourceGroup, serverName } = parseResourceId(resourceId);
  try {
    return await flexServerClient(subscriptionId).backupsLongTermRetention.get(resourceGroup, serverName, backupName);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw armFailure(err, { what: `reading the ${describe(resourceId, backupName)}`, neededRole: ltrRole });
  }
}

/**
 * Starts the backup into the given containers unless an earlier attempt already did. `sasUrls` go to ARM in the
 * request body only; they are never returned, logged or put in an error.
 */
export async function startLtrBackup(resourceId: string, backupName: string, sasUrls: readonly string[]): Promise<"started" | "alreadyStarted"> {
  if (await findOperation(resourceId, backupName)) return "alreadyStarted";
  const { subscriptionId, resourceGroup, serverName } = parseResourceId(resourceId);
  try {
    // beginStart sends the start and reads the operation's status once; later polls read the operation resource.
    await flexServerClient(subscriptionId).backupsLongTermRetention.beginStart(resourceGroup, serverName, {
      backupSettings: { backupName },
      targetDetails: { sasUriList: [...sasUrls] },
    });
    return "started";
  } catch (err) {
    // A start that was accepted, then lost its answer (or its first status read), is still a start.
    if (await findOperation(resourceId, backupName).catch(() => undefined)) return "alreadyStarted";
    // No operation to read: when the server or its group is gone, that is the failure, whatever the start said (an
    // operation that failed at its first status read surfaces as core-lro's plain Error, without ARM's code).
    await readFlexServer(resourceId);
    throw armFailure(err, { what: `starting the ${describe(resourceId, backupName)}`, neededRole: ltrRole });
  }
}


/**
 * How long after the start a 404 on the operation resource means "not visible yet" rather than "gone". The REST
 * reference does not say when `ltrBackupOperations/{name}` appears; ARM resources created by an asynchronous start
 * are commonly eventually consistent for seconds to minutes, so a few minutes are allowed (docs/platform-facts.md).
 */
export const operationVisibleWithinMs = 5 * 60_000;

/**
 * Where the backup is now; `startedAt` (when the start was accepted; left out once the backup is known to exist)
 * allows the first minutes of 404. A failed or cancelled operation is an error
 * with the server's own reason, a documented code mapped as the troubleshooting page says (ltrErrorCodes.ts).
 */
export async function ltrBackupStatus(resourceId: string, backupName: string, startedAt?: Date): Promise<LtrStatus> {
  const operation = await findOperation(resourceId, backupName);
  if (!operation) {
    // The operation is a child of the server: a deleted server or resource group 404s it too (ResourceNotFound,
    // ResourceGroupNotFound, or ARM's ParentResourceNotFound), which no waiting mends. Reading the server says which.
    await readFlexServer(resourceId);
    if (startedAt && Date.now() - startedAt.getTime() < operationVisibleWithinMs) return { status: "Running", percentComplete: 0, bytes: 0 };
    throw new PgVaultError("SystemErrorUnexpected", `The ${describe(resourceId, backupName)} is no longer known to Azure.`);
  }
  switch (operation.status) {
    case "Succeeded":
      return {
        status: "Succeeded",
        details: {
          backupName,
          datasourceSizeInBytes: operation.datasourceSizeInBytes ?? 0,
          dataTransferredInBytes: operation.dataTransferredInBytes ?? 0,
          ...(operation.backupMetadata ? { backupMetadata: operation.backupMetadata } : {}),
          startTime: isoSeconds(operation.startTime ?? new Date()),
          endTime: isoSeconds(operation.endTime ?? new Date()),
        },
      };
    case "Failed":
    case "Cancelled":
      throw endedFailure(describe(resourceId, backupName), operation);
    default:
      return { status: "Running", percentComplete: operation.percentComplete ?? 0, bytes: operation.dataTransferredInBytes ?? 0 };
  }
}

/** `Cancelled` is one of the operation's documented statuses (ExecutionStatus in the 2025-08-01 spec) without a documented cause. */
const cancelledAction =
  "The server's backup was cancelled on Azure's side (ExecutionStatus 'Cancelled'), not by pgvault; nothing was kept. " +
  "The next scheduled backup tries again; start one on demand if this week's point is needed.";

/**
 * The operation resource has `errorCode` and `errorMessage` only, no `details`: when `errorCode` is the outer
 * PostgreSQLFlexOperationFailedUserError, the inner code the troubleshooting page pairs with it can only be named in
 * the message. Read there for that outer code only, so an unrelated code's message cannot be misread.
 */
function innerCodesOf(operation: BackupsLongTermRetentionOperation): string[] {
  const message = operation.errorMessage;
  if (operation.errorCode !== flexOperationFailedCode || !message) return [];
  return Object.keys(documentedLtrCodes)
    .map((code) => ({ code, at: message.search(new RegExp(`\\b${code}\\b`)) }))
    .filter((named) => named.at >= 0)
    .sort((a, b) => a.at - b.at)
    .map((named) => named.code);
}

function endedFailure(what: string, operation: BackupsLongTermRetentionOperation): PgVaultError {
  const reason = withoutUrlQueries([operation.errorCode, operation.errorMessage].filter(Boolean).join(": ") || "no reason given").slice(0, 400);
  const message = `The ${what} ended ${operation.status}: ${reason}`;
  const known = documentedLtrCode([operation.errorCode, ...innerCodesOf(operation)]);
  if (known) return new PgVaultError(known.code, message, { recommendedAction: known.recommendedAction });
  return new PgVaultError("SystemErrorUnexpected", message, operation.status === "Cancelled" ? { recommendedAction: cancelledAction } : {});
}
