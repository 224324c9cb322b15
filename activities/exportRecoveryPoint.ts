import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { BlobRestoreTarget } from "../shared/domain";
import { undoIfCancelled } from "../shared/jobs/jobCancellation";
import { exportTablesAsCsv } from "../shared/restore/csvExport";
import { exportToContainer, removeExport, type ExportResult } from "../shared/restore/exportToContainer";
import { restorablePoint } from "../shared/restore/restorablePoint";

export interface ExportRecoveryPointInput {
  jobId: string;
  instanceName: string;
  /** The point to export, read from the catalog here. */
  recoveryPointId: string;
  target: BlobRestoreTarget;
}

/** Restore as files: the recovery point's blobs (or, with format "csv", the tables named) and manifest.json into the target container. */
export function exportRecoveryPointActivity(input: ExportRecoveryPointInput): Promise<ActivityOutcome<ExportResult>> {
  return asOutcome(async () => {
    const rp = await restorablePoint(input.instanceName, input.recoveryPointId);
    const result = input.target.format === "csv" ? await exportTablesAsCsv(rp, input.target, input.jobId) : await exportToContainer(rp, input.target, input.jobId);
    await undoIfCancelled(input.jobId, () => removeExport(rp, input.target, input.jobId));
    return result;
  });
}

export const exportRecoveryPointStep = df.app.activity("exportRecoveryPoint", { handler: exportRecoveryPointActivity });
