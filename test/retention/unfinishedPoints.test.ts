/**
 * A recovery point whose backup job has not finished recording it (its row still says `recording`) is not yet a
 * recovery point to retention: it is never the newest point an instance keeps, so the keep-newest rule never
 * protects it at the expense of a real one, and it is never deleted by expiry either (its job decides).
 */
import { describe, expect, test } from "vitest";
import { putRecoveryPoint } from "../../shared/catalog/catalog";
import { applyRetention } from "../../shared/retention/instanceRetention";
import { blobExists, farFuture, instanceName, instanceWithState, rowStatus, storedRecoveryPoint } from "../support/retentionFixture";

const now = farFuture();

describe("retention of an instance whose newest point is still being recorded", () => {
  test("when the only other point expired, then it is kept as the newest recorded point, and the unfinished one is left alone; once that one is recorded, the expired one goes", async () => {
    const name = instanceName("unfinished");
    await instanceWithState(name);
    const recorded = await storedRecoveryPoint(name, now, 35, -5);
    const unfinished = await storedRecoveryPoint(name, now, 0, 30, { recordingJob: "backup-still-recording" });

    expect(await applyRetention(name, now)).toEqual({ deleted: [], kept: [], failed: [] });
    expect([await rowStatus(recorded), await blobExists(recorded.blobs[0]!)]).toEqual(["Available", true]);
    expect([await rowStatus(unfinished), await blobExists(unfinished.blobs[0]!)]).toEqual(["Available", true]);

    const { recording: _recording, ...complete } = unfinished;
    await putRecoveryPoint(complete);
    expect(await applyRetention(name, now)).toEqual({ deleted: [recorded.id], kept: [], failed: [] });
  });

  test("when an unfinished point is itself past its expiry, then retention does not delete it", async () => {
    const name = instanceName("unfinished-exp");
    await instanceWithState(name);
    await storedRecoveryPoint(name, now, 1, 29);
    const unfinished = await storedRecoveryPoint(name, now, 40, -10, { recordingJob: "backup-long-gone" });

    expect(await applyRetention(name, now)).toEqual({ deleted: [], kept: [], failed: [] });
    expect([await rowStatus(unfinished), await blobExists(unfinished.blobs[0]!)]).toEqual(["Available", true]);
  });
});
