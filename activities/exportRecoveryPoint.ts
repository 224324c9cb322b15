import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { BlobRestoreTarget, RecoveryPoint } from "../shared/domain";
import { undoIfCancelled } from "../shared/jobCancellation";
import { exportToContainer, removeExport, type ExportResult } from "../shared/restore/exportToContainer";

export interface ExportRecoveryPointInput {
  jobId: string;
  recoveryPoint: RecoveryPoint;
  target: BlobRestoreTarget;
}

/** Restore as files: the recovery point's blobs and manifest.json into the target container. */
export function exportRecoveryPointActivity(input: ExportRecoveryPointInput): Promise<ActivityOutcome<ExportResult>> {
  return asOutcome(async () => {
    const result = await exportToContainer(input.recoveryPoint, input.target);
    await undoIfCancelled(input.jobId, () => removeExport(input.recoveryPoint, input.target));
    return result;
  });
}

export const exportRecoveryPointStep = df.app.activity("exportRecoveryPoint", { handler: exportRecoveryPointActivity });
