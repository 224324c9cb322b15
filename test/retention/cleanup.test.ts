/**
 * Retention cleanup against real Azurite blob and table storage: blobs first, then the row is marked Deleted; a
 * crash in between is repaired by the next run; one recovery point that cannot be deleted does not stop the others.
 */
import { describe, expect, test } from "vitest";
import { putRecoveryPoint } from "../../shared/catalog/catalog";
import { deleteRecoveryPoints } from "../../shared/retention/cleanup";
import { applyRetention } from "../../shared/retention/instanceRetention";
import { blobExists, farFuture, instanceName, instanceWithState, rowStatus, storedRecoveryPoint, vaultBlob } from "../support/retentionFixture";

const now = farFuture();

describe("retention of one instance", () => {
  test("when points of a protected instance expired, then their blobs are deleted and their rows marked Deleted, and the unexpired ones stay", async () => {
    const name = instanceName("ret");
    await instanceWithState(name);
    const fresh = await storedRecoveryPoint(name, now, 1, 29);
    const expired = [await storedRecoveryPoint(name, now, 31, -1), await storedRecoveryPoint(name, now, 40, -10)];

    const report = await applyRetention(name, now);

    expect(report).toEqual({ deleted: expired.map((rp) => rp.id), kept: [], failed: [] });
    for (const rp of expired) {
      expect(await blobExists(rp.blobs[0]!)).toBe(false);
      expect(await rowStatus(rp)).toBe("Deleted");
    }
    expect(await blobExists(fresh.blobs[0]!)).toBe(true);
    expect(await rowStatus(fresh)).toBe("Available");
  });

  test("when every point of a protected instance expired, then the newest is kept with its blob", async () => {
    const name = instanceName("ret");
    await instanceWithState(name);
    const newest = await storedRecoveryPoint(name, now, 35, -5);
    const older = await storedRecoveryPoint(name, now, 36, -6);

    expect(await applyRetention(name, now)).toEqual({ deleted: [older.id], kept: [], failed: [] });
    expect(await rowStatus(newest)).toBe("Available");
    expect(await blobExists(newest.blobs[0]!)).toBe(true);
  });

  test("when protection is stopped, then the newest expired point is deleted too", async () => {
    const name = instanceName("ret");
    await instanceWithState(name, "ProtectionStopped");
    const newest = await storedRecoveryPoint(name, now, 35, -5);

    expect(await applyRetention(name, now)).toEqual({ deleted: [newest.id], kept: [], failed: [] });
    expect(await blobExists(newest.blobs[0]!)).toBe(false);
  });

  test("when a run crashed after deleting a blob but before marking its row, then the next run marks the row Deleted", async () => {
    const name = instanceName("ret");
    await instanceWithState(name);
    await storedRecoveryPoint(name, now, 1, 29);
    const halfDone = await storedRecoveryPoint(name, now, 31, -1);
    await vaultBlob(halfDone.blobs[0]!).delete();
    expect(await rowStatus(halfDone)).toBe("Available");

    expect(await applyRetention(name, now)).toEqual({ deleted: [halfDone.id], kept: [], failed: [] });
    expect(await rowStatus(halfDone)).toBe("Deleted");
  });

  test("when SoftDeleted points are long expired, then retention leaves them and their blobs alone", async () => {
    const name = instanceName("ret");
    await instanceWithState(name);
    await storedRecoveryPoint(name, now, 1, 29);
    const softDeleted = await storedRecoveryPoint(name, now, 100, -70, { status: "SoftDeleted" });

    expect(await applyRetention(name, now)).toEqual({ deleted: [], kept: [], failed: [] });
    expect(await rowStatus(softDeleted)).toBe("SoftDeleted");
    expect(await blobExists(softDeleted.blobs[0]!)).toBe(true);
  });
});

describe("failures", () => {
  test("when one point's blob is leased (the delete is refused), then the others are deleted, it is reported, and a later run deletes it", async () => {
    const name = instanceName("ret");
    await instanceWithState(name);
    await storedRecoveryPoint(name, now, 1, 29);
    const before = await storedRecoveryPoint(name, now, 50, -20);
    const leased = await storedRecoveryPoint(name, now, 40, -10);
    const after = await storedRecoveryPoint(name, now, 31, -1);
    const lease = vaultBlob(leased.blobs[0]!).getBlobLeaseClient();
    await lease.acquireLease(-1);

    const report = await applyRetention(name, now);

    expect(report.deleted.sort()).toEqual([before.id, after.id].sort());
    expect(report.failed).toEqual([
      { recoveryPointId: leased.id, error: expect.objectContaining({ code: "SystemErrorUnexpected", message: expect.stringContaining("HTTP 412") }) },
    ]);
    expect(await blobExists(leased.blobs[0]!)).toBe(true);
    expect(await rowStatus(leased)).toBe("Available");
    expect(await rowStatus(before)).toBe("Deleted");
    expect(await rowStatus(after)).toBe("Deleted");

    await lease.releaseLease();
    expect(await applyRetention(name, now)).toEqual({ deleted: [leased.id], kept: [], failed: [] });
    expect(await rowStatus(leased)).toBe("Deleted");
  });

  test("when a row names a blob outside its own folder, even through '..' segments, then that blob is left alone and the point is reported", async () => {
    const name = instanceName("ret");
    const victim = await storedRecoveryPoint(instanceName("other"), now, 1, 29);
    await instanceWithState(name);
    await storedRecoveryPoint(name, now, 1, 29);
    const damaged = await storedRecoveryPoint(name, now, 31, -1, { blobs: victim.blobs, writeBlob: false });
    const outsideFolder = { recoveryPointId: damaged.id, error: expect.objectContaining({ code: "SystemErrorUnexpected", message: expect.stringContaining("outside its folder") }) };

    expect(await applyRetention(name, now)).toEqual({ deleted: [], kept: [], failed: [outsideFolder] });
    // The storage client would resolve the dot segments and delete the other instance's dump.
    const climbing = { ...damaged, blobs: [`backups/${name}/${damaged.id}/../../${victim.blobs[0]!.replace(/^backups\//, "")}`] };
    await putRecoveryPoint(climbing);
    expect(await deleteRecoveryPoints([climbing], now)).toEqual({ deleted: [], kept: [], failed: [outsideFolder] });

    expect(await blobExists(victim.blobs[0]!)).toBe(true);
    expect(await rowStatus(damaged)).toBe("Available");
  });
});
