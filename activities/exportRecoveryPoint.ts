import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { BlobRestoreTarget, RecoveryPoint } from "../shared/domain";
import { exportToContainer, type ExportResult } from "../shared/restore/exportToContainer";

export interface ExportRecoveryPointInput {
  recoveryPoint: RecoveryPoint;
  target: BlobRestoreTarget;
}

/** Restore as files: the recovery point's blobs and manifest.json into the target container. */
export function exportRecoveryPointActivity(input: ExportRecoveryPointInput): Promise<ActivityOutcome<ExportResult>> {
  return asOutcome(() => exportToContainer(input.recoveryPoint, input.target));
}

export const exportRecoveryPointStep = df.app.activity("exportRecoveryPoint", { handler: exportRecoveryPointActivity });
