/**
 * A recovery point is recorded in two writes of its row, so that the row itself says whether the point is complete
 * (docs/architecture.md, "Recovery points, cancel and retention"):
 *
 * 1. `beginRecording` creates the row marked `recording: { jobId }`, never overwriting a row that exists (a copy of
 *    the step that ran before, or at the same time, may have completed it).
 * 2. The step looks at the job's cancel flag once more; then `completeRecording` removes the mark under the row's
 *    etag. From then on the point is recorded complete, whatever the job row says, and nothing but retention
 *    (expiry, or a purge after a soft delete) ever deletes it.
 *
 * A cancel's cleanup (`removeUnrecordedPoint`) removes only a row still marked, under its etag. The step's second
 * write and the cleanup's delete are both conditional on the row as they read it, so exactly one of them wins:
 * the point is complete and kept, or removed and the step fails as cancelled.
 */
import { changeRecoveryPoint, insertRecoveryPoint, removeRecoveryPoint } from "../catalog/catalog";
import { getRecoveryPoint } from "../catalog/recoveryPointReads";
import { isRecorded, type RecoveryPoint } from "../domain";

/** The row as the first write leaves it; `undefined` if a row found was removed meanwhile (by a cancel). */
export function beginRecording(rp: RecoveryPoint, jobId: string): Promise<RecoveryPoint | undefined> {
  return insertRecoveryPoint({ ...rp, recording: { jobId } });
}

/** The second write: the point as recorded complete; `undefined` when its row is gone (a cancel's cleanup came first). */
export function completeRecording(instanceName: string, id: string): Promise<RecoveryPoint | undefined> {
  return changeRecoveryPoint(instanceName, id, (rp) => {
    if (isRecorded(rp)) return undefined;
    const { recording: _recording, ...complete } = rp;
    return complete;
  });
}

/** Removes the row only while the point is not recorded complete; returns the point when it is (and stays). */
export function removeUnrecordedPoint(instanceName: string, id: string): Promise<RecoveryPoint | undefined> {
  return removeRecoveryPoint(instanceName, id, (rp) => !isRecorded(rp));
}

/**
 * Removes a cancelled backup's point the only safe way: its row first, and only while not recorded complete; then
 * its data (`removeData`). Returns the point, untouched, when it was recorded complete: then its data stays.
 */
export async function removeUnlessRecorded(instanceName: string, id: string, removeData: () => Promise<unknown>): Promise<RecoveryPoint | undefined> {
  const recorded = await removeUnrecordedPoint(instanceName, id);
  if (recorded) return recorded;
  await removeData();
  return undefined;
}

/** Whether the point's row says it is recorded complete: then no step's undo after a cancel may remove its data. */
export async function isRecordedPoint(instanceName: string, id: string): Promise<boolean> {
  const rp = await getRecoveryPoint(instanceName, id);
  return rp !== undefined && isRecorded(rp);
}
