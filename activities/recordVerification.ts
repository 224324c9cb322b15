import * as df from "durable-functions";
import { changeRecoveryPoint } from "../shared/catalog/catalog";
import type { RecoveryPointVerification } from "../shared/domain";

export interface RecordVerificationInput {
  instanceName: string;
  recoveryPointId: string;
  /** The verdict; whether the point has a contents record (`rowCountsRecorded`) is read from the point itself. */
  verification: Omit<RecoveryPointVerification, "rowCountsRecorded">;
}

/**
 * Writes a drill's verdict on its recovery point (through the catalog's ETag-checked update, so it never undoes a
 * concurrent soft delete or retention claim). A newer verdict already there stays. False when the row is gone.
 */
export async function recordVerificationActivity(input: RecordVerificationInput): Promise<boolean> {
  const stored = await changeRecoveryPoint(input.instanceName, input.recoveryPointId, (rp) => {
    if (rp.verification && rp.verification.verifiedAt > input.verification.verifiedAt) return undefined;
    // A Flexible Server point never has a contents record: its drill counts without comparing.
    const rowCountsRecorded = rp.format === "pg_dump-custom" && rp.contents !== undefined;
    return { ...rp, verification: { ...input.verification, rowCountsRecorded } };
  });
  return stored !== undefined;
}

export const recordVerificationStep = df.app.activity("recordVerification", { handler: recordVerificationActivity });
